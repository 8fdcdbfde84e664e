"""Factories for outbound tests: a campaign with its script, queue, caller ID and contacts.

Call them inside ``tenant_context(tenant)`` except where noted; O2's dialer tests use them too.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.db import connection
from django_tenants.utils import schema_context

from outbound.models import Campaign, CampaignContact
from scripts_engine.models import Disposition, Script, ScriptVersion
from scripts_engine.samples import load_sample
from telephony.calls.models import Contact
from telephony.models import PhoneNumber, Queue
from tenants.models import Client

UTC = dt.UTC


def active_script(sample: str = "survey", name: str | None = None) -> Script:
    """A script whose v1 is the sample, active (made directly: lifecycle approvals are tested elsewhere)."""
    graph = load_sample(sample)
    for code in graph.get("dispositions", []):
        Disposition.objects.get_or_create(code=code, defaults={"label": code.replace("_", " ").title()})
    script = Script.objects.create(name=name or f"{sample}-{uuid.uuid4().hex[:6]}", purpose="outbound")
    ScriptVersion.objects.create(script=script, number=1, graph=graph, state=ScriptVersion.State.ACTIVE)
    return script


def tenant_queue_and_number(tenant: Client) -> tuple[Queue, str]:
    """A queue and an assigned number of ``tenant`` (public schema, whatever the current one)."""
    with schema_context("public"):
        queue = Queue.objects.create(tenant=tenant, name=f"out-{uuid.uuid4().hex[:6]}")
        number = "+1555" + str(uuid.uuid4().int)[:7]
        PhoneNumber.objects.create(number=number, tenant=tenant, state=PhoneNumber.State.ASSIGNED)
    return queue, number


def make_campaign(tenant: Client, *, sample: str = "survey", **fields: Any) -> Campaign:
    """A draft campaign open every day 00:00-23:59 unless told otherwise."""
    assert connection.schema_name == tenant.schema_name, "call inside tenant_context(tenant)"
    queue, number = tenant_queue_and_number(tenant)
    defaults: dict[str, Any] = {
        "name": f"campaign-{uuid.uuid4().hex[:8]}",
        "kind": "survey" if sample == "survey" else "sales",
        "script": fields.pop("script", None) or active_script(sample),
        "queue_id": queue.pk,
        "queue_name": queue.name,
        "caller_id": number,
        "window_start": dt.time(0, 0),
        "window_end": dt.time(23, 59, 59),
        "window_days": [0, 1, 2, 3, 4, 5, 6],
    }
    defaults.update(fields)
    return Campaign.objects.create(**defaults)


def add_contact(campaign: Campaign, phone: str, *, tz: str = "UTC", **fields: Any) -> CampaignContact:
    contact, _ = Contact.objects.get_or_create(phone=phone)
    return CampaignContact.objects.create(
        campaign=campaign, contact=contact, phone=phone, timezone=tz, **fields
    )
