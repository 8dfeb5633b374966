"""Standalone reproduction scripts: a case as a Python file that needs only torch and torchao.

``repro_script(case)`` writes a script that a torchao maintainer can run without this project:

1. it builds the case's graph with ``torch.fx.Graph`` calls (placeholders; ``get_attr`` nodes reading real
   parameters and buffers registered on a root module; ``call_function`` nodes with ``torch.ops.aten`` targets),
   with the case's node names;
2. it sets a FakeTensor ``meta["val"]`` on every node, propagating through the ops under a ``FakeTensorMode``
   (as ``torch.export`` does);
3. it attaches the annotations (``QuantizationSpec`` & co. with torchao's observer classes);
4. it runs ``torchao.quantization.pt2e.prepare.prepare(gm, {}, is_qat)`` and prints what happened: the
   exception, or which annotated keys share which observer instance and how each is configured;
5. it compares that with the case's ``expected`` result (embedded as data) and exits 0 when torchao behaves as
   expected, 1 when it diverges.

An expected error (the reference raises a typed ``AnnotationError``, a ``ValueError``) is matched by torchao
raising any ``ValueError`` with a message: a clear error, as opposed to a bare ``AssertionError``, ``KeyError`` or
``RecursionError``. An expected prepared model is matched on the sharing partition of the observed keys and on
the observers' class, dtype, range, qscheme, channel axis, fixed qparams and derived-from sources (the fields of
``harness.check.canonical`` that say what is quantized how). A case without ``expected`` only has to prepare.

``python -m harness repro CASE [-o FILE]`` prints (or writes) the script.
"""

from __future__ import annotations

import argparse
import math
import pprint
import sys
from pathlib import Path
from typing import Any, Optional

from harness import case as C
from harness.case import names

__all__ = ["ReproError", "repro_script", "expected_summary", "main_repro", "COMPARED_FIELDS"]

# The observer fields the script compares (see harness.check.canonical.ObserverConfig for their meaning).
COMPARED_FIELDS = ("cls", "inner", "dtype", "quant_min", "quant_max", "qscheme", "ch_axis", "is_dynamic", "scale",
                   "zero_point", "derived_from")


class ReproError(ValueError):
    """A case that cannot be written as a standalone script; the message names the node or spec at fault."""


# ---- pieces of the script ------------------------------------------------------------------------------------

_DERIVE_SOURCES = {
    "harness.derive.bias_qparams_per_tensor": '''
def bias_qparams_per_tensor(obs_or_fqs):
    """Bias qparams from [activation, weight] observers: scale = act_scale * weight_scale (one value), zp 0."""
    act_scale, _ = obs_or_fqs[0].calculate_qparams()
    weight_scale, _ = obs_or_fqs[1].calculate_qparams()
    scale = (torch.as_tensor(act_scale, dtype=torch.float32).reshape(-1)
             * torch.as_tensor(weight_scale, dtype=torch.float32).reshape(-1)).reshape(1)
    return scale, torch.zeros(1, dtype=torch.int32)
''',
    "harness.derive.bias_qparams_per_channel": '''
def bias_qparams_per_channel(obs_or_fqs):
    """Bias qparams from [activation, weight] observers: one scale per weight channel, zero points 0."""
    act_scale, _ = obs_or_fqs[0].calculate_qparams()
    weight_scale, _ = obs_or_fqs[1].calculate_qparams()
    scale = (torch.as_tensor(act_scale, dtype=torch.float32).reshape(-1)[0]
             * torch.as_tensor(weight_scale, dtype=torch.float32).reshape(-1))
    return scale, torch.zeros(scale.shape, dtype=torch.int32)
''',
}

