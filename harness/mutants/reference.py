"""Mutants of the reference prepare (:mod:`prepare_impl`), one broken rule each: the harness must notice every one.

The rule: a mutant runs the reference with one of its pieces swapped for a broken one (``unittest.mock.patch`` of
a module attribute, for the duration of the call), and has torchao's ``prepare`` signature, so the campaign can
fuzz it under its public name (:mod:`harness.mutants`)::

    python -m harness fuzz --candidate harness.mutants:no_output_sharing --seconds 60

``MUTANTS`` maps each name to the rule it breaks.
"""

from __future__ import annotations

import importlib
from contextlib import ExitStack
from typing import Callable
from unittest import mock

import prepare_impl
from prepare_impl import grouping, insertion, observers
from prepare_impl.specs import IMPLICIT_SHARING_ATTRS

# the module, not the function: the package's own ``prepare`` attribute is the function it re-exports
prepare_module = importlib.import_module("prepare_impl.prepare")

MUTANTS: dict[str, str] = {}


def _mutant(rule: str, *patches: tuple[object, str, object]) -> Callable:
    def prepare(model, node_name_to_scope, is_qat, obs_or_fq_callback=None):
        with ExitStack() as stack:
            for owner, name, value in patches:
                stack.enter_context(mock.patch.object(owner, name, value))
            return prepare_impl.prepare(model, node_name_to_scope, is_qat, obs_or_fq_callback)

    prepare.__doc__ = f"Mutant of the reference prepare: {rule}"
    return prepare


def _register(name: str, rule: str, *patches) -> Callable:
    MUTANTS[name] = rule
    fn = _mutant(rule, *patches)
    fn.__name__ = name
    return fn


# ---- sharing analysis ----------------------------------------------------------------------------------------

_real_implicit = grouping._implicit_sharing


def _implicit_without_output(keys, index, resolved, uf):
    # hide every producer output from the implicit-sharing step
    edges_only = {k: i for k, i in index.items() if isinstance(k, tuple)}
    return _real_implicit(keys, edges_only, resolved, uf)


def _implicit_without_siblings(keys, index, resolved, uf):
    for i, key in enumerate(keys):
        if isinstance(key, tuple):
            producer, consumer = key
            out = index.get(producer)
            if out is not None and consumer.meta["quantization_annotation"].allow_implicit_sharing:
                if grouping.compatibility_class(resolved[i]) == grouping.compatibility_class(resolved[out]):
                    uf.union(out, i)


class _AlwaysAllow:
    def __init__(self, annotation):
        self._annotation = annotation

    def __getattr__(self, name):
        return True if name == "allow_implicit_sharing" else getattr(self._annotation, name)


def _annotation_always_allowing(node):
    qa = node.meta.get("quantization_annotation")
    return None if qa is None else _AlwaysAllow(qa)


def _compat_dtype_only(spec):
    return (("dtype", getattr(spec, "dtype", None)),)


def _compat_without_range(spec):
    return tuple((a, getattr(spec, a, None)) for a in IMPLICIT_SHARING_ATTRS if a not in ("quant_min", "quant_max"))


def _no_explicit_targets(keys, specs, index):
    grouping_targets = _real_targets(keys, specs, index)
    return [None] * len(grouping_targets)


_real_targets = grouping._explicit_targets
_real_sharing_groups = grouping.sharing_groups


def _groups_with_last_concrete_spec(model):
    analysis = _real_sharing_groups(model)
    specs = analysis.annotated
    from torchao.quantization.pt2e.quantizer import SharedQuantizationSpec

    groups = []
    for g in analysis.groups:
        concrete = [specs.spec_of(k) for k in g.members if not isinstance(specs.spec_of(k), SharedQuantizationSpec)]
        groups.append(grouping.Group(g.index, g.members, concrete[-1], g.derived_from))
    return grouping.SharingAnalysis(tuple(groups), analysis.group_of, analysis.creation_order, analysis.annotated)


def _groups_with_reversed_derived_sources(model):
    analysis = _real_sharing_groups(model)
    groups = tuple(grouping.Group(g.index, g.members, g.spec, tuple(reversed(g.derived_from))) for g in analysis.groups)
    return grouping.SharingAnalysis(groups, analysis.group_of, analysis.creation_order, analysis.annotated)


# ---- observers ---------------------------------------------------------------------------------------------

_real_build_observer = observers.build_observer


def _fixed_always_observer(group, instances, is_qat):
    return _real_build_observer(group, instances, False)


def _never_receives_ch_axis(ctr, ch_axis):
    return False


