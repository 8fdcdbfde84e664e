"""The outbound dialer: free operators meet due outbound work (campaign contacts, callbacks).

Cross-tenant by design, like the router: operators are shared, the work sits in each client
company's schema. ``unscoped_dial_pass`` reserves at most ONE task per free operator, each in one
transaction that locks the operator (``SKIP LOCKED``, re-checked ``available``), checks that no
inbound call the operator could take is waiting (inbound first, blended operators), claims the
work in the tenant's schema (``due_contacts``/callbacks with ``SKIP LOCKED``, then marked taken)
and writes the router's rows: a ``WaitingCall`` (never ``waiting``: the router never offers it)
and an accepted ``Reservation`` (one live per operator, enforced by the database), with the
operator ``on_call``. The router's row is ``bridged`` to that operator from the start, so it
neither fills the queue (``routing.door``) nor counts ahead of inbound callers (``expected_wait``).
Progressive work is dialed at once; preview work waits for the operator's Dial on the console.
The call record is a ``telephony.calls.Call`` (direction outbound) whose script session runs the
campaign's script.

Until Twilio gives the call its CallSid (``Call.placed_at``), the call record and the router's row
carry a unique placeholder in its stead; the webhooks find the call by its id in the (signed) URL.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django_tenants.utils import tenant_context
from requests.exceptions import RequestException
from twilio.base.exceptions import TwilioRestException

from outbound import progress, rules, work
from outbound.caller_ids import caller_id_refusal
from outbound.calls import PLACEHOLDER, is_pending, set_sid, task_of
from outbound.models import Attempt, Campaign, CampaignContact
from outbound.progress import finish_unanswered, give_back
from outbound.windows import Window, in_window
from scripts_engine.models import Script, ScriptSession
from scripts_engine.sessions import SessionError, session_start
from telephony import gateway, twiml
from telephony.calls.models import Call, Callback, Contact
from telephony.calls.records import add_event, contact_for
from telephony.events import DialRefusal
from telephony.models import OperatorProfile, Queue, Reservation, Skill, WaitingCall, certified_skills
from telephony.operators import transition
from telephony.pushes import push_on_commit
from telephony.routing_models import LIVE_RESERVATION, OperatorState
from tenants.models import Client

log = logging.getLogger(__name__)

RESERVATION_SPAN = dt.timedelta(hours=4)
RING_SECONDS = 25
PREVIEW_TIMEOUT = dt.timedelta(minutes=5)
SKIP_DELAY = dt.timedelta(minutes=30)


class DialError(ValueError):
    """The dialer cannot do this now; the message is for the operator."""


@dataclass(frozen=True)
class Reserved:
    """One operator reserved for one outbound task."""

    tenant_id: int
    call_id: int  # the tenant's Call
    reservation_id: int
    operator_id: int  # OperatorProfile
    user_id: int
    mode: str  # preview | progressive


# --- the pass -------------------------------------------------------------------------------------


def unscoped_dial_pass(
    *, operator_ids: list[int] | None = None, now: dt.datetime | None = None
) -> list[Reserved]:
    """Reserve free operators for due outbound work across tenants, then dial the progressive ones.

    ``operator_ids`` narrows the operators (one who just became free). O(work), not O(companies):
    the companies come from the dialer's index (``outbound.work``: queues with work due), and only
    those where a free operator has a skill are looked into. Safe under any number of concurrent
    passes: each operator and each piece of work is taken under a SKIP LOCKED lock and marked taken
    in the same transaction.
    """
    started = timezone.now()
    now = now or started
    due, defaults = work.due_queues(now=now)
    if not due:
        return []
    free = Skill.objects.filter(
        certified_skills(now), queue_id__in=due, operator__state=OperatorState.AVAILABLE
    )  # only skills the operator is certified for (R14)
    if operator_ids is not None:
        free = free.filter(operator_id__in=operator_ids)
    skills: dict[int, set[int]] = {}
    idle: dict[int, dt.datetime] = {}
    for operator_id, queue_id, idle_since in free.values_list(
        "operator_id", "queue_id", "operator__idle_since"
    ):
        skills.setdefault(operator_id, set()).add(queue_id)
        idle[operator_id] = idle_since
    if not skills:
        return []
    ordered = sorted(skills, key=lambda pk: (idle[pk], pk))
    wanted = {q for qs in skills.values() for q in qs}
    tenants = {
        c.pk: c
        for c in Client.objects.filter(
            pk__in={due[q] for q in wanted}, status=Client.Status.ACTIVE
        ).companies()
    }
    work_now: dict[int, set[int]] = {}
    default_of: dict[int, int | None] = {}
    idle_queues: dict[int, dt.datetime | None] = {}
    for tenant_id, tenant in tenants.items():
        mine = {q for q in wanted if due[q] == tenant_id}
        default_of[tenant_id] = default = next((q for q in mine if q in defaults), None)
        work_now[tenant_id], later = _work_queues(tenant, mine, default, now)
        idle_queues.update(later)
    if idle_queues:
        work.settle_idle(queue_next=idle_queues, pass_started=started)
    made: list[Reserved] = []
    for operator_id in ordered:
        mine = skills[operator_id]
        for tenant_id in sorted({due[q] for q in mine}):
            queues = work_now.get(tenant_id, set()) & mine
            if not queues:
                continue
            reserved = reserve(
                operator_id=operator_id, tenant=tenants[tenant_id], queues=queues,
                default_queue=default_of[tenant_id], now=now,
            )  # fmt: skip
            if reserved is not None:
                made.append(reserved)
                break
    for reserved in made:
        if reserved.mode == Campaign.Mode.PROGRESSIVE:
            try:
                place_call(tenant=tenants[reserved.tenant_id], call_id=reserved.call_id)
            except DialError as refused:  # given back already; the others still go out
                log.info("outbound call %s not placed: %s", reserved.call_id, refused)
    return made


def _work_queues(
    tenant: Client, queues: set[int], default: int | None, now: dt.datetime
) -> tuple[set[int], dict[int, dt.datetime | None]]:
    """Of these queues of the company (from the index; ``default``: the company's default queue if
    it is one of them), those with outbound work due now (a running campaign with a contact due, a
    callback due), and for the others when to look again (None: nothing left, off the index).
    Three queries in the company's schema, whatever the number of campaigns; nothing is locked."""
    with tenant_context(tenant):
        running = list(Campaign.objects.filter(state=Campaign.State.RUNNING, queue_id__in=queues))
        with_contacts = rules.campaigns_with_contacts_due(running, now)
        due = {c.queue_id for c in running if c.pk in with_contacts}
        scope = Q(queue_id__in=queues) | Q(queue_id=None) if default is not None else Q(queue_id__in=queues)
        upcoming: dict[int, dt.datetime] = {}
        for queue_id, due_at in Callback.objects.filter(scope, state=Callback.State.OPEN).values_list(
            "queue_id", "due_at"
        ):
            queue_id = queue_id or default
            if due_at <= now:
                due.add(queue_id)
            else:
                upcoming[queue_id] = min(upcoming.get(queue_id, due_at), due_at)
    later: dict[int, dt.datetime | None] = {}
    for queue_id in queues - due:
        first = upcoming.get(queue_id)
        if any(c.queue_id == queue_id for c in running):  # nothing due now: windows, retries later
            first = min(first, now + work.RECHECK) if first else now + work.RECHECK
        later[queue_id] = first
    return due, later


