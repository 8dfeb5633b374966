"""Mutants of torchao's own ``prepare``, one broken rule each: mutation testing against upstream, not the reference.

The rule: each mutant is a small source edit (an exact fragment of ``torchao/quantization/pt2e/prepare.py`` and its
replacement) applied at run time to the text of the *installed* module, which is then compiled and loaded under
another name (``harness_upstream_mutant_<name>``); the project stores only the edit, never a copy of the module.
A fragment that is not found exactly once raises :class:`UpstreamEditError` naming the mutant and the module, so a
torchao upgrade that moves the code is noticed instead of silently testing nothing.

Each mutant has torchao's ``prepare`` signature, so the campaign can fuzz it under its public name
(:mod:`harness.mutants`)::

    python -m harness fuzz --candidate harness.mutants:upstream_no_output_sharing --seconds 30 --stop-on-new

``UPSTREAM_MUTANTS`` maps each name to the rule it breaks. An edit is applied on the first call of its mutant, not
on import, so an outdated fragment breaks only its own mutant.
"""

from __future__ import annotations

import importlib
import inspect
import sys
import types
from dataclasses import dataclass
from typing import Callable

UPSTREAM_MODULE = "torchao.quantization.pt2e.prepare"
MODULE_PREFIX = "harness_upstream_mutant_"


class UpstreamEditError(LookupError):
    """An edit's fragment does not occur exactly once in the installed upstream module (torchao changed)."""


@dataclass(frozen=True)
class Edit:
    """Replace ``find`` (which must occur exactly once in the upstream source) by ``replace``."""

    name: str
    rule: str
    find: str
    replace: str


def upstream_source() -> str:
    """The text of the installed ``torchao.quantization.pt2e.prepare``."""
    return inspect.getsource(importlib.import_module(UPSTREAM_MODULE))


def apply_edit(edit: Edit, source: str) -> str:
    """``source`` with ``edit`` applied; :class:`UpstreamEditError` unless its fragment occurs exactly once."""
    count = source.count(edit.find)
    if count != 1:
        raise UpstreamEditError(
            f"upstream mutant {edit.name!r}: its fragment occurs {count} times (expected exactly once) in the "
            f"installed {UPSTREAM_MODULE} ({importlib.import_module(UPSTREAM_MODULE).__file__}); torchao has "
            f"changed: update the edit in {__name__}.\nfragment:\n{edit.find}"
        )
    return source.replace(edit.find, edit.replace)


def load_mutant_module(edit: Edit) -> types.ModuleType:
    """The upstream module with ``edit`` applied, compiled and loaded as ``harness_upstream_mutant_<name>``
    (once per process: later calls return the same module)."""
    name = MODULE_PREFIX + edit.name
    loaded = sys.modules.get(name)
    if loaded is not None:
        return loaded
    origin = importlib.import_module(UPSTREAM_MODULE).__file__
    code = compile(apply_edit(edit, upstream_source()), f"{origin} [mutant {edit.name}]", "exec")
    module = types.ModuleType(name, f"{UPSTREAM_MODULE} with one edit: {edit.rule} is broken")
    module.__file__ = origin
    sys.modules[name] = module
    try:
        exec(code, module.__dict__)  # noqa: S102 - the installed torchao source with one recorded edit
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _mutant(edit: Edit) -> Callable:
    def prepare(model, node_name_to_scope, is_qat, obs_or_fq_callback=None):
        return load_mutant_module(edit).prepare(model, node_name_to_scope, is_qat, obs_or_fq_callback)

    prepare.__name__ = prepare.__qualname__ = edit.name
    prepare.__doc__ = f"Mutant of torchao's prepare (one source edit): {edit.rule}"
    return prepare


def _lines(*lines: str) -> str:
    return "\n".join(lines)


def _forced(name: str, rule: str, condition: str, value: bool, *then: str) -> Edit:
    """The edit that makes ``condition`` (a whole ``if`` or ``while`` line, with its indentation) always
    ``value``; ``then`` are the lines that follow it, found with it (so the fragment is unique) and kept."""
    indent = condition[: len(condition) - len(condition.lstrip())]
    keyword = condition.split()[0]
    return Edit(name, rule, _lines(condition, *then), _lines(f"{indent}{keyword} {value}:", *then))


_ATTR = " " * 12  # indentation of the attribute list of the implicit-sharing compatibility check


