"""A campaign's results: contacts reached, attempts and outcomes, conversion (sales) and the survey
answers per question, from the same call records and script answers as inbound calls."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from django.db.models import Count

from outbound.models import Attempt, Campaign, CampaignContact
from scripts_engine.models import ScriptSession, ScriptVersion


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def campaign_results(campaign: Campaign) -> dict[str, Any]:
    """Everything the results page and the API show, as plain data (a handful of queries)."""
    states = dict(
        CampaignContact.objects.filter(campaign=campaign).values_list("state").annotate(n=Count("id"))
    )
    contacts = sum(states.values())
    attempts = Attempt.objects.filter(campaign=campaign)
    outcomes = dict(attempts.exclude(outcome="").values_list("outcome").annotate(n=Count("id")))
    reached = (
        attempts.filter(outcome=Attempt.Outcome.ANSWERED).values("campaign_contact_id").distinct().count()
    )
    result: dict[str, Any] = {
        "contacts": contacts,
        "contacts_by_state": {s: states.get(s, 0) for s in CampaignContact.State.values},
        "reached": reached,
        "reach_rate": _ratio(reached, contacts),
        "attempts": attempts.count(),
        "in_progress": attempts.filter(outcome="").count(),
        "outcomes": {o: outcomes.get(o, 0) for o in Attempt.Outcome.values},
    }
    if campaign.kind == Campaign.Kind.SALES:
        codes = list(campaign.conversion_dispositions or [])
        converted = (
            attempts.filter(call__disposition__in=codes).values("campaign_contact_id").distinct().count()
            if codes
            else 0
        )
        result["conversion"] = {
            "dispositions": codes,
            "converted": converted,
            "rate": _ratio(converted, reached),
        }
    else:
        result["questions"] = survey_aggregates(campaign)
    return result


def _node_label(version_graphs: dict[int, dict], node_id: str) -> str:
    for graph in version_graphs.values():
        node = (graph.get("nodes") or {}).get(node_id)
        if isinstance(node, dict):
            for key in ("label", "prompt", "text"):
                if isinstance(node.get(key), str) and node[key]:
                    return node[key]
    return node_id


def survey_aggregates(campaign: Campaign) -> list[dict[str, Any]]:
    """Per question of the campaign's calls: counts per choice, mean of numbers, yes/no share.

    The final answer of each call counts (a corrected answer replaces the first one).
    """
    sessions = ScriptSession.objects.filter(call__campaign_attempt__campaign=campaign).values_list(
        "version_id", "answers"
    )
    values: dict[str, list[Any]] = defaultdict(list)
    order: list[str] = []
    version_ids: set[int] = set()
    for version_id, answers in sessions:
        version_ids.add(version_id)
        for node_id, value in (answers or {}).items():
            if node_id not in values:
                order.append(node_id)
            values[node_id].append(value)
    graphs = dict(ScriptVersion.objects.filter(pk__in=version_ids).values_list("pk", "graph"))
    start_order = _graph_order(graphs)
    order.sort(key=lambda n: (start_order.get(n, len(start_order)), n))
    return [_aggregate(node_id, _node_label(graphs, node_id), values[node_id]) for node_id in order]


def _graph_order(graphs: dict[int, dict]) -> dict[str, int]:
    order: dict[str, int] = {}
    for graph in graphs.values():
        for node_id in graph.get("nodes") or {}:
            order.setdefault(node_id, len(order))
    return order


def _aggregate(node_id: str, label: str, values: list[Any]) -> dict[str, Any]:
    given = [v for v in values if v not in (None, "")]
    base = {"node": node_id, "label": label, "answers": len(given)}
    if given and all(isinstance(v, bool) for v in given):
        yes = sum(1 for v in given if v)
        return {
            **base,
            "type": "yes_no",
            "yes": yes,
            "no": len(given) - yes,
            "yes_share": _ratio(yes, len(given)),
        }
    if given and all(isinstance(v, int | float) and not isinstance(v, bool) for v in given):
        mean = sum(given) / len(given)
        return {**base, "type": "number", "mean": round(mean, 3), "min": min(given), "max": max(given)}
    counts: Counter[str] = Counter()
    for v in given:
        for item in v if isinstance(v, list) else [v]:
            counts[str(item)] += 1
    return {
        **base,
        "type": "choice",
        "counts": [{"value": k, "count": n, "share": _ratio(n, len(given))} for k, n in counts.most_common()],
    }