def inbound_waiting_for(operator_id: int) -> bool:
    """Whether an inbound call this operator could serve waits now (then no outbound for them)."""
    mine = Skill.objects.filter(certified_skills(timezone.now()), operator_id=operator_id).values("queue_id")
    return WaitingCall.objects.filter(
        Q(queue_id__in=mine) | Q(queue__overflow_queue_id__in=mine), state=WaitingCall.State.WAITING
    ).exists()


def reserve(
    *, operator_id: int, tenant: Client, queues: set[int], default_queue: int | None, now: dt.datetime
) -> Reserved | None:
    """Take one free operator and one piece of work of ``tenant`` in ``queues``, or nothing.
    ``default_queue``: the company's default queue when it is one of the pass's queues (the work
    of a callback booked without a queue), else None."""
    with transaction.atomic():
        profile = (
            OperatorProfile.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("user")
            .filter(pk=operator_id, state=OperatorState.AVAILABLE)
            .first()
        )
        if profile is None or inbound_waiting_for(profile.pk):
            return None
        if Reservation.objects.filter(LIVE_RESERVATION, operator=profile).exists():
            return None
        user = profile.user
        name = user.get_full_name() or user.username
        with tenant_context(tenant):
            claim = _claim_callback(queues, default_queue, now) or _claim_contact(queues, now, user.pk, name)
            if claim is None:
                return None
            call = _new_call(claim, user.pk, name, now)
        queue_id = claim["queue_id"]
        waiting = WaitingCall.objects.create(
            tenant=tenant, queue_id=queue_id, call_sid=call.call_sid, enqueued_at=now,
            direction=WaitingCall.Direction.OUTBOUND, state=WaitingCall.State.BRIDGED, answered_at=now,
            operator=profile, reservation_count=1,
        )  # fmt: skip
        reservation = Reservation.objects.create(
            call=waiting, operator=profile, offered_at=now, expires_at=now + RESERVATION_SPAN,
            state=Reservation.State.ACCEPTED, closed_at=now, reason="outbound",
        )  # fmt: skip
        transition([profile], OperatorState.ON_CALL, now=now, kind="outbound", reason=claim["mode"],
                   call_sids={profile.pk: call.call_sid}, tenant_ids={profile.pk: tenant.pk})  # fmt: skip
        push_on_commit(
            user_id=user.pk,
            message={"type": "outbound", "reservation": reservation.pk, "mode": claim["mode"]},
        )
    return Reserved(tenant_id=tenant.pk, call_id=call.pk, reservation_id=reservation.pk,
                    operator_id=profile.pk, user_id=user.pk, mode=claim["mode"])  # fmt: skip