_PRELUDE = '''
import operator
import os
import sys

os.environ.setdefault("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")

import torch
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.fx.node import map_arg
from torchao.quantization.pt2e import DerivedObserverOrFakeQuantize, FakeQuantizeBase, ObserverBase
from torchao.quantization.pt2e.fake_quantize import FixedQParamsFakeQuantize
from torchao.quantization.pt2e.observer import FixedQParamsObserver
from torchao.quantization.pt2e.prepare import prepare
from torchao.quantization.pt2e.quantizer import (
    DerivedQuantizationSpec,
    FixedQParamsQuantizationSpec,
    QuantizationAnnotation,
    QuantizationSpec,
    SharedQuantizationSpec,
)
{ctor_imports}
torch.manual_seed(0)


def make_tensor(shape, dtype, positive=False):
    """A tensor for a parameter or buffer: normal floats (positive ones for buffers), 0/1 integers."""
    if dtype == torch.bool:
        return torch.randint(0, 2, shape).to(torch.bool)
    if dtype.is_floating_point:
        return ((torch.rand(shape) + 0.5) if positive else torch.randn(shape)).to(dtype)
    if dtype.is_complex:
        return torch.randn(shape, dtype=dtype)
    return torch.randint(0, 2, shape).to(dtype)


def register(root, path, value, kind):
    """Register ``value`` on ``root`` at the dotted ``path`` as a parameter or buffer (submodules as needed)."""
    *parents, leaf = path.split(".")
    module = root
    for part in parents:
        if not hasattr(module, part):
            module.add_module(part, torch.nn.Module())
        module = getattr(module, part)
    if leaf in module._parameters or leaf in module._buffers:
        return
    if kind == "parameter":
        module.register_parameter(leaf, torch.nn.Parameter(value, requires_grad=value.is_floating_point()))
    else:
        module.register_buffer(leaf, value)
'''

_GRAPH_END = '''
gm = torch.fx.GraphModule(root, graph)

# FakeTensor meta["val"] on every node, as torch.export leaves them (prepare reads them).
fake_mode = FakeTensorMode(allow_non_fake_inputs=True)
vals = {}
for node in gm.graph.nodes:
    if node.op == "placeholder":
        shape, dtype = INPUTS[node.name]
        val = fake_mode.from_tensor(torch.empty(shape, dtype=dtype))
    elif node.op == "get_attr":
        val = fake_mode.from_tensor(operator.attrgetter(node.target)(gm))
    elif node.op == "call_function":
        args, kwargs = map_arg((node.args, node.kwargs), lambda a: vals[a.name])
        with fake_mode:
            val = node.target(*args, **kwargs)
    else:
        continue
    node.meta["val"] = val
    vals[node.name] = val
'''

