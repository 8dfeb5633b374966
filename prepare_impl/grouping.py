"""Sharing analysis: from the annotations of a graph to its sharing groups. Pure: never mutates the graph.

The rules, each applied to the keys of :mod:`prepare_impl.keys` (edges and outputs with a spec):

1. Explicit sharing. A key whose spec is ``SharedQuantizationSpec(t)`` is in the same group as ``t``. ``t`` must
   be a key (``DanglingReferenceError`` otherwise). Following these references from any key must reach a key
   with a concrete spec (``QuantizationSpec``, ``DerivedQuantizationSpec`` or ``FixedQParamsQuantizationSpec``);
   a cycle of references has none (``CyclicSharingError``, with the cycle). The concrete spec so reached is the
   key's *resolved spec*. Where the anchor ``t`` stands in graph order does not matter.
2. Implicit sharing. An input edge ``(a, n)`` whose node ``n`` allows implicit sharing
   (``QuantizationAnnotation.allow_implicit_sharing``, default true) joins the group of
   * every other input edge ``(a, u)`` of the same producer ``a`` (whatever ``u`` allows), and
   * the output of ``a``,
   when their resolved specs are *compatible*: equal on dtype, is_dynamic, quant_min, quant_max, qscheme,
   ch_axis, scale and zero_point (an attribute neither spec class has counts as equal, one that only one of
   them has as different). These values are the same tensor, so they can share one observer.
3. The groups are the connected components of these relations. Each group is observed by one observer (or
   fake quant), built from the spec of its *first* key in annotation order whose spec is concrete.
4. A group whose spec is a ``DerivedQuantizationSpec`` depends on the groups of its ``derived_from`` keys (each
   must be a key: ``DanglingReferenceError``); these dependencies must be acyclic (``DerivedCycleError``).
   ``creation_order`` lists the groups so that every group comes after those it derives from.

Every step is linear in the number of keys and edges (union-find with path halving and union by size, explicit
references resolved iteratively with memoisation, implicit sharing bucketed per producer and compatibility
class), and nothing recurses, so sharing chains of any depth are fine.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch.fx import GraphModule, Node
from torchao.quantization.pt2e.quantizer import DerivedQuantizationSpec, SharedQuantizationSpec

from prepare_impl.errors import CyclicSharingError, DanglingReferenceError, DerivedCycleError
from prepare_impl.keys import AnnotatedKeys, Key, annotation_of, collect_keys, describe, is_edge
from prepare_impl.specs import compatibility_class
from prepare_impl.unionfind import UnionFind


@dataclass(frozen=True)
class Group:
    """One sharing group: its keys in annotation order, and the concrete spec its observer is built from."""

    index: int
    members: tuple[Key, ...]
    spec: object
    # Indices of the groups a derived spec's observer reads from, in ``derived_from`` order (else empty).
    derived_from: tuple[int, ...] = ()


@dataclass(frozen=True)
class SharingAnalysis:
    groups: tuple[Group, ...]
    group_of: dict  # Key -> group index
    creation_order: tuple[int, ...]
    annotated: AnnotatedKeys

    def group(self, key: Key) -> Group:
        return self.groups[self.group_of[key]]


def sharing_groups(model: GraphModule) -> SharingAnalysis:
    """The sharing groups of the annotated ``model`` (see the module docstring for the rules)."""
    annotated = collect_keys(model)
    keys, specs, index = annotated.keys, annotated.specs, annotated.index
    n = len(keys)

    target = _explicit_targets(keys, specs, index)
    resolved = _resolve_specs(keys, specs, target)

    uf = UnionFind(n)
    for i, t in enumerate(target):
        if t is not None:
            uf.union(i, t)
    _implicit_sharing(keys, index, resolved, uf)

    components = uf.components()
    group_of_index: list[int] = [0] * n
    for g, comp in enumerate(components):
        for i in comp:
            group_of_index[i] = g
    chosen_spec = [
        next(specs[i] for i in comp if not isinstance(specs[i], SharedQuantizationSpec)) for comp in components
    ]

    derived_from: list[tuple[int, ...]] = []
    for g, spec in enumerate(chosen_spec):
        if isinstance(spec, DerivedQuantizationSpec):
            owner = next(i for i in components[g] if specs[i] is spec)
            sources = []
            for ref in spec.derived_from:
                if ref not in index:
                    raise DanglingReferenceError(describe(keys[owner]), describe(ref), "DerivedQuantizationSpec")
                sources.append(group_of_index[index[ref]])
            derived_from.append(tuple(sources))
        else:
            derived_from.append(())

    groups = tuple(
        Group(g, tuple(keys[i] for i in comp), chosen_spec[g], derived_from[g]) for g, comp in enumerate(components)
    )
    group_of = {keys[i]: group_of_index[i] for i in range(n)}
    order = _creation_order(groups)
    return SharingAnalysis(groups, group_of, order, annotated)


def _explicit_targets(keys, specs, index) -> list:
    """For each key, the index of the key its SharedQuantizationSpec refers to (None if not shared)."""
    target: list = [None] * len(keys)
    for i, spec in enumerate(specs):
        if isinstance(spec, SharedQuantizationSpec):
            ref = spec.edge_or_node
            t = index.get(ref) if _hashable(ref) else None
            if t is None:
                raise DanglingReferenceError(describe(keys[i]), describe(ref), "SharedQuantizationSpec")
            target[i] = t
    return target


def _hashable(x) -> bool:
    try:
        hash(x)
    except TypeError:
        return False
    return True


def _resolve_specs(keys, specs, target) -> list:
    """Each key's resolved spec: the concrete spec at the end of its chain of shared references."""
    n = len(keys)
    resolved: list = [None] * n
    state = [0] * n  # 0 unvisited, 1 on the current path, 2 resolved
    for start in range(n):
        if state[start] == 2:
            continue
        path = []
        i = start
        while state[i] == 0 and target[i] is not None:
            state[i] = 1
            path.append(i)
            i = target[i]
        if state[i] == 1:  # came back onto the current path: a cycle
            cycle = path[path.index(i):]
            raise CyclicSharingError([describe(keys[j]) for j in cycle])
        end = resolved[i] if state[i] == 2 else specs[i]
        state[i] = 2
        resolved[i] = end
        for j in path:
            state[j] = 2
            resolved[j] = end
    return resolved


