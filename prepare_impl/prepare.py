"""The reference ``prepare`` and its ``prepare_pt2e`` / ``prepare_qat_pt2e`` wrappers (drop-in for torchao's).

``prepare`` is the composition of three steps, each in its own module:

1. :func:`prepare_impl.grouping.sharing_groups` — annotations to sharing groups (pure analysis, all
   validation: nothing is mutated when the annotations are wrong);
2. :func:`prepare_impl.observers.build_observers` — one observer or fake quant per group;
3. :func:`prepare_impl.insertion.insert_observers` — the graph edit;

then it records the state torchao's ``convert_pt2e`` reads (``meta["_observed_graph_module_attrs"]``).
"""

from __future__ import annotations

from typing import Callable, Optional

import torch
from torch.ao.quantization import QConfigMapping
from torch.ao.quantization.fx.custom_config import PrepareCustomConfig
from torch.ao.quantization.fx.prepare import _save_state
from torch.fx import GraphModule, Node
from torchao.quantization.pt2e.qat_utils import _fuse_conv_bn_qat
from torchao.quantization.pt2e.utils import (
    _disallow_eval_train,
    _fuse_conv_bn_,
    _fuse_linear_bn_,
    _get_node_name_to_scope,
)
from torchao.utils import _assert_and_get_unique_device

from prepare_impl.grouping import SharingAnalysis, sharing_groups
from prepare_impl.insertion import insert_observers
from prepare_impl.observers import build_observers, observer_map

try:  # the prepared module's Python code is generated when first needed (its first call, ``.code``), not here:
    # on small graphs that code generation was half of a reference prepare, and a check reads only the graph
    from torch.fx._lazy_graph_module import _LazyGraphModule as _PreparedModule
except ImportError:  # pragma: no cover - a torch without it
    _PreparedModule = GraphModule


def prepare(
    model: GraphModule,
    node_name_to_scope: dict[str, tuple[str, type]],
    is_qat: bool,
    obs_or_fq_callback: Optional[Callable] = None,
    *,
    analysis: Optional[SharingAnalysis] = None,
) -> GraphModule:
    """Insert observers (PTQ) or fake quants (QAT) as the annotations on ``model`` ask.

    Same contract as ``torchao.quantization.pt2e.prepare.prepare``: ``model``'s graph is edited in place and a
    new ``GraphModule`` over it is returned (its Python code generated on first use).
    ``obs_or_fq_callback(model, key_to_instance)`` may edit the mapping before insertion. Raises an
    :class:`prepare_impl.AnnotationError` subclass, before touching the graph, when the annotations cannot be
    prepared. ``analysis``: ``sharing_groups(model)`` when the caller has it already (of this very model, neither
    its graph nor its annotations changed since); it is computed here otherwise.
    """
    if analysis is None:
        analysis = sharing_groups(model)
    device = _assert_and_get_unique_device(model)
    instances = build_observers(analysis, is_qat, device)
    obs_map = observer_map(analysis, instances)
    if obs_or_fq_callback is not None:
        obs_or_fq_callback(model, obs_map)
    insert_observers(model, obs_map)
    prepared = _PreparedModule(model, model.graph)
    _save_state(
        prepared,
        {},  # node_name_to_qconfig
        node_name_to_scope,
        PrepareCustomConfig(),
        {},  # equalization_node_name_to_qconfig
        QConfigMapping(),
        is_qat,
        set(),  # observed_node_names
    )
    return prepared


def _prepare_with_quantizer(model: GraphModule, quantizer, is_qat: bool) -> GraphModule:
    original_graph_meta = model.meta
    node_name_to_scope = _get_node_name_to_scope(model)
    if not is_qat:
        _fuse_conv_bn_(model)
        _fuse_linear_bn_(model)
    model = quantizer.transform_for_annotation(model)
    quantizer.annotate(model)
    quantizer.validate(model)
    if is_qat:
        _fuse_conv_bn_qat(model)
    model = prepare(model, node_name_to_scope, is_qat, quantizer.prepare_obs_or_fq_callback)
    model.meta.update(original_graph_meta)
    model = _disallow_eval_train(model)
    if not is_qat:  # as torchao: only PTQ descends into scan / while_loop bodies
        _prepare_subgraphs(model, quantizer, is_qat)
    return model


def _prepare_subgraphs(model: GraphModule, quantizer, is_qat: bool) -> None:
    """Prepare the bodies of ``scan`` and ``while_loop`` higher-order ops with the same quantizer."""
    body_arg = {torch.ops.higher_order.scan: 0, torch.ops.higher_order.while_loop: 1}
    for node in list(model.graph.nodes):
        if node.op != "call_function" or node.target not in body_arg:
            continue
        body = node.args[body_arg[node.target]]
        if not (isinstance(body, Node) and body.op == "get_attr" and isinstance(body.target, str)):
            raise ValueError(f"node {node.name!r}: expected its body to be a get_attr of a submodule, got {body!r}")
        sub = model.get_submodule(body.target)
        setattr(model, body.target, _prepare_with_quantizer(sub, quantizer, is_qat))


def prepare_pt2e(model: GraphModule, quantizer) -> GraphModule:
    """Drop-in for ``torchao.quantization.pt2e.quantize_pt2e.prepare_pt2e`` using the reference prepare."""
    return _prepare_with_quantizer(model, quantizer, is_qat=False)


def prepare_qat_pt2e(model: GraphModule, quantizer) -> GraphModule:
    """Drop-in for ``torchao.quantization.pt2e.quantize_pt2e.prepare_qat_pt2e`` using the reference prepare."""
    return _prepare_with_quantizer(model, quantizer, is_qat=True)
