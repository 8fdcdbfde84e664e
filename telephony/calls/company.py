"""What a client company's calls are answered with: its telephony settings, its default queue and
its active inbound script. Read for every call and changed rarely, so each process keeps them.

A change is seen by every process at its next call: each save (or delete) of a settings, queue,
script or script version row bumps the company's setup version in Redis as it commits
(``setup_changed``), and a process's copy of another version is read again. The copy is kept
``SETUP_SECONDS`` at most besides (a write that sends no signal, a bump lost while Redis was
away); with Redis away the setup is read for every call. Before 2026-12-06 each copy was kept 5 s:
with calls spread over 100 companies, nearly every call read its company's setup afresh (three
statements, a third of the voice process's time; issue 23).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable
from dataclasses import dataclass

from django.db import connection
from django.db.models import Model
from django.db.models.signals import post_delete
from django.utils import timezone

from config import change_versions
from config.process_cache import ProcessCache
from scripts_engine.models import Script, ScriptVersion
from telephony.calls.hours import in_force
from telephony.calls.models import TelephonySettings
from telephony.models import CompanyDaySettings, Queue
from tenants.models import Client

SETUP_SECONDS = 300.0


@dataclass(frozen=True)
class CallSetup:
    """One company's, as read at one time; shared by every thread of the process: read only."""

    settings: TelephonySettings
    queue: Queue | None  # the default queue
    script_version: ScriptVersion | None  # the active version of its first inbound script


def _read(schema: str) -> CallSetup:
    """``schema``'s setup (read in that schema: the one the connection is in)."""
    if schema != connection.schema_name:
        raise ValueError(f"The setup of {schema} is read in its own schema, not {connection.schema_name}.")
    version = (
        ScriptVersion.objects.select_related("script")
        .filter(state=ScriptVersion.State.ACTIVE, script__purpose=Script.Purpose.INBOUND)
        .order_by("script_id")
        .first()
    )
    return CallSetup(
        settings=TelephonySettings.current(),
        queue=Queue.objects.filter(tenant=connection.tenant, is_default=True).first(),
        script_version=version,
    )


SETUP_VERSIONS = change_versions.PerSchema("call-setup-version")


def setup_version(schema: str) -> Hashable:
    """The version of ``schema``'s setup (None before its first change), ``UNKNOWN`` with Redis away."""
    return SETUP_VERSIONS.current(schema)


def setup_changed(schema: str) -> None:
    """Bump ``schema``'s setup version: every process reads its setup again at its next call."""
    SETUP_VERSIONS.bump(schema)


SETUP_MODELS = (TelephonySettings, Queue, Script, ScriptVersion)

_setups: ProcessCache[str, CallSetup] = ProcessCache(
    ttl=SETUP_SECONDS, load_one=_read, version=setup_version
).invalidate_on_save(*SETUP_MODELS)


def _company_schema(instance: Model) -> str | None:
    """The schema of the company a saved row belongs to: a queue's company (public; None when the
    company is gone), else the schema the row was written in."""
    if isinstance(instance, Queue):
        return Client.objects.filter(pk=instance.tenant_id).values_list("schema_name", flat=True).first()
    return connection.schema_name


def note_setup_change(sender: type, instance: Model, **kwargs: object) -> None:
    """``post_save``/``post_delete`` receiver of ``SETUP_MODELS`` (connected in
    ``TelephonyConfig.ready``): the company's setup version is bumped once the change commits."""
    if kwargs.get("raw"):
        return
    schema = _company_schema(instance)
    if schema is not None:
        SETUP_VERSIONS.bump_on_commit(schema)


def call_setup() -> CallSetup:
    """The setup of the company whose schema the connection is in."""
    setup = _setups.get(connection.schema_name)
    assert setup is not None  # every schema has one
    return setup


def mirror_company_day(sender: type, instance: TelephonySettings, **kwargs: object) -> None:
    """Keep the company's ``CompanyDaySettings`` (public) equal to its saved settings, in the same
    transaction (``post_save``/``post_delete`` receiver, connected in ``TelephonyConfig.ready``)."""
    if kwargs.get("raw"):
        return
    tenant = connection.tenant
    if not isinstance(tenant, Client):  # a schema entered by name (schema_context): look it up
        tenant = Client.objects.filter(schema_name=connection.schema_name).first()
    if tenant is None or tenant.is_platform:
        return  # the base schema (migrations) is no company
    if kwargs.get("signal") is post_delete:
        CompanyDaySettings.objects.filter(tenant=tenant).delete()
        return
    CompanyDaySettings.objects.update_or_create(
        tenant=tenant,
        defaults={"timezone": instance.timezone, "short_abandon_seconds": instance.short_abandon_seconds},
    )


def settings_now(now: dt.datetime | None = None) -> TelephonySettings:
    """The company's telephony settings in force at ``now`` (a change scheduled from a date
    included), from the process's copy of its setup: what a call being connected is given."""
    return in_force(call_setup().settings, now or timezone.now())
