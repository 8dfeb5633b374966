"""The campaign's side of a quantizer's configuration variants (harness.suite.fuzz_target draws them): the guided
search can redraw a case's variant alone, and a failure met again in another variant is sent as found, not shrunk
again (its small form is already on its way)."""

from __future__ import annotations

import random
import time
from dataclasses import replace

from torchao.quantization.pt2e.quantizer import Quantizer

from harness.check.groups import without_variant
from harness.fuzz.choices import MUTATIONS, ChoiceRandom
from harness.fuzz.config import CampaignConfig, WorkerSpec
from harness.fuzz.events import FindingEvent
from harness.fuzz.search_fast import settle
from harness.fuzz.session import Worker
from harness.fuzz.target import load_target
from harness.strategies.fast import fast_example



class _Toy(Quantizer):
    def __init__(self, config: str) -> None:
        super().__init__()
        self.config = config

    def annotate(self, gm):
        if self.config == "loud":
            raise ValueError("the loud variant cannot annotate")
        return gm

    def validate(self, gm):
        pass


def toy(config: str = "default") -> _Toy:
    return _Toy(config)


toy.configs = ("default", "loud", "quiet")  # type: ignore[attr-defined]
TOY = f"{__name__}:toy"


def _target():
    return load_target(CampaignConfig(target="harness.suite.fuzz_target:quantizer_target", quantizer=TOY))


def _mutants(name: str):
    """The drawn case, and 30 cases drawn from its choices changed by the guided search's mutation ``name``."""
    mutate = next(m for m in MUTATIONS if m.__name__ == name)
    target = _target()
    rng = random.Random(3)
    source = ChoiceRandom(seed=1)
    case = fast_example(target.strategy, source)
    return case, [fast_example(target.strategy, ChoiceRandom(mutate(source.recorded, rng, ()))) for _ in range(30)]


def test_the_guided_search_can_redraw_the_variant_alone_and_keep_the_graph():
    case, mutants = _mutants("_change_first")
    assert all(m.graph == case.graph for m in mutants)
    assert len({m.quantizer_config for m in mutants}) > 1


def test_the_guided_search_can_redraw_the_flags_drawn_after_the_graph_and_keep_the_graph():
    """``_change_last``: the same graph as a strict export or not (the toy has no QAT form), its variant kept."""
    case, mutants = _mutants("_change_last")
    assert all((m.graph, m.quantizer_config) == (case.graph, case.quantizer_config) for m in mutants)
    assert {m.strict_export for m in mutants} == {False, True}


def test_a_failure_met_again_in_another_variant_is_sent_as_found_not_shrunk_again():
    target = _target()
    events: list = []
    now = time.time()
    worker = Worker(WorkerSpec(CampaignConfig(quantizer=TOY), 0, 1, now, now + 60), target, events.append, None)
    drawn = fast_example(target.strategy, random.Random(0))
    loud = target.check(replace(drawn, quantizer_config="loud"))
    assert loud.failed and loud.signature.startswith("config:loud ")
    worker.seen.add(without_variant(loud.signature))  # shrunk already, in the default configuration
    assert settle(worker, loud) is False
    sent = [e for e in events if isinstance(e, FindingEvent)]
    assert len(sent) == 1 and sent[0].signature == loud.signature and not sent[0].shrunk
