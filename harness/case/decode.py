"""Decoding JSON data into a :class:`harness.case.Case` (format ``"pt2e-case/1"``), with strict validation.

The rule: decoding never executes anything and never imports torch. Ops, observer classes, derive functions,
dtypes, qschemes and constants are only accepted by name from the allow-lists in ``harness.case.names`` (derive
functions also when opted in: ``harness.case.derive_names``); sizes and nesting stay within the limits of
``harness.case.decode_fields``; node references point at nodes of the graph (arguments at earlier ones); every
node is annotated at most once. Every malformed input raises
:class:`harness.case.jsonform.CaseFormatError` naming the source and the field path. The JSON form itself is
described in ``harness.case.encode``; a compact document (runs, ``harness.case.compact_decode``) is expanded first,
within limits, and then decoded like any other.
"""

from __future__ import annotations

import math
from typing import Any, Optional

from harness import case as C
from harness.case import derive_names, names
from harness.case.compact_decode import expand
from harness.case.decode_fields import NONFINITE, FieldReader, describe
from harness.case.jsonform import FORMAT, CaseFormatError
from harness.case.limits import (MAX_ANNOTATIONS, MAX_ARG_TEXT_LENGTH, MAX_ARGS, MAX_CONST_LENGTH, MAX_CTOR_KWARGS,
                                 MAX_DEPTH, MAX_DERIVED_FROM, MAX_DIMS, MAX_ERROR_LENGTH, MAX_INPUTS, MAX_LINK_LENGTH,
                                 MAX_NODES, MAX_QSCHEME_LENGTH, MAX_QUALNAME_LENGTH, MAX_TAG_LENGTH,
                                 MAX_TAGS, MAX_TARGET_LENGTH, MAX_TENSOR_ELEMENTS, MAX_TEXT_LENGTH, MAX_TITLE_LENGTH,
                                 MAX_UPSTREAM_LENGTH, MAX_WORD_LENGTH)
from harness.case.names import UnknownName

__all__ = ["case_from_json"]

_OP_KINDS = ("placeholder", "get_attr", "call_function", "output")
_INFO_KINDS = ("conformance", "upstream_bug", "finding", "scenario", "quantizer_bug")
_ATTR_KINDS = ("parameter", "buffer")
_OPS = frozenset(names.OP_NAMES)
_CTORS = frozenset(names.CTOR_NAMES)
_DTYPES = frozenset(names.DTYPE_NAMES)
_TENSOR_DTYPES = frozenset(names.TENSOR_DTYPE_NAMES)
_QSCHEMES = frozenset(names.QSCHEME_NAMES)


