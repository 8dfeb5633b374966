"""``python -m harness show CASE [--svg OUT]``: print a case with its sharing groups, optionally draw it as SVG.

Both renderings show the nodes of the case's graph, its annotations and the *sharing groups* the reference
computes for them (:mod:`harness.tools.grouping`): every annotated key is labelled with its group ``G<i>``.
The text is :mod:`harness.tools.render_text`, the picture :mod:`harness.tools.render_svg` (laid out by
:mod:`harness.tools.svg_layout`); this module is the command and re-exports their public names.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional

from harness.case.files import load_case
from harness.case.jsonform import CaseFormatError
from harness.tools.grouping import Grouping, sharing
from harness.tools.render_svg import group_colours, show_svg
from harness.tools.render_text import node_text, show_text, spec_text, unobserved_keys

__all__ = ["Grouping", "sharing", "show_text", "show_svg", "group_colours", "spec_text", "node_text",
           "unobserved_keys", "main_show"]


def main_show(argv: Optional[list[str]] = None) -> int:
    """``python -m harness show CASE [--svg OUT]``: print the case; write its SVG. Exit 0, or 2 on errors."""
    parser = argparse.ArgumentParser(prog="python -m harness show",
                                     description="Show a case's graph, annotations and sharing groups.")
    parser.add_argument("case", help="a corpus case (JSON file)")
    parser.add_argument("--svg", metavar="OUT", help="also write an SVG picture of the case to OUT")
    args = parser.parse_args(argv)
    try:
        case = load_case(args.case)
    except CaseFormatError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    grouping = sharing(case)
    sys.stdout.write(show_text(case, grouping))
    if args.svg:
        try:
            Path(args.svg).write_text(show_svg(case, grouping), encoding="utf-8")
        except OSError as e:
            print(f"error: cannot write {args.svg}: {e.strerror or e}", file=sys.stderr)
            return 2
        print(f"wrote {args.svg}", file=sys.stderr)
    return 0
