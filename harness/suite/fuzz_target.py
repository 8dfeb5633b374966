"""The quantizer suite's random-graph checks as a fuzz target: ``python -m harness fuzz --quantizer MODULE:NAME``.

The rule, one case at a time: the suite's checks 1, 2, 3 and 5 on a random graph, and the naming of a failure, as
:mod:`harness.suite.checks.quantizer_case` has them (:func:`~harness.suite.checks.quantizer_case.check_with_quantizer`);
a failure that is a judged bug of a real quantizer (:mod:`harness.suite.quantizer_triage`) is named by it.

A quantizer with a QAT configuration (:attr:`harness.suite.source.QuantizerSource.qat_capable`) is fuzzed for QAT
too: one case in four is a QAT case (``Case.is_qat``, drawn with the graph, so a search can change it), annotated by
that configuration the way ``prepare_qat_pt2e`` does and prepared for QAT; a saved finding replays the same way.

A quantizer whose factory does not ask for strict exports (``export_strict``) also gets strict ones: one case in
four is exported with ``strict=True`` (``Case.strict_export``, drawn with the graph), as code that calls
``torch.export.export(..., strict=True)`` does. Only a strict export records ``source_fn_stack``; without it,
``get_source_partitions`` matches a function (``torch.cat``, ``operator.add``, ``F.relu``) by nothing, so a
quantizer's partition-matching annotators run only on strict cases. A saved finding replays in its export mode.

A factory that declares configuration variants (``configs``, :mod:`harness.suite.source`'s configuration rule) is
fuzzed in all of them: each case draws one, uniformly, with its graph (``Case.quantizer_config``, ``""`` for the
default; a QAT case only among the variants with a QAT form, else it is a PTQ case), and is annotated by the
quantizer of that variant (given the exported graph when the factory takes ``model``); a saved finding replays with
its variant, and a search mutates it like the rest of the case. The signature of a finding under a variant other
than the default starts ``config:NAME `` (grouped with the same failure in the other variants,
:func:`harness.check.groups.group_key`; the summary lists a group's variants), and its text names the quantizer as
``LABEL [NAME]``; a known upstream bug keeps its name. A case whose variant the
factory does not declare is an error of the harness (a ``QuantizerLoadError``), not a finding.

While the quantizer's own code runs (``run_quantizer``: its factory, ``transform_for_annotation``, ``annotate``,
``validate``; not torchao's fusions around them), the lines of its own package that it reaches are measured
(:class:`harness.fuzz.reach.ReachTracer` on the directory of the quantizer's class): the target's ``reach``, which
``--generation guided`` follows and every quantizer campaign counts. The prepare and the checks after it are not
traced.

The quantizer runs without a time limit of its own: a hang is caught by the campaign engine's case time limit
(a ``timeout`` finding, like a hanging candidate). A ``SystemExit`` or the like from the quantizer is a crash.
"""

from __future__ import annotations

from functools import partial
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Callable, Optional

from hypothesis import strategies as st

from harness import strategies
from harness.case import Case
from harness.check.run import load_function
from harness.fuzz.reach import ReachTracer, joining, package_directory
from harness.fuzz.target import Target, Verdict, guarded
from harness.suite.checks.quantizer_case import as_known, check_with_quantizer, may_be_judged
from harness.suite.quantizer_triage import QuantizerBugTriage
from harness.suite.source import (DEFAULT_CONFIG, QuantizerLoadError, QuantizerSource, load_quantizer_factory,
                                  make_quantizer, qat_configs, qat_variant, quantizer_configs)

__all__ = ["quantizer_target"]


def _one_in_four(on: bool) -> Any:
    return st.sampled_from((False, False, False, True)) if on else st.just(False)


def _graph_cases(max_nodes: int, qat: bool = False, configs: tuple[str, ...] = (DEFAULT_CONFIG,),
                 with_qat: tuple[str, ...] = (), strict: bool = False) -> Any:
    """Graphs without annotations, of the whole vocabulary with motifs (the patterns quantizers match); with
    ``qat``, one case in four for QAT, and with ``strict``, one in four exported with ``strict=True`` (each drawn,
    so a search can change it); with more than one of ``configs``, a variant drawn uniformly first (a search that
    changes that one choice tries the same graph in another variant; a QAT case only when the variant is in
    ``with_qat``, else PTQ)."""
    graphs = strategies.graphs(min_nodes=1, max_nodes=max_nodes, ops=strategies.GENERATED_OPS, motifs=True)
    several = len(configs) > 1

    def case(c: str, g: Any, q: bool, s: bool) -> Case:
        return Case(g, (), is_qat=q and (not several or c in with_qat),
                    quantizer_config="" if c == DEFAULT_CONFIG else c, strict_export=s)

    if several:
        return st.builds(case, st.sampled_from(configs), graphs, _one_in_four(qat), _one_in_four(strict))
    return st.builds(partial(case, DEFAULT_CONFIG), graphs, _one_in_four(qat), _one_in_four(strict))


def quantizer_target(config: Any, variants: bool = True) -> Target:
    """The fuzz target of ``config.quantizer`` with ``config.candidate`` as the prepare under test
    (``ValueError``/``QuantizerLoadError`` when either cannot be loaded); ``variants=False``: its default
    configuration only, as before variants (to measure what they add, ``benchmarks/bench_quantizer_reach.py``)."""
    if not config.quantizer:
        raise ValueError("the quantizer target needs a quantizer (--quantizer MODULE:NAME)")
    try:
        source = load_quantizer_factory(config.quantizer)
    except ValueError as e:  # QuantizerLoadError: said as the option it came from
        raise ValueError(f"--quantizer: {e}") from e
    candidate = guarded(load_function(config.candidate))
    tracer = _tracer(source)
    reached: set[str] = set()  # the lines the last check reached

    def annotating() -> AbstractContextManager:  # one call of the quantizer's code: its lines join the case's
        return joining(tracer, reached)

    qat = qat_variant(source) if source.qat_capable else None

    def run(case: Case, measured: Callable[[], AbstractContextManager] = nullcontext) -> Verdict:
        return check_with_quantizer(case, qat if case.is_qat and qat is not None else source, candidate,
                                    config.numerics, config.float_semantics, measured)

    def replay(case: Case) -> Optional[str]:  # a known bug's own case, outside the reach measure
        verdict = run(case)
        return verdict.signature if verdict.failed else None

    triage = QuantizerBugTriage(config.quantizer, replay)

    def check(case: Case) -> Verdict:
        reached.clear()
        verdict = run(case, annotating if tracer is not None else nullcontext)
        bug = triage.known(verdict.signature) if may_be_judged(verdict) else None
        return verdict if bug is None else as_known(verdict, bug)

    configs = quantizer_configs(source) if variants else (DEFAULT_CONFIG,)
    described = f", {len(configs)} configuration variants" if len(configs) > 1 else ""
    return Target(f"quantizer {source.label} (annotations prepared by {config.candidate}{described})",
                  _graph_cases(config.max_nodes, qat is not None, configs, qat_configs(source),
                               strict=not source.export_strict), check,
                  lambda verdict: verdict.case, reads_annotations=False,
                  reach=(lambda: frozenset(reached)) if tracer is not None else None)


def _tracer(source: QuantizerSource) -> Any:
    """The reach tracer of the quantizer's own package (the directory of its class); None when the factory fails
    (each case then reports that) or the class has no module file."""
    try:
        directory = package_directory(make_quantizer(source))
    except QuantizerLoadError:
        return None
    return ReachTracer(directory) if directory else None
