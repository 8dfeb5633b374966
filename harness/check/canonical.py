"""An implementation-independent form of a prepared model: which annotated keys share which observer.

Two implementations of ``prepare`` are equivalent on a case when they observe the same annotated keys,
group them into the same observer instances, configure each instance the same way and lay out the
observer nodes the same way. :func:`canonical_form` extracts exactly that from a prepared
``GraphModule`` (plus the annotated model it was prepared from) as plain, hashable data that does not
depend on node or module names chosen by the implementation, nor on object identities; ``to_json``
turns it into sorted JSON data for the corpus, and :meth:`Canonical.from_json` reads it back.

The pieces: key strings (:mod:`harness.check.keys`), which observer observes a key
(:mod:`harness.check.observer_map`) and how an instance is configured (:mod:`harness.check.observer_config`).
Nothing here mutates a graph or runs a model.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Optional

import torch
from torch.fx import GraphModule

from harness.check.keys import CanonicalFormatError, output_key, parse_key
from harness.check.observer_config import ObserverConfig, observer_config
from harness.check.observer_map import ObserverMap, locate_observers

__all__ = [
    "Canonical",
    "ErrorInfo",
    "Group",
    "Structure",
    "canonical_error",
    "canonical_form",
    "canonical_of",
]


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
    return canonical_of(locate_observers(original, prepared))


def canonical_of(om: ObserverMap) -> Canonical:
    """The canonical form of the prepared model whose observers ``om`` located (:func:`canonical_form`; the
    differential check locates them once, for this and for the invariants)."""
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
