"""Path questions on a script's successor map (node id → the node ids it leads to), whatever the nodes are.

``scripts_engine.graph`` asks them to find unreachable nodes, nodes with no way to an end, loops
with no question in them and answers used before they are asked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def reachable(starts: Iterable[str], succ: Mapping[str, list[str]]) -> set[str]:
    """The nodes a path from one of ``starts`` reaches, the starts included."""
    found = set(starts)
    stack = list(found)
    while stack:
        for t in succ[stack.pop()]:
            if t not in found:
                found.add(t)
                stack.append(t)
    return found


def reaching(targets: Iterable[str], succ: Mapping[str, list[str]]) -> set[str]:
    """The nodes from which a path reaches one of ``targets``, the targets included."""
    preds: dict[str, list[str]] = {nid: [] for nid in succ}
    for nid, following in succ.items():
        for t in following:
            preds[t].append(nid)
    return reachable(targets, preds)


def ancestor_masks(order: list[str], succ: Mapping[str, list[str]], bit: Mapping[str, int]) -> dict[str, int]:
    """Bit masks (``bit`` per node) of the nodes that can come before each node (itself only in a loop)."""
    components = strongly_connected(order, succ)
    comp_of: dict[str, int] = {}
    for index, comp in enumerate(components):
        for nid in comp:
            comp_of[nid] = index
    masks = [0] * len(components)
    members = [0] * len(components)
    for index, comp in enumerate(components):
        for nid in comp:
            members[index] |= bit[nid]
        if len(comp) > 1 or comp[0] in succ[comp[0]]:
            masks[index] |= members[index]
    for index in range(len(components) - 1, -1, -1):
        carry = masks[index] | members[index]
        for nid in components[index]:
            for t in succ[nid]:
                target = comp_of[t]
                if target != index:
                    masks[target] |= carry
    return {nid: masks[comp_of[nid]] for nid in order}


def strongly_connected(order: list[str], succ: Mapping[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm without recursion; components come out sinks first."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    result: list[list[str]] = []
    counter = 0
    for root in order:
        if root in index:
            continue
        work = [(root, iter(succ.get(root, ())))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            advanced = False
            for w in children:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(succ.get(w, ()))))
                    advanced = True
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
            if low[v] == index[v]:
                comp: list[str] = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                comp.reverse()
                result.append(comp)
    return result