def _implicit_sharing(keys, index, resolved, uf: UnionFind) -> None:
    """Join input edges with their siblings and their producer's output (rule 2), bucketed per producer."""
    # producer -> compatibility class -> (edge key indices, does any of them allow implicit sharing)
    buckets: dict[Node, dict[tuple, list]] = {}
    classes_by_spec: dict[int, tuple] = {}  # id(spec) -> class; quantizers reuse a few spec objects

    def class_of(spec) -> tuple:
        cls = classes_by_spec.get(id(spec))
        if cls is None:
            cls = classes_by_spec[id(spec)] = compatibility_class(spec)
        return cls

    for i, key in enumerate(keys):
        if not is_edge(key):
            continue
        producer, consumer = key
        cls = class_of(resolved[i])
        entry = buckets.setdefault(producer, {}).setdefault(cls, [[], False])
        entry[0].append(i)
        if annotation_of(consumer).allow_implicit_sharing:
            entry[1] = True
    for producer, classes in buckets.items():
        out = index.get(producer)
        out_cls = class_of(resolved[out]) if out is not None else None
        for cls, (members, any_allows) in classes.items():
            if not any_allows:
                continue
            for i in members[1:]:
                uf.union(members[0], i)
            if out is not None and out_cls == cls:
                # only edges that allow implicit sharing join the producer's output
                for i in members:
                    if annotation_of(keys[i][1]).allow_implicit_sharing:
                        uf.union(out, i)
                        break


def _creation_order(groups: tuple[Group, ...]) -> tuple[int, ...]:
    """Groups ordered so each comes after the groups it derives from (iterative DFS; cycles are errors)."""
    state = [0] * len(groups)
    order: list[int] = []
    for start in range(len(groups)):
        if state[start]:
            continue
        stack = [(start, 0)]
        state[start] = 1
        while stack:
            g, k = stack[-1]
            deps = groups[g].derived_from
            if k < len(deps):
                stack[-1] = (g, k + 1)
                d = deps[k]
                if state[d] == 1:
                    path = [h for h, _ in stack]
                    cycle = path[path.index(d):]
                    raise DerivedCycleError([_group_name(groups[h]) for h in cycle])
                if state[d] == 0:
                    state[d] = 1
                    stack.append((d, 0))
            else:
                stack.pop()
                state[g] = 2
                order.append(g)
    return tuple(order)


def _group_name(group: Group) -> str:
    return "group of " + describe(group.members[0])
