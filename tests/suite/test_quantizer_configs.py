"""Configuration variants of a quantizer factory (harness.suite.source's configuration rule) in the quantizer campaign
(harness.suite.fuzz_target): a case draws its variant and stores it, replays in it, and its finding says it; a
factory without variants draws the cases it drew before variants existed.

Toy quantizers only (fast); each real quantizer's variants are checked in test_quantizer_variants.py (slow).
"""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from hypothesis import strategies as st
from torchao.quantization.pt2e.quantizer import Quantizer

from harness import strategies
from harness.case import Case, Graph, Node, Ref, TensorMeta
from harness.case.decode import case_from_json
from harness.case.encode import case_to_json
from harness.case.jsonform import CaseFormatError
from harness.check.groups import group_key, variant_of
from harness.fuzz.choices import ChoiceRandom
from harness.fuzz.config import CampaignConfig, CampaignResult, Finding, summary_table
from harness.fuzz.target import load_target
from harness.strategies.fast import fast_example
from harness.suite.source import (QuantizerLoadError, config_variant, load_quantizer_factory, make_quantizer,
                                  qat_configs, quantizer_configs)

QUANTIZER_TARGET = "harness.suite.fuzz_target:quantizer_target"
SEEN: list[tuple[str, bool, bool]] = []  # (config, is_qat, the factory was given the graph annotate() got)


class _Toy(Quantizer):
    def __init__(self, config: str, is_qat: bool, model) -> None:
        super().__init__()
        self.config, self.is_qat, self.model = config, is_qat, model

    def annotate(self, gm):
        SEEN.append((self.config, self.is_qat, gm is self.model))
        if self.config == "loud":
            raise ValueError("the loud variant cannot annotate")
        return gm

    def validate(self, gm):
        pass


def toy(is_qat: bool = False, config: str = "default", model=None) -> _Toy:
    if config not in toy.configs:
        raise ValueError(config)
    return _Toy(config, is_qat, model)


toy.configs = ("default", "loud", "quiet")  # type: ignore[attr-defined]
toy.qat_configs = ("default", "quiet")  # type: ignore[attr-defined]


def plain() -> _Toy:
    return _Toy("default", False, None)


def badly_named(config: str = "default") -> _Toy:
    return _Toy(config, False, None)


badly_named.configs = ("per_tensor", "default")  # type: ignore[attr-defined]


def _target(name: str):
    return load_target(CampaignConfig(target=QUANTIZER_TARGET, quantizer=f"{__name__}:{name}"))


def replace_config(case: Case, config: str) -> Case:
    return replace(case, quantizer_config=config)


def _chain(n: int = 2) -> Case:
    nodes = [Node("x", "placeholder", tensor=TensorMeta((1, 3, 8, 8)))]
    for i in range(n):
        nodes.append(Node(f"r{i}", "call_function", "aten.relu.default", (Ref(nodes[-1].name),)))
    nodes.append(Node("output", "output", args=((Ref(nodes[-1].name),),)))
    return Case(Graph(tuple(nodes)), ())


def test_a_factory_declares_its_variants_and_those_with_a_qat_form():
    source = load_quantizer_factory(f"{__name__}:toy")
    assert quantizer_configs(source) == ("default", "loud", "quiet") and qat_configs(source) == ("default", "quiet")
    assert config_variant(source, "") is source and config_variant(source, "default") is source
    quiet = config_variant(source, "quiet")
    assert quiet.label == f"{__name__}:toy [quiet]" and make_quantizer(quiet).config == "quiet"
    assert quantizer_configs(load_quantizer_factory(f"{__name__}:plain")) == ("default",)
    with pytest.raises(QuantizerLoadError, match="no configuration variant 'nope'"):
        config_variant(source, "nope")
    with pytest.raises(QuantizerLoadError, match='first is "default"'):
        _target("badly_named")


