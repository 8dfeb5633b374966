"""Encoding a :class:`harness.case.Case` as JSON data (format ``"pt2e-case/1"``); the reverse is ``harness.case.decode``.

The rule: every value is written in a form the decoder reads back to an equal case, and the order of everything
ordered survives.

* node argument: ``{"ref": name}`` (a node), ``{"const": kind, "value": v}`` (a torch constant), a JSON
  array (a tuple), a JSON scalar, or ``{"float": "inf" | "-inf" | "nan"}`` (a non-finite float);
* ``kwargs`` and annotation ``inputs`` are arrays of pairs, so their order survives;
* spec targets: ``{"node": name}`` or ``{"edge": [arg, node]}``;
* specs: ``{"kind": "quant" | "shared" | "derived" | "fixed", ...}``; observers ``{"class": qualname,
  "kwargs": [[key, value], ...]}`` where a value may itself be an observer object.

Fields at their default (``is_dynamic`` false, ``allow_implicit_sharing`` true, ``None``, the case's
``quantizer_config`` empty, ``strict_export`` false) are left out. Nothing is
validated here: values a case may not hold are written as they are and rejected when decoded. Descriptive text
is the exception: the info's title, link, notes, upstream and tags (at most ``MAX_TAGS`` of them) and the
expected error's name are clipped to the limits the decoder reads them with (:mod:`harness.case.limits`, ending
in ``...``), so a case described at length (a finding titled and tagged with a long signature) is still written
and read back. This is the plain form; large cases are written to files in its compact encoding
(``harness.case.compact_decode``).
"""

from __future__ import annotations

import math
from typing import Any

from harness import case as C
from harness.case.jsonform import FORMAT, CaseFormatError
from harness.case.limits import (MAX_ERROR_LENGTH, MAX_LINK_LENGTH, MAX_QUALNAME_LENGTH, MAX_TAG_LENGTH, MAX_TAGS,
                                 MAX_TEXT_LENGTH, MAX_TITLE_LENGTH, MAX_UPSTREAM_LENGTH, clip)

__all__ = ["case_to_json"]


def _enc_float(x: float) -> Any:
    if math.isnan(x):
        return {"float": "nan"}
    if math.isinf(x):
        return {"float": "inf" if x > 0 else "-inf"}
    return x


def _enc_arg(a: Any) -> Any:
    if isinstance(a, C.Ref):
        return {"ref": a.name}
    if isinstance(a, C.Const):
        return {"const": a.kind, "value": a.value}
    if isinstance(a, (tuple, list)):
        return [_enc_arg(x) for x in a]
    if isinstance(a, float):
        return _enc_float(a)
    return a  # checked when the result is decoded


def _enc_ctor(c: Any) -> Any:
    if not isinstance(c, C.Ctor):
        return c
    out: dict[str, Any] = {"class": c.qualname}
    if c.kwargs:
        out["kwargs"] = [[k, _enc_ctor(v)] for k, v in c.kwargs]
    return out


def _enc_target(t: Any) -> Any:
    if isinstance(t, C.NodeRef):
        return {"node": t.name}
    if isinstance(t, C.EdgeRef):
        return {"edge": [t.arg, t.node]}
    return t


def _enc_common(s: Any, out: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    for f in fields:
        value = getattr(s, f)
        if value is not None and not (f == "is_dynamic" and value is False):
            out[f] = value
    return out


def _enc_spec(s: Any) -> Any:
    if s is None:
        return None
    if isinstance(s, C.QSpec):
        out = {"kind": "quant", "dtype": s.dtype, "observer": _enc_ctor(s.observer)}
        return _enc_common(s, out, ("quant_min", "quant_max", "qscheme", "ch_axis", "is_dynamic"))
    if isinstance(s, C.SharedSpec):
        return {"kind": "shared", "target": _enc_target(s.target)}
    if isinstance(s, C.DerivedSpec):
        out = {"kind": "derived", "derived_from": [_enc_target(t) for t in s.derived_from],
               "derive_fn": s.derive_fn, "dtype": s.dtype}
        return _enc_common(s, out, ("quant_min", "quant_max", "qscheme", "ch_axis", "is_dynamic"))
    if isinstance(s, C.FixedSpec):
        out = {"kind": "fixed", "dtype": s.dtype, "scale": _enc_float(s.scale) if isinstance(s.scale, float)
               else s.scale, "zero_point": s.zero_point}
        return _enc_common(s, out, ("quant_min", "quant_max", "qscheme", "is_dynamic"))
    return repr(s)  # rejected when decoded


def _enc_node(n: C.Node) -> dict[str, Any]:
    out: dict[str, Any] = {"name": n.name, "op": n.op}
    if n.target:
        out["target"] = n.target
    if n.args:
        out["args"] = [_enc_arg(a) for a in n.args]
    if n.kwargs:
        out["kwargs"] = [[k, _enc_arg(v)] for k, v in n.kwargs]
    if n.tensor is not None:
        out["tensor"] = {"shape": list(n.tensor.shape), "dtype": n.tensor.dtype}
    if n.attr_kind is not None:
        out["attr_kind"] = n.attr_kind
    if n.module:
        out["module"] = n.module
    return out


def _enc_annotation(a: C.NodeAnnotation) -> dict[str, Any]:
    out: dict[str, Any] = {"node": a.node}
    if a.inputs:
        out["inputs"] = [{"arg": arg, "spec": _enc_spec(spec)} for arg, spec in a.inputs]
    if a.output is not None:
        out["output"] = _enc_spec(a.output)
    if a.allow_implicit_sharing is not True:
        out["allow_implicit_sharing"] = a.allow_implicit_sharing
    return out


def case_to_json(case: C.Case) -> dict[str, Any]:
    """The JSON data of a case (plain dicts/lists/scalars). Pair with :func:`case_from_json` to validate."""
    try:
        return _enc_case(case)
    except (AttributeError, TypeError) as e:
        raise CaseFormatError("<case to save>", "", f"not a well-formed Case ({e})") from None


def _enc_info(info: C.Info) -> dict[str, Any]:
    """The info, its text clipped to the decoder's limits (see the module docstring)."""
    out = {"title": clip(info.title, MAX_TITLE_LENGTH), "kind": info.kind, "link": clip(info.link, MAX_LINK_LENGTH),
           "notes": clip(info.notes, MAX_TEXT_LENGTH), "upstream": clip(info.upstream, MAX_UPSTREAM_LENGTH),
           "tags": [clip(t, MAX_TAG_LENGTH) for t in list(info.tags)[:MAX_TAGS]]}
    if info.quantizer:  # a quantizer bug's; left out otherwise, so other cases' files and names do not change
        out["quantizer"] = clip(info.quantizer, MAX_QUALNAME_LENGTH)
    if info.failure:
        out["failure"] = clip(info.failure, MAX_TITLE_LENGTH)
    return out


def _enc_case(case: C.Case) -> dict[str, Any]:
    out: dict[str, Any] = {
        "format": FORMAT,
        "info": _enc_info(case.info),
        "is_qat": case.is_qat,
        "graph": {"nodes": [_enc_node(n) for n in case.graph.nodes]},
        "annotations": [_enc_annotation(a) for a in case.annotations],
    }
    if case.expected is not None:
        out["expected"] = {"error": clip(case.expected.error, MAX_ERROR_LENGTH), "canonical": case.expected.canonical}
    if case.quantizer_config:  # written only when set: a case without one is written as before
        out["quantizer_config"] = case.quantizer_config
    if case.strict_export:  # likewise
        out["strict_export"] = True
    return out
