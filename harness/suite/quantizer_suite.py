"""The checks the ``pt2e`` pytest plugin runs on a third-party PT2E quantizer.

A quantizer is given as a zero-argument factory (:func:`load_quantizer_factory` reads ``"package.module:name"``).
Every check runs the quantizer the way ``prepare_pt2e`` does (batch norms fused into convolutions and linears,
``transform_for_annotation``, ``annotate``, ``validate``) on a *subject* and returns a :class:`CheckResult`: a list
of :class:`Problem`s in plain words plus what is needed to show and save the failing case. The subjects:

* ``model:<name>``: the small real architectures of :mod:`harness.suite.models`, exported with ``torch.export``;
* ``random:<i>``: random graphs from :func:`harness.strategies.graphs`, written as ordinary modules and exported
  (hypothesis searches them and shrinks a failing graph);
* ``corpus:<path>``: the graphs of saved cases (their annotations are dropped; the quantizer annotates them).

The checks (see :data:`CHECKS`):

1. ``annotate``: ``transform_for_annotation``, ``annotate`` and ``validate`` return in time without raising, and
   ``annotate``/``validate`` leave the graph (nodes, arguments, parameters and buffers) unchanged apart from
   annotations; a model the quantizer claims to support but leaves unannotated is a warning.
2. ``well_formed``: the annotations are ``QuantizationAnnotation``s of known spec types; shared and derived
   references resolve, without cycles (:func:`prepare_impl.sharing_groups`); annotated inputs are inputs; the
   quant_min/quant_max of a spec fit its dtype; per-channel axes exist in the observed tensor; only floating-point
   tensors are quantized.
3. ``prepare``: :func:`harness.check.run.check_case` on the extracted case: the reference prepare and the
   prepare under test agree and the invariants hold (known upstream bugs are ``known``, not errors).
4. ``numerics``: after calibration and ``convert_pt2e`` the quantized model runs and its output is within
   ``sqnr_min`` dB of the float model's.
5. Crashes and hangs of the quantizer (and of the prepare under test) are problems, never crashes of the run.
6. ``coverage``: a quantizer that annotates none of the models is an error.

Nothing here imports pytest; :mod:`harness.plugin` turns results into test outcomes.
"""

from __future__ import annotations

import math
import random
import time
import traceback
import warnings
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Literal, Optional, Sequence

import torch
from torch.fx import GraphModule, Node

from harness.common.timelimit import TimeLimitExceeded, call_with_time_limit

__all__ = [
    "CHECKS",
    "PROFILES",
    "DEFAULT_PREPARE",
    "DEFAULT_SQNR_MIN",
    "DEFAULT_CORPUS",
    "QuantizerLoadError",
    "QuantizerSource",
    "SuiteOptions",
    "SuiteCheck",
    "Problem",
    "CheckResult",
    "Annotated",
    "load_quantizer_factory",
    "quantizer_source",
    "suite_checks",
    "run_check",
    "run_quantizer",
    "check_well_formed",
    "check_prepare",
    "check_numerics",
    "claimed_ops",
    "annotated_node_count",
    "graph_structure",
    "structure_changes",
    "sqnr_db",
    "render_graph",
    "render_spec",
    "format_result",
    "save_finding",
    "clear_caches",
    "check_graph",
    "check_saved_graph",
    "check_coverage",
    "search_random_graphs",
    "dtype_range",
    "GraphVerdict",
    "Profile",
]

Q_KEY = "quantization_annotation"
DEFAULT_PREPARE = "torchao.quantization.pt2e.prepare:prepare"
# Measured on harness.suite.models with torchao's XNNPACK (per-channel and per-tensor), X86Inductor, ArmInductor,
# Embedding and Composable quantizers: the lowest is 23.7 dB (XNNPACK on embedding_linear), most are 32-47 dB.
DEFAULT_SQNR_MIN = 15.0
DEFAULT_CORPUS = "pt2e-findings"

CHECKS: dict[str, str] = {
    "annotate": "transform_for_annotation(), annotate() and validate() run and leave the graph unchanged "
    "apart from annotations",
    "well_formed": "the annotations are well formed",
    "prepare": "the reference prepare and the prepare under test agree and the prepared model is sound",
    "numerics": "the quantized model runs and its output is close to the float model's",
    "random_graphs": "random graphs: the checks above (annotate, well_formed, prepare) hold",
    "corpus": "a saved graph: the checks above (annotate, well_formed, prepare) hold",
    "coverage": "the quantizer annotates something",
}


@dataclass(frozen=True)
class Profile:
    """Budgets of a run: hypothesis examples, graph size, per-call timeout, and the time allowed for shrinking."""

    examples: int
    max_nodes: int
    timeout: float
    shrink_seconds: float
    deterministic: bool


PROFILES: dict[str, Profile] = {
    "dev": Profile(examples=10, max_nodes=8, timeout=60.0, shrink_seconds=30.0, deterministic=False),
    "ci": Profile(examples=20, max_nodes=8, timeout=60.0, shrink_seconds=60.0, deterministic=True),
    "nightly": Profile(examples=300, max_nodes=16, timeout=120.0, shrink_seconds=300.0, deterministic=False),
}
EXAMPLES_PER_CHUNK = 10  # random graphs are split into items of at most this many examples (parallel under -n)


@dataclass(frozen=True)
class SuiteOptions:
    """Everything a check needs besides the quantizer (the plugin fills it from options and ini values)."""

    prepare: str = DEFAULT_PREPARE
    sqnr_min: float = DEFAULT_SQNR_MIN
    corpus: str = DEFAULT_CORPUS
    profile: str = "dev"
    examples: Optional[int] = None  # None: the profile's
    timeout: Optional[float] = None  # None: the profile's
    models: Optional[tuple[str, ...]] = None  # None: all of harness.suite.models
    seed: Optional[int] = None  # random graphs; None: fixed in deterministic profiles, else random

    @property
    def budget(self) -> Profile:
        p = PROFILES[self.profile]
        return replace(
            p,
            examples=p.examples if self.examples is None else self.examples,
            timeout=p.timeout if self.timeout is None else self.timeout,
        )

    def model_list(self) -> tuple[str, ...]:
        from harness.suite import models

        return tuple(models.model_names()) if self.models is None else self.models


# ---- loading the quantizer ---------------------------------------------------------------------


class QuantizerLoadError(ValueError):
    """``MODULE:NAME`` does not give a quantizer; the message says why. ``unavailable`` marks a missing optional
    dependency (the suite skips the quantizer instead of failing)."""

    def __init__(self, message: str, unavailable: bool = False) -> None:
        self.unavailable = unavailable
        super().__init__(message)


@dataclass(frozen=True)
class QuantizerSource:
    """A quantizer to check: a label for reports and a factory giving a configured quantizer per call.

    A factory with the attribute ``export_strict = True`` gets its models and random graphs exported with
    ``torch.export.export(..., strict=True)`` (for quantizers that match on ``source_fn_stack``, which only strict
    export records).
    """

    label: str
    factory: Callable[[], Any]

    @property
    def export_strict(self) -> bool:
        return bool(getattr(self.factory, "export_strict", False))


def _is_quantizer(obj: Any) -> bool:
    return callable(getattr(obj, "annotate", None)) and callable(getattr(obj, "validate", None))


