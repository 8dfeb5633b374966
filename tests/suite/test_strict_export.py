"""Strict exports in the quantizer campaign (harness.suite.fuzz_target): one case in four of a quantizer that does
not ask for ``strict=True`` is exported strict (``Case.strict_export``), so the quantizer also sees the
``source_fn_stack`` that only a strict export records (``get_source_partitions`` of ``torch.cat`` or
``operator.add`` match nothing else); the case stores its mode and a finding replays in it."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from torchao.quantization.pt2e.quantizer import Quantizer

from harness.case import Case, Graph, Node, Ref, TensorMeta
from harness.case.decode import case_from_json
from harness.case.encode import case_to_json
from harness.case.jsonform import CaseFormatError
from harness.fuzz.config import CampaignConfig
from harness.fuzz.target import load_target
from harness.strategies.fast import fast_example

QUANTIZER_TARGET = "harness.suite.fuzz_target:quantizer_target"


class _SourceSensitive(Quantizer):
    """Fails on a graph whose nodes carry ``source_fn_stack`` (a bug only a strict export shows)."""

    def annotate(self, gm):
        if any("source_fn_stack" in n.meta for n in gm.graph.nodes if n.op == "call_function"):
            raise ValueError("a source_fn_stack")
        return gm

    def validate(self, gm):
        pass


def source_sensitive() -> _SourceSensitive:
    return _SourceSensitive()


def strict_by_default() -> _SourceSensitive:
    return _SourceSensitive()


strict_by_default.export_strict = True  # type: ignore[attr-defined]


def _target(name: str):
    return load_target(CampaignConfig(target=QUANTIZER_TARGET, quantizer=f"{__name__}:{name}"))


def _cat_relu() -> Case:
    x = TensorMeta((1, 3, 4, 4))
    nodes = (Node("x", "placeholder", tensor=x), Node("y", "placeholder", tensor=x),
             Node("cat", "call_function", "aten.cat.default", ((Ref("x"), Ref("y")), 1)),
             Node("relu", "call_function", "aten.relu.default", (Ref("cat"),)),
             Node("output", "output", args=((Ref("relu"),),)))
    return Case(Graph(nodes), ())


def test_one_case_in_four_is_exported_strict_unless_the_quantizer_exports_strict_anyway():
    drawn = [fast_example(_target("source_sensitive").strategy, random.Random(i)) for i in range(80)]
    share = sum(c.strict_export for c in drawn) / len(drawn)
    assert 0.1 < share < 0.45
    assert not any(fast_example(_target("strict_by_default").strategy, random.Random(i)).strict_export
                   for i in range(40))


def test_a_strict_case_is_exported_strict_and_its_finding_replays_strict():
    target = _target("source_sensitive")
    assert not target.check(_cat_relu()).failed  # non-strict: no source_fn_stack
    verdict = target.check(replace(_cat_relu(), strict_export=True))
    assert verdict.failed and verdict.signature == "annotate: annotate() raised ValueError in annotate"
    saved = target.finding_case(verdict)
    assert saved.strict_export
    again = case_from_json(case_to_json(saved))  # as a saved finding is replayed
    assert again.strict_export and target.check(again).signature == verdict.signature


def test_strict_export_is_written_only_when_set():
    assert "strict_export" not in case_to_json(_cat_relu())
    data = case_to_json(replace(_cat_relu(), strict_export=True))
    assert data["strict_export"] is True and case_from_json(data).strict_export
    with pytest.raises(CaseFormatError, match="strict_export"):
        case_from_json(dict(data, strict_export="yes"))