def _claim_callback(queues: set[int], default: int | None, now: dt.datetime) -> dict[str, Any] | None:
    """The most urgent callback due in these queues (``default``: the company's default queue, or
    None when it is not one of them), marked ``dialing`` (callbacks are previewed). The callback
    rule (do-not-call lists, calling hours) is read once for the callbacks looked at."""
    scope = Q(queue_id__in=queues)
    if default in queues:
        scope |= Q(queue_id=None)
    callbacks = list(
        Callback.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("call")
        .filter(scope, state=Callback.State.OPEN, due_at__lte=now)
        .order_by("-priority", "due_at", "pk")[:5]
    )
    rule = rules.callback_rule(callback.phone for callback in callbacks) if callbacks else None
    for callback in callbacks:
        refusal = progress.callback_refusal(callback, now=now, rule=rule)
        if refusal is not None:
            progress.callback_not_now(callback_id=callback.pk, refusal=refusal, now=now)
            continue
        Callback.objects.filter(pk=callback.pk).update(
            state=Callback.State.DIALING, attempts=F("attempts") + 1
        )
        return {
            "task": "callback", "callback": callback.pk, "mode": Campaign.Mode.PREVIEW,
            "queue_id": callback.queue_id or default, "phone": callback.phone,
            "caller_id": callback.call.to_number, "contact_id": callback.call.contact_id,
        }  # fmt: skip
    return None


def _claim_contact(queues: set[int], now: dt.datetime, user_id: int, name: str) -> dict[str, Any] | None:
    """The next due contact of a running campaign in these queues, with its attempt opened."""
    for campaign in Campaign.objects.filter(state=Campaign.State.RUNNING, queue_id__in=queues).order_by("pk"):
        for entry in rules.due_contacts(campaign=campaign, now=now, limit=3):
            try:
                attempt = rules.start_attempt(
                    campaign_contact=entry, now=now, operator_id=user_id, operator_name=name
                )
            except rules.NotDialable:
                continue
            return {
                "task": "campaign", "campaign": campaign.pk, "attempt": attempt.pk, "entry": entry.pk,
                "mode": campaign.mode, "queue_id": campaign.queue_id, "phone": entry.phone,
                "caller_id": campaign.caller_id, "contact_id": entry.contact_id,
            }  # fmt: skip
    return None


def _script_for(claim: dict[str, Any]) -> Script | None:
    if claim["task"] == "campaign":
        return Campaign.objects.select_related("script").get(pk=claim["campaign"]).script
    return (
        Script.objects.filter(purpose=Script.Purpose.INBOUND, versions__state="active").order_by("pk").first()
    )


