"""Reconciliation with Twilio, the source of truth (issue 22): what a lost callback left behind.

Twilio's status callbacks are at-least-once only while our web process answers; one lost (the web
process killed, a deploy, a network cut) left a record ``ringing`` for ever, its operator
``on_call`` and its place in the queue offered to operators. Here:

- ``stale_calls``: calls of this company not ended whose state has not moved for longer than it
  should (``RECONCILE_WAITING_SECONDS``, 2 minutes: ringing, IVR, queued;
  ``RECONCILE_ANSWERED_SECONDS``, 10 minutes: bridged, on a call), outbound calls included once
  placed (a preview not dialled yet is the dialer's: ``release_stale_previews``);
- ``reconcile_call``: asks Twilio's REST API for the call's real status; a finished call is
  finished as the lost callback would have done it (``records.record_status``: outcome, times from
  Twilio's end time, the queue place freed, the operator to wrap-up through ``routing.leave`` and
  ``operators.transition``); an outbound call is announced (``events.outbound_call_reconciled``)
  and finished by outbound as its status callback would have been (the campaign attempt's or the
  callback's result too); a try to call back a caller who kept their place is finished by
  ``callback_dial`` (the callback rules). A call Twilio does not know (404) is finished as canceled. Each call
  is asked at most once per ``RECONCILE_RECHECK_SECONDS`` (5 minutes);
- ``keep_early_status``/``take_early_status``: a final status callback that arrives before the
  call's first webhook (Twilio does not order them) is kept for ``EARLY_STATUS_SECONDS`` and applied
  when the call appears, so an ended call is never queued;
- ``unstored_recordings``: recordings Twilio reported whose audio never reached the company's storage
  (the fetch task not sent, or given up after its retries): fetched again once the task's own
  retries are over (``UNSTORED_AFTER``), each at most once an hour, for ``RECORDINGS_WINDOW``;
- ``import_recordings``: lists Twilio's recordings of the last ``RECORDINGS_WINDOW`` and imports any
  the platform does not know into the company owning the dialled number (a voicemail taken by the
  static fallback while the platform was down: ``fallback_file``), with the call created when the
  platform never saw it.

Everything runs inside one company's schema except ``import_recordings``, the one cross-company
reader (by dialled number, as the incoming-call webhook does).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import logging
from email.utils import parsedate_to_datetime

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.db.models.functions import Greatest
from django.utils import timezone
from django_tenants.utils import tenant_context
from twilio.base.exceptions import TwilioException, TwilioRestException

from config import redis_clients
from config.queries import one
from telephony import callback_dial, events, gateway, routing
from telephony.calls.callback_tries import is_try
from telephony.calls.models import Call
from telephony.calls.records import TERMINAL, TwilioCallParams, add_event, record_status, set_outcome
from telephony.models import PhoneNumber
from tenants import work
from tenants.models import Client

log = logging.getLogger(__name__)

TWILIO_API = gateway.TWILIO_API
EARLY_STATUS_SECONDS = 3600
RECORDINGS_WINDOW = dt.timedelta(hours=6)
# The fetch task's own retries (8, from 15 s to 30 min apart) end within about 62 minutes: a
# recording is fetched again only once they are over, never by two runs at once.
UNSTORED_AFTER = dt.timedelta(minutes=70)
UNSTORED_LOOKED_AT = 1000  # candidates a pass looks at (those asked within the hour are skipped)
LONGEST_CALL = dt.timedelta(days=1)
CALLS_PER_PASS = 200
CACHE_DOWN = redis_clients.UNREACHABLE  # Django's Redis cache lets them through


# Early final statuses ---------------------------------------------------------------------------


def _early_statuses() -> redis.Redis:
    """The process's client of the cache's Redis for the early statuses, which every new call asks
    for (Django's cache builds a client for each call of it)."""
    return redis_clients.shared(settings.CACHES["default"]["LOCATION"])


def _early_key(call_sid: str) -> str:
    return f"reconcile:early-status:{connection.schema_name}:{call_sid}"  # the company's own


def keep_early_status(*, params: TwilioCallParams) -> bool:
    """A final status for a call not recorded yet (run in the company's schema): kept a while."""
    if params.status not in TERMINAL or not params.call_sid:
        return False
    try:
        _early_statuses().set(
            _early_key(params.call_sid), json.dumps(dataclasses.asdict(params)), ex=EARLY_STATUS_SECONDS
        )
    except CACHE_DOWN:  # Redis down: the reconciliation will ask Twilio about the call instead
        log.warning("call %s: early final status not kept (cache unreachable)", params.call_sid)
        return False
    log.info("call %s: final status %s kept until the call appears", params.call_sid, params.status)
    return True


def take_early_status(*, call_sid: str) -> TwilioCallParams | None:
    """The final status kept for this call, if any (taken, in one step: applied once)."""
    try:
        kept = _early_statuses().getdel(_early_key(call_sid))
    except CACHE_DOWN:  # Redis down: a call never waits for it (the reconciliation covers it)
        log.warning("call %s: early final statuses not read (cache unreachable)", call_sid)
        return None
    return TwilioCallParams(**json.loads(kept)) if kept is not None else None


def apply_early_status(*, call: Call, now: dt.datetime | None = None) -> bool:
    """The call just appeared: a final status that came first ends it now. True when it ended."""
    early = take_early_status(call_sid=call.call_sid)
    if early is None:
        return False
    record_status(params=early, now=now)
    add_event(call, "early_status_applied", dedupe="early_status", status=early.status)
    return True


# Stale calls -------------------------------------------------------------------------------------


def stale_calls(*, now: dt.datetime) -> list[Call]:
    """Calls not ended whose state has not moved for longer than it should (this company)."""
    waiting = now - dt.timedelta(seconds=settings.RECONCILE_WAITING_SECONDS)
    late = now - dt.timedelta(seconds=settings.RECONCILE_ANSWERED_SECONDS)
    moved = Greatest("started_at", "placed_at", "ivr_started_at", "queued_at", "offered_at", "answered_at")
    return list(
        Call.objects.filter(ended_at__isnull=True)
        .exclude(direction=Call.Direction.OUTBOUND, placed_at__isnull=True)  # not dialled: no CallSid
        .annotate(moved=moved)
        .filter(
            Q(answered_at__isnull=True, moved__lte=waiting) | Q(answered_at__isnull=False, moved__lte=late)
        )
        .order_by("moved")[:CALLS_PER_PASS]
    )


@dataclasses.dataclass(frozen=True)
class TwilioCall:
    """What Twilio's REST API says of a call (GET /Calls/{Sid}.json)."""

    sid: str
    status: str
    from_number: str
    to_number: str
    direction: str
    start_time: dt.datetime | None
    end_time: dt.datetime | None
    duration: int | None


def _time(value: str | None) -> dt.datetime | None:
    """Twilio's RFC 2822 times ("Fri, 18 Oct 2019 17:02:00 +0000")."""
    if not value:
        return None
    return parsedate_to_datetime(value)


def fetch_call(call_sid: str) -> TwilioCall | None:
    """Twilio's record of a call through the ``twilio`` client; None when Twilio does not know it."""
    client = gateway.client()
    url = f"{TWILIO_API}/2010-04-01/Accounts/{client.account_sid}/Calls/{call_sid}.json"
    response = client.request("GET", url)
    if response.status_code == 404:
        return None
    if response.status_code >= 400:
        raise TwilioRestException(response.status_code, url, msg=response.text[:200], method="GET")
    data = json.loads(response.text)
    duration = str(data.get("duration") or "")
    return TwilioCall(
        sid=data.get("sid") or call_sid,
        status=data.get("status") or "",
        from_number=data.get("from") or "",
        to_number=data.get("to") or "",
        direction="outbound" if str(data.get("direction", "")).startswith("outbound") else "inbound",
        start_time=_time(data.get("start_time")),
        end_time=_time(data.get("end_time")),
        duration=int(duration) if duration.isdigit() else None,
    )


def reconcile_call(
    *, call: Call, now: dt.datetime, real: TwilioCall | None = None, asked: bool = False
) -> str:
    """Ask Twilio about one stale call and finish it if Twilio says it is over; what was done.

    ``asked``: the caller asked Twilio already (``real``, None when Twilio does not know the call)."""
    if not asked:
        try:
            if not cache.add(f"reconcile:asked:{call.call_sid}", 1, settings.RECONCILE_RECHECK_SECONDS):
                return "asked recently"
        except CACHE_DOWN:
            return "cache unreachable"
        try:
            real = fetch_call(call.call_sid)
        except (TwilioException, OSError) as error:
            log.warning("call %s: Twilio could not be asked (%s); next pass", call.call_sid, error)
            with contextlib.suppress(*CACHE_DOWN):
                cache.delete(f"reconcile:asked:{call.call_sid}")
            return "twilio unreachable"
    status = Call.Status.CANCELED if real is None else real.status
    if status not in TERMINAL:
        return f"live ({status})"
    ended = now
    if real is not None and real.end_time is not None and call.started_at <= real.end_time <= now:
        ended = real.end_time  # the time the lost callback would have carried
    params = TwilioCallParams(
        call_sid=call.call_sid,
        from_number=call.from_number,
        to_number=call.to_number,
        status=status,
        direction=call.direction,
        duration=real.duration if real is not None else None,
    )
    with transaction.atomic():
        if is_try(call):  # a try to call back a caller who kept their place: its own status callback
            callback_dial.status(call=call, params=params, now=ended)
        elif call.direction == Call.Direction.OUTBOUND:  # outbound's status callback, played by outbound
            events.announce_on_commit(
                events.outbound_call_reconciled, call_id=call.pk, params=params, ended_at=ended
            )
        else:
            record_status(params=params, now=ended)
        add_event(call, "reconciled", dedupe="reconciled", at=now, status=status, source="twilio")
    log.warning("call %s reconciled with Twilio: %s (its final callback was lost)", call.call_sid, status)
    return f"finished ({status})"


# Which companies the pass visits (``tenants.work``) -------------------------------------------------


def note_new_call(sender: type, instance: Call, created: bool = False, raw: bool = False, **kwargs) -> None:
    """``post_save`` of a call record: a new call not ended gives its company work for the pass, due
    when it would be stale (an incoming call's statement marks it itself: ``calls.sql.START_INBOUND``)."""
    if created and not raw and instance.ended_at is None and connection.schema_name != "public":
        waiting = dt.timedelta(seconds=settings.RECONCILE_WAITING_SECONDS)
        work.mark(work.Kind.CALLS, due_at=(instance.started_at or timezone.now()) + waiting)


def note_recording(*, now: dt.datetime | None = None) -> None:
    """A recording of one of this company's calls was reported: the pass looks at the company until
    its audio is stored (and fetches it again if it never is: ``unstored_recordings``)."""
    work.mark(work.Kind.CALLS, due_at=now or timezone.now())


def work_left(*, now: dt.datetime | None = None) -> bool:
    """Whether this company still needs the pass: a call not ended, or a recording of the window
    whose audio is not stored."""
    now = now or timezone.now()
    return Call.objects.filter(ended_at__isnull=True).exists() or _recordings_not_stored(now).exists()


def reconcile_company(*, now: dt.datetime | None = None) -> dict[str, int]:
    """One pass over this company's stale calls (run inside its schema): counts of what was done."""
    now = now or timezone.now()
    done: dict[str, int] = {}
    for call in stale_calls(now=now):
        result = reconcile_call(call=call, now=now).split(" (")[0]
        done[result] = done.get(result, 0) + 1
    return done


def expire_offers(*, now: dt.datetime | None = None) -> int:
    """Offers past their deadline, whatever worker is down (public schema)."""
    return routing.expire_reservations(now=now or timezone.now())


# Recordings --------------------------------------------------------------------------------------


def _recording_url(uri: str) -> str:
    """The recording's media URL as Twilio's callbacks give it (no extension)."""
    return TWILIO_API + uri.removesuffix(".json")


def _recordings_not_stored(now: dt.datetime) -> QuerySet[Call]:
    """This company's calls of the last ``RECORDINGS_WINDOW`` whose recording Twilio reported (its
    sid and URL kept) but whose audio is not stored."""
    return (
        Call.objects.filter(
            recording_key="",
            ended_at__gte=now - RECORDINGS_WINDOW,
            started_at__gte=now - RECORDINGS_WINDOW - LONGEST_CALL,  # the index
        )
        .exclude(recording_sid="")
        .exclude(recording_url="")
    )


def unstored_recordings(*, now: dt.datetime | None = None) -> list[int]:
    """This company's calls whose recording Twilio reported (its sid and URL kept) but whose audio is
    not stored, ended between ``RECORDINGS_WINDOW`` and ``UNSTORED_AFTER`` ago: the ids to fetch
    again (``store_recording`` is idempotent), each at most once an hour, at most
    ``CALLS_PER_PASS`` a pass."""
    now = now or timezone.now()
    calls = (
        _recordings_not_stored(now)
        .filter(ended_at__lte=now - UNSTORED_AFTER)
        .order_by("ended_at")
        .values_list("pk", flat=True)[:UNSTORED_LOOKED_AT]
    )
    due: list[int] = []
    try:
        for pk in calls:
            if len(due) == CALLS_PER_PASS:
                break
            if cache.add(f"reconcile:fetch:{connection.schema_name}:{pk}", 1, 3600):
                due.append(pk)
    except CACHE_DOWN:
        log.warning("the cache is unreachable: unstored recordings are fetched on the next pass")
    return due


def import_recordings(*, now: dt.datetime | None = None) -> list[tuple[str, int]]:
    """Twilio's recordings of the last window the platform does not know, imported into the
    company owning the dialled number: ``(schema, call id)`` of each, to fetch the audio of.

    The one cross-company reader here: by dialled number, like the incoming-call webhook."""
    now = now or timezone.now()
    imported: list[tuple[str, int]] = []
    try:
        recordings = gateway.client().recordings.list(date_created_after=now - RECORDINGS_WINDOW, limit=1000)
    except (TwilioException, OSError) as error:
        log.warning("Twilio's recordings could not be listed (%s); next pass", error)
        return imported
    for recording in recordings:
        seen = f"reconcile:recording:{recording.sid}"
        if recording.status not in (None, "completed") or cache.get(seen):
            continue
        try:
            real = fetch_call(recording.call_sid) if recording.call_sid else None
        except (TwilioException, OSError):
            continue
        if real is None:
            continue
        ours = real.from_number if real.direction == "outbound" else real.to_number
        number = PhoneNumber.objects.select_related("tenant").filter(number=ours).first()
        if number is None or number.tenant is None:
            cache.set(seen, 1, int(RECORDINGS_WINDOW.total_seconds()) * 2)
            continue
        with tenant_context(number.tenant):
            call_id = import_recording(recording=recording, real=real, now=now)
        cache.set(seen, 1, int(RECORDINGS_WINDOW.total_seconds()) * 2)
        if call_id is not None:
            imported.append((number.tenant.schema_name, call_id))
    return imported


def import_recording(*, recording, real: TwilioCall, now: dt.datetime) -> int | None:
    """One Twilio recording in this company (its schema): the call's id when it was new to us."""
    seconds = str(recording.duration or "")
    with transaction.atomic():
        call = one(Call.objects.select_for_update().filter(call_sid=real.sid))
        if call is not None and call.recording_sid == recording.sid:
            return None
        if call is None:
            started = real.start_time or recording.date_created or now
            call = Call.objects.create(
                call_sid=real.sid,
                direction=real.direction,
                from_number=real.from_number,
                to_number=real.to_number,
                status=real.status if real.status in TERMINAL else Call.Status.COMPLETED,
                started_at=started,
                ended_at=real.end_time or started,
                duration_seconds=real.duration,
            )
            add_event(
                call, "imported_from_twilio", dedupe="imported", at=now, reason="never seen by the platform"
            )
        if call.recording_sid:  # the call has its recording already: this one is noted, not lost
            add_event(call, "recording_found", dedupe=f"recording:{recording.sid}", at=now, sid=recording.sid)
            return None
        Call.objects.filter(pk=call.pk).update(
            recording_sid=recording.sid,
            recording_url=_recording_url(recording.uri or ""),
            recording_seconds=int(seconds) if seconds.isdigit() else None,
        )
        add_event(call, "recording", dedupe=f"recording:{recording.sid}", at=now, status="imported")
        note_recording(now=now)
        if not call.outcome:
            set_outcome(call, Call.Outcome.VOICEMAIL, at=now, source="twilio recordings")
    log.warning("recording %s of call %s imported from Twilio", recording.sid, real.sid)
    return call.pk


def companies_due(*, now: dt.datetime | None = None) -> list[Client]:
    """The companies to reconcile (public schema): those whose calls or recordings may need it
    (``note_new_call``, ``note_recording``, ``work_left``), not every company with a number."""
    return work.due(work.Kind.CALLS, now=now)