def quantizer_source(obj: Any, label: Optional[str] = None) -> QuantizerSource:
    """A :class:`QuantizerSource` from a quantizer instance (reused for every graph), a ``Quantizer`` class or a
    zero-argument factory (called for every graph)."""
    if _is_quantizer(obj) and not isinstance(obj, type):
        name = label or f"{type(obj).__module__}.{type(obj).__qualname__}"
        return QuantizerSource(name, lambda: obj)
    if callable(obj):
        name = label or f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"
        return QuantizerSource(name, obj)
    raise QuantizerLoadError(f"{label or obj!r}: not a Quantizer, a Quantizer class or a zero-argument factory")


def load_quantizer_factory(spec: str) -> QuantizerSource:
    """``"package.module:name"`` -> a :class:`QuantizerSource` labelled ``spec``.

    ``name`` (dotted names allowed) is a ``Quantizer`` subclass, a zero-argument callable returning a configured
    quantizer, or a quantizer instance. The factory is called once here, so a broken or unavailable one is reported
    before any check runs (:class:`QuantizerLoadError`).
    """
    from harness.common.loading import resolve_object

    try:
        obj = resolve_object(spec, what="NAME, e.g. harness.quantizers:xnnpack")
    except ValueError as e:
        raise QuantizerLoadError(str(e), unavailable=False) from e
    source = quantizer_source(obj, spec)
    _make_quantizer(source)  # fail early
    return source


def _make_quantizer(source: QuantizerSource) -> Any:
    try:
        quantizer = source.factory()
    except ImportError as e:
        raise QuantizerLoadError(f"{source.label}: the factory needs a package that is not installed: {e}",
                                 unavailable=True) from e
    except Exception as e:  # noqa: BLE001 - reported as a load error
        raise QuantizerLoadError(f"{source.label}: the factory raised {_exc_line(e)}") from e
    if not _is_quantizer(quantizer):
        raise QuantizerLoadError(
            f"{source.label}: the factory returned {type(quantizer).__name__}, not a Quantizer "
            "(an object with annotate() and validate() methods)"
        )
    return quantizer


# ---- results -----------------------------------------------------------------------------------


Level = Literal["error", "warning", "known", "skip"]


@dataclass(frozen=True)
class Problem:
    """One finding of a check. ``level``: ``error`` fails the check; ``warning`` warns; ``known`` is a known
    upstream bug (an expected failure); ``skip`` says why the check could not run. ``nodes`` are the annotated
    nodes at fault."""

    check: str
    message: str
    level: Level = "error"
    nodes: tuple[str, ...] = ()


@dataclass
class CheckResult:
    """The outcome of one check on one subject."""

    check: str
    subject: str
    quantizer: str
    problems: list[Problem] = field(default_factory=list)
    gm: Optional[GraphModule] = None  # the annotated graph shown in the report (None if there is none)
    sqnr: Optional[float] = None
    annotated: Optional[int] = None  # number of nodes with a quantization spec
    saved: Optional[str] = None  # corpus file written for this failure
    save_error: Optional[str] = None
    stats: dict = field(default_factory=dict)  # JSON-able extras for the run summary

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "error"]

    @property
    def outcome(self) -> Literal["failed", "known", "skipped", "passed"]:
        levels = {p.level for p in self.problems}
        if "error" in levels:
            return "failed"
        if "known" in levels:
            return "known"
        if "skip" in levels:
            return "skipped"
        return "passed"

    def summary_record(self) -> dict:
        """What the plugin's terminal summary shows for this check (JSON-able)."""
        return {
            "quantizer": self.quantizer,
            "check": self.check,
            "subject": self.subject,
            "outcome": self.outcome,
            "sqnr": None if self.sqnr is None else round(self.sqnr, 3) if math.isfinite(self.sqnr) else str(self.sqnr),
            "annotated": self.annotated,
            "saved": self.saved,
            "problems": [f"{p.level}: {p.message.splitlines()[0]}" for p in self.problems][:5],
            **self.stats,
        }


# ---- checks and subjects -----------------------------------------------------------------------


@dataclass(frozen=True)
class SuiteCheck:
    """One test of the suite: ``check`` (a key of :data:`CHECKS`) on ``subject``."""

    check: str
    subject: str  # "model:<name>", "random:<i>", "corpus:<path>", "models"

    @property
    def name(self) -> str:
        """The test id: ``numerics[mlp]``, ``random_graphs[0]``, ``corpus[<file stem>]``, ``coverage``."""
        kind, _, what = self.subject.partition(":")
        if kind == "model":
            return f"{self.check}[{what}]"
        if kind == "random":
            return f"random_graphs[{what}]"
        if kind == "corpus":
            return f"corpus[{Path(what).stem}]"
        return self.check


def _corpus_files(corpus: str) -> list[Path]:
    root = Path(corpus)
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*.json") if p.is_file())


def suite_checks(options: SuiteOptions) -> list[SuiteCheck]:
    """The tests of the suite, in a deterministic order: per model annotate, well_formed, prepare, numerics;
    then random-graph chunks, the saved graphs of the corpus directory, and coverage."""
    out = []
    for name in options.model_list():
        for check in ("annotate", "well_formed", "prepare", "numerics"):
            out.append(SuiteCheck(check, f"model:{name}"))
    examples = options.budget.examples
    chunks = math.ceil(examples / EXAMPLES_PER_CHUNK) if examples > 0 else 0
    out.extend(SuiteCheck("random_graphs", f"random:{i}") for i in range(chunks))
    out.extend(SuiteCheck("corpus", f"corpus:{p}") for p in _corpus_files(options.corpus))
    out.append(SuiteCheck("coverage", "models"))
    return out


# ---- running the quantizer ---------------------------------------------------------------------


@dataclass
class Annotated:
    """A graph after the quantizer ran on it the way ``prepare_pt2e`` runs it.

    ``gm`` is the transformed, annotated graph (or the graph as far as it got); ``failed`` says a quantizer call
    raised or timed out (later checks are skipped); ``quantizer`` is the instance used (its
    ``prepare_obs_or_fq_callback`` is passed to prepare); ``node_name_to_scope`` was computed before any change.
    """

    gm: Optional[GraphModule]
    problems: list[Problem]
    failed: bool
    quantizer: Any = None
    node_name_to_scope: dict = field(default_factory=dict)

    @property
    def count(self) -> int:
        return annotated_node_count(self.gm) if self.gm is not None else 0


def _exc_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {text[:300]}" if text else type(e).__name__


_HARNESS_DIR = str(Path(__file__).resolve().parents[1])


def _where(e: BaseException, limit: int = 3) -> str:
    """The innermost frames of ``e``'s traceback outside the harness (where the quantizer failed), one per line."""
    frames = [f for f in traceback.extract_tb(e.__traceback__)
              if not str(Path(f.filename).resolve()).startswith(_HARNESS_DIR)][-limit:]
    return "\n".join(f"    {Path(f.filename).name}:{f.lineno} in {f.name}: {(f.line or '').strip()}" for f in frames)


def _target_name(target: Any) -> str:
    """``"aten.linear.default"`` for an op overload, the qualified name of a function, a string as it is."""
    if isinstance(target, str):
        return target
    if isinstance(target, (torch._ops.OpOverload, torch._ops.OpOverloadPacket)):
        return str(target)
    module = getattr(target, "__module__", None)
    name = getattr(target, "__qualname__", None) or getattr(target, "__name__", None)
    if name is None:
        return str(target)
    return f"{module}.{name}" if module and module not in ("builtins", "_operator") else name


