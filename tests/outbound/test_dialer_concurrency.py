"""Concurrent dial passes (as several workers run them) never dial more calls than free operators."""

from __future__ import annotations

import threading
from types import SimpleNamespace

from django.db import connection
from django_tenants.utils import tenant_context

from outbound import dialer
from outbound.models import Attempt, Campaign
from telephony import gateway
from telephony.models import OperatorProfile, Reservation
from tests.outbound.dialer_kit import operators_on, outbound_calls, running_campaign
from tests.telephony.helpers import sid

PASSES = 6


def test_concurrent_passes_dial_at_most_one_call_per_free_operator(
    committed, tenants, twilio_mock, monkeypatch
):
    campaign, queue, phones = running_campaign(tenants.alpha, contacts=10)
    operators = operators_on(queue, 3)
    mine = [o.pk for o in operators]
    sent: list[str] = []
    calls = gateway.client().calls
    real = calls.create

    def create(**kwargs):
        real(**kwargs)  # validated by Prism
        sent.append(kwargs["to"])
        return SimpleNamespace(sid=sid())

    monkeypatch.setattr(calls, "create", create)
    start = threading.Barrier(PASSES)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start.wait()
            dialer.unscoped_dial_pass(operator_ids=mine)  # never a concurrent test's operators
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(PASSES)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        assert len(sent) == 3 and len(set(sent)) == 3 and set(sent) <= set(phones)
        made = outbound_calls(tenants.alpha)
        mine = [c for c in made if c.to_number in phones]
        assert len(mine) == 3
        assert len({c.operator_id for c in mine}) == 3
        live = Reservation.objects.filter(operator__in=operators, state="accepted")
        assert live.count() == 3 and {r.operator_id for r in live} == {o.pk for o in operators}
        with tenant_context(tenants.alpha):
            assert Attempt.objects.filter(campaign=campaign).count() == 3
    finally:
        with tenant_context(tenants.alpha):
            Campaign.objects.filter(pk=campaign.pk).update(state=Campaign.State.STOPPED)
        OperatorProfile.objects.filter(pk__in=[o.pk for o in operators]).update(state="offline")