def _instance_per_key(analysis, instances):
    mapping = {}
    for key in analysis.annotated.keys:
        g = analysis.groups[analysis.group_of[key]]
        mapping[key] = _real_build_observer(g, instances, False) if key != g.members[0] else instances[g.index]
    return mapping


# ---- insertion ----------------------------------------------------------------------------------------------

_RealInserter = insertion._Inserter


class _NoReuseInserter(_RealInserter):
    def _new_observer_node(self, value, module):
        node = super()._new_observer_node(value, module)
        self.existing.clear()  # forget observers already inserted: each consumer gets its own node
        return node


class _BufferUpdatesObserved(_RealInserter):
    def _is_buffer_update(self, node, arg):
        return False


class _FirstUserKeepsRawOutput(_RealInserter):
    def _observe_output(self, node):
        users = list(node.users)
        super()._observe_output(node)
        if len(users) > 1 and node.users:
            obs_node = next((u for u in node.users if u in self.observer_nodes), None)
            if obs_node is not None and users[0] is not obs_node:
                users[0].replace_input_with(obs_node, node)


class _OutputsOnlyAfterInputs(_RealInserter):
    """Skips input observers on edges whose producer is a graph input (placeholder)."""

    def _observed_arg(self, node, arg):
        from torch.fx import Node

        if isinstance(arg, Node) and arg.op == "placeholder":
            return arg
        return super()._observed_arg(node, arg)


def _save_state_always_ptq(observed, *args):
    from torch.ao.quantization.fx.prepare import _save_state

    args = list(args)
    args[5] = False  # is_qat
    return _save_state(observed, *args)


no_output_sharing = _register(
    "no_output_sharing", "an input edge never shares with its producer's output",
    (grouping, "_implicit_sharing", _implicit_without_output))
no_sibling_sharing = _register(
    "no_sibling_sharing", "input edges of the same producer never share with each other",
    (grouping, "_implicit_sharing", _implicit_without_siblings))
ignore_allow_implicit_sharing = _register(
    "ignore_allow_implicit_sharing", "allow_implicit_sharing=False is ignored",
    (grouping, "annotation_of", _annotation_always_allowing))
dtype_only_compatibility = _register(
    "dtype_only_compatibility", "implicit sharing compares dtypes only",
    (grouping, "compatibility_class", _compat_dtype_only))
range_blind_compatibility = _register(
    "range_blind_compatibility", "implicit sharing ignores quant_min/quant_max",
    (grouping, "compatibility_class", _compat_without_range))
no_explicit_sharing = _register(
    "no_explicit_sharing", "SharedQuantizationSpec does not join its anchor's group",
    (grouping, "_explicit_targets", _no_explicit_targets))
last_concrete_spec = _register(
    "last_concrete_spec", "a group's observer is built from its last concrete spec, not its first",
    (prepare_module, "sharing_groups", _groups_with_last_concrete_spec))
reversed_derived_sources = _register(
    "reversed_derived_sources", "a derived observer reads its source observers in reverse order",
    (prepare_module, "sharing_groups", _groups_with_reversed_derived_sources))
fixed_qparams_observer_in_qat = _register(
    "fixed_qparams_observer_in_qat", "fixed-qparams specs get an observer, not a fake quant, in QAT",
    (observers, "build_observer", _fixed_always_observer))
drop_ch_axis = _register(
    "drop_ch_axis", "per-channel observers never get the spec's ch_axis",
    (observers, "_receives_ch_axis", _never_receives_ch_axis))
instance_per_key = _register(
    "instance_per_key", "every key gets its own observer instance (sharing groups are not shared)",
    (prepare_module, "observer_map", _instance_per_key))
no_observer_reuse = _register(
    "no_observer_reuse", "an input observer already inserted for the same value is not reused",
    (insertion, "_Inserter", _NoReuseInserter))
observe_buffer_updates = _register(
    "observe_buffer_updates", "the buffer written by an in-place op is observed",
    (insertion, "_Inserter", _BufferUpdatesObserved))
first_user_reads_raw_output = _register(
    "first_user_reads_raw_output", "one consumer of an observed output still reads the raw value",
    (insertion, "_Inserter", _FirstUserKeepsRawOutput))
skip_graph_input_edges = _register(
    "skip_graph_input_edges", "edges from graph inputs are not observed",
    (insertion, "_Inserter", _OutputsOnlyAfterInputs))
state_always_ptq = _register(
    "state_always_ptq", "the saved state says PTQ even in QAT",
    (prepare_module, "_save_state", _save_state_always_ptq))