def _new_call(claim: dict[str, Any], user_id: int, name: str, now: dt.datetime) -> Call:
    """The call record of the task (not dialed yet), with the script session started."""
    contact = Contact.objects.filter(pk=claim["contact_id"]).first() or contact_for(claim["phone"])
    fields = contact.as_fields() if contact else {"phone": claim["phone"]}
    if claim["task"] == "campaign":
        entry = CampaignContact.objects.get(pk=claim["entry"])
        fields = {
            **{k: str(v) for k, v in (entry.fields or {}).items()},
            **{k: v for k, v in fields.items() if v},
        }
    session = None
    script = _script_for(claim)
    menu_answers = {}
    if claim["task"] == "callback":  # opens on the operator's part, with the caller's menu choices
        earlier = Callback.objects.filter(pk=claim["callback"]).values_list(
            "call__script_session__answers", flat=True
        )
        menu_answers = dict(earlier.first() or {})
    if script is not None:
        try:
            session = session_start(
                script=script, kind=ScriptSession.Kind.CALL, contact=fields,
                operator_part=claim["task"] == "callback", menu_answers=menu_answers,
            )  # fmt: skip
        except SessionError:
            session = None
    queue = Queue.objects.filter(pk=claim["queue_id"]).values_list("name", flat=True).first() or ""
    call = Call.objects.create(
        call_sid=f"{PLACEHOLDER}{uuid.uuid4().hex}", direction=Call.Direction.OUTBOUND,
        from_number=claim["caller_id"], to_number=claim["phone"], contact=contact,
        status=Call.Status.QUEUED, started_at=now, queue_id=claim["queue_id"], queue_name=queue,
        script_session=session, operator_id=user_id, operator_name=name[:150],
        try_of_id=claim["callback"] if claim["task"] == "callback" else None,
    )  # fmt: skip
    add_event(call, "outbound_task", dedupe="outbound_task", at=now, **{k: v for k, v in claim.items()})
    if claim["task"] == "campaign":
        rules.attach_call(attempt=Attempt.objects.get(pk=claim["attempt"]), call=call)
    return call


# --- placing the call -----------------------------------------------------------------------------


def dial_refusal(task: dict[str, Any], phone: str, now: dt.datetime) -> str | None:
    """Checked again at the moment of dialing: campaign still running, window, both DNC lists (a
    callback has its own rule: ``callback_held``)."""
    if task.get("task") == "callback":
        return None
    if rules.blocked_numbers([phone]):
        return "This number is on a do-not-call list."
    if task["task"] != "campaign":
        return None
    campaign = Campaign.objects.get(pk=task["campaign"])
    if not campaign.dials:
        return f"The campaign is {campaign.get_state_display().lower()}."
    entry = CampaignContact.objects.get(pk=task["entry"])
    if not in_window(Window.of(campaign), entry.timezone, now):
        return "It is outside the contact's calling hours."
    if entry.state != CampaignContact.State.IN_PROGRESS:
        return f"This contact is {entry.get_state_display().lower()}."
    return None


def callback_held(task: dict[str, Any], now: dt.datetime) -> DialRefusal | None:
    """Why the callback of this task may not be dialled now (``progress.callback_refusal``)."""
    callback = Callback.objects.filter(pk=task["callback"]).first()
    return progress.callback_refusal(callback, now=now) if callback else None


def _amd(task: dict[str, Any]) -> dict[str, Any]:
    """Twilio's answering-machine detection parameters for the campaign (synchronous AMD)."""
    if task["task"] != "campaign":
        return {}
    campaign = Campaign.objects.get(pk=task["campaign"])
    if not campaign.amd_enabled:
        return {}
    leaves_message = campaign.machine_action != Campaign.MachineAction.HANG_UP
    # DetectMessageEnd waits for the beep, so the message is recorded whole; Enable answers sooner.
    return {
        "machine_detection": "DetectMessageEnd" if leaves_message else "Enable",
        "machine_detection_timeout": 30,
    }


