"""An implementation-independent form of a prepared model: which annotated keys share which observer.

Two implementations of ``prepare`` are equivalent on a case when they observe the same annotated keys,
group them into the same observer instances, configure each instance the same way and lay out the
observer nodes the same way. :func:`canonical_form` extracts exactly that from a prepared
``GraphModule`` (plus the annotated model it was prepared from) as plain, hashable data that does not
depend on node or module names chosen by the implementation, nor on object identities; ``to_json``
turns it into sorted JSON data for the corpus, and :meth:`Canonical.from_json` reads it back.

Keys
----
An annotated *key* is one of

* ``"edge:a->n"``: the input edge from node ``a`` into node ``n`` (an ``input_qspec_map`` entry of ``n``
  whose spec is not ``None``);
* ``"out:n"``: the output of node ``n`` (a non-``None`` ``output_qspec``).

Node names are FX identifiers, so the encoding is unambiguous. ``prepare`` keeps the names of the
original nodes, which is how keys of the annotated model are found again in the prepared one.

Which observer observes a key
-----------------------------
* ``edge:a->n``: follow ``n``'s argument that comes from ``a`` (inside nested lists too) back through the
  chain of observer ``call_module`` nodes to ``a``; the observer of the edge is the one nearest to ``n``
  (``None`` when ``n`` reads ``a`` directly). It may be ``a``'s output observer: implicit sharing.
* ``out:a``: the observer node attached directly to ``a`` (its first argument is ``a``) through which
  every consumer of ``a`` reads it, i.e. the one that replaced ``a`` for its users. ``None`` when some
  consumer reads ``a`` directly or through another attached observer (an observer that only some
  consumers read is an edge observer), or when nothing is attached. A node without consumers counts as
  observed by its first attached observer. (A graph cannot tell an output observer from an edge
  observer when the edge is the output's only consumer; the observer then counts for both keys.)

Nothing here mutates a graph or runs a model.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Optional

import torch
from torch.fx import GraphModule, Node
from torchao.quantization.pt2e import DerivedObserverOrFakeQuantize, FakeQuantizeBase, ObserverBase
from torchao.quantization.pt2e.fake_quantize import FixedQParamsFakeQuantize
from torchao.quantization.pt2e.observer import FixedQParamsObserver, _is_activation_post_process

from harness.case.names import UnknownName
from harness.fx.ops import derive_fn_name

__all__ = [
    "ANNOTATION_KEY",
    "Canonical",
    "CanonicalFormatError",
    "ErrorInfo",
    "Group",
    "ObserverConfig",
    "ObserverMap",
    "Structure",
    "annotated_keys",
    "canonical_error",
    "canonical_form",
    "edge_key",
    "is_observer_module",
    "key_of",
    "locate_observers",
    "observer_config",
    "output_key",
    "parse_key",
    "qualified_name",
]

ANNOTATION_KEY = "quantization_annotation"

_EDGE_RE = re.compile(r"^edge:([^\s>]+)->([^\s>]+)$")
_OUT_RE = re.compile(r"^out:(\S+)$")


class CanonicalFormatError(ValueError):
    """Canonical-form JSON data (or a key string) that does not have the documented shape."""


# ---- keys ---------------------------------------------------------------------------------------


def edge_key(arg: str, node: str) -> str:
    """The key string of the input edge ``arg -> node``."""
    return f"edge:{arg}->{node}"


def output_key(node: str) -> str:
    """The key string of the output of node ``node``."""
    return f"out:{node}"


def parse_key(key: str) -> tuple[str, str, Optional[str]]:
    """``"edge:a->n"`` -> ``("edge", "a", "n")``; ``"out:n"`` -> ``("out", "n", None)``."""
    m = _EDGE_RE.match(key)
    if m:
        return "edge", m.group(1), m.group(2)
    m = _OUT_RE.match(key)
    if m:
        return "out", m.group(1), None
    raise CanonicalFormatError(f"not a key string: {key!r} (expected 'edge:a->n' or 'out:n')")


def key_of(edge_or_node: Any) -> str:
    """The key string of a torchao ``EdgeOrNode``: an fx ``Node`` or a ``(arg_node, node)`` tuple."""
    if isinstance(edge_or_node, Node):
        return output_key(edge_or_node.name)
    if (
        isinstance(edge_or_node, tuple)
        and len(edge_or_node) == 2
        and all(isinstance(x, Node) for x in edge_or_node)
    ):
        return edge_key(edge_or_node[0].name, edge_or_node[1].name)
    raise TypeError(f"expected an fx Node or a (Node, Node) edge, got {edge_or_node!r}")


def annotated_keys(original: GraphModule) -> dict[str, Any]:
    """Every annotated key of ``original`` with its (non-``None``) spec, in annotation order.

    Keys are read from ``node.meta["quantization_annotation"]``; annotation entries refer to nodes by
    object, but only their names are used, so an annotation whose keys belong to a copy of the graph
    still reads correctly.
    """
    if not isinstance(original, GraphModule):
        raise TypeError(f"original must be a torch.fx.GraphModule, got {type(original).__name__}")
    keys: dict[str, Any] = {}
    for n in original.graph.nodes:
        qa = n.meta.get(ANNOTATION_KEY)
        if qa is None:
            continue
        input_map = getattr(qa, "input_qspec_map", None)
        if input_map is None:
            raise TypeError(
                f"node {n.name!r}: meta[{ANNOTATION_KEY!r}] is a {type(qa).__name__}, "
                "not a QuantizationAnnotation"
            )
        for arg, spec in input_map.items():
            if not isinstance(arg, Node):
                raise TypeError(
                    f"node {n.name!r}: input_qspec_map key {arg!r} is not an fx Node"
                )
            if spec is not None:
                keys[edge_key(arg.name, n.name)] = spec
        if getattr(qa, "output_qspec", None) is not None:
            keys[output_key(n.name)] = qa.output_qspec
    return keys


# ---- observers ----------------------------------------------------------------------------------


def is_observer_module(module: Any) -> bool:
    """Whether ``module`` is an observer or a fake quant (anything prepare may insert)."""
    return isinstance(
        module, (ObserverBase, FakeQuantizeBase, DerivedObserverOrFakeQuantize)
    ) or bool(_is_activation_post_process(module))


def _submodule(gm: GraphModule, target: Any) -> Optional[torch.nn.Module]:
    try:
        return gm.get_submodule(str(target))
    except AttributeError:
        return None


def _is_observer_node(gm: GraphModule, node: Any) -> bool:
    return (
        isinstance(node, Node)
        and node.op == "call_module"
        and is_observer_module(_submodule(gm, node.target))
        and len(node.args) >= 1
        and isinstance(node.args[0], Node)
    )


def _flatten_nodes(value: Any) -> Iterator[Node]:
    """The fx Nodes in an argument, through nested lists, tuples and dicts, in order."""
    if isinstance(value, Node):
        yield value
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _flatten_nodes(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _flatten_nodes(v)


@dataclass
class ObserverMap:
    """Where the observers of a prepared graph sit, relative to the nodes of the original graph.

    * ``keys``: annotated key -> spec (from :func:`annotated_keys`).
    * ``key_node``: annotated key -> the observer node that observes it (``None``: unobserved).
    * ``edge_chains``: edge key (every edge of the prepared graph between two non-observer nodes, annotated
      or not) -> one chain per occurrence of the argument in the consumer's args, each chain the list of
      observer nodes from the producer to the consumer (empty: read directly).
    * ``attached``: producer name -> observer nodes whose first argument is the producer, in graph order.
    * ``observer_nodes``: every observer node of the prepared graph, in graph order.
    * ``missing_nodes``: names of annotated nodes (or key endpoints) absent from the prepared graph.
    """

    prepared: GraphModule
    keys: dict[str, Any]
    key_node: dict[str, Optional[Node]]
    edge_chains: dict[str, list[list[Node]]]
    attached: dict[str, list[Node]]
    observer_nodes: list[Node]
    missing_nodes: list[str]

    def module(self, node: Optional[Node]) -> Optional[torch.nn.Module]:
        """The observer module a call_module node runs (``None`` for ``None``)."""
        if node is None:
            return None
        return _submodule(self.prepared, node.target)

    def key_module(self, key: str) -> Optional[torch.nn.Module]:
        """The observer module observing annotated key ``key`` (``None``: unobserved or not a key)."""
        return self.module(self.key_node.get(key))


def _output_observer(a: str, candidates: list[Node], chains_from_a: list[list[Node]]) -> Optional[Node]:
    """The observer attached to ``a`` that every consumer of ``a`` reads through, if there is one.

    With no consumer at all, the first attached observer (a dead output still has its observer).
    """
    if not candidates:
        return None
    firsts = [chain[0] if chain else None for chain in chains_from_a]
    if not firsts:
        return candidates[0]
    first = firsts[0]
    if first is not None and all(f is first for f in firsts):
        return first
    return None


def locate_observers(original: GraphModule, prepared: GraphModule) -> ObserverMap:
    """Find, for every annotated key of ``original``, the observer node observing it in ``prepared``."""
    if not isinstance(prepared, GraphModule):
        raise TypeError(f"prepared must be a torch.fx.GraphModule, got {type(prepared).__name__}")
    keys = annotated_keys(original)
    nodes = list(prepared.graph.nodes)
    by_name = {n.name: n for n in nodes}
    observer_nodes = [n for n in nodes if _is_observer_node(prepared, n)]
    obs_set = set(observer_nodes)

    edge_chains: dict[str, list[list[Node]]] = defaultdict(list)
    chains_from: dict[str, list[list[Node]]] = defaultdict(list)
    for n in nodes:
        if n in obs_set:
            continue
        for x in _flatten_nodes((n.args, n.kwargs)):
            chain: list[Node] = []
            seen: set[Node] = set()
            while x in obs_set and x not in seen:
                seen.add(x)
                chain.append(x)
                x = x.args[0]
            chain.reverse()
            edge_chains[edge_key(x.name, n.name)].append(chain)
            chains_from[x.name].append(chain)

    attached: dict[str, list[Node]] = defaultdict(list)
    for o in observer_nodes:
        root = o.args[0]
        if root not in obs_set:
            attached[root.name].append(o)

    missing: set[str] = set()
    key_node: dict[str, Optional[Node]] = {}
    for key in keys:
        kind, a, n = parse_key(key)
        for name in (a, n):
            if name is not None and name not in by_name:
                missing.add(name)
        if kind == "edge":
            chains = edge_chains.get(key, [])
            key_node[key] = chains[0][-1] if chains and chains[0] else None
        else:
            key_node[key] = _output_observer(a, attached.get(a, []), chains_from.get(a, []))
    return ObserverMap(
        prepared=prepared,
        keys=keys,
        key_node=key_node,
        edge_chains=dict(edge_chains),
        attached=dict(attached),
        observer_nodes=observer_nodes,
        missing_nodes=sorted(missing),
    )


# ---- observer configuration ---------------------------------------------------------------------


def _derive_fn_name(fn: Any) -> str:
    """A derive function's allow-listed name (stable across moves of its module), else its qualified name."""
    try:
        return derive_fn_name(fn)
    except (UnknownName, TypeError):
        return qualified_name(fn)


