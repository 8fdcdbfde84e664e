"""Who heard what (R21): every play or download of a recording is logged in the company's schema,
and recordings past the contract's retention are deleted (the call kept), the deletion logged.

Every view that streams a recording goes through ``serve_recording``: it logs, then streams. An
``<audio>`` element fetches the file in pieces (HTTP ranges) as it plays and seeks; only a request
from the start of the file (no ``Range``, or ``bytes=0-``) is a new listen, so one play is one row.
Players are drawn with ``preload="none"``: showing a page with a player is not a listen.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.http import FileResponse, HttpRequest
from django.utils import timezone

from config.queries import one
from telephony import gateway
from telephony.calls.models import Call, RecordingAccess
from telephony.calls.records import add_event
from telephony.recordings import recording_response
from tenants import contracts
from tenants.models import Contract

log = logging.getLogger(__name__)

FIRST_BYTES = ("", "bytes=0-")


@dataclass(frozen=True)
class Listener:
    """Who asks for a recording: a user (client staff or platform staff) or an API key."""

    username: str
    user_id: int | None = None
    platform_staff: bool = False
    name: str = ""

    @classmethod
    def of(cls, user, *, platform_staff: bool) -> Listener:
        name = user.get_full_name() or user.get_username()
        return cls(username=user.get_username(), user_id=user.pk, platform_staff=platform_staff, name=name)


def _ip(request: HttpRequest) -> str | None:
    """The peer address (a proxy in front must set REMOTE_ADDR; X-Forwarded-For is not trusted)."""
    return request.META.get("REMOTE_ADDR") or None


def wants_download(request: HttpRequest) -> bool:
    return request.GET.get("download") in ("1", "true", "yes")


def record_access(
    *, call: Call, action: str, surface: str, listener: Listener | None, request: HttpRequest | None = None,
    at: dt.datetime | None = None,
) -> RecordingAccess:  # fmt: skip
    """One row of the company's recording access log (in the schema the caller is in)."""
    if connection.schema_name == "public":
        raise RuntimeError("the recording access log is kept in a client company's schema")
    return RecordingAccess.objects.create(
        call=call, call_sid=call.call_sid, recording_sid=call.recording_sid, at=at or timezone.now(),
        action=action, surface=surface,
        platform_staff=bool(listener and listener.platform_staff),
        user_id=listener.user_id if listener else None, username=listener.username[:150] if listener else "",
        name=(listener.name or listener.username)[:150] if listener else "",
        ip=_ip(request) if request else None,
        user_agent=(request.META.get("HTTP_USER_AGENT", "") if request else "")[:200],
    )  # fmt: skip


def serve_recording(*, call: Call, request: HttpRequest, surface: str, listener: Listener) -> FileResponse:
    """Stream the call's recording to someone already allowed to hear it, logged first (a play, or a
    download with ``?download=1``); 404 when it is not stored, and then nothing is logged."""
    download = wants_download(request)
    response = recording_response(call)
    if download:
        response["Content-Disposition"] = response["Content-Disposition"].replace("inline", "attachment", 1)
    if request.headers.get("Range", "").replace(" ", "") in FIRST_BYTES:
        action = RecordingAccess.Action.DOWNLOAD if download else RecordingAccess.Action.PLAY
        record_access(call=call, action=action, surface=surface, listener=listener, request=request)
    return response


def retention_months(on: dt.date | None = None) -> int:
    """The contract's ``recording_retention_months`` of the current company (else the default)."""
    contract = (
        Contract.objects.filter(client_id=connection.tenant.pk, in_force__isnull=False)
        .select_related("in_force")
        .first()
    )
    terms = contract.in_force.terms if contract else {}
    return int(terms.get("recording_retention_months") or contracts.DEFAULT_RECORDING_RETENTION_MONTHS)


def retention_cutoff(*, months: int, now: dt.datetime) -> dt.datetime:
    """Recordings of calls started before this are past a retention of ``months`` (a month: 366/12 days)."""
    return now - dt.timedelta(days=months * 366 / 12)


def expired_calls(*, before: dt.datetime):
    """Calls started before ``before`` whose recording is still kept (here or at Twilio)."""
    return Call.objects.filter(started_at__lt=before).exclude(recording_key="", recording_url="")


def purge_recordings(*, now: dt.datetime | None = None, limit: int = 500) -> int:
    """Delete the audio of recordings past the contract's retention; the call and its events stay.

    Each deletion is a ``delete`` row in the access log and a ``recording_deleted`` call event, in
    the same transaction as clearing the call's recording fields; the file goes after the commit
    (a file left by a crash is found again: the key is logged). Twilio's copy is deleted first,
    with no transaction open (no row locked while Twilio answers; deleting twice is harmless: gone
    already is fine); when Twilio does not answer, that call waits for the next run, untouched.
    Safe to run twice.
    """
    now = now or timezone.now()
    months = retention_months()
    cutoff = retention_cutoff(months=months, now=now)
    done = 0
    for pk, recording_sid in expired_calls(before=cutoff).values_list("pk", "recording_sid")[:limit]:
        if recording_sid:
            try:
                gateway.delete_recording(recording_sid=recording_sid)
            except gateway.TwilioUnavailable as exc:
                log.warning("recording %s stays until the next run: %s", recording_sid, exc)
                continue
        with transaction.atomic():
            call = one(Call.objects.select_for_update().filter(pk=pk))
            if call is None or not (call.recording_key or call.recording_url):
                continue
            key = call.recording_key
            record_access(call=call, action=RecordingAccess.Action.DELETE,
                          surface=RecordingAccess.Surface.RETENTION, listener=None, at=now)  # fmt: skip
            add_event(call, "recording_deleted", at=now, recording_sid=call.recording_sid, key=key,
                      retention_months=months, reason="past the contract's recording retention")  # fmt: skip
            # The SID stays: the reconciliation must not import the recording again as a lost one.
            Call.objects.filter(pk=pk).update(recording_key="", recording_url="")
            if key:
                transaction.on_commit(lambda key=key: _delete_file(key))
        done += 1
    if done:
        log.info("deleted %d recordings older than %d months", done, months)
    return done


def _delete_file(key: str) -> None:
    prefix = f"recordings/{connection.schema_name}/"
    if key.startswith(prefix) and default_storage.exists(key):
        default_storage.delete(key)
