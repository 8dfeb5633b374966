"""Case data as Python source: the graph, spec and annotation lines of a standalone reproduction script.

Every name written is checked against the allow-lists of :mod:`harness.case.names` (ops, observer classes,
dtypes, qschemes, constants, derive functions), so the script only ever refers to real torch / torchao objects;
anything else raises :class:`ReproError` naming the node or spec at fault. Torch-free: this only writes text.
"""

from __future__ import annotations

import math
from typing import Any, Optional

from harness import case as C
from harness.case import names

__all__ = ["ReproError", "ScriptWriter"]


class ReproError(ValueError):
    """A case that cannot be written as a standalone script; the message names the node or spec at fault."""


class ScriptWriter:
    """Renders the values, graph and annotations of one case as Python source for the script.

    After :meth:`graph_lines` and :meth:`annotation_lines`, ``imports`` maps each module to the observer classes
    the specs use, ``derive_fns`` lists the derive functions (allow-listed names) in first-use order, and
    ``spec_lines`` defines the specs (one variable per distinct spec)."""

    def __init__(self, case: C.Case) -> None:
        self.case = case
        self.imports: dict[str, set[str]] = {}
        self.derive_fns: list[str] = []  # allow-listed names, "harness.derive.NAME"
        self.spec_names: dict[str, str] = {}
        self.spec_lines: list[str] = []

    # -- values
    def const(self, const: C.Const) -> str:
        allowed = names.CONST_NAMES.get(const.kind, ())
        if const.value not in allowed:
            raise ReproError(f"unknown {const.kind} constant {const.value!r}")
        if const.kind == "device":
            return f"torch.device({const.value!r})"
        return f"torch.{const.value}"

    def dtype(self, name: str) -> str:
        if name not in names.DTYPE_NAMES:
            raise ReproError(f"unknown dtype {name!r}")
        return f"torch.{name}"

    def qscheme(self, name: Optional[str]) -> str:
        if name is None:
            return "None"
        if name not in names.QSCHEME_NAMES:
            raise ReproError(f"unknown qscheme {name!r}")
        return f"torch.{name}"

    def arg(self, value: Any, where: str) -> str:
        if isinstance(value, C.Ref):
            return f"n[{value.name!r}]"
        if isinstance(value, C.Const):
            return self.const(value)
        if isinstance(value, tuple):
            return "[" + ", ".join(self.arg(v, where) for v in value) + "]"
        if isinstance(value, float) and not math.isfinite(value):
            return f"float({str(value)!r})"
        if value is None or isinstance(value, (bool, int, float, str)):
            return repr(value)
        raise ReproError(f"{where}: unsupported argument {value!r}")

    def ctor(self, ctor: C.Ctor) -> str:
        if ctor.qualname not in names.CTOR_NAMES:
            raise ReproError(f"unknown observer class {ctor.qualname!r}")
        module, _, cls = ctor.qualname.rpartition(".")
        self.imports.setdefault(module, set()).add(cls)
        if not ctor.kwargs:
            return cls
        parts = []
        for key, value in ctor.kwargs:
            parts.append(f"{key}={self.ctor(value) if isinstance(value, C.Ctor) else repr(value)}")
        return f"{cls}.with_args({', '.join(parts)})"

    def target(self, target: C.Target) -> str:
        if isinstance(target, C.NodeRef):
            return f"n[{target.name!r}]"
        return f"(n[{target.arg!r}], n[{target.node!r}])"

    def spec(self, spec: Optional[C.Spec], where: str) -> str:
        """A variable holding the torchao spec (equal case specs share one object, as a quantizer reusing one
        config does)."""
        if spec is None:
            return "None"
        key = repr(spec)
        if key in self.spec_names:
            return self.spec_names[key]
        if isinstance(spec, C.QSpec):
            text = (f"QuantizationSpec(dtype={self.dtype(spec.dtype)}, "
                    f"observer_or_fake_quant_ctr={self.ctor(spec.observer)}, quant_min={spec.quant_min!r}, "
                    f"quant_max={spec.quant_max!r}, qscheme={self.qscheme(spec.qscheme)}, ch_axis={spec.ch_axis!r}, "
                    f"is_dynamic={spec.is_dynamic!r})")
        elif isinstance(spec, C.SharedSpec):
            text = f"SharedQuantizationSpec({self.target(spec.target)})"
        elif isinstance(spec, C.DerivedSpec):
            if spec.derive_fn not in names.DERIVE_FN_NAMES:
                raise ReproError(f"{where}: unknown derive function {spec.derive_fn!r}")
            if spec.derive_fn not in self.derive_fns:
                self.derive_fns.append(spec.derive_fn)
            fn = spec.derive_fn.rpartition(".")[2]
            sources = ", ".join(self.target(t) for t in spec.derived_from)
            text = (f"DerivedQuantizationSpec(derived_from=[{sources}], derive_qparams_fn={fn}, "
                    f"dtype={self.dtype(spec.dtype)}, quant_min={spec.quant_min!r}, quant_max={spec.quant_max!r}, "
                    f"qscheme={self.qscheme(spec.qscheme)}, ch_axis={spec.ch_axis!r}, is_dynamic={spec.is_dynamic!r})")
        elif isinstance(spec, C.FixedSpec):
            text = (f"FixedQParamsQuantizationSpec(dtype={self.dtype(spec.dtype)}, scale={spec.scale!r}, "
                    f"zero_point={spec.zero_point!r}, quant_min={spec.quant_min!r}, quant_max={spec.quant_max!r}, "
                    f"qscheme={self.qscheme(spec.qscheme)}, is_dynamic={spec.is_dynamic!r})")
        else:
            raise ReproError(f"{where}: not a spec: {type(spec).__name__}")
        name = f"spec_{len(self.spec_names)}"
        self.spec_names[key] = name
        self.spec_lines.append(f"{name} = {text}")
        return name

    # -- sections
    def graph_lines(self) -> tuple[list[str], dict[str, tuple]]:
        lines = ["root = torch.nn.Module()", "graph = torch.fx.Graph()", "n = {}  # node name -> fx Node"]
        inputs: dict[str, tuple] = {}
        for node in self.case.graph.nodes:
            name = node.name
            if node.op == "placeholder":
                meta = _meta(node)
                inputs[name] = meta
                lines.append(f"n[{name!r}] = graph.create_node('placeholder', {name!r}, name={name!r})")
            elif node.op == "get_attr":
                shape, dtype = _meta(node)
                if node.attr_kind not in ("parameter", "buffer"):
                    raise ReproError(f"node {name!r}: get_attr needs attr_kind 'parameter' or 'buffer'")
                lines.append(f"register(root, {node.target!r}, make_tensor({shape!r}, {self.dtype(dtype)}, "
                             f"positive={node.attr_kind == 'buffer'}), {node.attr_kind!r})")
                lines.append(f"n[{name!r}] = graph.create_node('get_attr', {node.target!r}, name={name!r})")
            elif node.op == "call_function":
                if node.target == names.GETITEM:
                    fn = "operator.getitem"
                elif node.target in names.OP_NAMES:
                    fn = f"torch.ops.{node.target}"
                else:
                    raise ReproError(f"node {name!r}: unknown op {node.target!r}")
                args = [self.arg(a, f"node {name!r} args[{i}]") for i, a in enumerate(node.args)]
                kwargs = [f"{k!r}: {self.arg(v, f'node {name!r} kwarg {k!r}')}" for k, v in node.kwargs]
                args_text = "(" + ", ".join(args) + ("," if len(args) == 1 else "") + ")"
                lines.append(f"n[{name!r}] = graph.create_node('call_function', {fn}, {args_text}, "
                             f"{{{', '.join(kwargs)}}}, name={name!r})")
            elif node.op == "output":
                outs = []
                for i, a in enumerate(node.args):
                    text = self.arg(a, f"output args[{i}]")
                    outs.append("(" + text[1:-1] + ("," if isinstance(a, tuple) and len(a) == 1 else "") + ")"
                                if isinstance(a, tuple) else text)
                lines.append(f"n[{name!r}] = graph.create_node('output', 'output', ({', '.join(outs)},), name={name!r})")
            else:
                raise ReproError(f"node {name!r}: unsupported op kind {node.op!r}")
        lines.append("for name, node in n.items():  # fx would rename a node whose name is taken")
        lines.append("    assert node.name == name, f'node {name!r} was renamed {node.name!r}'")
        return lines, inputs

    def annotation_lines(self) -> list[str]:
        lines = []
        for annotation in self.case.annotations:
            where = f"annotation of {annotation.node!r}"
            entries = ", ".join(f"n[{arg!r}]: {self.spec(spec, f'{where}: input {arg!r}')}"
                                for arg, spec in annotation.inputs)
            output = self.spec(annotation.output, f"{where}: output")
            lines.append(
                f"n[{annotation.node!r}].meta['quantization_annotation'] = QuantizationAnnotation("
                f"input_qspec_map={{{entries}}}, output_qspec={output}, "
                f"allow_implicit_sharing={bool(annotation.allow_implicit_sharing)!r}, _annotated=True)"
            )
        return lines


def _meta(node: C.Node) -> tuple[tuple[int, ...], str]:
    if node.tensor is None:
        raise ReproError(f"node {node.name!r}: a {node.op} needs a tensor (shape and dtype)")
    return tuple(node.tensor.shape), node.tensor.dtype

