"""The sharing groups the reference computes for a case, by key string, for the renderings of ``show``.

Rule: every annotated key (an input edge ``"edge:a->n"`` or an output ``"out:n"``) belongs to the group
``prepare_impl.sharing_groups`` puts it in, on the case built by :func:`harness.fx.build.build`; when the case
cannot be built or the reference rejects its annotations, the grouping carries the error instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from harness import case as C

__all__ = ["Grouping", "sharing"]


@dataclass(frozen=True)
class Grouping:
    """The reference's sharing groups of a case, by key string (``"edge:a->n"``, ``"out:n"``).

    ``groups[i]`` lists the keys of group ``i`` in annotation order; ``error`` is set (and ``groups`` empty)
    when the case cannot be built or the reference rejects its annotations.
    """

    groups: tuple[tuple[str, ...], ...] = ()
    group_of: Optional[dict] = None
    error: Optional[str] = None

    def of(self, key: str) -> Optional[int]:
        return (self.group_of or {}).get(key)


def sharing(case: C.Case) -> Grouping:
    """The reference's sharing groups of ``case`` (built with :func:`harness.fx.build.build`)."""
    # Imported here, not at the top: they import torch, and ``harness.__main__`` imports ``harness.tools.show``
    # (hence this module) at start-up for every command (``python -m harness --help`` stays fast).
    import prepare_impl
    from harness.check.keys import key_of
    from harness.fx.build import BuildError, build

    try:
        model = build(case)
    except BuildError as e:
        return Grouping(error=f"cannot build the case: {e}")
    try:
        analysis = prepare_impl.sharing_groups(model)
    except prepare_impl.AnnotationError as e:
        return Grouping(error=f"the reference rejects the annotations: {type(e).__name__}: {e}")
    groups = tuple(tuple(key_of(m) for m in g.members) for g in analysis.groups)
    return Grouping(groups, {k: i for i, keys in enumerate(groups) for k in keys})