def _arg_structure(value: Any) -> Any:
    if isinstance(value, Node):
        return ("%node", value.name)
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_arg_structure(v) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple((k, _arg_structure(v)) for k, v in value.items()))
    if isinstance(value, float) and math.isnan(value):
        return ("nan",)
    if isinstance(value, (int, float, bool, str, type(None))):
        return value
    return repr(value)


@dataclass(frozen=True)
class GraphStructure:
    """What annotate() must not change: the nodes (name, op, target, args, kwargs) and the module's state."""

    nodes: tuple
    state: dict  # name -> tensor (cloned)


def graph_structure(gm: GraphModule) -> GraphStructure:
    """A snapshot of ``gm``'s nodes and state, ignoring every ``node.meta`` (annotations live there)."""
    nodes = tuple(
        (n.name, n.op, _target_name(n.target), _arg_structure(n.args), _arg_structure(n.kwargs))
        for n in gm.graph.nodes
    )
    state = {k: v.detach().clone() for k, v in gm.state_dict(keep_vars=True).items() if isinstance(v, torch.Tensor)}
    return GraphStructure(nodes, state)


def structure_changes(before: GraphStructure, after: GraphStructure, limit: int = 6) -> list[str]:
    """What changed between two snapshots, in plain words (empty: nothing)."""
    changes = []
    old = {n[0]: n for n in before.nodes}
    new = {n[0]: n for n in after.nodes}
    for name in old:
        if name not in new:
            changes.append(f"node {name!r} was removed")
    for name in new:
        if name not in old:
            changes.append(f"node {name!r} ({new[name][1]} {new[name][2]}) was added")
    for name in old:
        if name in new and old[name] != new[name]:
            changes.append(f"node {name!r} changed: {_show_node(old[name])} became {_show_node(new[name])}")
    if not changes and [n[0] for n in before.nodes] != [n[0] for n in after.nodes]:
        changes.append("the nodes were reordered")
    for k in before.state:
        if k not in after.state:
            changes.append(f"parameter/buffer {k!r} was removed")
        else:
            a, b = before.state[k], after.state[k]
            if a.shape != b.shape or a.dtype != b.dtype:
                changes.append(f"parameter/buffer {k!r} changed from {a.dtype}{list(a.shape)} "
                               f"to {b.dtype}{list(b.shape)}")
            elif not torch.equal(a, b):
                changes.append(f"the values of parameter/buffer {k!r} were modified")
    for k in after.state:
        if k not in before.state:
            changes.append(f"parameter/buffer {k!r} was added")
    if len(changes) > limit:
        changes = changes[:limit] + [f"... and {len(changes) - limit} more changes"]
    return changes


def _show_node(entry: tuple) -> str:
    name, op, target, args, kwargs = entry

    def show(a: Any) -> str:
        if isinstance(a, tuple) and a and a[0] == "%node":
            return a[1]
        if isinstance(a, tuple) and len(a) == 2 and a[0] in ("list", "tuple", "immutable_list"):
            return "[" + ", ".join(show(x) for x in a[1]) + "]"
        if isinstance(a, tuple) and len(a) == 2 and a[0] in ("dict", "immutable_dict"):
            return ", ".join(f"{k}={show(v)}" for k, v in a[1])
        return repr(a)

    inner = show(args)[1:-1]
    kw = show(kwargs)
    return f"{op} {target}({inner}{', ' + kw if kw else ''})"


def annotated_node_count(gm: GraphModule) -> int:
    """Nodes whose annotation has at least one spec (an annotation with no spec quantizes nothing)."""
    count = 0
    for n in gm.graph.nodes:
        qa = n.meta.get(Q_KEY)
        if qa is None:
            continue
        specs = list(getattr(qa, "input_qspec_map", {}).values()) if isinstance(
            getattr(qa, "input_qspec_map", None), dict) else []
        if any(s is not None for s in specs) or getattr(qa, "output_qspec", None) is not None:
            count += 1
    return count


def _fuse_like_prepare_pt2e(gm: GraphModule) -> None:
    from torchao.quantization.pt2e.utils import _fuse_conv_bn_, _fuse_linear_bn_

    _fuse_conv_bn_(gm)
    _fuse_linear_bn_(gm)


def run_quantizer(gm: GraphModule, source: QuantizerSource, timeout: float) -> Annotated:
    """Run the quantizer on ``gm`` as ``prepare_pt2e`` does, recording every problem (check 1 and 5).

    Batch norms are fused first and ``transform_for_annotation`` runs before the snapshot: both may change the
    graph legitimately. ``annotate`` and ``validate`` may only add annotations.
    """
    from torchao.quantization.pt2e.utils import _get_node_name_to_scope

    scope = _get_node_name_to_scope(gm)
    _fuse_like_prepare_pt2e(gm)
    try:
        quantizer = call_with_time_limit(_make_quantizer, timeout, source, what="the quantizer factory")
    except QuantizerLoadError as e:
        return Annotated(gm, [Problem("annotate", str(e))], True)
    except TimeLimitExceeded as e:
        return Annotated(gm, [Problem("annotate", f"{e}: the factory hangs")], True)

    def call(step: str, fn: Callable, model: GraphModule) -> tuple[Any, Optional[Problem]]:
        try:
            return call_with_time_limit(fn, timeout, model, what=f"{step}()"), None
        except TimeLimitExceeded as e:
            return None, Problem("annotate", f"{e}: the quantizer hangs in {step}()")
        except Exception as e:  # noqa: BLE001 - a crash of the quantizer is a finding
            return None, Problem("annotate", f"{step}() raised {_exc_line(e)}\n{_where(e)}")

    transform = getattr(quantizer, "transform_for_annotation", None)
    if callable(transform):
        result, problem = call("transform_for_annotation", transform, gm)
        if problem is not None:
            return Annotated(gm, [problem], True, quantizer, scope)
        if not isinstance(result, GraphModule):
            return Annotated(gm, [Problem("annotate", f"transform_for_annotation() returned {type(result).__name__},"
                                                      " not a GraphModule")], True, quantizer, scope)
        gm = result
    problems: list[Problem] = []
    for step in ("annotate", "validate"):
        before = graph_structure(gm)
        _, problem = call(step, getattr(quantizer, step), gm)
        if problem is not None:
            return Annotated(gm, problems + [problem], True, quantizer, scope)
        changes = structure_changes(before, graph_structure(gm))
        if changes:
            problems.append(Problem("annotate", f"{step}() changed the graph (only annotations may change):\n"
                                    + "\n".join(f"  - {c}" for c in changes)))
    return Annotated(gm, problems, False, quantizer, scope)


# ---- check 2: well-formed annotations ----------------------------------------------------------


_SUB_BYTE = {f"int{b}": (-(2 ** (b - 1)), 2 ** (b - 1) - 1) for b in range(1, 8)}
_SUB_BYTE.update({f"uint{b}": (0, 2**b - 1) for b in range(1, 8)})
_QUANTIZED = {"quint8": (0, 255), "qint8": (-128, 127), "qint32": (-(2**31), 2**31 - 1), "quint4x2": (0, 15)}