def place_call(*, tenant: Client, call_id: int, now: dt.datetime | None = None) -> bool:
    """Dial the task's number through Twilio (once: a second call finds it placed and does nothing).

    Refused at dial time (DNC added meanwhile, window closed, campaign paused), the task goes back
    and the operator is freed; the ``DialError`` message says why.
    """
    now = now or timezone.now()
    with tenant_context(tenant):
        with transaction.atomic():
            call = Call.objects.select_for_update().filter(pk=call_id).first()
            if call is None or not is_pending(call) or call.status != Call.Status.QUEUED:
                return False
            task = task_of(call) or {}
            # A callback its rule stops is given up or moved to the next opening, not just handed back.
            held = callback_held(task, now) if task.get("task") == "callback" else None
            refusal = held.reason if held else dial_refusal(task, call.to_number, now)
            # The caller ID last: the contact skipped for its own reason keeps the campaign going.
            wrong_caller_id = refusal is None and (refusal := caller_id_refusal(task, call, now)) is not None
            if refusal is None:
                Call.objects.filter(pk=call.pk).update(status=Call.Status.RINGING)
                add_event(call, "dialing", dedupe="dialing", at=now, to=call.to_number)
            amd = _amd(task)
        if refusal is not None:
            with transaction.atomic():  # the call handed back and the callback's next step, together
                give_back(call=call, reason=refusal, now=now, delay=SKIP_DELAY if wrong_caller_id else None)
                if held is not None:
                    progress.callback_not_now(callback_id=task["callback"], refusal=held, now=now)
            raise DialError(refusal)
        params = {
            "to": call.to_number,
            "from_": call.from_number,
            "url": gateway.absolute(twiml.url("outbound-answer", c=call.pk)),
            "status_callback": gateway.absolute(twiml.url("outbound-status", c=call.pk)),
            "status_callback_event": ["ringing", "answered", "completed"],
            "status_callback_method": "POST",
            "timeout": RING_SECONDS,
            **amd,
        }
        pending = call.call_sid
        asked = timezone.now()
        try:
            created = gateway.client().calls.create(**params)
        except (TwilioRestException, OSError, RequestException) as exc:
            found = _placed_anyway(call, exc, since=asked)
            if found:  # Twilio placed it, its answer lost: the call goes on (never dialled twice)
                set_sid(pending=pending, call_sid=found)
                add_event(call, "dial_found", dedupe="dial_found", call_sid=found, reason=type(exc).__name__)
                return True
            # Refused (a bad number, no credit) or Twilio unreachable: the attempt failed, per its rule.
            log.warning("outbound call %s not placed: %s", call.pk, exc)
            reason = (
                f"Twilio refused: {exc.code}"
                if isinstance(exc, TwilioRestException)
                else "Twilio unreachable"
            )
            finish_unanswered(call=call, status="failed", now=now, reason=reason)
            return False
        set_sid(pending=pending, call_sid=created.sid)
    return True


def _placed_anyway(call: Call, exc: Exception, *, since: dt.datetime) -> str:
    """The CallSid of the call Twilio placed though its answer to ``calls.create`` never came (a
    read timeout, a dropped connection), else ''. Asked once, at once: the create waited for its
    answer the gateway's whole timeout, so a call Twilio made is in its list by now."""
    if not gateway.may_have_reached_twilio(exc):
        return ""  # Twilio answered (refused), or the request never went out
    try:
        return gateway.created_call(to=call.to_number, from_=call.from_number, since=since)
    except gateway.TwilioUnavailable as lookup:
        log.warning("outbound call %s: whether Twilio placed it is unknown: %s", call.pk, lookup)
        return ""


def release_stale_previews(*, now: dt.datetime | None = None) -> int:
    """Previews not dialed within ``PREVIEW_TIMEOUT`` go back (the operator did not act); a call
    that never got its CallSid fails (then its retry rule applies)."""
    now = now or timezone.now()
    stale = WaitingCall.objects.filter(
        direction=WaitingCall.Direction.OUTBOUND,
        state=WaitingCall.State.BRIDGED,
        enqueued_at__lt=now - PREVIEW_TIMEOUT,
    ).select_related("tenant")
    released = 0
    for waiting in stale:
        with tenant_context(waiting.tenant):
            call = Call.objects.filter(call_sid=waiting.call_sid).first()
            if call is None or not is_pending(call):
                continue
            if call.status == Call.Status.QUEUED:
                give_back(call=call, reason="preview not dialed in time", now=now, delay=SKIP_DELAY)
            else:  # dialing began but Twilio never gave it a CallSid (a crash in between)
                finish_unanswered(call=call, status="failed", now=now, reason="never placed")
            released += 1
    return released
