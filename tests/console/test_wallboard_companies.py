"""The wallboard across many companies (issue 23): its per-company settings are read from one
public table, so the read takes the same few locks with 2 companies or 2,000."""

from __future__ import annotations

import importlib
import types
import uuid

import pytest
from django.apps import apps
from django.db import connection, transaction
from django_tenants.utils import schema_context, tenant_context

from console import wallboard
from telephony.calls.models import TelephonySettings
from telephony.models import CompanyDaySettings
from tenants.clients import client_create
from tenants.models import Client


def _locks_held_by_the_read() -> int:
    wallboard.forget_company_settings()
    with transaction.atomic():
        days = wallboard.unscoped_company_days(
            set(Client.objects.companies().values_list("schema_name", flat=True))
        )
        assert days
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT COUNT(*) FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'relation'"
            )
            return cursor.fetchone()[0]


@pytest.fixture
def more_companies(committed):
    made = []

    def make(count: int) -> None:
        for _ in range(count):
            slug = f"wb-{uuid.uuid4().hex[:8]}"
            client = client_create(slug=slug, name=slug, status=Client.Status.ACTIVE)
            made.append(client)
            with tenant_context(client):
                TelephonySettings.current()

    yield make
    connection.set_schema_to_public()
    for client in made:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA "{client.schema_name}" CASCADE')
        client.domains.all().delete()
        CompanyDaySettings.objects.filter(tenant=client).delete()
        Client.objects.filter(pk=client.pk).delete()
    wallboard.forget_company_settings()


def test_the_wallboards_read_across_companies_takes_the_same_locks_however_many_there_are(more_companies):
    before = _locks_held_by_the_read()
    more_companies(8)

    after = _locks_held_by_the_read()

    assert after == before <= 12


def test_a_companys_saved_settings_are_what_the_wallboard_reads(db, tenants):
    with tenant_context(tenants.beta):
        settings = TelephonySettings.current()
        settings.timezone, settings.short_abandon_seconds = "Asia/Tokyo", 9
        settings.save()
    wallboard.forget_company_settings()

    day = wallboard.unscoped_company_days({tenants.beta.schema_name})[tenants.beta.schema_name]

    assert str(day.tz) == "Asia/Tokyo" and day.short_abandon_seconds == 9
    row = CompanyDaySettings.objects.get(tenant=tenants.beta)
    assert (row.timezone, row.short_abandon_seconds) == ("Asia/Tokyo", 9)
    with schema_context(tenants.alpha.schema_name):  # entered by name, not by tenant
        settings = TelephonySettings.current()
        settings.timezone = "Europe/Berlin"
        settings.save()
    assert CompanyDaySettings.objects.get(tenant=tenants.alpha).timezone == "Europe/Berlin"
    assert (
        CompanyDaySettings.objects.get(tenant=tenants.beta).timezone == "Asia/Tokyo"
    )  # alpha's stays alpha's


def test_the_migration_copies_each_existing_companys_settings(db, tenants):
    with tenant_context(tenants.alpha):
        settings = TelephonySettings.current()
        settings.timezone, settings.short_abandon_seconds = "America/Chicago", 7
        settings.save()
    CompanyDaySettings.objects.all().delete()
    migration = importlib.import_module("telephony.migrations.0011_company_day_settings")

    migration.copy_each_companys_settings(apps, types.SimpleNamespace(connection=connection))

    row = CompanyDaySettings.objects.get(tenant=tenants.alpha)
    assert (row.timezone, row.short_abandon_seconds) == ("America/Chicago", 7)
