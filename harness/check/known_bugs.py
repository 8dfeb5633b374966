"""Known upstream bugs: for each, a predicate that recognizes the cases that trigger it, and its public report.

A predicate only NAMES a failure: whether it is known is decided by reproduction (:mod:`harness.check.run`): the
failure is known only when the pinned upstream prepare, run on the same case, fails the same way. A candidate whose
failure merely resembles one of these, on a case torchao prepares correctly, is new. The predicates look at what is observable about a case: the annotated graph, the reference's sharing analysis (or
its typed error), and what the candidate did (its exception, if any). They are deliberately narrow: a known bug
must explain the divergence, so each predicate checks the candidate's behaviour as well as the trigger.

Also listed are *lenient* behaviours: invalid annotations that torchao accepts silently, where the reference
raises a typed error. They are divergences by design, not torchao bugs, and are reported as known as well.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

from torchao.quantization.pt2e.quantizer import DerivedQuantizationSpec, SharedQuantizationSpec

import prepare_impl
from harness.check.invariants.exempt import buffer_only_producers


@dataclass(frozen=True)
class Observed:
    """What the campaign saw of one case; the input of the predicates.

    ``analysis`` is data (groups, specs, annotation order), computed before any prepare: a predicate may read it
    even after the graph it was computed on was prepared in place. A predicate that walks the graph (a node's
    arguments, the model's buffers) calls :meth:`graph` instead: an unprepared build of the case and its own
    analysis, built on demand (most cases are named without one)."""

    unprepared: Callable[[], tuple]  # () -> (the annotated, unprepared GraphModule, its analysis)
    analysis: Optional[prepare_impl.SharingAnalysis]  # None when the reference raised
    reference_error: Optional[BaseException]
    candidate_error: Optional[BaseException]
    divergence_kinds: frozenset = field(default_factory=frozenset)

    def graph(self) -> tuple:
        """(an annotated, unprepared GraphModule of the case, its sharing analysis), for walks of the graph."""
        return self.unprepared()


@dataclass(frozen=True)
class KnownBug:
    id: str
    title: str
    link: str
    matches: Callable[[Observed], bool]
    lenient: bool = False  # an invalid input torchao accepts, not a torchao bug


def _first_member_is_shared(obs: Observed) -> bool:
    if obs.analysis is None:
        return False
    specs = obs.analysis.annotated
    return any(isinstance(specs.spec_of(g.members[0]), SharedQuantizationSpec) for g in obs.analysis.groups)


def _derived_source_created_later(obs: Observed) -> bool:
    """A group's spec is derived from a group whose first member comes later in annotation order."""
    if obs.analysis is None:
        return False
    position = obs.analysis.annotated.index
    groups = obs.analysis.groups
    for g in groups:
        if isinstance(g.spec, DerivedQuantizationSpec):
            first = position[g.members[0]]
            if any(position[groups[s].members[0]] >= first for s in g.derived_from):
                return True
    return False


def _fake_quant_drops_ch_axis(obs: Observed) -> bool:
    """A group's spec asks a fake quant around a per-channel observer for a non-default ch_axis."""
    if obs.analysis is None:
        return False
    from torchao.quantization.pt2e.quantizer import QuantizationSpec

    from prepare_impl.observers import constructed_class, is_per_channel_constructor

    for g in obs.analysis.groups:
        spec = g.spec
        if isinstance(spec, QuantizationSpec) and spec.ch_axis not in (None, 0):
            ctr = spec.observer_or_fake_quant_ctr
            if is_per_channel_constructor(ctr) and "PerChannel" not in constructed_class(ctr).__name__:
                return True
    return False


def _long_sharing_chain(obs: Observed, links: int = 500) -> bool:
    """Some group holds more than ``links`` shared specs (torchao's union-find recurses once per link)."""
    if obs.analysis is None:
        return False
    spec_of = obs.analysis.annotated.spec_of
    return any(sum(isinstance(spec_of(k), SharedQuantizationSpec) for k in g.members) > links
               for g in obs.analysis.groups)


def _writes_first_arg(node) -> bool:
    """``node`` is an ATen call whose schema marks its first argument as written (an in-place op or ``copy_``)."""
    schema = getattr(node.target, "_schema", None) if node.op == "call_function" else None
    alias = schema.arguments[0].alias_info if schema is not None and schema.arguments else None
    return alias is not None and alias.is_write


def _reaches_input(start, inputs_of, buffers: set) -> Optional[bool]:
    """Walk ``start``'s producers with ``inputs_of``: None when a graph input (placeholder) is reached, else
    whether a module buffer was read (python ``getattr`` calls end the walk, as in torchao)."""
    def is_buffer(m) -> bool:
        return m.op == "get_attr" and str(m.target) in buffers

    seen, stack, attr = {start}, [start], is_buffer(start)
    while stack:
        for p in inputs_of(stack.pop()):
            if p.op == "placeholder":
                return None
            attr = attr or is_buffer(p)
            if p not in seen and not (p.op == "call_function" and p.target is getattr):
                seen.add(p)
                stack.append(p)
    return attr


def _top_level_args(node) -> list:
    """The producers torchao's ``collect_producer_nodes`` sees: positional and keyword arguments that are nodes
    themselves, not the nodes inside a list or tuple argument (``cat([x, x])``)."""
    return [a for a in (*node.args, *node.kwargs.values()) if hasattr(a, "op")]


def _buffer_walk_misses_a_list_input(obs: Observed) -> bool:
    """An annotated in-place edge ``(a, n)`` (``n`` writes ``a``) where ``a`` depends on a graph input only
    through a list argument (``cat([x, ...])``) and reads a ``get_attr``: the walk that skips lists calls ``a``
    a buffer-only value, the full walk does not."""
    if obs.analysis is None:
        return False
    original, analysis = obs.graph()
    buffers = {name for name, _ in original.named_buffers(remove_duplicate=False)}
    for key in analysis.annotated.keys:
        if isinstance(key, tuple):
            a, n = key
            if (_writes_first_arg(n) and n.args and n.args[0] is a
                    and buffer_only_producers(a) is None  # the full walk (the edges invariant's)
                    and _reaches_input(a, _top_level_args, buffers)):
                return True
    return False


def _edge_read_after_a_write(obs: Observed) -> bool:
    """An annotated input edge whose value is written in place between its producer and its consumer: torchao
    observes it before the write (:mod:`harness.check.in_place`)."""
    from harness.check.in_place import edges_read_after_a_write

    if obs.analysis is None:
        return False
    original, analysis = obs.graph()
    edges = [k for k in analysis.annotated.keys if isinstance(k, tuple)]
    return bool(edges_read_after_a_write(original, edges))


# Errors that name no annotation: a prepare raising one of these has crashed, it has not reported a problem.
BARE_ERRORS = (AssertionError, KeyError, RecursionError, IndexError, AttributeError, TypeError)


def _raised(obs: Observed, *types: type) -> bool:
    return obs.candidate_error is not None and isinstance(obs.candidate_error, types)


def _reference_raised(obs: Observed, error: type) -> bool:
    return isinstance(obs.reference_error, error)


def _crashes(trigger: Callable[[Observed], bool], *errors: type) -> Callable[[Observed], bool]:
    """The case triggers the bug and the candidate raised one of ``errors``."""
    return lambda o: trigger(o) and _raised(o, *errors)


def _named_by_reference(error: type, *errors: type) -> Callable[[Observed], bool]:
    """The reference raised ``error`` (it names the problem) and the candidate one of ``errors`` (a bare one)."""
    return _crashes(lambda o: _reference_raised(o, error), *errors)


def _returned_wrong(trigger: Callable[[Observed], bool], kinds: set[str],
                    diverged: bool = True) -> Callable[[Observed], bool]:
    """The case triggers the bug, the candidate returned (no exception) and every divergence it showed is of one of
    ``kinds``; with ``diverged``, it showed one at least."""
    return lambda o: (trigger(o) and o.candidate_error is None and (bool(o.divergence_kinds) or not diverged)
                      and o.divergence_kinds <= kinds)


_AO = "https://github.com/pytorch/ao"
_AO_4421 = f"{_AO}/issues/4421"
_AO_4483 = f"{_AO}/pull/4483"
_AO_PREPARE = f"{_AO}/blob/v0.18.0/torchao/quantization/pt2e/prepare.py"


def _crash_of_4483(bug_id: str, title: str, error: type, *errors: type) -> KnownBug:
    """An invalid annotation of a kind pytorch/ao#4483 is about: the reference raises ``error`` (naming the
    problem), torchao 0.18 one of the bare ``errors``."""
    return KnownBug(bug_id, title, _AO_4483, _named_by_reference(error, *errors))


# torchao's own check of a tensor kwarg fails with a bare AssertionError: that is ao-tensor-kwarg, not the general
# ao-4483-bare-error
_tensor_kwarg_assertion = _named_by_reference(prepare_impl.TensorKwargError, AssertionError)

KNOWN_BUGS: tuple[KnownBug, ...] = (
    KnownBug(
        id="ao-4421",
        title="SharedQuantizationSpec whose anchor comes later in graph order: AssertionError",
        link=_AO_4421,
        matches=_crashes(_first_member_is_shared, AssertionError),
    ),
    KnownBug(
        id="ao-deep-chain",
        title="sharing chain longer than Python's recursion limit: RecursionError in _find_root_edge_or_node",
        link=_AO_4421,
        matches=_crashes(_long_sharing_chain, RecursionError),
    ),
    KnownBug(
        id="ao-implicit-root-loop",
        title="implicit sharing roots a group at a key with a shared spec: _unwrap_shared_qspec never ends "
        "(RecursionError) on valid annotations",
        link=_AO_PREPARE,
        matches=lambda o: o.analysis is not None and _raised(o, RecursionError) and not _long_sharing_chain(o),
    ),
    KnownBug(
        id="ao-4421-derived",
        title="DerivedQuantizationSpec whose source group comes later in graph order: KeyError",
        link=_AO_4421,
        matches=_crashes(_derived_source_created_later, KeyError, AssertionError),
    ),
    KnownBug(
        id="ao-qat-fq-ch-axis",
        title="fake quant around a per-channel observer: the spec's ch_axis is dropped (axis 0 is used)",
        link=_AO_PREPARE,
        matches=_returned_wrong(_fake_quant_drops_ch_axis, {"observer_config", "numerics"}, diverged=False),
    ),
    _crash_of_4483("ao-4483-dangling", "shared or derived spec referring to an unannotated edge/node: bare KeyError",
                   prepare_impl.DanglingReferenceError, KeyError, AssertionError),
    _crash_of_4483("ao-4483-cycle", "cycle of SharedQuantizationSpecs: RecursionError or bare AssertionError",
                   prepare_impl.CyclicSharingError, RecursionError, AssertionError, KeyError),
    _crash_of_4483("ao-derived-cycle", "derived specs depending on each other: bare KeyError",
                   prepare_impl.DerivedCycleError, KeyError, AssertionError),
    KnownBug(
        id="ao-buffer-walk-skips-lists",
        title="in-place op on a value computed from a graph input through a list argument (cat, stack) and a "
        "buffer: taken for a buffer update, its annotated input edge is left unobserved",
        link=f"{_AO}/blob/v0.18.0/torchao/quantization/pt2e/graph_utils.py#L194-L209",
        matches=_returned_wrong(_buffer_walk_misses_a_list_input, {"unobserved", "structure", "partition", "numerics"}),
    ),
    KnownBug(
        id="ao-stale-edge-observer",
        title="input edge whose value is written in place before its consumer reads it: torchao observes it right "
        "after the producer (before the write) and reuses that observer, so the consumer reads a stale value",
        link=f"{_AO_PREPARE}#L455-L545",
        matches=_returned_wrong(_edge_read_after_a_write, {"structure", "numerics"}),
    ),
    KnownBug(
        id="ao-4483-bare-error",
        title="invalid annotations (the reference names the problem): torchao fails with a bare, unrelated error",
        link=_AO_4483,
        matches=lambda o: _reference_raised(o, prepare_impl.AnnotationError) and _raised(o, *BARE_ERRORS)
        and not _tensor_kwarg_assertion(o),
    ),
    KnownBug(
        id="ao-tensor-kwarg",
        title="tensor kwarg on an annotated node: bare AssertionError",
        link=_AO_PREPARE,
        matches=_tensor_kwarg_assertion,
    ),
    KnownBug(
        id="ao-lenient-not-an-input",
        title="input_qspec_map names a node that is not an input: torchao ignores it silently",
        link=_AO_PREPARE,
        matches=lambda o: _reference_raised(o, prepare_impl.NotAnInputError) and o.candidate_error is None,
        lenient=True,
    ),
)


def match(obs: Observed) -> Optional[KnownBug]:
    """The first known bug that explains the observation, or None."""
    for bug in KNOWN_BUGS:
        try:
            if bug.matches(obs):
                return bug
        except Exception:  # a predicate must never take the campaign down
            continue
    return None


def by_id(bug_id: str) -> KnownBug:
    for bug in KNOWN_BUGS:
        if bug.id == bug_id:
            return bug
    raise KeyError(bug_id)
