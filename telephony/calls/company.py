"""What a client company's calls are answered with: its telephony settings, its default queue and
its active inbound script. Read for every call and changed rarely, so each process keeps them
for a few seconds (``SETUP_SECONDS``); a save in this process drops them at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection

from config.process_cache import ProcessCache
from scripts_engine.models import Script, ScriptVersion
from telephony.calls.models import TelephonySettings
from telephony.models import Queue

SETUP_SECONDS = 5.0


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


_setups: ProcessCache[str, CallSetup] = ProcessCache(ttl=SETUP_SECONDS, load_one=_read).invalidate_on_save(
    TelephonySettings, Queue, Script, ScriptVersion
)


def call_setup() -> CallSetup:
    """The setup of the company whose schema the connection is in."""
    setup = _setups.get(connection.schema_name)
    assert setup is not None  # every schema has one
    return setup
