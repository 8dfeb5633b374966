"""The survey of real quantizers' vocabulary: which ATen ops the quantizers of ``harness.quantizers`` name, and
whether the graph strategy generates each (issue 14).

The rule: the source text of each quantizer's package (installed torchao and ExecuTorch, :data:`SOURCES`) is read
for references to ATen ops (``torch.ops.aten.X.Y``, ``aten.X``, ``exir_ops.edge.aten.X.Y``) by a regular
expression; only names are recorded, no code. A name is kept when it is a real op of the installed torch (an
overload packet ``aten.X``, or an overload ``aten.X.Y``). An op is *generated* when the op table
(:mod:`harness.strategies.op_table`) draws it (a packet: any of its overloads); every other op carries its reason
(:data:`harness.strategies.op_survey_reasons.REASONS`), and ``producible`` says whether an ordinary module program
can write it at all. The result is ``op_survey.json`` beside this module; ``python -m harness.strategies.op_survey``
rewrites it, and ``tests/strategies/test_op_survey.py`` checks that it is current and that every op it marks
generated comes out of exported module programs.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any, Iterable, Optional

__all__ = ["SOURCES", "SURVEY_PATH", "scan", "survey", "load", "main"]

SURVEY_PATH = Path(__file__).with_name("op_survey.json")


def _executorch(backend: str, *parts: str) -> tuple[str, tuple[str, ...]]:
    """An ExecuTorch backend's annotator: ``parts`` of the backend's directory ``backends/<backend>/``, by default
    the package ``quantizer`` there."""
    return "executorch", tuple(f"backends/{backend}/{part}" for part in parts or ("quantizer",))


# quantizer (a factory of harness.quantizers, or the family of factories sharing one annotator) -> (distribution,
# the files or directories of its annotator, relative to the distribution's package directory). OpenVINO's
# quantizer names no ATen op: NNCF matches its own operator metatypes.
SOURCES: dict[str, tuple[str, tuple[str, ...]]] = {
    "xnnpack": ("torchao", ("testing/pt2e/_xnnpack_quantizer.py", "testing/pt2e/_xnnpack_quantizer_utils.py")),
    "x86_inductor": ("torchao", ("quantization/pt2e/quantizer/x86_inductor_quantizer.py",)),
    "arm_inductor": ("torchao", ("quantization/pt2e/quantizer/arm_inductor_quantizer.py",
                                 "quantization/pt2e/quantizer/x86_inductor_quantizer.py")),
    "embedding": ("torchao", ("quantization/pt2e/quantizer/embedding_quantizer.py",)),
    "executorch_xnnpack": _executorch("xnnpack"),
    "executorch_vulkan": _executorch("vulkan"),
    "executorch_samsung_enn": _executorch("samsung"),
    "executorch_example": _executorch("example", "example_quantizer.py", "example_operators"),
    "executorch_qnn": _executorch("qualcomm"),
    "executorch_cadence": _executorch("cadence/aot"),
    "executorch_arm": _executorch("arm"),
    "executorch_cortex_m": _executorch("cortex_m"),
    "executorch_coreml": _executorch("apple/coreml"),
    "executorch_openvino": _executorch("openvino"),
}

_REF = re.compile(r"\baten\.([A-Za-z_][A-Za-z0-9_]*)(?:\.([A-Za-z_][A-Za-z0-9_]*))?")


def _package_dir(dist: str) -> Optional[Path]:
    import importlib.util

    spec = importlib.util.find_spec(dist)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _files(root: Path, parts: Iterable[str]) -> list[Path]:
    out: list[Path] = []
    for part in parts:
        p = root / part
        if p.is_dir():
            out += sorted(f for f in p.rglob("*.py") if "__pycache__" not in f.parts and "test" not in f.name)
        elif p.is_file():
            out.append(p)
    return out


def _real_name(packet: str, overload: Optional[str]) -> Optional[str]:
    """``aten.X.Y`` or ``aten.X`` if the installed torch has that op, else None (a word that only looks like one)."""
    import torch

    op = getattr(torch.ops.aten, packet, None)
    if not isinstance(op, torch._ops.OpOverloadPacket):
        return None
    if overload is not None and overload in op.overloads():
        return f"aten.{packet}.{overload}"
    return f"aten.{packet}"


def scan() -> dict[str, list[str]]:
    """``{op name: sorted quantizers naming it}`` over the installed packages of :data:`SOURCES` (a quantizer whose
    package is not installed is left out)."""
    named: dict[str, set[str]] = {}
    for quantizer, (dist, parts) in SOURCES.items():
        root = _package_dir(dist)
        if root is None:
            continue
        for path in _files(root, parts):
            for packet, overload in _REF.findall(path.read_text(encoding="utf-8", errors="replace")):
                name = _real_name(packet, overload or None)
                if name is not None:
                    named.setdefault(name, set()).add(quantizer)
    return {name: sorted(qs) for name, qs in sorted(named.items())}


def _generated(name: str, generated_ops: Iterable[str]) -> bool:
    ops = set(generated_ops)
    return name in ops or (name.count(".") == 1 and any(o.startswith(name + ".") for o in ops))


def survey() -> dict[str, Any]:
    """The survey as data: the versions read, the quantizers' sources, and per op its quantizers, whether it is
    generated, whether a module program can produce it, and the reason it is not generated."""
    from importlib import metadata

    from harness.strategies.op_survey_reasons import REASONS, UNPRODUCIBLE
    from harness.strategies.op_table import GENERATED_OPS

    versions = {}
    for dist in ("torch", "torchao", "executorch"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    ops: dict[str, Any] = {}
    for name, quantizers in scan().items():
        generated = _generated(name, GENERATED_OPS)
        entry: dict[str, Any] = {"quantizers": quantizers, "generated": generated,
                                 "producible": generated or name not in UNPRODUCIBLE}
        if not generated:
            entry["reason"] = REASONS.get(name, "")
        ops[name] = entry
    producible = [n for n, e in ops.items() if e["producible"]]
    return {
        "versions": versions,
        "sources": {q: {"package": d, "paths": list(p), "names": sum(q in e["quantizers"] for e in ops.values())}
                    for q, (d, p) in SOURCES.items()},
        "counts": {"named": len(ops), "producible": len(producible),
                   "generated": sum(e["generated"] for e in ops.values())},
        "ops": ops,
    }


def load() -> dict[str, Any]:
    """The stored survey (``op_survey.json``)."""
    return json.loads(SURVEY_PATH.read_text(encoding="utf-8"))


def main(argv: Optional[list[str]] = None) -> int:
    """Rewrite ``op_survey.json`` from the installed packages; print the counts."""
    data = survey()
    SURVEY_PATH.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    c = data["counts"]
    print(f"{c['named']} ops named, {c['producible']} producible by a module program, {c['generated']} generated "
          f"-> {SURVEY_PATH}")
    missing = [n for n, e in data["ops"].items() if not e["generated"] and not e.get("reason")]
    if missing:
        print(f"{len(missing)} not generated without a reason: {' '.join(missing)}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