def test_each_case_draws_a_variant_stored_in_it_and_a_qat_case_only_in_a_variant_with_a_qat_form():
    target = _target("toy")
    cases = [fast_example(target.strategy, random.Random(f"v{i}")) for i in range(80)]
    assert {c.quantizer_config for c in cases} == {"", "loud", "quiet"}  # "" is the default
    assert {c.quantizer_config for c in cases if c.is_qat} <= {"", "quiet"} and any(c.is_qat for c in cases)
    source = ChoiceRandom(seed=7)  # the guided search's way: the recorded choices draw the same case again
    drawn = fast_example(target.strategy, source)
    assert fast_example(target.strategy, ChoiceRandom(source.recorded)) == drawn


def test_a_case_is_annotated_in_its_variant_given_its_graph_and_a_finding_names_and_replays_it():
    target = _target("toy")
    SEEN.clear()
    assert not target.check(_chain()).failed and not target.check(replace_config(_chain(), "quiet")).failed
    assert SEEN == [("default", False, True), ("quiet", False, True)]
    verdict = target.check(replace_config(_chain(), "loud"))
    assert verdict.failed and verdict.signature == "config:loud annotate: annotate() raised ValueError in annotate"
    assert group_key(verdict.signature) == "annotate: annotate() raised ValueError in annotate"  # one bug, whatever the variant
    assert f"{__name__}:toy [loud]" in verdict.summary()
    saved = target.finding_case(verdict)
    assert saved.quantizer_config == "loud"
    again = case_from_json(case_to_json(saved))  # as a saved finding is replayed
    assert again.quantizer_config == "loud" and target.check(again).signature == verdict.signature
    with pytest.raises(QuantizerLoadError, match="no configuration variant"):
        target.check(replace_config(_chain(), "gone"))


def test_a_factory_without_variants_draws_no_variant_only_its_graph_qat_and_export_mode():
    max_nodes = CampaignConfig.max_nodes
    graphs = strategies.graphs(min_nodes=1, max_nodes=max_nodes, ops=strategies.GENERATED_OPS, motifs=True)
    one_in_four = st.sampled_from((False, False, False, True))
    before = {"plain": st.builds(lambda g, q, s: Case(g, (), strict_export=s), graphs, st.just(False), one_in_four),
              "xnnpack_per_tensor": st.builds(lambda g, q, s: Case(g, (), is_qat=q, strict_export=s), graphs,
                                              one_in_four, one_in_four)}
    for name, old in before.items():
        spec = f"{__name__}:plain" if name == "plain" else f"harness.quantizers:{name}"
        target = load_target(CampaignConfig(target=QUANTIZER_TARGET, quantizer=spec))
        for i in range(8):
            assert fast_example(target.strategy, random.Random(i)) == fast_example(old, random.Random(i))


def test_a_case_s_variant_is_written_only_when_set():
    plain_json = case_to_json(_chain())
    assert "quantizer_config" not in plain_json
    data = case_to_json(replace_config(_chain(), "per_tensor"))
    assert data["quantizer_config"] == "per_tensor" and case_from_json(data).quantizer_config == "per_tensor"
    with pytest.raises(CaseFormatError, match="quantizer_config"):
        case_from_json(dict(data, quantizer_config=3))


def test_a_variant_s_finding_is_grouped_with_the_same_failure_in_other_variants_and_the_summary_names_them():
    assert group_key("config:dynamic annotate: a | well_formed: b") == "annotate: a"
    assert group_key("config:module_name prepare: partition[x];structure[y]") == "prepare: partition+structure"
    assert group_key("config:x not a signature") == "config:x not a signature"
    assert variant_of("config:dynamic annotate: a") == "dynamic" and variant_of("annotate: a") == "default"
    findings = [Finding(signature=s, known_id=None, known_title=None, link=None, path=f"f{i}.json", summary="",
                        nodes=3 + i, detected=1.0, seconds=1.0)
                for i, s in enumerate(("annotate: a", "config:dynamic annotate: a", "config:per_tensor annotate: a"))]
    table = summary_table(CampaignResult(cases=3, seconds=1.0, findings=findings), CampaignConfig())
    row = next(line for line in table.splitlines() if line.startswith("annotate: a"))
    assert "default, dynamic, per_tensor" in row and "f0.json" in row
