"""The registry of the suite's checks: one :class:`CheckSpec` per check in :data:`SUITE_CHECKS` (its name, what it
checks in plain words, the subjects it runs on, its runner). The list of tests and their dispatch
(:mod:`harness.suite.dispatch`), the failure reports (:mod:`harness.suite.reporting`) and the plugin's run summary
all read it; the checks' modules name their problems by the specs here (``Problem(PREPARE.name, ...)``).

Rules: adding a check is one entry here and the check's own module. A runner is called as
``runner(subject, source, options)`` and returns the :class:`~harness.suite.results.CheckResult` of its check on
``subject``, never raising for anything the quantizer or the prepare under test does. The registry names its
runners by ``"module:function"``, imported when the check first runs, so importing it imports no torch (the plugin
reads it in every run, an xdist controller too). An unknown check name is a ``KeyError`` naming the known ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Union

from harness.common.loading import resolve_object
from harness.suite.subjects.subject import Scope

__all__ = ["CheckSpec", "ANNOTATE", "WELL_FORMED", "PREPARE", "NUMERICS", "RANDOM_GRAPHS", "CORPUS", "COVERAGE",
           "SUITE_CHECKS", "check_spec", "checks_of", "description"]


@dataclass(frozen=True)
class CheckSpec:
    """One check of the suite.

    ``name``: the test id's stem (``numerics[mlp]``) and the ``check`` of its problems; ``description``: what it
    checks, as failure reports say it; ``scope``: the kind of subject it runs on, one test per subject (``model``:
    each model; ``random``: each chunk of random graphs; ``saved``: each saved graph; ``quantizer``: once);
    ``runner``: ``"module:function"`` (or the function itself), called as ``runner(subject, source, options)``.
    """

    name: str
    description: str
    scope: Scope
    runner: Union[str, Callable[..., Any]]

    def run_function(self) -> Callable[..., Any]:
        """The runner, imported now when it is named by a string (``ValueError`` when that does not resolve)."""
        if callable(self.runner):
            return self.runner
        function = resolve_object(self.runner)
        if not callable(function):
            raise ValueError(f"{self.runner!r}: the runner of check {self.name!r} is not callable")
        return function


_CHECKS = "harness.suite.checks."

ANNOTATE = CheckSpec(
    "annotate", "transform_for_annotation(), annotate() and validate() run and leave the graph unchanged apart from "
    "annotations", "model", _CHECKS + "model_checks:check_model_annotate")
WELL_FORMED = CheckSpec("well_formed", "the annotations are well formed", "model",
                        _CHECKS + "model_checks:check_model_well_formed")
PREPARE = CheckSpec("prepare", "the reference prepare and the prepare under test agree and the prepared model is "
                    "sound", "model", _CHECKS + "model_checks:check_model_prepare")
NUMERICS = CheckSpec("numerics", "the quantized model runs and its output is close to the float model's", "model",
                     _CHECKS + "sqnr:check_numerics")
RANDOM_GRAPHS = CheckSpec("random_graphs", "random graphs: the checks above (annotate, well_formed, prepare) hold",
                          "random", _CHECKS + "random_search:search_random_graphs")
CORPUS = CheckSpec("corpus", "a saved graph: the checks above (annotate, well_formed, prepare) hold", "saved",
                   _CHECKS + "graph_checks:check_saved_graph")
COVERAGE = CheckSpec("coverage", "the quantizer annotates something", "quantizer",
                     _CHECKS + "model_checks:check_coverage")

# check name -> spec; per subject, the checks run in this order
SUITE_CHECKS: dict[str, CheckSpec] = {
    spec.name: spec for spec in (ANNOTATE, WELL_FORMED, PREPARE, NUMERICS, RANDOM_GRAPHS, CORPUS, COVERAGE)}


def check_spec(name: str) -> CheckSpec:
    """The spec of check ``name``; ``KeyError`` naming the known checks otherwise."""
    try:
        return SUITE_CHECKS[name]
    except KeyError:
        raise KeyError(f"unknown suite check {name!r}; known: {', '.join(SUITE_CHECKS)}") from None


def checks_of(scope: Scope) -> list[CheckSpec]:
    """The checks that run on subjects of kind ``scope``, in registry order."""
    return [spec for spec in SUITE_CHECKS.values() if spec.scope == scope]


def description(name: str) -> str:
    """What check ``name`` checks, in plain words (the name itself for a check not registered here)."""
    spec = SUITE_CHECKS.get(name)
    return spec.description if spec is not None else name