def qualified_name(obj: Any) -> str:
    """``module.QualName`` of a class or function; ``functools.partial`` is spelled out."""
    if isinstance(obj, functools.partial):
        return f"functools.partial({qualified_name(obj.func)})"
    mod = getattr(obj, "__module__", None) or "?"
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) or type(obj).__name__
    return f"{mod}.{name}"


_PER_CHANNEL = {"torch.per_channel_affine", "torch.per_channel_symmetric", "torch.per_channel_affine_float_qparams"}


def _scalar(value: Any) -> Any:
    """A tensor holding one number, or a number, as a Python number; anything else as is."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            return [float(v) for v in value.flatten().tolist()]
        return value.item()
    return value


def _opt_str(value: Any) -> Optional[str]:
    return None if value is None else str(value)


def _opt_int(value: Any) -> Optional[int]:
    value = _scalar(value)
    return None if value is None else int(value)


def _opt_float(value: Any) -> Optional[float]:
    value = _scalar(value)
    if value is None or isinstance(value, list):
        return None
    return float(value)


@dataclass(frozen=True)
class ObserverConfig:
    """What an observer / fake-quant instance is configured to do (names and plain values only).

    ``cls``: qualified class name; ``inner``: a fake quant's ``activation_post_process`` class;
    ``ch_axis`` only for per-channel qschemes; ``scale``/``zero_point`` only for fixed-qparams
    instances; ``derived_from``: for a ``DerivedObserverOrFakeQuantize``, the key sets of the groups
    owning its ``obs_or_fqs`` in order (``None`` for an instance that observes no annotated key);
    ``derive_fn``: the qualified name of its ``derive_qparams_fn``.
    """

    cls: str
    inner: Optional[str] = None
    dtype: Optional[str] = None
    quant_min: Optional[int] = None
    quant_max: Optional[int] = None
    qscheme: Optional[str] = None
    ch_axis: Optional[int] = None
    is_dynamic: Optional[bool] = None
    scale: Optional[float] = None
    zero_point: Optional[int] = None
    eps: Optional[float] = None
    derived_from: Optional[tuple[Optional[tuple[str, ...]], ...]] = None
    derive_fn: Optional[str] = None

    def to_json(self) -> dict:
        out: dict[str, Any] = {}
        for name in sorted(self.__dataclass_fields__):
            value = getattr(self, name)
            if value is None:
                continue
            if name == "derived_from":
                value = [None if g is None else list(g) for g in value]
            out[name] = value
        return out

    @classmethod
    def from_json(cls, data: Any, where: str = "observer") -> "ObserverConfig":
        if not isinstance(data, dict):
            raise CanonicalFormatError(f"{where}: expected an object, got {type(data).__name__}")
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise CanonicalFormatError(f"{where}: unknown field(s) {sorted(unknown)}")
        if not isinstance(data.get("cls"), str):
            raise CanonicalFormatError(f"{where}.cls: expected a class name string")
        kwargs = dict(data)
        if kwargs.get("derived_from") is not None:
            df = kwargs["derived_from"]
            if not isinstance(df, list):
                raise CanonicalFormatError(f"{where}.derived_from: expected a list")
            kwargs["derived_from"] = tuple(None if g is None else tuple(g) for g in df)
        return cls(**kwargs)


def observer_config(
    module: torch.nn.Module, group_keys_of: Optional[Mapping[int, tuple[str, ...]]] = None
) -> ObserverConfig:
    """The :class:`ObserverConfig` of an observer or fake-quant module.

    ``group_keys_of`` maps ``id(module)`` to the key set of the group it observes; it is used to name the
    sources of a ``DerivedObserverOrFakeQuantize``.
    """
    inner_mod = getattr(module, "activation_post_process", None)
    is_fq = isinstance(module, FakeQuantizeBase)
    inner = qualified_name(type(inner_mod)) if is_fq and isinstance(inner_mod, torch.nn.Module) else None
    qscheme = _opt_str(getattr(module, "qscheme", None))
    ch_axis = _opt_int(getattr(module, "ch_axis", None)) if qscheme in _PER_CHANNEL else None
    is_dynamic = getattr(module, "is_dynamic", None)
    eps_holder = inner_mod if is_fq and isinstance(inner_mod, torch.nn.Module) else module
    eps = _opt_float(getattr(eps_holder, "eps", None))
    fixed = isinstance(module, (FixedQParamsObserver, FixedQParamsFakeQuantize))
    derived_from = derive_fn = None
    if isinstance(module, DerivedObserverOrFakeQuantize):
        lookup = group_keys_of or {}
        derived_from = tuple(lookup.get(id(m)) for m in module.obs_or_fqs)
        derive_fn = _derive_fn_name(module.derive_qparams_fn)
    return ObserverConfig(
        cls=qualified_name(type(module)),
        inner=inner,
        dtype=_opt_str(getattr(module, "dtype", None)),
        quant_min=_opt_int(getattr(module, "quant_min", None)),
        quant_max=_opt_int(getattr(module, "quant_max", None)),
        qscheme=qscheme,
        ch_axis=ch_axis,
        is_dynamic=None if is_dynamic is None else bool(is_dynamic),
        scale=_opt_float(module.scale) if fixed else None,
        zero_point=_opt_int(module.zero_point) if fixed else None,
        eps=eps,
        derived_from=derived_from,
        derive_fn=derive_fn,
    )


# ---- the canonical form -------------------------------------------------------------------------


@dataclass(frozen=True)
class Group:
    """Annotated keys observed by one observer instance, and that instance's configuration."""

    keys: tuple[str, ...]
    observer: ObserverConfig

    def to_json(self) -> dict:
        return {"keys": list(self.keys), "observer": self.observer.to_json()}


