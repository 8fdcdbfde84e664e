"""The flow of a script as a server-rendered SVG, layered by distance from the start (no JS, no CDN)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from html import escape
from typing import Any

from scripts_engine.editing import nodes_of

BOX_W, BOX_H, GAP_X, GAP_Y, MARGIN = 200, 58, 26, 70, 24
COLORS = {
    "say": ("#e8f1fb", "#1f5fa8"),
    "question": ("#eef7ea", "#1d6b36"),
    "branch": ("#fff6e0", "#8a5a00"),
    "transfer": ("#f3ecfa", "#6a3d9a"),
    "automatic": ("#e6f6f6", "#0b6b6b"),
    "handover": ("#f1f1f1", "#444c56"),
    "end": ("#fbe9ea", "#8f1d24"),
}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def edges_of(node: Any) -> list[tuple[str, str]]:
    """``(target, label)`` for every arrow leaving a raw node."""
    if not isinstance(node, Mapping):
        return []
    found: list[tuple[str, str]] = []
    if isinstance(node.get("next"), str):
        found.append((node["next"], ""))
    for case in _list(node.get("cases")):
        if isinstance(case, Mapping) and isinstance(case.get("next"), str):
            found.append((case["next"], str(case.get("when", ""))))
    if node.get("kind") == "automatic":
        for option in _list(node.get("options")):
            if isinstance(option, Mapping) and isinstance(option.get("next"), str):
                found.append((option["next"], str(option.get("value") or option.get("digits") or "")))
    for key, label in (("otherwise", "otherwise"), ("timeout_next", "no input")):
        if isinstance(node.get(key), str):
            found.append((node[key], label))
    if node.get("kind") == "transfer" and "next" in node:
        found = [(t, "if it fails" if t == node["next"] and not lbl else lbl) for t, lbl in found]
    return found


def layers(graph: Any) -> list[list[str]]:
    """Node ids in layers: each node below all nodes that lead to it, loops aside.

    Arrows that close a loop (found by a depth-first walk) are set aside, then each node goes one
    layer below its lowest predecessor, so ends sit at the bottom and arrows point down. Within a
    layer, nodes are ordered by where their predecessors are. Unreachable nodes form the last layer.
    """
    nodes = nodes_of(graph)
    start = graph.get("start") if isinstance(graph, Mapping) else None
    succ = {nid: [t for t, _ in edges_of(node) if t in nodes] for nid, node in nodes.items()}
    if not isinstance(start, str) or start not in nodes:
        return [list(nodes)] if nodes else []
    order: list[str] = []  # reverse post-order of the forward graph
    state: dict[str, int] = {start: 1}
    back: set[tuple[str, str]] = set()
    stack: list[tuple[str, int]] = [(start, 0)]
    while stack:
        nid, i = stack.pop()
        if i < len(succ[nid]):
            stack.append((nid, i + 1))
            target = succ[nid][i]
            if state.get(target) == 1:
                back.add((nid, target))
            elif target not in state:
                state[target] = 1
                stack.append((target, 0))
        else:
            state[nid] = 2
            order.append(nid)
    order.reverse()
    depth = dict.fromkeys(order, 0)
    for nid in order:
        for target in succ[nid]:
            if (nid, target) not in back:
                depth[target] = max(depth[target], depth[nid] + 1)
    rows: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for nid in order:
        rows[depth[nid]].append(nid)
    seen_at = {nid: i for i, nid in enumerate(_breadth_first(start, succ))}
    position: dict[str, float] = {}
    preds: dict[str, list[str]] = {}
    for nid in order:
        for target in succ[nid]:
            if (nid, target) not in back:
                preds.setdefault(target, []).append(nid)
    for row in rows:

        def weight(nid: str) -> float:
            placed = [position[p] for p in preds.get(nid, []) if p in position]
            return sum(placed) / len(placed) if placed else 0.0

        row.sort(key=lambda nid: (weight(nid), seen_at.get(nid, 0)))
        for index, nid in enumerate(row):
            position[nid] = index - (len(row) - 1) / 2
    lost = [nid for nid in nodes if nid not in depth]
    if lost:
        rows.append(lost)
    return rows


def _breadth_first(start: str, succ: Mapping[str, list[str]]) -> list[str]:
    found, index = [start], 0
    known = {start}
    while index < len(found):
        for target in succ[found[index]]:
            if target not in known:
                known.add(target)
                found.append(target)
        index += 1
    return found


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_svg(
    graph: Any,
    *,
    problems: Mapping[str | None, list[Any]] | None = None,
    href: Callable[[str], str | None] | None = None,
) -> str:
    """An SVG drawing of the graph; nodes with problems get a red border, ``href`` makes nodes links."""
    nodes = nodes_of(graph)
    problems = problems or {}
    rows = layers(graph)
    widest = max((len(r) for r in rows), default=1)
    width = max(2 * MARGIN + widest * (BOX_W + GAP_X) - GAP_X, 320) + 120
    height = 2 * MARGIN + len(rows) * (BOX_H + GAP_Y) - GAP_Y if rows else 120
    where: dict[str, tuple[float, float]] = {}
    for r, row in enumerate(rows):
        row_width = len(row) * (BOX_W + GAP_X) - GAP_X
        left = (width - 120 - row_width) / 2
        for c, nid in enumerate(row):
            where[nid] = (left + c * (BOX_W + GAP_X), MARGIN + r * (BOX_H + GAP_Y))
    start = graph.get("start") if isinstance(graph, Mapping) else None
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="flow" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'width="{width:.0f}" height="{height:.0f}" role="img" aria-labelledby="flow-title">',
        '<title id="flow-title">Flow of the script, from the start at the top</title>',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#56606c"/></marker></defs>',
    ]
    labels: list[str] = []
    for nid, node in nodes.items():
        if nid not in where:
            continue
        x, y = where[nid]
        for n, (target, label) in enumerate(edges_of(node)):
            if target not in where:
                continue
            tx, ty = where[target]
            if ty > y:
                x1, y1, x2, y2 = x + BOX_W / 2, y + BOX_H, tx + BOX_W / 2, ty
                path = f"M{x1:.0f},{y1:.0f} C{x1:.0f},{y1 + 30:.0f} {x2:.0f},{y2 - 30:.0f} {x2:.0f},{y2:.0f}"
                lx, ly = (x1 + 3 * x2) / 4, y2 - 10
            else:  # back or sideways arrow: round the right-hand side
                bend = width - 100 + 8 * (n % 4)
                x1, y1, x2, y2 = x + BOX_W, y + BOX_H / 2, tx + BOX_W, ty + BOX_H / 2
                path = f"M{x1:.0f},{y1:.0f} C{bend:.0f},{y1:.0f} {bend:.0f},{y2:.0f} {x2:.0f},{y2:.0f}"
                lx, ly = bend - 20, (y1 + y2) / 2
            out.append(f'<path d="{path}" class="edge" marker-end="url(#arrow)"/>')
            if label:
                text = escape(_short(label, 26))
                labels.append(
                    f'<text x="{lx:.0f}" y="{ly:.0f}" class="edge-label" text-anchor="middle">'
                    f"<title>{escape(label)}</title>{text}</text>"
                )
    out.extend(labels)
    for nid, node in nodes.items():
        x, y = where[nid]
        kind = node.get("kind") if isinstance(node, Mapping) else None
        fill, stroke = COLORS.get(kind if isinstance(kind, str) else "", ("#ffffff", "#56606c"))
        found = problems.get(nid, [])
        klass = "node problem" if found else "node"
        width_stroke = 3 if nid == start else 1.5
        id_room = int((BOX_W - 28 - 7 * len(str(kind))) / 7.8)
        text = ""
        if isinstance(node, Mapping):
            raw = node.get("text") or node.get("prompt") or node.get("disposition") or ""
            text = raw if isinstance(raw, str) else ""
        link = href(nid) if href else None
        if link:
            out.append(f'<a href="{escape(link)}" aria-label="{escape(nid)}: open the node">')
        out.append(
            f'<g class="{klass}" data-node="{escape(nid)}"><title>{escape(nid)} ({escape(str(kind))}): '
            f"{escape(text)}</title>"
            f'<rect x="{x:.0f}" y="{y:.0f}" width="{BOX_W}" height="{BOX_H}" rx="8" fill="{fill}" '
            f'stroke="{"#a1141b" if found else stroke}" stroke-width="{3 if found else width_stroke}"/>'
            f'<text x="{x + 10:.0f}" y="{y + 20:.0f}" class="node-id">{escape(_short(nid, id_room))}</text>'
            f'<text x="{x + BOX_W - 10:.0f}" y="{y + 20:.0f}" class="node-kind" text-anchor="end" '
            f'fill="{stroke}">{escape(str(kind))}</text>'
            f'<text x="{x + 10:.0f}" y="{y + 42:.0f}" class="node-text">{escape(_short(text, 30))}</text>'
        )
        if found:
            out.append(
                f'<text x="{x + BOX_W - 10:.0f}" y="{y + 42:.0f}" class="node-bad" text-anchor="end">'
                f"⚠ {len(found)}</text>"
            )
        out.append("</g></a>" if link else "</g>")
    out.append("</svg>")
    return "".join(out)
