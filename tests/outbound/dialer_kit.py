"""Operators, campaigns and Twilio's side of outbound calls, for the dialer tests."""

from __future__ import annotations

import itertools
from types import SimpleNamespace
from typing import Any

from django.db import connection
from django_tenants.utils import schema_context, tenant_context

from outbound import work
from outbound.models import Campaign
from telephony import gateway
from telephony.calls.models import Call
from telephony.models import Queue
from tests.outbound.kit import add_contact, make_campaign
from tests.telephony.helpers import make_operator, sid
from tests.twilio_kit import signed_post

_numbers = itertools.count(1)


def phone() -> str:
    return f"+1202555{next(_numbers):04d}"


def running_campaign(tenant, *, contacts: int = 3, **fields: Any) -> tuple[Campaign, Queue, list[str]]:
    """A running campaign of ``tenant`` with ``contacts`` contacts due now; returns its queue and phones."""
    with tenant_context(tenant):
        campaign = make_campaign(tenant, **fields)
        phones = [phone() for _ in range(contacts)]
        for number in phones:
            add_contact(campaign, number, fields={"first_name": "Pat"})
        Campaign.objects.filter(pk=campaign.pk).update(state=Campaign.State.RUNNING)
        campaign.refresh_from_db()
        work.mark_work(tenant=tenant, queue_id=campaign.queue_id)  # as campaign_control's start does
    with schema_context("public"):
        queue = Queue.objects.get(pk=campaign.queue_id)
    return campaign, queue, phones


def operators_on(queue: Queue, count: int, **kwargs: Any) -> list:
    assert connection.schema_name == "public"
    return [make_operator({queue: 1}, **kwargs) for _ in range(count)]


def outbound_calls(tenant) -> list[Call]:
    with tenant_context(tenant):
        return list(Call.objects.filter(direction="outbound").order_by("pk"))


def spy_calls_create(monkeypatch) -> list[dict]:
    """Record every ``calls.create`` (still sent to Prism, which validates it; use with twilio_mock).

    Prism answers every create with the spec's one example CallSid; Twilio gives each call its own.
    """
    sent: list[dict] = []
    calls = gateway.client().calls
    real = calls.create

    def spy(**kwargs):
        sent.append(kwargs)
        made = real(**kwargs)
        assert made.sid.startswith("CA")
        return SimpleNamespace(sid=sid())

    monkeypatch.setattr(calls, "create", spy)
    return sent


def twilio_post(path: str, tenant, call: Call, **fields: str):
    """A signed webhook about outbound ``call``, as Twilio posts it."""
    params = {
        "AccountSid": "AC" + "1" * 32, "ApiVersion": "2010-04-01", "CallSid": call.call_sid,
        "From": call.from_number, "To": call.to_number, "Direction": "outbound-api",
        "CallStatus": "in-progress", **fields,
    }  # fmt: skip
    return signed_post(f"/twilio/voice/outbound/{path}?t={tenant.schema_name}&c={call.pk}", params)