def _uncompared(name: str, rule: str, attrs: tuple[str, ...], then: str) -> Edit:
    """The edit that drops ``attrs`` from the attributes the implicit-sharing compatibility check compares;
    ``then`` is the line that follows them, found with them and kept (``""``: the line break after them goes)."""
    return Edit(name, rule, _lines(*(f'{_ATTR}"{a}",' for a in attrs), then), then)


EDITS: tuple[Edit, ...] = (
    # ---- implicit sharing ---------------------------------------------------------------------------------
    Edit("upstream_no_output_sharing",
         "an input edge implicitly shares with its producer's output",
         _lines("                # sharing with output of producer node", "                _union_input_edge_with("),
         _lines("                # sharing with output of producer node", "                (lambda *_: None)(")),
    _forced("upstream_no_sibling_sharing",
            "input edges from the same producer implicitly share with each other",
            "                    if user is n:", True, "                        continue"),
    _forced("upstream_ignore_allow_implicit_sharing",
            "allow_implicit_sharing=False on the consumer's annotation turns implicit sharing off",
            "if n.meta[Q_ANNOTATION_KEY].allow_implicit_sharing:", True),
    _uncompared("upstream_range_blind_compatibility", "implicit sharing needs equal quant_min and quant_max",
                ("quant_min", "quant_max"), ""),
    _uncompared("upstream_dtype_blind_compatibility", "implicit sharing needs equal dtypes",
                ("dtype",), _ATTR + '"is_dynamic",'),
    _uncompared("upstream_qscheme_blind_compatibility", "implicit sharing needs equal qschemes",
                ("qscheme",), _ATTR + '"ch_axis",'),
    _uncompared("upstream_dynamic_blind_compatibility", "implicit sharing needs equal is_dynamic",
                ("is_dynamic",), _ATTR + '"quant_min",'),
    Edit("upstream_missing_attr_compatible",
         "implicit sharing needs both specs to have each compared attribute, or both to lack it "
         "(a FixedQParams spec has no ch_axis)",
         ") or (not hasattr(qspec_a, attr_name) and not hasattr(qspec_b, attr_name))",
         ") or (not hasattr(qspec_a, attr_name) or not hasattr(qspec_b, attr_name))"),
    Edit("upstream_edge_spec_not_unwrapped",
         "implicit sharing compares an edge's root spec (a SharedQuantizationSpec unwrapped to its group's spec)",
         "            input_edge_root_qspec = _unwrap_shared_qspec(\n",
         "            input_edge_root_qspec = qspec or _unwrap_shared_qspec(\n"),
    Edit("upstream_partner_spec_not_unwrapped",
         "implicit sharing compares the root spec of the producer output or sibling edge it joins",
         "root_qspec = _unwrap_shared_qspec(qspec, edge_or_node_to_qspec, shared_with_map)",
         "root_qspec = qspec"),
    # ---- explicit sharing and the union-find ----------------------------------------------------------------
    Edit("upstream_no_explicit_sharing",
         "a SharedQuantizationSpec joins its anchor's sharing group",
         "        _union(parent, child, shared_with_map, edge_or_node_to_qspec)",
         "        pass"),
    Edit("upstream_no_cycle_reversal",
         "a union never makes a key whose spec points at the other group the root (no sharing cycle)",
         "        shared_with_map[root_parent] = root_child",
         "        shared_with_map[root_child] = root_parent"),
    Edit("upstream_union_reversed",
         "a union roots the merged group at the parent's root (the anchor's spec stays the group's spec)",
         "        shared_with_map[root_child] = root_parent",
         "        shared_with_map[root_parent] = root_child"),
    # ---- observer instances ---------------------------------------------------------------------------------
    _forced("upstream_instance_per_key",
            "all keys of a sharing group use one observer instance",
            "        if group_id not in group_id_to_obs_or_fq:", True),
    Edit("upstream_reversed_derived_sources",
         "a derived observer reads its source observers in derived_from order",
         "obs_or_fqs = [obs_or_fq_map[k] for k in edge_or_nodes]",
         "obs_or_fqs = [obs_or_fq_map[k] for k in reversed(edge_or_nodes)]"),
    Edit("upstream_derived_qscheme_dropped",
         "a derived observer gets its spec's qscheme",
         '"qscheme": quantization_spec.qscheme,',
         '"qscheme": torch.per_tensor_affine,'),
    _forced("upstream_fixed_observer_in_qat",
            "a fixed-qparams spec gets a FixedQParamsFakeQuantize in QAT",
            "        if is_qat:", False, "            return FixedQParamsFakeQuantize"),
    _forced("upstream_fixed_fake_quant_in_ptq",
            "a fixed-qparams spec gets a FixedQParamsObserver (no fake quant) in PTQ",
            "        if is_qat:", True, "            return FixedQParamsFakeQuantize"),
    _forced("upstream_drop_ch_axis",
            "a per-channel observer gets its spec's ch_axis",
            'if "PerChannel" not in obs_or_fq_class.__name__:', True),
    Edit("upstream_partial_wrapper_not_unwrapped",
         "a per-channel observer given through with_args (a PartialWrapper) still gets the spec's ch_axis",
         "        obs_or_fq_class = observer_or_fake_quant_ctr.p.func",
         "        pass"),
    Edit("upstream_spec_kwargs_ignored",
         "an observer is built with its spec's dtype, quant_min, quant_max and qscheme",
         "return observer_or_fake_quant_ctr.with_args(**kwargs)()",
         "return observer_or_fake_quant_ctr()"),
    # ---- insertion -------------------------------------------------------------------------------------------
    _forced("upstream_no_observer_reuse",
            "an input observer already inserted for the same value and instance is reused by the next consumer",
            "        if id(maybe_obs_mod) == id(input_edge_obs_or_fq):", False),
    Edit("upstream_edge_reobserves_output",
         "an input edge sharing its producer output's observer reads that observer (no second node)",
         "    if arg_as_output_obs_or_fq is not None and id(arg_as_output_obs_or_fq) == id(",
         "    if False and id(arg_as_output_obs_or_fq) == id("),
    _forced("upstream_observe_buffer_updates",
            "the buffer an in-place op writes to is not observed",
            "    if _is_mutable_buffer_arg(node, original_arg, buffer_names):", False),
    _forced("upstream_no_look_through_observers",
            "an input edge is found from the original producer, seen through observers already inserted",
            "    while _is_activation_post_process_node(original_arg, named_modules):", False),
    Edit("upstream_no_list_arg_observers",
         "input edges inside list arguments (cat, stack) are observed",
         "    if isinstance(arg, (list, tuple)):\n",
         "    if isinstance(arg, (list, tuple)):\n        return arg\n"),
    _forced("upstream_none_edge_observed",
            "an input edge mapped to None gets no observer",
            "    if input_edge_obs_or_fq is None:", False, "        return new_arg"),
    _forced("upstream_none_output_is_key",
            "an output_qspec of None puts no observer on the output",
            "            if qa.output_qspec is not None:", True),
    Edit("upstream_non_tensor_output_observed",
         "only a node whose value is a tensor gets an output observer",
         'output_is_a_tensor = "val" in node.meta and isinstance(node.meta["val"], FakeTensor)',
         'output_is_a_tensor = "val" in node.meta'),
    Edit("upstream_graph_output_unobserved",
         "the graph output reads the observed value of an annotated output",
         "        if user_node is maybe_output_obs_node:",
         '        if user_node is maybe_output_obs_node or user_node.op == "output":'),
    Edit("upstream_first_user_reads_raw",
         "every user of an observed output reads the observer",
         "    for user_node in orig_users:",
         "    for user_node in orig_users[1:]:"),
    Edit("upstream_tensor_kwarg_accepted",
         "a tensor in the kwargs of an annotated node is rejected",
         "            raise AssertionError(\n                f\"Kwarg '{name}'",
         "            str(\n                f\"Kwarg '{name}'"),
    Edit("upstream_state_always_ptq",
         "the saved state records is_qat",
         _lines("        is_qat,", "        set(),  # observed_node_names"),
         _lines("        False,", "        set(),  # observed_node_names")),
)

UPSTREAM_MUTANTS: dict[str, str] = {e.name: e.rule for e in EDITS}
EDIT_BY_NAME: dict[str, Edit] = {e.name: e for e in EDITS}

for _edit in EDITS:
    globals()[_edit.name] = _mutant(_edit)
del _edit

__all__ = ["UPSTREAM_MUTANTS", *UPSTREAM_MUTANTS]