@dataclass(frozen=True)
class Structure:
    """How the observer nodes are laid out.

    * ``edge_chains``: per edge key, the number of observer nodes between producer and consumer for each
      occurrence of the producer in the consumer's arguments; listed for every annotated edge and every
      edge with at least one observer on it.
    * ``attached``: per node, the number of observer nodes reading it directly (nodes with at least one,
      and annotated outputs), as ``out:`` keys.
    * ``observer_nodes`` / ``observer_modules``: counts in the whole graph (modules: distinct instances).
    * ``missing_nodes``: names of annotated nodes absent from the prepared graph.
    * ``split_edges``: annotated edges whose occurrences are observed by different instances.
    """

    edge_chains: tuple[tuple[str, tuple[int, ...]], ...] = ()
    attached: tuple[tuple[str, int], ...] = ()
    observer_nodes: int = 0
    observer_modules: int = 0
    missing_nodes: tuple[str, ...] = ()
    split_edges: tuple[str, ...] = ()

    def to_json(self) -> dict:
        return {
            "attached": {k: v for k, v in self.attached},
            "edge_chains": {k: list(v) for k, v in self.edge_chains},
            "missing_nodes": list(self.missing_nodes),
            "observer_modules": self.observer_modules,
            "observer_nodes": self.observer_nodes,
            "split_edges": list(self.split_edges),
        }

    @classmethod
    def from_json(cls, data: Any) -> "Structure":
        if not isinstance(data, dict):
            raise CanonicalFormatError("structure: expected an object")
        try:
            return cls(
                edge_chains=tuple(
                    sorted((str(k), tuple(int(x) for x in v)) for k, v in data.get("edge_chains", {}).items())
                ),
                attached=tuple(sorted((str(k), int(v)) for k, v in data.get("attached", {}).items())),
                observer_nodes=int(data.get("observer_nodes", 0)),
                observer_modules=int(data.get("observer_modules", 0)),
                missing_nodes=tuple(sorted(data.get("missing_nodes", ()))),
                split_edges=tuple(sorted(data.get("split_edges", ()))),
            )
        except (TypeError, ValueError, AttributeError) as e:
            raise CanonicalFormatError(f"structure: malformed ({e})") from e