def dtype_range(dtype: Any) -> Optional[tuple[int, int]]:
    """The integer range a dtype can hold, or None for floating-point and other dtypes."""
    if not isinstance(dtype, torch.dtype):
        return None
    name = str(dtype).replace("torch.", "")
    if name in _SUB_BYTE:
        return _SUB_BYTE[name]
    if name in _QUANTIZED:
        return _QUANTIZED[name]
    if dtype.is_floating_point or dtype.is_complex or dtype == torch.bool:
        return None
    try:
        info = torch.iinfo(dtype)
    except TypeError:
        return None
    return int(info.min), int(info.max)


def _rank(node: Node) -> Optional[int]:
    val = node.meta.get("val")
    return val.dim() if isinstance(val, torch.Tensor) else None


def _tensor_dtype(node: Node) -> Optional[torch.dtype]:
    val = node.meta.get("val")
    return val.dtype if isinstance(val, torch.Tensor) else None


def _check_spec(spec: Any, where: str, observed: Node, owner: str, nodes: set) -> list[Problem]:
    """Field-level checks of one spec; ``observed`` is the node whose value the spec quantizes."""
    from torchao.quantization.pt2e.quantizer import (
        DerivedQuantizationSpec,
        FixedQParamsQuantizationSpec,
        QuantizationSpec,
        SharedQuantizationSpec,
    )

    out: list[Problem] = []

    def bad(msg: str) -> None:
        out.append(Problem("well_formed", f"{where}: {msg}", nodes=(owner,)))

    if spec is None:
        return out
    if isinstance(spec, SharedQuantizationSpec):
        target = spec.edge_or_node
        ok = (isinstance(target, Node) and target in nodes) or (
            isinstance(target, tuple) and len(target) == 2 and all(isinstance(t, Node) and t in nodes for t in target))
        if not ok:
            bad(f"SharedQuantizationSpec refers to {target!r}, which is not a node or an (arg, node) edge of this "
                "graph")
        return out
    if not isinstance(spec, (QuantizationSpec, DerivedQuantizationSpec, FixedQParamsQuantizationSpec)):
        bad(f"{type(spec).__name__} is not a quantization spec (QuantizationSpec, SharedQuantizationSpec, "
            "DerivedQuantizationSpec or FixedQParamsQuantizationSpec)")
        return out
    dtype = spec.dtype
    if not isinstance(dtype, torch.dtype):
        bad(f"dtype {dtype!r} is not a torch.dtype")
        return out
    qmin, qmax = spec.quant_min, spec.quant_max
    for name, v in (("quant_min", qmin), ("quant_max", qmax)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
            bad(f"{name} {v!r} is not an int")
            return out
    rng = dtype_range(dtype)
    if rng is not None:
        lo, hi = rng
        if qmin is not None and not lo <= qmin <= hi:
            bad(f"quant_min {qmin} is outside the range of {dtype} [{lo}, {hi}]")
        if qmax is not None and not lo <= qmax <= hi:
            bad(f"quant_max {qmax} is outside the range of {dtype} [{lo}, {hi}]")
    if qmin is not None and qmax is not None and qmin > qmax:
        bad(f"quant_min {qmin} > quant_max {qmax}")
    qscheme = spec.qscheme
    if qscheme is not None and not isinstance(qscheme, torch.qscheme):
        bad(f"qscheme {qscheme!r} is not a torch.qscheme")
        return out
    per_channel = qscheme in (torch.per_channel_affine, torch.per_channel_symmetric,
                              torch.per_channel_affine_float_qparams)
    ch_axis = getattr(spec, "ch_axis", None)
    if per_channel and ch_axis is None:
        bad(f"per-channel qscheme {qscheme} without ch_axis")
    if ch_axis is not None and per_channel:
        rank = _rank(observed)
        if isinstance(ch_axis, bool) or not isinstance(ch_axis, int):
            bad(f"ch_axis {ch_axis!r} is not an int")
        elif rank is not None and not -rank <= ch_axis < rank:
            bad(f"ch_axis {ch_axis} is out of range for {observed.name!r}, a tensor of rank {rank}")
    if isinstance(spec, QuantizationSpec) and not callable(spec.observer_or_fake_quant_ctr):
        bad(f"observer_or_fake_quant_ctr {spec.observer_or_fake_quant_ctr!r} is not callable")
    if isinstance(spec, FixedQParamsQuantizationSpec):
        scale = spec.scale
        if not isinstance(scale, (int, float)) or isinstance(scale, bool) or not math.isfinite(scale) or scale <= 0:
            bad(f"scale {scale!r} is not a positive finite number")
        zp = spec.zero_point
        if isinstance(zp, bool) or not isinstance(zp, int):
            bad(f"zero_point {zp!r} is not an int")
        elif qmin is not None and qmax is not None and not qmin <= zp <= qmax:
            bad(f"zero_point {zp} is outside [quant_min, quant_max] = [{qmin}, {qmax}]")
    if isinstance(spec, DerivedQuantizationSpec):
        if not callable(spec.derive_qparams_fn):
            bad("derive_qparams_fn is not callable")
        sources = spec.derived_from
        if not isinstance(sources, (list, tuple)) or not sources:
            bad("derived_from is empty")
        else:
            for s in sources:
                ok = (isinstance(s, Node) and s in nodes) or (
                    isinstance(s, tuple) and len(s) == 2 and all(isinstance(t, Node) and t in nodes for t in s))
                if not ok:
                    bad(f"derived_from names {s!r}, which is not a node or an (arg, node) edge of this graph")
    value_dtype = _tensor_dtype(observed)
    if value_dtype is not None and not value_dtype.is_floating_point and not spec.is_dynamic:
        bad(f"quantizes {observed.name!r}, a {value_dtype} tensor: only floating-point tensors can be observed")
    return out


def check_well_formed(gm: GraphModule) -> list[Problem]:
    """Check 2 on an annotated graph: types and fields of every annotation and spec, then the structure (shared and
    derived references, cycles, inputs) with :func:`prepare_impl.sharing_groups`."""
    from torchao.quantization.pt2e.quantizer import QuantizationAnnotation

    import prepare_impl

    problems: list[Problem] = []
    nodes = set(gm.graph.nodes)
    for n in gm.graph.nodes:
        if Q_KEY not in n.meta:
            continue
        qa = n.meta[Q_KEY]
        where = f"annotation of {n.name!r}"
        if not isinstance(qa, QuantizationAnnotation):
            problems.append(Problem("well_formed", f"{where} is a {type(qa).__name__}, not a QuantizationAnnotation",
                                    nodes=(n.name,)))
            continue
        if not isinstance(qa.input_qspec_map, dict):
            problems.append(Problem("well_formed", f"{where}: input_qspec_map is a {type(qa.input_qspec_map).__name__},"
                                    " not a dict", nodes=(n.name,)))
            continue
        inputs = set(n.all_input_nodes)
        for arg, spec in qa.input_qspec_map.items():
            if not isinstance(arg, Node) or arg not in nodes:
                problems.append(Problem("well_formed", f"{where}: input_qspec_map key {arg!r} is not a node of this "
                                        "graph", nodes=(n.name,)))
                continue
            if arg not in inputs:
                continue  # reported by sharing_groups (NotAnInputError) below
            problems.extend(_check_spec(spec, f"{where}: input {arg.name!r}", arg, n.name, nodes))
        problems.extend(_check_spec(qa.output_qspec, f"{where}: output", n, n.name, nodes))
    if problems:
        return problems
    try:
        prepare_impl.sharing_groups(gm)
    except prepare_impl.AnnotationError as e:
        problems.append(Problem("well_formed", f"{type(e).__name__}: {e}", nodes=_names_in(str(e), gm)))
    except Exception as e:  # noqa: BLE001 - should not happen on annotations that passed the checks above
        problems.append(Problem("well_formed", f"the sharing analysis of the annotations failed: {_exc_line(e)}"))
    return problems


def _names_in(text: str, gm: GraphModule) -> tuple[str, ...]:
    return tuple(n.name for n in gm.graph.nodes if f"'{n.name}'" in text)


# ---- check 3: reference vs prepare under test --------------------------------------------------


def _load_prepare(spec: str) -> Callable:
    from harness.check.run import load_function

    return load_function(spec)


def check_prepare(gm: GraphModule, prepare_spec: str, timeout: float) -> tuple[list[Problem], Any]:
    """Check 3: :func:`harness.check.run.check_case` on the case of the annotated ``gm``.

    Returns the problems and the case (None when the graph cannot be written as a case: then the check is
    skipped, with the reason).
    """
    import prepare_impl
    from harness.check.run import check_case
    from harness.fx.extract import UnsupportedGraph, extract_case

    try:
        case = extract_case(gm)
    except UnsupportedGraph as e:
        return [Problem("prepare", f"the annotated graph cannot be written as a case, so it cannot be compared: {e}",
                        "skip")], None
    try:
        candidate = _load_prepare(prepare_spec)
    except ValueError as e:
        return [Problem("prepare", f"--pt2e-prepare: {e}")], case
    try:
        report = call_with_time_limit(check_case, timeout, case, candidate, what="prepare (reference and under test)")
    except TimeLimitExceeded as e:
        return [Problem("prepare", f"{e}: prepare hangs on these annotations")], case
    if isinstance(report.reference.error, prepare_impl.AnnotationError):
        return [Problem("prepare", "the annotations are not well formed (see the well_formed check): "
                        f"{_exc_line(report.reference.error)}", "skip")], case
    if not report.failed:
        return [], case
    level: Level = "known" if report.known is not None else "error"
    return [Problem("prepare", report.summary(), level)], case


# ---- check 4: numerics -------------------------------------------------------------------------


def sqnr_db(reference: Sequence[torch.Tensor], actual: Sequence[torch.Tensor]) -> float:
    """Signal-to-quantization-noise ratio in dB of ``actual`` against ``reference`` (all elements together);
    ``inf`` when they are equal."""
    ref = torch.cat([r.detach().float().flatten() for r in reference])
    act = torch.cat([a.detach().float().flatten() for a in actual])
    noise = (ref - act).pow(2).sum().item()
    signal = ref.pow(2).sum().item()
    if noise == 0:
        return math.inf
    if signal == 0:
        return -math.inf
    return 10.0 * math.log10(signal / noise)


def _float_outputs(out: Any) -> list[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return [out] if out.is_floating_point() else []
    if isinstance(out, (list, tuple)):
        return [t for o in out for t in _float_outputs(o)]
    if isinstance(out, dict):
        return [t for o in out.values() for t in _float_outputs(o)]
    return []


CALIBRATION_SEEDS = range(1, 9)
EVALUATION_SEEDS = (100, 101)


def check_numerics(model_name: str, source: QuantizerSource, options: SuiteOptions) -> CheckResult:
    """Check 4 on a model: prepare (under test), calibrate, ``convert_pt2e``, run; SQNR against the float model."""
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e

    import prepare_impl
    from harness.suite import models

    timeout = options.budget.timeout
    result = CheckResult("numerics", f"model:{model_name}", source.label)
    shown = _annotated_model(source, model_name, options)  # the report shows the annotated graph, not the prepared
    result.gm, result.annotated = shown.gm, shown.count
    if _skipped_for_prerequisites(result, shown, well_formed=False):
        return result
    # a fresh run: prepare changes the graph
    ann = run_quantizer(models.export_model(model_name, source.export_strict), source, timeout)
    if _skipped_for_prerequisites(result, ann):
        return result
    callback = getattr(ann.quantizer, "prepare_obs_or_fq_callback", None)
    original_meta = dict(ann.gm.meta)
    prepared = None
    note = ""
    try:
        candidate = _load_prepare(options.prepare)
    except ValueError as e:
        result.problems.append(Problem("numerics", f"--pt2e-prepare: {e}"))
        return result
    try:
        prepared = call_with_time_limit(candidate, timeout, ann.gm, ann.node_name_to_scope, False, callback,
                                        what=f"prepare ({options.prepare})")
    except Exception as e:  # noqa: BLE001 - retried with the reference below
        note = f"the prepare under test raised {_exc_line(e)}; measured with the reference prepare instead. "
        again = run_quantizer(models.export_model(model_name, source.export_strict), source, timeout)
        try:
            prepared = call_with_time_limit(prepare_impl.prepare, timeout, again.gm, again.node_name_to_scope, False,
                                            getattr(again.quantizer, "prepare_obs_or_fq_callback", None),
                                            what="prepare (reference)")
        except prepare_impl.AnnotationError as e2:
            result.problems.append(Problem("numerics", "the annotations are not well formed (see the well_formed "
                                           f"check): {_exc_line(e2)}", "skip"))
            return result
        except Exception as e2:  # noqa: BLE001
            result.problems.append(Problem("numerics", f"{note}The reference prepare raised too: {_exc_line(e2)}"))
            return result
    prepared.meta.update(original_meta)
    stage = "calibrating the prepared model"
    try:
        for s in CALIBRATION_SEEDS:
            call_with_time_limit(prepared, timeout, *models.model_inputs(model_name, s), what="calibration")
        stage = "convert_pt2e"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            converted = call_with_time_limit(convert_pt2e, timeout, prepared, what="convert_pt2e")
        stage = "running the quantized model"
        float_model = models.float_model(model_name)
        values = []
        for s in EVALUATION_SEEDS:
            inputs = models.model_inputs(model_name, s)
            with torch.no_grad():
                reference = _float_outputs(float_model(*inputs))
                actual = _float_outputs(call_with_time_limit(converted, timeout, *inputs, what="the quantized model"))
            if len(reference) != len(actual) or any(r.shape != a.shape for r, a in zip(reference, actual)):
                result.problems.append(Problem("numerics", "the quantized model's outputs have other shapes than the "
                                               f"float model's: {[tuple(a.shape) for a in actual]} vs "
                                               f"{[tuple(r.shape) for r in reference]}"))
                return result
            if any(not torch.isfinite(a).all() for a in actual):
                result.problems.append(Problem("numerics", f"{note}the quantized model's output is not finite"))
                return result
            values.append(sqnr_db(reference, actual))
    except Exception as e:  # noqa: BLE001 - reported
        result.problems.append(Problem("numerics", f"{note}{stage} failed: {_exc_line(e)}\n{_where(e)}"))
        return result
    result.sqnr = min(values)
    if result.sqnr < options.sqnr_min:
        result.problems.append(Problem(
            "numerics",
            f"{note}SQNR {result.sqnr:.1f} dB is below the minimum {options.sqnr_min:g} dB (--pt2e-sqnr-min): the "
            "quantized model's output is far from the float model's"))
    elif note:
        result.stats["note"] = note.strip()
    return result


# ---- claims ------------------------------------------------------------------------------------


def _norm_op(name: str) -> str:
    return name.lower().replace("_", "")


def claimed_ops(quantizer: Any) -> Optional[frozenset[str]]:
    """The ops a quantizer says it supports through ``get_supported_operators()`` (normalised names such as
    ``"conv2d"``, ``"linear"``, ``"embedding"``), or None when it does not say. An answer naming no op counts as
    not saying: quantizers that do annotate return ``[]`` as a stub (ExecuTorch's Cadence quantizers do)."""
    getter = getattr(quantizer, "get_supported_operators", None)
    if not callable(getter):
        return None
    try:
        configs = getter()
    except Exception:  # noqa: BLE001 - a quantizer that cannot say is treated as not saying
        return None
    names: set[str] = set()

    def visit(x: Any) -> None:
        if isinstance(x, (list, tuple)):
            for y in x:
                visit(y)
        elif isinstance(x, str):
            names.add(_norm_op(x.split(".")[-1]))
        else:
            n = getattr(x, "__name__", None)
            if n:
                names.add(_norm_op(n))

    for cfg in configs or ():
        visit(getattr(cfg, "operators", ()))
    return frozenset(names) or None


def _claims_model(claimed: Optional[frozenset[str]], model_name: str) -> Optional[bool]:
    from harness.suite import models

    if claimed is None:
        return None
    return bool({_norm_op(op) for op in models.get_model(model_name).key_ops} & claimed)


# ---- random graphs and saved graphs ------------------------------------------------------------


def _graph_gm(graph: Any, strict: bool = False) -> GraphModule:
    """The exported module program of a case graph (the IR a quantizer really sees); the built graph when the
    graph cannot be written as a module program. ``strict``: export with ``strict=True``."""
    from harness import strategies
    from harness.fx.build import build_module, example_inputs

    try:
        module = strategies.graph_to_module(graph)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ep = torch.export.export(module, example_inputs(graph), strict=strict)
        try:
            gm = ep.module(check_guards=False)
        except TypeError:
            gm = ep.module()
        from harness.suite.models import strip_guards

        return strip_guards(gm)
    except Exception:  # noqa: BLE001 - fall back to the graph as it is
        return build_module(graph)


@dataclass
class GraphVerdict:
    problems: list[Problem]
    gm: Optional[GraphModule]
    unusable: Optional[str] = None  # the graph could not be turned into a module (not the quantizer's fault)

    @property
    def failed(self) -> bool:
        return any(p.level == "error" for p in self.problems)


def check_graph(graph: Any, source: QuantizerSource, options: SuiteOptions) -> GraphVerdict:
    """Checks 1, 2, 3 and 5 on one case graph (the quantizer annotates it)."""
    try:
        gm = _graph_gm(graph, source.export_strict)
    except Exception as e:  # noqa: BLE001
        return GraphVerdict([], None, unusable=_exc_line(e))
    timeout = options.budget.timeout
    ann = run_quantizer(gm, source, timeout)
    problems = list(ann.problems)
    if not ann.failed:
        wf = check_well_formed(ann.gm)
        problems.extend(wf)
        if not any(p.level == "error" for p in wf):
            problems.extend(check_prepare(ann.gm, options.prepare, timeout)[0])
    return GraphVerdict(problems, ann.gm)


class _GraphFailed(Exception):
    def __init__(self, verdict: GraphVerdict) -> None:
        self.verdict = verdict
        super().__init__(verdict.problems[0].message if verdict.problems else "failed")


def _chunk_seed(options: SuiteOptions, chunk: int) -> int:
    if options.seed is not None:
        return options.seed * 1000 + chunk
    if options.budget.deterministic:
        return zlib.crc32(f"pt2e-random-graphs:{chunk}".encode())
    return random.SystemRandom().randrange(2**32)


def search_random_graphs(source: QuantizerSource, options: SuiteOptions, chunk: int) -> CheckResult:
    """Hypothesis over random graphs for one chunk of the example budget; the first failing graph is shrunk
    (within the profile's shrink time) and reported."""
    from hypothesis import HealthCheck, Phase, Verbosity, given, seed, settings

    from harness import strategies

    budget = options.budget
    total = budget.examples
    n = max(0, min(EXAMPLES_PER_CHUNK, total - chunk * EXAMPLES_PER_CHUNK))
    result = CheckResult("random_graphs", f"random:{chunk}", source.label)
    chunk_seed = _chunk_seed(options, chunk)
    result.stats.update(seed=chunk_seed, examples=0, annotated_examples=0, known=0, unusable=0)
    if n == 0:
        result.problems.append(Problem("random_graphs", "no examples in this chunk", "skip"))
        return result
    memo: dict[Any, GraphVerdict] = {}
    known: dict[str, int] = {}
    state = {"shrink_deadline": None}

    @settings(max_examples=n, deadline=None, database=None, derandomize=False, verbosity=Verbosity.quiet,
              suppress_health_check=list(HealthCheck), report_multiple_bugs=False,
              phases=(Phase.explicit, Phase.generate, Phase.shrink), print_blob=False)
    @seed(chunk_seed)
    @given(strategies.graphs(min_nodes=1, max_nodes=budget.max_nodes))
    def prop(graph: Any) -> None:
        verdict = memo.get(graph)
        if verdict is None:
            deadline = state["shrink_deadline"]
            if deadline is not None and time.monotonic() > deadline:
                return  # out of shrink time: keep the smallest failure found so far
            verdict = check_graph(graph, source, options)
            memo[graph] = verdict
            if verdict.unusable is None and deadline is None:
                result.stats["examples"] += 1
                if verdict.gm is not None and annotated_node_count(verdict.gm) > 0:
                    result.stats["annotated_examples"] += 1
            elif verdict.unusable is not None:
                result.stats["unusable"] += 1
            for p in verdict.problems:
                if p.level == "known" and deadline is None:
                    key = p.message.splitlines()[0]
                    known[key] = known.get(key, 0) + 1
        if verdict.failed:
            if state["shrink_deadline"] is None:
                timed_out = any("did not return within" in p.message for p in verdict.problems)
                # a hang costs a timeout per shrink step: do not shrink it
                state["shrink_deadline"] = time.monotonic() + (0 if timed_out else budget.shrink_seconds)
            raise _GraphFailed(verdict)

    try:
        prop()
    except _GraphFailed as e:
        result.problems.extend(e.verdict.problems)
        result.gm = e.verdict.gm
    result.stats["known"] = sum(known.values())
    if known:
        result.stats["known_bugs"] = sorted(known)
    return result


def check_saved_graph(path: str, source: QuantizerSource, options: SuiteOptions) -> CheckResult:
    """Checks 1, 2, 3 and 5 on the graph of a saved case (its annotations are replaced by the quantizer's)."""
    from harness.case.files import CaseFormatError, load_case

    result = CheckResult("corpus", f"corpus:{path}", source.label)
    try:
        case = load_case(path)
    except CaseFormatError as e:
        result.problems.append(Problem("corpus", f"cannot load the saved case: {e}", "skip"))
        return result
    verdict = check_graph(case.graph, source, options)
    if verdict.unusable is not None:
        result.problems.append(Problem("corpus", f"the saved graph cannot be built: {verdict.unusable}", "skip"))
        return result
    result.problems.extend(verdict.problems)
    result.gm = verdict.gm
    return result


# ---- the checks on models ----------------------------------------------------------------------

# (label, id(factory), model) -> (source, run); the source is kept so the factory's id is not reused.
_ANNOTATED: dict[tuple[str, int, str], tuple[QuantizerSource, Annotated]] = {}


def _annotated_model(source: QuantizerSource, model_name: str, options: SuiteOptions) -> Annotated:
    """The quantizer's run on a model, cached per process (annotate, well_formed and prepare look at the same
    annotated graph)."""
    from harness.suite import models

    key = (source.label, id(source.factory), model_name)
    if key not in _ANNOTATED:
        _ANNOTATED[key] = (source, run_quantizer(models.export_model(model_name, source.export_strict), source,
                                                   options.budget.timeout))
    return _ANNOTATED[key][1]


def clear_caches() -> None:
    """Forget the quantizers' runs on models (the plugin calls this at the start of each session)."""
    _ANNOTATED.clear()


def _model_ops(gm: GraphModule) -> str:
    ops = sorted({_target_name(n.target).removeprefix("aten.").split(".")[0]
                  for n in gm.graph.nodes if n.op == "call_function"})
    return ", ".join(ops)


def check_model_annotate(model_name: str, source: QuantizerSource, options: SuiteOptions) -> CheckResult:
    ann = _annotated_model(source, model_name, options)
    result = CheckResult("annotate", f"model:{model_name}", source.label, list(ann.problems), ann.gm)
    result.annotated = ann.count
    if not ann.failed and ann.count == 0:
        claims = _claims_model(claimed_ops(ann.quantizer), model_name)
        if claims is not False:
            why = ("it says it supports " + ", ".join(sorted(
                {_norm_op(o) for o in _model_key_ops(model_name)} & (claimed_ops(ann.quantizer) or frozenset())))
                if claims else "it does not say which ops it supports (get_supported_operators() is missing or "
                "names no op)")
            result.problems.append(Problem(
                "annotate",
                f"annotated nothing on model {model_name!r} (ops: {_model_ops(ann.gm)}): no node got a "
                f"QuantizationAnnotation with a spec, though {why}. If the quantizer does not support this model, "
                "leave it out with --pt2e-models.",
                "warning"))
    return result


def _model_key_ops(model_name: str) -> frozenset[str]:
    from harness.suite import models

    return models.get_model(model_name).key_ops


def check_model_well_formed(model_name: str, source: QuantizerSource, options: SuiteOptions) -> CheckResult:
    ann = _annotated_model(source, model_name, options)
    result = CheckResult("well_formed", f"model:{model_name}", source.label, gm=ann.gm, annotated=ann.count)
    if not _skipped_for_prerequisites(result, ann, well_formed=False):
        result.problems.extend(check_well_formed(ann.gm))
    return result


def check_model_prepare(model_name: str, source: QuantizerSource, options: SuiteOptions) -> CheckResult:
    ann = _annotated_model(source, model_name, options)
    result = CheckResult("prepare", f"model:{model_name}", source.label, gm=ann.gm, annotated=ann.count)
    if _skipped_for_prerequisites(result, ann):
        return result
    result.problems.extend(check_prepare(ann.gm, options.prepare, options.budget.timeout)[0])
    return result


def _skipped_for_prerequisites(result: CheckResult, ann, well_formed: bool = True) -> bool:
    """Mark ``result`` skipped, and say so, when the quantizer failed on the model or (``well_formed``) its
    annotations are not well formed: those checks report the problem, the later ones have nothing to check."""
    if ann.failed:
        reason = "the quantizer failed on this model (see the annotate check)"
    elif well_formed and _not_well_formed(ann.gm):
        reason = "the annotations are not well formed (see the well_formed check)"
    else:
        return False
    result.problems.append(Problem(result.check, reason, "skip"))
    return True


def _not_well_formed(gm: GraphModule) -> bool:
    return any(p.level == "error" for p in check_well_formed(gm))


def check_coverage(source: QuantizerSource, options: SuiteOptions) -> CheckResult:
    """Check 6: the quantizer annotates at least one of the models it claims (or does not say it does not)."""
    result = CheckResult("coverage", "models", source.label)
    counts: dict[str, int] = {}
    considered = []
    for name in options.model_list():
        ann = _annotated_model(source, name, options)
        if ann.failed:
            continue
        counts[name] = ann.count
        if _claims_model(claimed_ops(ann.quantizer), name) is not False:
            considered.append(name)
    result.stats["annotated_per_model"] = counts
    if not counts:
        result.problems.append(Problem("coverage", "the quantizer failed on every model (see the annotate checks)",
                                       "skip"))
    elif not considered:
        result.problems.append(Problem("coverage", "none of the models has an op the quantizer says it supports",
                                       "skip"))
    elif all(counts[n] == 0 for n in considered):
        result.problems.append(Problem(
            "coverage",
            f"the quantizer annotated nothing on any of the {len(considered)} models it could support "
            f"({', '.join(considered)}): annotate() never set a QuantizationAnnotation with a spec in "
            "node.meta['quantization_annotation']"))
    return result


def run_check(check: SuiteCheck, source: QuantizerSource, options: SuiteOptions) -> CheckResult:
    """Run one test of the suite; never raises for anything the quantizer or the prepare under test does."""
    kind, _, what = check.subject.partition(":")
    if check.check == "coverage":
        return check_coverage(source, options)
    if kind == "model":
        fn = {"annotate": check_model_annotate, "well_formed": check_model_well_formed,
              "prepare": check_model_prepare}.get(check.check)
        if fn is not None:
            return fn(what, source, options)
        if check.check == "numerics":
            return check_numerics(what, source, options)
    if kind == "random":
        return search_random_graphs(source, options, int(what))
    if kind == "corpus":
        return check_saved_graph(what, source, options)
    raise ValueError(f"unknown suite check {check!r}")


# ---- reports -----------------------------------------------------------------------------------


def _node_ref(x: Any) -> str:
    if isinstance(x, Node):
        return x.name
    if isinstance(x, tuple) and len(x) == 2 and all(isinstance(t, Node) for t in x):
        return f"{x[0].name}->{x[1].name}"
    return repr(x)


def _range(spec: Any) -> str:
    dtype = str(getattr(spec, "dtype", "?")).replace("torch.", "")
    qmin, qmax = getattr(spec, "quant_min", None), getattr(spec, "quant_max", None)
    return f"{dtype}[{qmin},{qmax}]" if qmin is not None or qmax is not None else dtype


def _ctor_name(ctor: Any) -> str:
    p = getattr(ctor, "p", None)  # with_args PartialWrapper
    while p is not None and hasattr(p, "func"):
        ctor = p.func
        p = getattr(ctor, "p", None)
    return getattr(ctor, "__name__", type(ctor).__name__)


def render_spec(spec: Any) -> str:
    """A spec in a few words: ``int8[-128,127] per_tensor_affine HistogramObserver``, ``shared(x->linear)``..."""
    from torchao.quantization.pt2e.quantizer import (
        DerivedQuantizationSpec,
        FixedQParamsQuantizationSpec,
        QuantizationSpec,
        SharedQuantizationSpec,
    )

    if spec is None:
        return "None"
    try:
        if isinstance(spec, SharedQuantizationSpec):
            return f"shared({_node_ref(spec.edge_or_node)})"
        qscheme = str(getattr(spec, "qscheme", None)).replace("torch.", "")
        axis = f" axis {spec.ch_axis}" if getattr(spec, "ch_axis", None) is not None and "channel" in qscheme else ""
        dyn = " dynamic" if getattr(spec, "is_dynamic", False) else ""
        if isinstance(spec, QuantizationSpec):
            return f"{_range(spec)} {qscheme}{axis} {_ctor_name(spec.observer_or_fake_quant_ctr)}{dyn}"
        if isinstance(spec, DerivedQuantizationSpec):
            sources = ", ".join(_node_ref(s) for s in spec.derived_from) if isinstance(
                spec.derived_from, (list, tuple)) else repr(spec.derived_from)
            fn = getattr(spec.derive_qparams_fn, "__name__", "?")
            return f"derived({sources}) {_range(spec)} {qscheme}{axis} by {fn}"
        if isinstance(spec, FixedQParamsQuantizationSpec):
            return f"fixed(scale={spec.scale}, zero_point={spec.zero_point}) {_range(spec)} {qscheme}"
    except Exception:  # noqa: BLE001 - garbage is shown as such
        pass
    text = repr(spec)
    return f"<{type(spec).__name__}: {text[:60]}>"


def _render_arg(a: Any) -> str:
    if isinstance(a, Node):
        return a.name
    if isinstance(a, (list, tuple)):
        return "[" + ", ".join(_render_arg(x) for x in a) + "]"
    if isinstance(a, float):
        return f"{a:g}"
    return repr(a) if not isinstance(a, torch.dtype) else str(a).replace("torch.", "")


def _render_val(node: Node) -> str:
    val = node.meta.get("val")
    if isinstance(val, torch.Tensor):
        return f"{str(val.dtype).replace('torch.', '')}{list(val.shape)}"
    if isinstance(val, (list, tuple)) and val and all(isinstance(v, torch.Tensor) for v in val):
        return "(" + ", ".join(f"{list(v.shape)}" for v in val) + ")"
    return ""


def render_graph(gm: GraphModule, at_fault: Sequence[str] = (), max_lines: int = 150) -> str:
    """The graph, one node per line with its value's dtype and shape, and each annotation under its node.

    Nodes whose annotations are at fault are marked with ``!``.
    """
    fault = set(at_fault)
    lines = []
    for n in gm.graph.nodes:
        mark = "!" if n.name in fault else " "
        if n.op == "placeholder":
            text = f"{n.name}: input {_render_val(n)}"
        elif n.op == "get_attr":
            text = f"{n.name}: {n.target} {_render_val(n)}"
        elif n.op == "output":
            text = f"output({', '.join(_render_arg(a) for a in n.args[0])})" if isinstance(
                n.args[0], (list, tuple)) else f"output({_render_arg(n.args[0])})"
        else:
            target = _target_name(n.target)
            if target.startswith("aten."):
                target = target[5:]
            if target.endswith(".default"):
                target = target[: -len(".default")]
            args = ", ".join([_render_arg(a) for a in n.args] + [f"{k}={_render_arg(v)}" for k, v in n.kwargs.items()])
            text = f"{n.name} = {target}({args})  {_render_val(n)}"
        lines.append(f"  {mark} {text}".rstrip())
        qa = n.meta.get(Q_KEY)
        if qa is not None:
            imap = getattr(qa, "input_qspec_map", None)
            if isinstance(imap, dict):
                for arg, spec in imap.items():
                    if spec is not None:
                        lines.append(f"        in  {_node_ref(arg)}: {render_spec(spec)}")
            else:
                lines.append(f"        annotation: {type(qa).__name__} {repr(qa)[:80]}")
            out = getattr(qa, "output_qspec", None)
            if out is not None:
                lines.append(f"        out {render_spec(out)}")
            if getattr(qa, "allow_implicit_sharing", True) is False:
                lines.append("        allow_implicit_sharing=False")
    if len(lines) > max_lines:
        lines = lines[:max_lines] + [f"  ... {len(lines) - max_lines} more lines"]
    return "\n".join(lines)


def _subject_text(subject: str) -> str:
    kind, _, what = subject.partition(":")
    return {"model": f"model {what!r}", "random": f"random graphs (chunk {what})",
            "corpus": f"saved graph {Path(what).name}"}.get(kind, subject)


def save_finding(result: CheckResult, corpus: str) -> None:
    """Write the failing case (the annotated graph, or just the graph if its annotations cannot be written) to
    ``corpus`` (atomic, content-named) and record the path or the reason it could not be written."""
    from harness import case as C
    from harness.case.files import save_case
    from harness.fx.extract import UnsupportedGraph, extract_annotations, extract_case, extract_graph

    if result.gm is None:
        return
    first = result.errors[0] if result.errors else (result.problems[0] if result.problems else None)
    info = C.Info(
        title=f"{result.quantizer.split(':')[-1]} {result.check} {_subject_text(result.subject)}",
        kind="finding",
        notes=f"quantizer {result.quantizer}: {first.message if first else ''}"[:4000],
        tags=("pt2e-plugin", result.check),
    )
    try:
        try:
            case = extract_case(result.gm, info=info)
        except UnsupportedGraph:
            case = C.Case(extract_graph(result.gm), (), info=info)
            try:
                extract_annotations(result.gm)
            except UnsupportedGraph as e:
                result.save_error = f"annotations not saved: {e}"
        result.saved = str(save_case(case, corpus))
    except Exception as e:  # noqa: BLE001 - a graph a case cannot hold
        result.save_error = f"the case cannot be saved: {_exc_line(e)}"


def format_result(result: CheckResult) -> str:
    """The failure report: what failed in plain words, the annotations at fault, the graph, the corpus file."""
    shown = [p for p in result.problems if p.level in ("error", "known")] or result.problems
    lines = [f"quantizer {result.quantizer} on {_subject_text(result.subject)}",
             f"check: {CHECKS.get(result.check, result.check)}"]
    for p in shown:
        body = p.message.replace("\n", "\n    ")
        lines.append(f"  {'FAILED' if p.level == 'error' else p.level.upper()} [{p.check}] {body}")
    fault = [n for p in shown for n in p.nodes]
    if result.gm is not None:
        if fault:
            lines.append("annotations at fault: " + ", ".join(dict.fromkeys(fault)))
        lines.append(f"graph ({sum(1 for _ in result.gm.graph.nodes)} nodes; '!' marks annotations at fault):")
        lines.append(render_graph(result.gm, fault))
    if "seed" in result.stats:
        lines.append(f"hypothesis seed: {result.stats['seed']}")
    if result.saved:
        lines.append(f"case written to {result.saved}")
        lines.append(f"  look at it with its sharing groups: python -m harness show {result.saved} [--svg OUT.svg]")
        if any(p.check == "prepare" for p in shown):
            lines.append(f"  a standalone script reproducing it upstream: python -m harness repro {result.saved}")
    if result.save_error:
        lines.append(f"({result.save_error})")
    return "\n".join(lines)
