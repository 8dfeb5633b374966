"""Template of the standalone reproduction script (read as text by :mod:`harness.tools.repro`, never imported).

The script needs torch and torchao only: it builds the case's graph with ``torch.fx`` calls, sets FakeTensor
``meta["val"]`` on every node, attaches the annotations, runs torchao's ``prepare`` and compares what it did
with the case's expected result (exit 0: as expected, 1: diverges).

This docstring is replaced by the case's own, and each line ``# {{name}}`` by generated code:

* ``notes``: the case's notes as comments;
* ``observer_imports``: ``from MODULE import CLASS`` lines for the observer classes the specs name;
* ``derive_functions``: the source of the derive functions of the case's derived specs (from
  :mod:`harness.fx.derive`, their one home);
* ``data``: ``TITLE``, ``LINK``, ``IS_QAT``, ``INPUTS`` (placeholder name -> (shape, dtype)), ``KEYS`` (the
  annotated keys), ``COMPARED`` (the compared observer fields), ``PER_CHANNEL`` (the per-channel qschemes) and
  ``EXPECTED`` (the expected result, as plain data);
* ``graph``: ``root``, ``graph`` and ``n`` (node name -> fx Node), built node by node;
* ``annotations``: the specs and the ``quantization_annotation`` of each annotated node.
"""
# {{notes}}
from __future__ import annotations

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
from torchao.quantization.pt2e.quantizer import (  # noqa: F401  (used by the generated annotation lines)
    DerivedQuantizationSpec,
    FixedQParamsQuantizationSpec,
    QuantizationAnnotation,
    QuantizationSpec,
    SharedQuantizationSpec,
)
# {{observer_imports}}

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


# {{derive_functions}}
# {{data}}

# ---- the graph -------------------------------------------------------------------------------------
# {{graph}}

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

# ---- the annotations -------------------------------------------------------------------------------
# {{annotations}}


# ---- run torchao's prepare and compare with the expected result ----------------------------------------------

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
    observer_nodes = sum(is_observer(prepared, n) for n in prepared.graph.nodes)
    if "observer_nodes" in EXPECTED and observer_nodes != EXPECTED["observer_nodes"]:
        problems.append(f"observer nodes: expected {EXPECTED['observer_nodes']} (each value observed where its "
                        f"consumers read it), torchao has {observer_nodes}")
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