_CHECK = '''

# ---- run torchao's prepare and compare with the expected result ----------------------------------------------

PER_CHANNEL = {"torch.per_channel_affine", "torch.per_channel_symmetric", "torch.per_channel_affine_float_qparams"}


def qualified(cls):
    return f"{cls.__module__}.{cls.__qualname__}"


def number(value, kind):
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            return None
        value = value.item()
    return None if value is None else kind(value)


def is_observer(gm, node):
    if node.op != "call_module":
        return False
    module = gm.get_submodule(node.target)
    return isinstance(module, (ObserverBase, FakeQuantizeBase, DerivedObserverOrFakeQuantize))


def observing_module(gm, key):
    """The observer / fake quant module that observes an annotated key of the prepared graph (None: nothing)."""
    nodes = {n.name: n for n in gm.graph.nodes}
    if key.startswith("out:"):
        node = nodes.get(key[4:])
        if node is None:
            return None
        users = list(node.users)
        readers = [u for u in users if not is_observer(gm, u)]
        attached = [u for u in users if is_observer(gm, u)]
        if readers or len(attached) != 1:  # some consumer reads the float value, or only edge observers hang here
            return None
        return gm.get_submodule(attached[0].target)
    producer, consumer = key[5:].split("->")
    node = nodes.get(consumer)
    if node is None:
        return None
    found = []
    for arg in _flat(node.args):
        chain = []
        value = arg
        while is_observer(gm, value):
            chain.append(value)
            value = value.args[0]
        if value.name == producer:
            found.append(gm.get_submodule(chain[0].target) if chain else None)
    return found[0] if found else None


def _flat(value):
    if isinstance(value, torch.fx.Node):
        yield value
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _flat(v)


def observer_fields(module, keys_of):
    """The compared fields of an observer / fake quant (as harness.check.canonical writes them)."""
    out = {"cls": qualified(type(module))}
    inner = getattr(module, "activation_post_process", None)
    if isinstance(module, FakeQuantizeBase) and isinstance(inner, torch.nn.Module):
        out["inner"] = qualified(type(inner))
    if getattr(module, "dtype", None) is not None:
        out["dtype"] = str(module.dtype)
    for name in ("quant_min", "quant_max"):
        value = number(getattr(module, name, None), int)
        if value is not None:
            out[name] = value
    qscheme = getattr(module, "qscheme", None)
    if qscheme is not None:
        out["qscheme"] = str(qscheme)
        if str(qscheme) in PER_CHANNEL:
            axis = number(getattr(module, "ch_axis", None), int)
            if axis is not None:
                out["ch_axis"] = axis
    if getattr(module, "is_dynamic", None) is not None:
        out["is_dynamic"] = bool(module.is_dynamic)
    if isinstance(module, (FixedQParamsObserver, FixedQParamsFakeQuantize)):
        out["scale"] = number(module.scale, float)
        out["zero_point"] = number(module.zero_point, int)
    if isinstance(module, DerivedObserverOrFakeQuantize):
        out["derived_from"] = [keys_of.get(id(m)) for m in module.obs_or_fqs]
    return {k: v for k, v in out.items() if k in COMPARED and v is not None}


def short(fields):
    return ", ".join(f"{k}={v}" for k, v in fields.items())


def main():
    print(f"case: {TITLE}")
    if LINK:
        print(f"report: {LINK}")
    try:
        prepared = prepare(gm, {}, IS_QAT)
    except Exception as e:  # the crash is the result
        message = str(e).strip().splitlines()[0][:300] if str(e).strip() else ""
        print(f"torchao prepare raised {type(e).__name__}: {message}")
        if EXPECTED.get("error"):
            ok = isinstance(e, ValueError) and bool(message)
            print(f"expected: a clear error (the reference raises {EXPECTED['error']}, a ValueError)")
            print("OK: torchao raises a clear error" if ok else "DIVERGES: torchao does not raise a clear ValueError")
            return 0 if ok else 1
        print("DIVERGES: expected a prepared model" if EXPECTED else "DIVERGES: prepare failed")
        return 1
    by_module = {}
    modules = {}
    unobserved = []
    for key in KEYS:
        module = observing_module(prepared, key)
        if module is None:
            unobserved.append(key)
            continue
        by_module.setdefault(id(module), []).append(key)
        modules[id(module)] = module
    keys_of = {mid: sorted(keys) for mid, keys in by_module.items()}
    actual = {tuple(sorted(keys)): observer_fields(modules[mid], keys_of) for mid, keys in by_module.items()}
    print(f"torchao prepared the model: {len(actual)} observer instance(s)")
    for i, (keys, fields) in enumerate(sorted(actual.items())):
        print(f"  group {i}: {', '.join(keys)}")
        print(f"           {short(fields)}")
    if unobserved:
        print(f"  unobserved: {', '.join(sorted(unobserved))}")
    if not EXPECTED:
        print("OK: prepared (the case has no expected result to compare with)")
        return 0
    if EXPECTED.get("error"):
        print(f"DIVERGES: the reference raises {EXPECTED['error']}; torchao accepted the annotations")
        return 1
    expected = {tuple(sorted(g["keys"])): g["observer"] for g in EXPECTED["groups"]}
    problems = []
    if set(expected) != set(actual):
        for keys in sorted(set(expected) - set(actual)):
            problems.append(f"expected one observer for: {', '.join(keys)}")
        for keys in sorted(set(actual) - set(expected)):
            problems.append(f"torchao uses one observer for: {', '.join(keys)}")
    if sorted(unobserved) != sorted(EXPECTED["unobserved"]):
        problems.append(f"unobserved keys: expected {sorted(EXPECTED['unobserved'])}, got {sorted(unobserved)}")
    for keys in sorted(set(expected) & set(actual)):
        want = {k: v for k, v in expected[keys].items() if k in COMPARED}
        if want != actual[keys]:
            detail = short({k: want.get(k) for k in sorted(set(want) | set(actual[keys]))
                            if want.get(k) != actual[keys].get(k)})
            got = short({k: actual[keys].get(k) for k in sorted(set(want) | set(actual[keys]))
                         if want.get(k) != actual[keys].get(k)})
            problems.append(f"observer of {', '.join(keys)}: expected {detail}; torchao has {got}")
    if problems:
        print("DIVERGES from the expected result:")
        for p in problems:
            print(f"  - {p}")
        return 1
    print("OK: torchao matches the expected result")
    return 0


if __name__ == "__main__":
    sys.exit(main())
'''


class _Writer:
    """Renders case values as Python source for the script."""

    def __init__(self, case: C.Case) -> None:
        self.case = case
        self.imports: dict[str, set[str]] = {}
        self.derive_fns: list[str] = []
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
            source = _DERIVE_SOURCES.get(spec.derive_fn)
            if source is None:
                raise ReproError(f"{where}: derive function {spec.derive_fn!r} has no standalone version")
            fn = spec.derive_fn.rpartition(".")[2]
            if fn not in self.derive_fns:
                self.derive_fns.append(fn)
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
                lines.append(f"graph.create_node('output', 'output', ({', '.join(outs)},), name={name!r})")
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