@dataclass(frozen=True)
class ErrorInfo:
    """``prepare`` raised: the exception's type name and a short message."""

    type: str
    message: str = ""

    def to_json(self) -> dict:
        return {"message": self.message, "type": self.type}


@dataclass(frozen=True)
class Canonical:
    """The canonical form of a prepared model (or of a ``prepare`` that raised).

    ``groups`` are sorted by their smallest key; ``unobserved`` are annotated keys nobody observes.
    """

    groups: tuple[Group, ...] = ()
    unobserved: tuple[str, ...] = ()
    structure: Structure = field(default_factory=Structure)
    error: Optional[ErrorInfo] = None

    # -- views
    def partition(self) -> dict[str, int]:
        """Observed key -> index of its group."""
        return {k: i for i, g in enumerate(self.groups) for k in g.keys}

    def observed_keys(self) -> set[str]:
        return {k for g in self.groups for k in g.keys}

    def group_of(self, key: str) -> Optional[Group]:
        for g in self.groups:
            if key in g.keys:
                return g
        return None

    # -- json
    def to_json(self) -> dict:
        """Plain JSON data (dicts with sorted keys, lists, str, numbers, bools, None)."""
        return {
            "error": None if self.error is None else self.error.to_json(),
            "groups": [g.to_json() for g in self.groups],
            "structure": self.structure.to_json(),
            "unobserved": list(self.unobserved),
        }

    @classmethod
    def from_json(cls, data: Any) -> "Canonical":
        """Read back :meth:`to_json` output; raises :class:`CanonicalFormatError` naming the bad field."""
        if not isinstance(data, dict):
            raise CanonicalFormatError(f"canonical: expected an object, got {type(data).__name__}")
        unknown = set(data) - {"error", "groups", "structure", "unobserved"}
        if unknown:
            raise CanonicalFormatError(f"canonical: unknown field(s) {sorted(unknown)}")
        err = data.get("error")
        error = None
        if err is not None:
            if not isinstance(err, dict) or not isinstance(err.get("type"), str):
                raise CanonicalFormatError("canonical.error: expected {'type': str, 'message': str}")
            error = ErrorInfo(type=err["type"], message=str(err.get("message", "")))
        groups_data = data.get("groups", [])
        if not isinstance(groups_data, list):
            raise CanonicalFormatError("canonical.groups: expected a list")
        groups = []
        for i, g in enumerate(groups_data):
            where = f"canonical.groups[{i}]"
            if not isinstance(g, dict) or not isinstance(g.get("keys"), list) or not g["keys"]:
                raise CanonicalFormatError(f"{where}: expected {{'keys': [non-empty list], 'observer': {{...}}}}")
            for k in g["keys"]:
                if not isinstance(k, str):
                    raise CanonicalFormatError(f"{where}.keys: {k!r} is not a string")
                parse_key(k)
            groups.append(
                Group(keys=tuple(sorted(g["keys"])), observer=ObserverConfig.from_json(g.get("observer"), where + ".observer"))
            )
        unobserved = data.get("unobserved", [])
        if not isinstance(unobserved, list):
            raise CanonicalFormatError("canonical.unobserved: expected a list")
        return cls(
            groups=tuple(sorted(groups, key=lambda g: g.keys[0])),
            unobserved=tuple(sorted(unobserved)),
            structure=Structure.from_json(data.get("structure", {})),
            error=error,
        )


