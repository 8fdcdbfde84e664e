"""Which of a call's events the client company sees (portal and API): all of them, except live
supervision (R21), shown only when the contract in force says so (``supervision_visible_to_client``)."""

from __future__ import annotations

from django.db.models import QuerySet

from reporting.billing import contract_in_force
from telephony.calls.models import CallEvent
from telephony.supervision import EVENT_KINDS


def supervision_visible() -> bool:
    """Whether the current company's contract in force shows it when supervisors were on its calls."""
    contract = contract_in_force()
    return bool(contract and contract.in_force.terms.get("supervision_visible_to_client"))


def client_events(events: QuerySet[CallEvent]) -> QuerySet[CallEvent]:
    """``events`` as the client company may see them."""
    return events if supervision_visible() else events.exclude(kind__in=EVENT_KINDS)
