"""Every mutant of the reference is noticed by the differential check on small generated cases.

The campaign's own figures (time to catch each mutant) come from ``benchmarks/bench_mutants.py``; this test only
shows that no mutant is invisible to the checks, quickly: a checker that never fires is not a checker.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import seed as hseed

from harness import mutants, strategies
from harness.check.run import check_case, load_function
from harness.common.loading import resolve_object


class _Caught(Exception):
    """Ends the search at the first case that catches the mutant (the remaining examples are not drawn)."""


# the rarest mutant to show, last_concrete_spec, needs two compatible concrete specs with different observers in one
# group: about 1 valid case in 80 (measured with the fast source)
def _catches(mutant_name: str, mode: str = "valid", examples: int = 400) -> bool:
    candidate = getattr(mutants, mutant_name)

    @settings(max_examples=examples, database=None, deadline=None, suppress_health_check=list(HealthCheck),
              phases=[__import__("hypothesis").Phase.generate])
    @hseed(12345)
    @given(strategies.cases(mode=mode, max_nodes=8))
    def search(case):
        if check_case(case, candidate).is_new:
            raise _Caught

    try:
        search()
    except _Caught:
        return True
    return False


@pytest.mark.parametrize("name", sorted(mutants.MUTANTS))
def test_mutant_is_caught(name):
    assert _catches(name), f"mutant {name!r} ({mutants.MUTANTS[name]}) went unnoticed"


def test_every_mutant_is_reached_through_its_public_string_and_says_its_rule():
    """``--candidate harness.mutants:NAME`` (stored in corpus files and docs) names the registered mutant."""
    for name, rule in mutants.MUTANTS.items():
        fn = load_function(f"harness.mutants:{name}")
        assert fn is getattr(mutants, name), name
        assert rule in (fn.__doc__ or ""), (name, fn.__doc__)


def test_every_mutant_of_the_reference_and_of_torchao_resolves_at_its_public_name():
    """``harness.mutants:NAME`` resolves, for every mutant of both kinds, to the mutant registered under NAME."""
    assert not set(mutants.MUTANTS) & set(mutants.UPSTREAM_MUTANTS)
    homes = dict.fromkeys(mutants.MUTANTS, mutants.reference)
    homes.update(dict.fromkeys(mutants.UPSTREAM_MUTANTS, mutants.upstream))
    for name, home in homes.items():
        fn = resolve_object(f"harness.mutants:{name}")
        assert fn is getattr(home, name) and fn.__name__ == name, name
    assert set(mutants.__all__) == {"MUTANTS", "UPSTREAM_MUTANTS", "QUANTIZER_MUTANTS", *homes,
                                    *mutants.QUANTIZER_MUTANTS}


MACHINERY_ERRORS = (AttributeError, ImportError, NameError, TypeError)


@pytest.mark.parametrize("name", sorted(mutants.MUTANTS))
def test_a_mutant_breaks_its_rule_not_its_own_machinery(name):
    """A mutant that raises from its patching (a name that is not there, a wrong signature) is "caught" on every
    case without its rule ever being tested: four were, until the module they patched was named right."""
    from pathlib import Path

    from harness.case.files import iter_cases
    from harness.fx.build import build

    corpus = Path(__file__).resolve().parents[2] / "corpus" / "conformance"
    for _, case in iter_cases(corpus):
        if case.expected is not None and case.expected.error is None:
            try:
                getattr(mutants, name)(build(case), {}, case.is_qat)
            except MACHINERY_ERRORS as e:
                pytest.fail(f"{name} raised {type(e).__name__} on {case.info.title!r}: {e}")
            except Exception:  # noqa: BLE001 - the broken rule may make the mutant fail on some cases
                pass