def canonical_error(exc: BaseException, max_len: int = 200) -> Canonical:
    """The canonical form of "prepare raised ``exc``": type name and the first line of the message."""
    lines = str(exc).strip().splitlines()
    message = lines[0] if lines else ""
    if len(message) > max_len:
        message = message[: max_len - 3] + "..."
    return Canonical(error=ErrorInfo(type=type(exc).__name__, message=message))


def canonical_form(original: GraphModule, prepared: GraphModule) -> Canonical:
    """The canonical form of ``prepared``, the result of preparing the annotated model ``original``.

    ``original`` may be the very model ``prepare`` mutated (its annotations are still there) or an
    unmutated twin; only annotations and node names are read from it.
    """
    om = locate_observers(original, prepared)

    by_module: dict[int, list[str]] = defaultdict(list)
    modules: dict[int, torch.nn.Module] = {}
    unobserved = []
    for key in om.keys:
        mod = om.key_module(key)
        if mod is None:
            unobserved.append(key)
            continue
        by_module[id(mod)].append(key)
        modules[id(mod)] = mod
    group_keys_of = {mid: tuple(sorted(keys)) for mid, keys in by_module.items()}
    groups = [
        Group(keys=group_keys_of[mid], observer=observer_config(modules[mid], group_keys_of))
        for mid in by_module
    ]
    groups.sort(key=lambda g: g.keys[0])

    chains = {
        k: tuple(len(c) for c in v)
        for k, v in om.edge_chains.items()
        if k in om.keys or any(v)
    }
    for k in om.keys:
        if k.startswith("edge:") and k not in chains:
            chains[k] = ()
    attached = {output_key(name): len(obs) for name, obs in om.attached.items()}
    for k in om.keys:
        if k.startswith("out:") and k not in attached:
            attached[k] = 0
    split = sorted(
        k
        for k in om.keys
        if k.startswith("edge:")
        and len({id(om.module(c[-1])) if c else None for c in om.edge_chains.get(k, [])}) > 1
    )
    distinct = {id(om.module(o)) for o in om.observer_nodes}
    structure = Structure(
        edge_chains=tuple(sorted(chains.items())),
        attached=tuple(sorted(attached.items())),
        observer_nodes=len(om.observer_nodes),
        observer_modules=len(distinct),
        missing_nodes=tuple(om.missing_nodes),
        split_edges=tuple(split),
    )
    return Canonical(groups=tuple(groups), unobserved=tuple(sorted(unobserved)), structure=structure)
