"""Contracts and tariffs for the reporting tests; calls come from ``tests.factories.CallFactory``."""

from __future__ import annotations

import datetime as dt

from reporting.kpis import call_facts

facts = call_facts  # the same call as the pure definitions see it


def contract_in_force(client, *, tariffs: list[dict[str, str]], **terms: object):
    """An accepted contract for ``client`` with these tariffs (created in the public schema)."""
    from django.db import connection

    from tenants.models import Acceptance, Contract, ContractVersion, Order

    tenant = connection.tenant
    connection.set_schema_to_public()
    try:
        order = Order.objects.create(
            legal_name=client.name,
            registration_number="R1",
            tax_number="T1",
            address="1 Main St",
            portal_slug=f"{client.slug}-billing",
            contact_first_name="Ann",
            contact_last_name="Lee",
            contact_email="ann@example.com",
            contact_phone="+15550100000",
            calls_per_month=1000,
            peak_hour_calls=10,
            coverage="business",
            time_zone="UTC",
            start_date=dt.date(2026, 1, 1),
            numbers_wanted=1,
            client=None,
        )
        contract = Contract.objects.create(order=order, client=client, state=Contract.State.ACCEPTED)
        version = ContractVersion.objects.create(
            contract=contract,
            number=1,
            state=ContractVersion.State.ACCEPTED,
            terms={"sl_seconds": 20, **terms},
            tariffs=tariffs,
            created_by_name="AM",
            sent_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
            pdf_sha256="0" * 64,
        )
        Acceptance.objects.create(
            version=version,
            client=client,
            user_id=1,
            user_name="Cora Client",
            user_email="cora@example.com",
            pdf_sha256=version.pdf_sha256,
        )
        Contract.objects.filter(pk=contract.pk).update(in_force=version)
    finally:
        connection.set_tenant(tenant)
    return contract


def tariff(code: str, name: str, *, fee="0.00", minute="0.0000", call="0.0000", rounding="1/1", cur="EUR"):
    return {
        "service": name,
        "service_code": code,
        "currency": cur,
        "monthly_fee": fee,
        "per_minute": minute,
        "per_call": call,
        "rounding": rounding,
        "rounding_label": rounding,
    }


def accept_revision(contract, *, tariffs: list[dict[str, str]], accepted_at: dt.datetime, **terms: object):
    """A later version of ``contract`` accepted at ``accepted_at``: it becomes the one in force."""
    from django.db import connection

    from tenants.models import Acceptance, Contract, ContractVersion

    tenant = connection.tenant
    connection.set_schema_to_public()
    try:
        previous = ContractVersion.objects.get(pk=Contract.objects.get(pk=contract.pk).in_force_id)
        version = ContractVersion.objects.create(
            contract=contract,
            number=previous.number + 1,
            state=ContractVersion.State.ACCEPTED,
            terms={**previous.terms, **terms},
            tariffs=tariffs,
            created_by_name="AM",
            sent_at=accepted_at - dt.timedelta(days=1),
            pdf_sha256="1" * 64,
        )
        acceptance = Acceptance.objects.create(
            version=version,
            client=contract.client,
            user_id=1,
            user_name="Cora Client",
            user_email="cora@example.com",
            pdf_sha256=version.pdf_sha256,
        )
        Acceptance.objects.filter(pk=acceptance.pk).update(accepted_at=accepted_at)  # auto_now_add
        ContractVersion.objects.filter(pk=previous.pk).update(state=ContractVersion.State.SUPERSEDED)
        Contract.objects.filter(pk=contract.pk).update(in_force=version)
    finally:
        connection.set_tenant(tenant)
    return version
