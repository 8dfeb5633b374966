"""Running a quantizer on a graph the way ``prepare_pt2e`` does (batch norms fused, ``transform_for_annotation``,
``annotate``, ``validate``), or for a QAT source the way ``prepare_qat_pt2e`` does (no fusion first; after
``validate``, conv-bn fused into its QAT form), each call under the time limit, recording every problem: a crash, a
hang, a graph changed by ``annotate``/``validate`` (check 1 and 5). The result is an :class:`Annotated`. Every other
check looks at the graph this run annotated."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from torch.fx import GraphModule
import torchao.quantization.pt2e.qat_utils as qat_utils
from torchao.quantization.pt2e.qat_utils import _fuse_conv_bn_qat
from torchao.quantization.pt2e.utils import _fuse_conv_bn_, _fuse_linear_bn_, _get_node_name_to_scope

from harness.common.timelimit import TimeLimitExceeded, call_with_time_limit
from harness.fx.nodes import ANNOTATION_KEY
from harness.pattern_exports import exported_once
from harness.suite.check_registry import ANNOTATE
from harness.suite.checks.hangs import earlier_hang, hung_earlier, record_hang
from harness.suite.checks.pipeline_bugs import (PTQ_FUSION_BUGS, QAT_BN_WITHOUT_AFFINE, QAT_FUSION_BUGS, cannot_run,
                                              conv_into_batch_norm, none_for_tensor, tagged, unjudged)
from harness.suite.checks.structure import eliminated_dead_code, graph_structure, structure_changes
from harness.suite.describe import REFUSED, exc_line, is_refusal, root_cause, where
from harness.suite.results import Problem
from harness.suite.source import QuantizerLoadError, QuantizerSource, make_quantizer

__all__ = ["DEAD_CODE_NOTE", "Annotated", "annotated_node_count", "run_quantizer"]

DEAD_CODE_NOTE = ("{step}() removed nodes nothing used (dead-code elimination of side-effect-free nodes: allowed, "
                  "no result changes)")


def annotated_node_count(gm: GraphModule) -> int:
    """Nodes whose annotation has at least one spec (an annotation with no spec quantizes nothing)."""
    count = 0
    for n in gm.graph.nodes:
        qa = n.meta.get(ANNOTATION_KEY)
        if qa is None:
            continue
        specs = list(getattr(qa, "input_qspec_map", {}).values()) if isinstance(
            getattr(qa, "input_qspec_map", None), dict) else []
        if any(s is not None for s in specs) or getattr(qa, "output_qspec", None) is not None:
            count += 1
    return count


@dataclass
class Annotated:
    """A graph after the quantizer ran on it the way ``prepare_pt2e`` runs it.

    ``gm`` is the transformed, annotated graph (or the graph as far as it got); ``failed`` says a quantizer call
    raised or timed out (later checks are skipped); ``quantizer`` is the instance used (its
    ``prepare_obs_or_fq_callback`` is passed to prepare); ``node_name_to_scope`` was computed before any change;
    ``fused`` says ``prepare_qat_pt2e``'s conv-bn rewrite changed ``gm`` after ``validate``: the quantizer never saw
    that graph, so annotating it again is not what failed (a finding on it saves the graph the quantizer was given).
    """

    gm: Optional[GraphModule]
    problems: list[Problem]
    failed: bool
    quantizer: Any = None
    node_name_to_scope: dict = field(default_factory=dict)
    fused: bool = False

    @property
    def count(self) -> int:
        return annotated_node_count(self.gm) if self.gm is not None else 0


def _fuse_like_prepare_pt2e(gm: GraphModule) -> Optional[Problem]:
    """Fuse batch norms as ``prepare_pt2e`` does before ``annotate``; a failure there is upstream's, not the
    quantizer's (it has not run yet): ``known`` for the upstream bug whose shape it has
    (:mod:`harness.suite.checks.pipeline_bugs`), else an error that says whose failure it is."""
    shapes = [bug for bug in PTQ_FUSION_BUGS if bug.shape(gm)]  # before the fusion changes the graph
    try:
        _fuse_conv_bn_(gm)
        _fuse_linear_bn_(gm)
    except Exception as e:  # noqa: BLE001 - torch/torchao's own fusion failed: a finding, never the harness's error
        text = f"prepare_pt2e's batch-norm fusion (torchao, before annotate) raised {exc_line(e)}\n{where(e)}"
        if shapes:
            return Problem(ANNOTATE.name, tagged(shapes[0], text), "known")
        return Problem(ANNOTATE.name, unjudged(text))
    return None


def _fuse_like_prepare_qat_pt2e(gm: GraphModule) -> tuple[Optional[Problem], bool]:
    """Rewrite conv-bn into its QAT form as ``prepare_qat_pt2e`` does after ``validate``; its failure (it raises, or
    writes a graph that cannot run) is torchao's on these annotations: ``known`` for the upstream bug whose shape
    the graph has, else an error naming the step. With it, whether there was a conv-bn to rewrite (the graph
    changed)."""
    rewrites = conv_into_batch_norm(gm)  # before the rewrite changes the graph
    shapes = [bug for bug in QAT_FUSION_BUGS if bug.shape(gm)]
    try:
        with exported_once(qat_utils):  # its 12 pattern exports, made once per process (harness.pattern_exports)
            _fuse_conv_bn_qat(gm)
    except Exception as e:  # noqa: BLE001 - torchao's fusion failing on these annotations is a finding
        return Problem(ANNOTATE.name, unjudged(f"prepare_qat_pt2e's conv-bn fusion (_fuse_conv_bn_qat) raised "
                                              f"{exc_line(e)} on the annotated graph\n{where(e)}")), bool(rewrites)
    broken = cannot_run(gm) if rewrites else None  # without a conv-bn nothing is rewritten: the graph still runs
    if broken is None:
        return None, bool(rewrites)
    text = f"prepare_qat_pt2e's conv-bn fusion (_fuse_conv_bn_qat) wrote a graph that cannot run: {broken}"
    if none_for_tensor(gm) is None:  # not a None operand: a shape error, not the batch norm without affine
        shapes = [bug for bug in shapes if bug is not QAT_BN_WITHOUT_AFFINE]
    if shapes:
        return Problem(ANNOTATE.name, tagged(shapes[0], text), "known"), True
    return Problem(ANNOTATE.name, unjudged(text)), True


def run_quantizer(gm: GraphModule, source: QuantizerSource, timeout: float, what: str = "a graph",
                  hang_markers: Optional[str] = None,
                  traced: Callable[[], AbstractContextManager] = nullcontext) -> Annotated:
    """Run the quantizer on ``gm`` as ``prepare_pt2e`` does, recording every problem (check 1 and 5).

    A quantizer that hung earlier (:mod:`harness.suite.checks.hangs`; ``hang_markers`` shares that with other
    processes) is not called again: the run fails at once, without a graph. A call that times out is remembered, as
    a hang of the quantizer on ``what`` (``"model 'mlp'"``, ``"a random graph"``...).

    Batch norms are fused first and ``transform_for_annotation`` runs before the snapshot: both may change the
    graph legitimately. ``annotate`` and ``validate`` may only add annotations, and remove dead side-effect-free
    nodes (a note, see :mod:`harness.suite.checks.structure`).
    """
    earlier = earlier_hang(source.label, hang_markers)
    if earlier is not None:
        return Annotated(None, [Problem(ANNOTATE.name, hung_earlier(earlier))], True)
    scope = _get_node_name_to_scope(gm)
    if not source.is_qat:
        problem = _fuse_like_prepare_pt2e(gm)
        if problem is not None:
            return Annotated(gm, [problem], True)

    def hang(e: TimeLimitExceeded) -> None:
        record_hang(source.label, f"{e.what} on {what} did not return within {e.seconds:g} s", hang_markers)

    try:
        with traced():
            quantizer = call_with_time_limit(make_quantizer, timeout, source, what="the quantizer factory")
    except QuantizerLoadError as e:
        return Annotated(gm, [Problem(ANNOTATE.name, str(e))], True)
    except TimeLimitExceeded as e:
        hang(e)
        return Annotated(gm, [Problem(ANNOTATE.name, f"{e}: the factory hangs")], True)

    def call(step: str, fn: Callable, model: GraphModule) -> tuple[Any, Optional[Problem]]:
        try:
            with traced():
                return call_with_time_limit(fn, timeout, model, what=f"{step}()"), None
        except TimeLimitExceeded as e:
            hang(e)
            return None, Problem(ANNOTATE.name, f"{e}: the quantizer hangs in {step}()")
        except Exception as e:  # noqa: BLE001 - a crash of the quantizer is a finding
            root = root_cause(e)
            cause = f" (caused by {exc_line(root)})" if root is not e else ""
            text = f"{step}() raised {exc_line(e)}{cause}\n{where(root)}"
            if is_refusal(e):  # "X is not supported": the quantizer says no, it does not crash (a warning)
                return None, Problem(ANNOTATE.name, f"{REFUSED}: {text}", "warning")
            return None, Problem(ANNOTATE.name, text)

    transform = getattr(quantizer, "transform_for_annotation", None)
    if callable(transform):
        result, problem = call("transform_for_annotation", transform, gm)
        if problem is not None:
            return Annotated(gm, [problem], True, quantizer, scope)
        if not isinstance(result, GraphModule):
            return Annotated(gm, [Problem(ANNOTATE.name, f"transform_for_annotation() returned "
                                          f"{type(result).__name__}, not a GraphModule")], True, quantizer, scope)
        gm = result
    problems: list[Problem] = []
    for step in ("annotate", "validate"):
        before = graph_structure(gm)
        _, problem = call(step, getattr(quantizer, step), gm)
        if problem is not None:
            return Annotated(gm, problems + [problem], True, quantizer, scope)
        after = graph_structure(gm)
        dead = eliminated_dead_code(before, after)
        if dead:
            problems.append(Problem(ANNOTATE.name, DEAD_CODE_NOTE.format(step=step) + "\n  removed: "
                                    + ", ".join(dead), "note"))
        changes = structure_changes(before, after)
        if changes:
            problems.append(Problem(ANNOTATE.name, f"{step}() changed the graph (only annotations may change):\n"
                                    + "\n".join(f"  - {c}" for c in changes)))
    if source.is_qat:  # prepare_qat_pt2e's step between validate() and prepare
        problem, fused = _fuse_like_prepare_qat_pt2e(gm)
        if problem is not None:
            return Annotated(gm, problems + [problem], True, quantizer, scope, fused)
        return Annotated(gm, problems, False, quantizer, scope, fused)
    return Annotated(gm, problems, False, quantizer, scope)