def _keys(case: C.Case) -> list[str]:
    """The annotated keys of the case, in annotation order (as harness.check.canonical names them)."""
    keys = []
    for a in case.annotations:
        keys.extend(f"edge:{arg}->{a.node}" for arg, spec in a.inputs if spec is not None)
        if a.output is not None:
            keys.append(f"out:{a.node}")
    return keys


def expected_summary(case: C.Case) -> dict:
    """The part of ``case.expected`` the script checks, as plain data (``{}`` without an expected result)."""
    expected = case.expected
    if expected is None or (expected.error is None and expected.canonical is None):
        return {}
    if expected.error is not None:
        return {"error": expected.error}
    canonical = expected.canonical or {}
    if canonical.get("error"):
        return {"error": str(canonical["error"].get("type", "error"))}
    groups = [{"keys": sorted(g["keys"]),
               "observer": {k: v for k, v in g.get("observer", {}).items() if k in COMPARED_FIELDS}}
              for g in canonical.get("groups", [])]
    return {"groups": groups, "unobserved": sorted(canonical.get("unobserved", []))}


def _comment(text: str, width: int = 100) -> list[str]:
    import textwrap

    out = []
    for paragraph in text.splitlines() or [""]:
        out.extend("# " + line for line in (textwrap.wrap(paragraph, width - 2) or [""]))
    return out


def repro_script(case: C.Case) -> str:
    """A standalone script (torch + torchao only) that reproduces ``case`` against torchao's prepare.

    Raises :class:`ReproError` for a case that cannot be written (unknown names, malformed nodes).
    """
    if not isinstance(case, C.Case):
        raise ReproError(f"expected a Case, got {type(case).__name__}")
    writer = _Writer(case)
    graph_lines, inputs = writer.graph_lines()
    annotation_lines = writer.annotation_lines()
    info = case.info
    header = ['"""Standalone reproduction of a PT2E prepare case (needs torch and torchao only).', ""]
    header.append(f"Case: {info.title or '(untitled)'}  [{info.kind}{', QAT' if case.is_qat else ', PTQ'}]")
    if info.link:
        header.append(f"Report: {info.link}")
    if info.upstream:
        header.append(f"Upstream status: {info.upstream}")
    if info.tags:
        header.append(f"Tags: {', '.join(info.tags)}")
    header += ["", "Exit status: 0 when torchao's prepare behaves as expected, 1 when it diverges.", '"""']
    header_text = "\n".join(line.replace('"""', "'''") for line in header)
    ctor_imports = "".join(f"from {module} import {', '.join(sorted(classes))}\n"
                           for module, classes in sorted(writer.imports.items()))
    expected = expected_summary(case)
    parts = [
        header_text,
        *(_comment(info.notes) if info.notes else []),
        _PRELUDE.replace("{ctor_imports}", ctor_imports),
        *(_DERIVE_SOURCES[f"harness.derive.{fn}"] for fn in writer.derive_fns),
        "",
        f"TITLE = {info.title!r}",
        f"LINK = {info.link!r}",
        f"IS_QAT = {case.is_qat!r}",
        "INPUTS = {" + ", ".join(f"{k!r}: ({shape!r}, {writer.dtype(dtype)})" for k, (shape, dtype) in inputs.items())
        + "}",
        "KEYS = " + pprint.pformat(_keys(case), width=110, compact=True),
        f"COMPARED = {COMPARED_FIELDS!r}",
        "EXPECTED = " + pprint.pformat(expected, width=110, compact=True),
        "",
        "# ---- the graph -------------------------------------------------------------------------------------",
        *graph_lines,
        _GRAPH_END,
        "# ---- the annotations -------------------------------------------------------------------------------",
        *writer.spec_lines,
        *annotation_lines,
        _CHECK,
    ]
    return "\n".join(parts)


def main_repro(argv: Optional[list[str]] = None) -> int:
    """``python -m harness repro CASE [-o FILE]``: print or write the standalone script. Exit 0, or 2 on errors."""
    from harness.case.files import CaseFormatError, load_case

    parser = argparse.ArgumentParser(prog="python -m harness repro",
                                     description="Print a standalone torch/torchao script reproducing CASE.")
    parser.add_argument("case", help="a corpus case (JSON file)")
    parser.add_argument("-o", "--output", help="write the script to this file instead of printing it")
    args = parser.parse_args(argv)
    try:
        script = repro_script(load_case(args.case))
    except (CaseFormatError, ReproError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.output:
        try:
            Path(args.output).write_text(script, encoding="utf-8")
        except OSError as e:
            print(f"error: cannot write {args.output}: {e.strerror or e}", file=sys.stderr)
            return 2
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(script)
    return 0