class _Decoder(FieldReader):
    """Decodes one case: the graph, then the annotations (which refer to its nodes), info and expected."""

    # -- graph

    def arg(self, data: Any, path: str, before: int, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            self.fail(path, "arguments nested too deeply")
        if isinstance(data, list):
            return tuple(self.arg(x, f"{path}[{i}]", before, depth + 1) for i, x in enumerate(data))
        if isinstance(data, dict):
            if "ref" in data:
                self.obj(data, path, ("ref",), ())
                return C.Ref(self.ref(data["ref"], f"{path}.ref", before))
            if "const" in data:
                self.obj(data, path, ("const", "value"), ())
                kind = self.string(data["const"], f"{path}.const", MAX_WORD_LENGTH)
                value = self.string(data["value"], f"{path}.value", MAX_CONST_LENGTH)
                if kind not in names.CONST_NAMES:
                    self.fail(f"{path}.const", str(UnknownName("constant kind", kind)))
                self.allowed(kind, value, names.CONST_NAMES[kind], f"{path}.value")
                return C.Const(kind, value)  # type: ignore[arg-type]
            if "float" in data:
                self.obj(data, path, ("float",), ())
                if not isinstance(data["float"], str) or data["float"] not in NONFINITE:
                    self.fail(f"{path}.float", f"expected 'inf', '-inf' or 'nan', got {describe(data['float'])}")
                return NONFINITE[data["float"]]
            self.fail(path, "an object argument needs a 'ref', 'const' or 'float' field")
        if data is None or isinstance(data, (bool, int, float)):
            return data
        if isinstance(data, str):
            return self.string(data, path, MAX_ARG_TEXT_LENGTH)
        return self.fail(path, f"unsupported argument {describe(data)}")

    def tensor(self, data: Any, path: str) -> C.TensorMeta:
        self.obj(data, path, ("shape",), ("dtype",))
        dims = self.array(data["shape"], f"{path}.shape", MAX_DIMS)
        shape = []
        numel = 1
        for i, d in enumerate(dims):
            d = self.integer(d, f"{path}.shape[{i}]")
            if d < 0:
                self.fail(f"{path}.shape[{i}]", f"negative size {d}")
            shape.append(d)
            numel *= d
        if numel > MAX_TENSOR_ELEMENTS:
            self.fail(f"{path}.shape", f"tensor too large ({numel} elements > {MAX_TENSOR_ELEMENTS})")
        dtype = self.string(data.get("dtype", "float32"), f"{path}.dtype", MAX_WORD_LENGTH)
        self.allowed("tensor dtype", dtype, _TENSOR_DTYPES, f"{path}.dtype")
        return C.TensorMeta(tuple(shape), dtype)

    def node(self, data: Any, path: str, index: int) -> C.Node:
        self.obj(data, path, ("name", "op"), ("target", "args", "kwargs", "tensor", "attr_kind", "module"))
        name = self.name(data["name"], f"{path}.name")
        op = self.string(data["op"], f"{path}.op", MAX_WORD_LENGTH)
        if op not in _OP_KINDS:
            self.fail(f"{path}.op", f"unknown node op {op!r} (expected one of {', '.join(_OP_KINDS)})")
        target = self.string(data.get("target", ""), f"{path}.target", MAX_TARGET_LENGTH)
        if op == "call_function":
            self.allowed("op", target, _OPS, f"{path}.target")
        elif op == "get_attr":
            if not target or not all(p.isidentifier() for p in target.split(".")):
                self.fail(f"{path}.target", f"expected a dotted attribute path, got {target[:60]!r}")
        elif target:
            self.fail(f"{path}.target", f"a {op} node has no target")
        args = tuple(self.arg(a, f"{path}.args[{i}]", index)
                     for i, a in enumerate(self.array(data.get("args", []), f"{path}.args", MAX_ARGS)))
        kwargs = [(key, self.arg(value, f"{p}[1]", index))
                  for p, key, value in self.kwarg_pairs(data.get("kwargs", []), f"{path}.kwargs", MAX_ARGS)]
        if op in ("placeholder", "output") and kwargs:
            self.fail(f"{path}.kwargs", f"a {op} node has no kwargs")
        if op in ("placeholder", "get_attr") and args:
            self.fail(f"{path}.args", f"a {op} node has no args")
        tensor = None
        if op in ("placeholder", "get_attr"):
            if "tensor" not in data:
                self.fail(path, f"a {op} node needs a 'tensor'")
            tensor = self.tensor(data["tensor"], f"{path}.tensor")
        elif "tensor" in data:
            self.fail(f"{path}.tensor", f"a {op} node has no tensor")
        attr_kind = None
        if op == "get_attr":
            attr_kind = data.get("attr_kind")
            if attr_kind not in _ATTR_KINDS:
                self.fail(f"{path}.attr_kind", f"expected 'parameter' or 'buffer', got {describe(attr_kind)}")
        elif "attr_kind" in data:
            self.fail(f"{path}.attr_kind", f"a {op} node has no attr_kind")
        module = self.string(data.get("module", ""), f"{path}.module", MAX_WORD_LENGTH)
        if module and module not in names.STATELESS_MODULES.get(target, ()):
            self.fail(f"{path}.module", f"{target or op!r} is not called through a module {module[:40]!r} (allowed: "
                      f"{', '.join(names.STATELESS_MODULES.get(target, ())) or 'none'})")
        return C.Node(name, op, target, args, tuple(kwargs), tensor, attr_kind, module)  # type: ignore[arg-type]

    def graph(self, data: Any, path: str) -> C.Graph:
        self.obj(data, path, ("nodes",), ())
        raw = self.array(data["nodes"], f"{path}.nodes", MAX_NODES)
        for i, n in enumerate(raw):  # names first, so a reference to a later node is told apart
            if isinstance(n, dict) and "name" in n:
                name = self.name(n["name"], f"{path}.nodes[{i}].name")
                if name in self.all_names:
                    self.fail(f"{path}.nodes[{i}].name", f"duplicate node name {name!r}")
                self.all_names.add(name)
        nodes = []
        for i, n in enumerate(raw):
            nodes.append(self.node(n, f"{path}.nodes[{i}]", i))
            self.defined[nodes[-1].name] = i
        outputs = [i for i, n in enumerate(nodes) if n.op == "output"]
        if len(outputs) != 1 or outputs[0] != len(nodes) - 1:
            self.fail(f"{path}.nodes", "a graph needs exactly one output node, and it must be last")
        return C.Graph(tuple(nodes))

    # -- annotations

    def target(self, data: Any, path: str) -> C.Target:
        if isinstance(data, dict) and "node" in data:
            self.obj(data, path, ("node",), ())
            return C.NodeRef(self.ref(data["node"], f"{path}.node"))
        if isinstance(data, dict) and "edge" in data:
            self.obj(data, path, ("edge",), ())
            pair = data["edge"]
            if not isinstance(pair, list) or len(pair) != 2:
                self.fail(f"{path}.edge", "expected an [arg, node] pair")
            return C.EdgeRef(self.ref(pair[0], f"{path}.edge[0]"), self.ref(pair[1], f"{path}.edge[1]"))
        return self.fail(path, "expected {\"node\": name} or {\"edge\": [arg, node]}")

    def ctor(self, data: Any, path: str, depth: int = 0) -> C.Ctor:
        if depth > MAX_DEPTH:
            self.fail(path, "observer constructors nested too deeply")
        self.obj(data, path, ("class",), ("kwargs",))
        qualname = self.string(data["class"], f"{path}.class", MAX_QUALNAME_LENGTH)
        self.allowed("observer class", qualname, _CTORS, f"{path}.class")
        kwargs = []
        for p, key, value in self.kwarg_pairs(data.get("kwargs", []), f"{path}.kwargs", MAX_CTOR_KWARGS,
                                              identifiers=True):
            if isinstance(value, dict):
                value = self.ctor(value, f"{p}[1]", depth + 1)
            elif isinstance(value, float) and not math.isfinite(value):
                self.fail(f"{p}[1]", "non-finite number")
            elif not (value is None or isinstance(value, (bool, int, float, str))):
                self.fail(f"{p}[1]", f"expected a JSON scalar or an observer, got {describe(value)}")
            kwargs.append((key, value))
        return C.Ctor(qualname, tuple(kwargs))

    def qscheme(self, data: dict, path: str) -> Optional[str]:
        value = data.get("qscheme")
        if value is None:
            return None
        value = self.string(value, f"{path}.qscheme", MAX_QSCHEME_LENGTH)
        self.allowed("qscheme", value, _QSCHEMES, f"{path}.qscheme")
        return value

    def dtype(self, data: dict, path: str) -> str:
        value = self.string(data["dtype"], f"{path}.dtype", MAX_WORD_LENGTH)
        self.allowed("dtype", value, _DTYPES, f"{path}.dtype")
        return value

    def spec(self, data: Any, path: str) -> Optional[C.Spec]:
        if data is None:
            return None
        if not isinstance(data, dict) or "kind" not in data:
            return self.fail(path, "expected a spec object with a 'kind' (or null)")
        kind = data["kind"]
        common = ("quant_min", "quant_max", "qscheme", "is_dynamic")
        if kind == "quant":
            self.obj(data, path, ("kind", "dtype", "observer"), common + ("ch_axis",))
            return C.QSpec(self.dtype(data, path), self.ctor(data["observer"], f"{path}.observer"),
                           self.opt_int(data, "quant_min", path), self.opt_int(data, "quant_max", path),
                           self.qscheme(data, path), self.opt_int(data, "ch_axis", path),
                           self.boolean(data.get("is_dynamic", False), f"{path}.is_dynamic"))
        if kind == "shared":
            self.obj(data, path, ("kind", "target"), ())
            return C.SharedSpec(self.target(data["target"], f"{path}.target"))
        if kind == "derived":
            self.obj(data, path, ("kind", "derived_from", "derive_fn", "dtype"), common + ("ch_axis",))
            sources = self.array(data["derived_from"], f"{path}.derived_from", MAX_DERIVED_FROM)
            targets = tuple(self.target(t, f"{path}.derived_from[{i}]") for i, t in enumerate(sources))
            fn = self.string(data["derive_fn"], f"{path}.derive_fn", MAX_QUALNAME_LENGTH)
            if not derive_names.is_allowed(fn):  # built in or opted in (harness.fx.derive_registry)
                self.fail(f"{path}.derive_fn", derive_names.unknown_message(fn))
            return C.DerivedSpec(targets, fn, self.dtype(data, path),
                                 self.opt_int(data, "quant_min", path), self.opt_int(data, "quant_max", path),
                                 self.qscheme(data, path), self.opt_int(data, "ch_axis", path),
                                 self.boolean(data.get("is_dynamic", False), f"{path}.is_dynamic"))
        if kind == "fixed":
            self.obj(data, path, ("kind", "dtype", "scale", "zero_point"), common)
            return C.FixedSpec(self.dtype(data, path), self.number(data["scale"], f"{path}.scale"),
                               self.integer(data["zero_point"], f"{path}.zero_point"),
                               self.opt_int(data, "quant_min", path), self.opt_int(data, "quant_max", path),
                               self.qscheme(data, path),
                               self.boolean(data.get("is_dynamic", False), f"{path}.is_dynamic"))
        return self.fail(f"{path}.kind", f"unknown spec kind {describe(kind)} (expected quant, shared, derived, fixed)")

    def annotation(self, data: Any, path: str) -> C.NodeAnnotation:
        self.obj(data, path, ("node",), ("inputs", "output", "allow_implicit_sharing"))
        node = self.ref(data["node"], f"{path}.node")
        inputs = []
        seen = set()
        for i, item in enumerate(self.array(data.get("inputs", []), f"{path}.inputs", MAX_INPUTS)):
            p = f"{path}.inputs[{i}]"
            self.obj(item, p, ("arg",), ("spec",))
            arg = self.ref(item["arg"], f"{p}.arg")
            if arg in seen:
                self.fail(f"{p}.arg", f"input {arg!r} given twice")
            seen.add(arg)
            inputs.append((arg, self.spec(item.get("spec"), f"{p}.spec")))
        output = self.spec(data.get("output"), f"{path}.output")
        allow = self.boolean(data.get("allow_implicit_sharing", True), f"{path}.allow_implicit_sharing")
        return C.NodeAnnotation(node, tuple(inputs), output, allow)

    # -- the rest

    def info(self, data: Any, path: str) -> C.Info:
        self.obj(data, path, (), ("title", "kind", "link", "notes", "upstream", "tags", "quantizer", "failure"))
        kind = data.get("kind", "finding")
        if kind not in _INFO_KINDS:
            self.fail(f"{path}.kind", f"unknown kind {describe(kind)} (expected one of {', '.join(_INFO_KINDS)})")
        tags = tuple(self.string(t, f"{path}.tags[{i}]", MAX_TAG_LENGTH)
                     for i, t in enumerate(self.array(data.get("tags", []), f"{path}.tags", MAX_TAGS)))
        return C.Info(
            title=self.string(data.get("title", ""), f"{path}.title", MAX_TITLE_LENGTH),
            kind=kind,
            link=self.string(data.get("link", ""), f"{path}.link", MAX_LINK_LENGTH),
            notes=self.string(data.get("notes", ""), f"{path}.notes", MAX_TEXT_LENGTH),
            upstream=self.string(data.get("upstream", ""), f"{path}.upstream", MAX_UPSTREAM_LENGTH),
            tags=tags,
            quantizer=self.string(data.get("quantizer", ""), f"{path}.quantizer", MAX_QUALNAME_LENGTH),
            failure=self.string(data.get("failure", ""), f"{path}.failure", MAX_TITLE_LENGTH),
        )

    def expected(self, data: Any, path: str) -> Optional[C.Expected]:
        if data is None:
            return None
        self.obj(data, path, (), ("error", "canonical"))
        error = data.get("error")
        if error is not None:
            error = self.string(error, f"{path}.error", MAX_ERROR_LENGTH)
        canonical = data.get("canonical")
        if canonical is not None:
            if not isinstance(canonical, dict):
                self.fail(f"{path}.canonical", f"expected an object, got {describe(canonical)}")
            self.plain_json(canonical, f"{path}.canonical", 0)
        if error is not None and canonical is not None:
            self.fail(path, "give either 'error' or 'canonical', not both")
        return C.Expected(error=error, canonical=canonical)

    def case(self, data: Any) -> C.Case:
        self.obj(data, "", ("format", "graph"), ("info", "is_qat", "annotations", "expected", "quantizer_config",
                                                      "strict_export"))
        if data["format"] != FORMAT:
            self.fail("format", f"expected {FORMAT!r}, got {str(data['format'])[:60]!r}")
        info = self.info(data.get("info", {}), "info")
        is_qat = self.boolean(data.get("is_qat", False), "is_qat")
        graph = self.graph(data["graph"], "graph")
        raw = self.array(data.get("annotations", []), "annotations", MAX_ANNOTATIONS)
        annotations = []
        annotated: set[str] = set()
        for i, a in enumerate(raw):
            ann = self.annotation(a, f"annotations[{i}]")
            if ann.node in annotated:
                self.fail(f"annotations[{i}].node", f"node {ann.node!r} is annotated twice")
            annotated.add(ann.node)
            annotations.append(ann)
        expected = self.expected(data.get("expected"), "expected")
        config = self.string(data.get("quantizer_config", ""), "quantizer_config", MAX_WORD_LENGTH)
        strict = self.boolean(data.get("strict_export", False), "strict_export")
        return C.Case(graph, tuple(annotations), is_qat, expected, info, quantizer_config=config, strict_export=strict)


def case_from_json(data: Any, source: str = "<memory>") -> C.Case:
    """The case encoded by JSON ``data`` (plain, or compact: ``harness.case.compact_decode``); raises
    :class:`CaseFormatError` naming ``source`` and the field."""
    try:
        return _Decoder(source).case(expand(data, source))
    except CaseFormatError:
        raise
    except RecursionError:
        raise CaseFormatError(source, "", "nested too deeply") from None
    except (TypeError, ValueError, KeyError, AttributeError) as e:  # a gap in the checks above: still typed
        raise CaseFormatError(source, "", f"malformed case (unexpected {type(e).__name__}: {e})") from None
