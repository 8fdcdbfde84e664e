"""Twilio's conferences, as the simulator plays them: the caller's ``<Dial><Conference>``, the
operator's leg (a call to their browser phone, ``calls.create`` with TwiML: the announcement said
to them, then their ``<Dial><Conference>``), the participants the platform adds by REST
(``Conferences/{name}/Participants``: specialists, supervisors), their legs ringing, answering or
not (no answer, busy, failed), hold and mute, and the callbacks Twilio posts about
them with its own field names (``ConferenceSid``, ``FriendlyName``, ``StatusCallbackEvent``,
``CallSid``, ``ParticipantLabel``, ``Hold``, ``Muted``, ``SequenceNumber``…), some of them twice or
late. Its REST answers fail as Twilio's do (429, 500, a dropped connection) at the profile's rates.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import TYPE_CHECKING

from aiohttp import web

from telephony.simulator.rest_faults import ANSWERS, TIMEOUT
from telephony.simulator.rest_status import STATUS_EVENT
from telephony.simulator.twiml_reader import parse

if TYPE_CHECKING:
    from telephony.simulator.twilio_side import Twilio, _Call

ACCOUNT = "AC" + "0" * 32
LEG_FAILURES = ("no-answer", "busy", "failed")
ALONE_SECONDS = 10.0  # an operator alone in a conference hangs up after this


@dataclass
class Leg:
    call_sid: str
    label: str
    status_callback: str
    created_at: float
    joined: bool = False
    left: asyncio.Event = field(default_factory=asyncio.Event)
    to: str = ""
    # The ``StatusCallbackEvent``s asked for; Twilio's default is the final one alone.
    events: frozenset[str] = frozenset({"completed"})
    announcement: str = ""  # what an operator's leg says to them before they join (R19)
    dialled: bool = False  # a call placed with TwiML (an operator's), not a REST participant
    end_on_exit: bool = True  # its leaving ends the conference (``EndConferenceOnExit``)
    status: str = "queued"  # as its REST resource says (a list of calls shows it)


# A conference status callback's family, the word ``statusCallbackEvent`` asks for it by.
EVENT_FAMILY = {
    "conference-start": "start", "conference-end": "end", "participant-join": "join",
    "participant-leave": "leave", "participant-hold": "hold", "participant-unhold": "hold",
    "participant-mute": "mute", "participant-unmute": "mute", "announcement-end": "announcement",
    "announcement-fail": "announcement", "participant-speech-start": "speaker",
    "participant-speech-stop": "speaker", "participant-modify": "modify",
}  # fmt: skip


@dataclass
class Room:
    """One conference, created by whoever comes first (the caller's TwiML or the REST request)."""

    name: str
    sid: str
    status_callback: str = ""
    # The <Conference statusCallbackEvent> families asked for (Twilio's default: start and end).
    events: frozenset[str] = frozenset({"start", "end"})
    recording_callback: str = ""  # the <Conference recordingStatusCallback>: the call is recorded
    caller_sid: str = ""
    sequence: int = 0
    over: bool = False
    caller_in: asyncio.Event = field(default_factory=asyncio.Event)
    operator_in: asyncio.Event = field(default_factory=asyncio.Event)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    legs: dict[str, Leg] = field(default_factory=dict)
    # What the operator heard before the caller was put through (R19), and each supervisor's modes.
    announcements: list[str] = field(default_factory=list)
    monitor_modes: dict[str, list[str]] = field(default_factory=dict)
    recording_status: str = "in-progress"
    paused_at: float | None = None
    paused_seconds: float = 0.0  # PauseBehavior=skip: left out of the recording's duration


class Conferences:
    """The conference part of the simulated Twilio (its REST routes and its callbacks)."""

    def __init__(self, twilio: Twilio) -> None:
        self.twilio = twilio
        self.rooms: dict[str, Room] = {}
        self.by_sid: dict[str, Room] = {}
        self.joined_at: dict[str, float] = {}  # the caller's CallSid → the operator's join
        self.tasks: set[asyncio.Task] = set()
        self.faults: dict[str, int] = {}
        self.announced: dict[str, list[str]] = {}  # the caller's CallSid → what the operator heard
        self.monitored: dict[str, dict[str, list[str]]] = {}  # the caller's CallSid → label → modes
        self.pauses: dict[str, int] = {}  # recording updates taken, by status (PCI pauses)
        self.legs_by_sid: dict[str, Leg] = {}  # the calls placed to operators' phones, in order
        self.reopened = 0  # conferences an operator's join opened again after the caller had left

    def routes(self, app: web.Application) -> None:
        base = "/2010-04-01/Accounts/{account}/Conferences"
        app.router.add_post(base + "/{name}/Participants.json", self.add_participant)
        app.router.add_post(base + "/{sid}/Participants/{participant}.json", self.update_participant)
        app.router.add_delete(base + "/{sid}/Participants/{participant}.json", self.remove_participant)
        app.router.add_post(base + "/{sid}.json", self.update_conference)
        app.router.add_post(base + "/{sid}/Recordings/{recording}.json", self.update_recording)

    @web.middleware
    async def failing(self, request: web.Request, handler):
        """Twilio's REST failures, on the requests a call's bridge makes (the operator's leg included;
        not the dialer's creates)."""
        bridging = not request.path.endswith("/Calls.json") or await _to_client(request)
        if request.method != "GET" and bridging:
            fault = self._fault()
            if fault:
                self.faults[fault] = self.faults.get(fault, 0) + 1
                if fault == TIMEOUT:
                    request.transport.abort()  # no answer at all: the client's request fails
                    return web.Response(status=504)
                status, code, message = ANSWERS[fault]
                return web.json_response({"code": code, "message": message, "status": status}, status=status)
        return await handler(request)

    def _fault(self) -> str:
        roll, total = self.twilio.rng.random(), 0.0
        for fault, rate in self.twilio.profile.rest_faults.items():
            total += rate
            if roll < total:
                return fault
        return ""

    def room(self, name: str) -> Room:
        if name not in self.rooms:
            room = Room(name=name, sid=f"CF{self.twilio.rng.getrandbits(128):032x}")
            self.rooms[name] = room
            self.by_sid[room.sid] = room
        return self.rooms[name]

    def _later(self, coroutine) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def event(self, room: Room, event: str, **fields: str) -> None:
        """A conference status callback; now and then late (reordered) when the profile says so."""
        if not room.status_callback or EVENT_FAMILY.get(event, event) not in room.events:
            return  # as Twilio: only the events asked for are posted
        room.sequence += 1
        params = {
            "AccountSid": ACCOUNT,
            "ConferenceSid": room.sid,
            "FriendlyName": room.name,
            "StatusCallbackEvent": event,
            "SequenceNumber": str(room.sequence),
            "Timestamp": formatdate(usegmt=True),
            "Muted": "false",
            "Hold": "false",
            "Coaching": "false",
            "EndConferenceOnExit": "false",
            "StartConferenceOnEnter": "false",
            **fields,
        }
        await self._post(room.status_callback, params)

    async def _post(self, url: str, params: dict[str, str]) -> None:
        profile = self.twilio.profile
        if profile.reorder and self.twilio.rng.random() < profile.reorder:
            delay = self.twilio.rng.uniform(0.01, 0.2)

            async def late() -> None:
                await asyncio.sleep(delay)
                await self._send(url, params)

            self._later(late())
            return
        await self._send(url, params)

    async def _send(self, url: str, params: dict[str, str]) -> None:
        try:
            await self.twilio.post(_path(url), params)
        except Exception as exc:  # a callback the platform refused: Twilio logs it and goes on
            self.twilio.callback_errors.append(f"{url.split('?')[0]}: {exc}")

    async def leg_status(self, leg: Leg, status: str) -> None:
        """The leg's status callback, when its ``StatusCallbackEvent``s asked for this status."""
        leg.status = "in-progress" if status == "answered" else status
        if not leg.status_callback or STATUS_EVENT.get(status, "completed") not in leg.events:
            return
        params = {
            "AccountSid": ACCOUNT,
            "CallSid": leg.call_sid,
            "CallStatus": status,
            "Direction": "outbound-api",
            "From": "client:platform",
            "To": "client:operator",
        }
        await self._post(leg.status_callback, params)

    def joined_by(self, conference: ET.Element) -> Room:
        """The room a ``<Conference>`` noun joins; whoever comes first creates it with their
        noun's settings (its callbacks, the events asked for, its recording), as Twilio does."""
        room = self.room((conference.text or "").strip())
        if not room.status_callback:
            room.status_callback = conference.get("statusCallback", "")
            asked = conference.get("statusCallbackEvent")
            if asked is not None:
                room.events = frozenset(asked.split())
            room.recording_callback = conference.get("recordingStatusCallback", "")
        return room

    # The caller's side ------------------------------------------------------------------------

    async def caller_joins(self, call: _Call, dial: ET.Element) -> None:
        """The caller in the conference: music until an operator joins (or they give up), then talk."""
        room = self.joined_by(dial.find("Conference"))
        room.caller_sid = call.record.sid
        room.caller_in.set()
        await self.event(
            room,
            "participant-join",
            CallSid=call.record.sid,
            ParticipantLabel="caller",
            EndConferenceOnExit="true",
        )
        waited = time.monotonic() - (call.record.enqueued_at or call.record.placed_at)
        try:
            await asyncio.wait_for(room.operator_in.wait(), max(0.05, call.patience - waited))
        except TimeoutError:  # the caller hangs up during the bridge
            call.record.result = "abandoned"
            await self.end(room, leaving=call.record.sid)
            await call.hang_up()
            return
        call.record.bridged_at = time.monotonic()
        talk = call.profile.talk_seconds(call.rng)
        await asyncio.sleep(talk)
        call.record.result = call.record.result or "handled"
        await self.end(room, leaving=call.record.sid)
        if room.recording_callback:  # Twilio reports the conference's recording once it has ended
            if room.paused_at is not None:  # ended while paused: that part is not in the file either
                room.paused_seconds += time.monotonic() - room.paused_at
            recorded = max(0.0, talk - room.paused_seconds)
            fields = self.twilio.recordings.completed(
                call_sid=call.record.sid,
                seconds=recorded,
                ConferenceSid=room.sid,
                RecordingSource="Conference",
            )
            await self._send(room.recording_callback, fields)

    async def end(self, room: Room, *, leaving: str) -> None:
        """Whoever ends the conference left: everyone is disconnected, the conference ends."""
        if room.over:
            return
        room.over = True
        room.ended.set()
        labels = {leg.call_sid: leg.label for leg in room.legs.values()}
        label = "caller" if leaving == room.caller_sid else labels.get(leaving, "")
        await self.event(
            room,
            "participant-leave",
            CallSid=leaving,
            ParticipantCallStatus="completed",
            ParticipantLabel=label,
        )
        reason = "participant-with-end-conference-on-exit-left"
        await self.event(
            room, "conference-end", ReasonConferenceEnded=reason, CallSidEndingConference=leaving
        )

    # The REST side ----------------------------------------------------------------------------

    async def add_participant(self, request: web.Request) -> web.Response:
        room = self.room(request.match_info["name"])
        form = await request.post()
        if room.over:
            return _not_found()
        leg = Leg(
            call_sid=f"CA{self.twilio.rng.getrandbits(128):032x}",
            label=str(form.get("Label", "")),
            status_callback=str(form.get("StatusCallback", "")),
            created_at=time.monotonic(),
            to=str(form.get("To", "")),
        )
        asked = {e for value in form.getall("StatusCallbackEvent", []) for e in str(value).split()}
        if asked:
            leg.events = frozenset(asked)
        room.legs[leg.label] = leg
        if leg.label.startswith("supervisor-"):
            room.monitor_modes.setdefault(leg.label, []).append(_mode(form))
            self.monitored.setdefault(room.caller_sid, {})[leg.label] = room.monitor_modes[leg.label]
            self._later(self.monitor(room, leg))
        else:
            self._later(self.ring(room, leg))
        body = {
            "account_sid": request.match_info["account"],
            "call_sid": leg.call_sid,
            "label": leg.label,
            "conference_sid": room.sid,
            "status": "queued",
            "hold": False,
            "muted": False,
            "coaching": False,
        }
        return web.json_response(body, status=201)

    async def ring_client(self, request: web.Request, form) -> web.Response:
        """``calls.create`` to an operator's browser phone with TwiML: their announcement
        (``<Say>``), then their ``<Dial><Conference participantLabel=…>`` into the call's."""
        response = parse(str(form.get("Twiml", "")))
        conference = response.find("Dial/Conference")
        if conference is None:
            body = {"code": 21205, "message": "The operator's TwiML joins no conference", "status": 400}
            return web.json_response(body, status=400)
        room = self.joined_by(conference)
        leg = Leg(
            call_sid=f"CA{self.twilio.rng.getrandbits(128):032x}",
            label=conference.get("participantLabel", ""),
            status_callback=str(form.get("StatusCallback", "")),
            created_at=time.monotonic(),
            to=str(form["To"]),
            announcement=" ".join((e.text or "").strip() for e in response.iter("Say")),
            dialled=True,
            end_on_exit=conference.get("endConferenceOnExit", "false") == "true",
        )
        asked = {e for value in form.getall("StatusCallbackEvent", []) for e in str(value).split()}
        if asked:
            leg.events = frozenset(asked)
        room.legs[leg.label] = leg
        self.legs_by_sid[leg.call_sid] = leg
        self._later(self.ring(room, leg))
        body = {
            "sid": leg.call_sid, "account_sid": request.match_info["account"], "to": leg.to,
            "from": str(form["From"]), "status": "queued", "direction": "outbound-api",
        }  # fmt: skip
        return web.json_response(body, status=201)

    async def ring(self, room: Room, leg: Leg) -> None:
        """The participant's phone rings, then answers and joins, or does not. An operator's leg
        hears its announcement first, alone (R19)."""
        profile, rng = self.twilio.profile, self.twilio.rng
        await self.leg_status(leg, "initiated")
        await asyncio.sleep(rng.uniform(*profile.ring))
        await self.leg_status(leg, "ringing")
        roll, failure = rng.random(), ""
        rates = (profile.leg_no_answer, profile.leg_busy, profile.leg_failed)
        for status, rate in zip(LEG_FAILURES, rates, strict=True):
            if roll < rate:
                failure = status
                break
            roll -= rate
        if not failure and ((room.over and not leg.dialled) or leg.left.is_set()):
            failure = "canceled"  # hung up by the platform while it rang
        if failure:
            await self.leg_status(leg, failure)
            if not leg.dialled:  # a REST participant leaves the conference it was added to
                await self.event(room, "participant-leave", CallSid=leg.call_sid, ParticipantLabel=leg.label,
                                 ParticipantCallStatus=failure)  # fmt: skip
            return
        await self.leg_status(leg, "answered")
        if leg.announcement:
            room.announcements.append(leg.announcement)
            self.announced.setdefault(room.caller_sid, []).append(leg.announcement)
            await asyncio.sleep(0.05 * len(leg.announcement.split()))
        if leg.left.is_set():  # hung up by the platform during the announcement: never joins
            await self.leg_status(leg, "completed")
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(room.caller_in.wait(), 5.0)
        if room.over and leg.dialled:  # the caller left meanwhile: as Twilio, the name opens anew
            await self.alone(self.reopen(room), leg)
            return
        if room.over:
            await self.leg_status(leg, "completed")
            return
        leg.joined = True
        self.joined_at[room.caller_sid] = time.monotonic()
        await self.event(room, "conference-start")
        await self.event(
            room,
            "participant-join",
            CallSid=leg.call_sid,
            ParticipantLabel=leg.label,
            StartConferenceOnEnter="true",
            EndConferenceOnExit="true",
        )
        room.operator_in.set()
        ended, left = asyncio.ensure_future(room.ended.wait()), asyncio.ensure_future(leg.left.wait())
        await asyncio.wait({ended, left}, return_when=asyncio.FIRST_COMPLETED)
        for waiter in (ended, left):
            waiter.cancel()
        if leg.left.is_set() and not room.over and leg.end_on_exit:  # hung up: it ends the conference
            await self.end(room, leaving=leg.call_sid)
        elif leg.left.is_set() and not room.over:  # hung up by the platform (a stale attempt's leg)
            await self.event(room, "participant-leave", CallSid=leg.call_sid, ParticipantLabel=leg.label,
                             ParticipantCallStatus="completed")  # fmt: skip
        await self.leg_status(leg, "completed")

    def reopen(self, room: Room) -> Room:
        """The same name after its conference ended: a new conference (new SID), with the settings
        of the noun that opens it (the operator's carries the call's)."""
        fresh = Room(name=room.name, sid=f"CF{self.twilio.rng.getrandbits(128):032x}")
        fresh.status_callback, fresh.events = room.status_callback, room.events
        fresh.recording_callback, fresh.caller_sid = room.recording_callback, room.caller_sid
        self.rooms[room.name] = fresh
        self.by_sid[fresh.sid] = fresh
        self.reopened += 1
        return fresh

    async def alone(self, room: Room, leg: Leg) -> None:
        """An operator alone in a conference nobody else will join: they start it and wait until
        the platform hangs their leg up (or give up after ``ALONE_SECONDS``)."""
        room.legs[leg.label] = leg
        leg.joined = True
        await self.event(room, "conference-start")
        await self.event(room, "participant-join", CallSid=leg.call_sid, ParticipantLabel=leg.label,
                         StartConferenceOnEnter="true", EndConferenceOnExit="true")  # fmt: skip
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(leg.left.wait(), ALONE_SECONDS)
        await self.end(room, leaving=leg.call_sid)
        await self.leg_status(leg, "completed")

    def hang_up(self, call_sid: str) -> bool:
        """``calls(sid).update(status=completed)`` of an operator's leg: it leaves; False if unknown."""
        leg = self.legs_by_sid.get(call_sid)
        if leg is None or leg.left.is_set():
            return False
        leg.left.set()
        return True

    async def monitor(self, room: Room, leg: Leg) -> None:
        """A supervisor's line: it answers and joins unnoticed (no conference-start, no beep); it
        leaves when removed or when the conference ends."""
        await self.leg_status(leg, "initiated")
        await asyncio.sleep(self.twilio.rng.uniform(*self.twilio.profile.ring))
        if room.over:
            await self.leg_status(leg, "canceled")
            return
        await self.leg_status(leg, "answered")
        leg.joined = True
        await self.event(room, "participant-join", CallSid=leg.call_sid, ParticipantLabel=leg.label)
        ended, left = asyncio.ensure_future(room.ended.wait()), asyncio.ensure_future(leg.left.wait())
        await asyncio.wait({ended, left}, return_when=asyncio.FIRST_COMPLETED)
        for waiter in (ended, left):
            waiter.cancel()
        await self.leg_status(leg, "completed")

    async def update_participant(self, request: web.Request) -> web.Response:
        room = self.by_sid.get(request.match_info["sid"])
        if room is None or room.over:
            return _not_found()
        form = await request.post()
        who = request.match_info["participant"]
        if who in room.legs and "EndConferenceOnExit" in form:
            room.legs[who].end_on_exit = str(form["EndConferenceOnExit"]).lower() == "true"
        if who in room.monitor_modes and ("Coaching" in form or "Muted" in form):
            room.monitor_modes[who].append(_mode(form))
        for field_name, on, off in (
            ("Hold", "participant-hold", "participant-unhold"),
            ("Muted", "participant-mute", "participant-unmute"),
        ):
            if field_name in form:
                flag = str(form[field_name]).lower() == "true"
                await self.event(room, on if flag else off, CallSid=who, **{field_name: json.dumps(flag)})
        return web.json_response({"call_sid": who, "conference_sid": room.sid, "status": "connected"})

    async def remove_participant(self, request: web.Request) -> web.Response:
        room = self.by_sid.get(request.match_info["sid"])
        if room is None or room.over:
            return _not_found()
        who = request.match_info["participant"]
        leg = room.legs.get(who)
        if leg is not None:
            leg.left.set()
        leaving = leg.call_sid if leg else who
        await self.event(
            room,
            "participant-leave",
            CallSid=leaving,
            ParticipantLabel=who,
            ParticipantCallStatus="completed",
        )
        return web.Response(status=204)

    async def update_conference(self, request: web.Request) -> web.Response:
        room = self.by_sid.get(request.match_info["sid"])
        if room is None:
            return _not_found()
        form = await request.post()
        if form.get("Status") == "completed":
            await self.end(room, leaving="")
        return web.json_response({"sid": room.sid, "friendly_name": room.name, "status": "completed"})

    async def update_recording(self, request: web.Request) -> web.Response:
        """``POST …/Conferences/{sid}/Recordings/{Sid|Twilio.CURRENT}.json``: pause (the paused part
        skipped) or resume the conference's recording, as Twilio does; 404 when nothing is recorded."""
        room = self.by_sid.get(request.match_info["sid"])
        if room is None or room.over or not room.recording_callback or not room.operator_in.is_set():
            return _not_found()
        form = await request.post()
        status = str(form.get("Status", ""))
        if status not in ("paused", "in-progress", "stopped"):
            body = {"code": 21200, "message": "Status must be paused, in-progress or stopped", "status": 400}
            return web.json_response(body, status=400)
        now = time.monotonic()
        if status == "paused" and room.paused_at is None:
            room.paused_at = now
        elif status != "paused" and room.paused_at is not None:
            room.paused_seconds += now - room.paused_at
            room.paused_at = None
        room.recording_status = status
        self.pauses[status] = self.pauses.get(status, 0) + 1
        return web.json_response({
            "account_sid": ACCOUNT, "conference_sid": room.sid, "call_sid": room.caller_sid,
            "sid": "RE" + room.sid[2:], "status": status, "channels": 1, "source": "DialConference",
            "uri": f"/2010-04-01/Accounts/{ACCOUNT}/Conferences/{room.sid}/Recordings/RE{room.sid[2:]}.json",
        })  # fmt: skip


def _mode(form) -> str:
    """A supervisor participant's mode as Twilio would hear it: coaching, muted, or talking."""
    if str(form.get("Coaching", "")).lower() == "true":
        return "whisper"
    return "listen" if str(form.get("Muted", "")).lower() == "true" else "barge"


async def _to_client(request: web.Request) -> bool:
    """Whether a ``calls.create`` rings a browser phone (``To=client:…``): an operator's leg."""
    form = await request.post()  # aiohttp keeps it for the handler
    return str(form.get("To", "")).startswith("client:")


def _not_found() -> web.Response:
    return web.json_response({"code": 20404, "message": "Not found", "status": 404}, status=404)


def _path(url: str) -> str:
    """An absolute callback URL (REST-sent TwiML) as the path the platform serves."""
    if "://" in url:
        url = "/" + url.split("://", 1)[1].split("/", 1)[1]
    return url
