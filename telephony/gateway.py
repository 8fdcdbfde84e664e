"""Twilio's REST API, through the official ``twilio`` client only.

``TWILIO_API_BASE_URL`` points the client at a local mock of Twilio's API (tests run Prism with
Twilio's own OpenAPI spec); empty in production. TwiML sent by REST has no page to resolve
relative URLs against, so every callback URL in it is made absolute with the public base URL.

Every request answers in one of three ways (``send``): done; gone (404, or Twilio's "call not in
progress"), or refused (any other 4xx, logged with Twilio's error code); or it raises
``TwilioUnavailable`` (429, 5xx, timeouts), which the callers' tasks retry with backoff.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import logging
from collections.abc import Callable
from typing import TypeVar

import requests
from django.conf import settings
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from telephony import twiml

log = logging.getLogger(__name__)
T = TypeVar("T")
TWILIO_API = "https://api.twilio.com"
# Twilio's codes for "that call is over or was never there": 20404 not found, 21220 "Call is not
# in-progress. Cannot redirect".
GONE_CODES = frozenset({20404, 21220})
LIVE_STATUSES = frozenset({"queued", "initiated", "ringing", "in-progress"})  # a call not over yet
LOOKUP_LIMIT = 20  # the newest calls to one number from one caller ID: enough to find the last one
CLOCK_MARGIN = dt.timedelta(seconds=30)  # Twilio's clock against ours, for a call it created
# A conference participant's leg (operator, specialist, supervisor): only its end is acted on, and
# Twilio's "completed" event carries every end (completed, busy, no-answer, failed, canceled). The
# join is the conference's participant-join, so initiated/ringing/answered would only cost a signed
# webhook each (issue 23).
LEG_STATUS_EVENTS = ["completed"]


class RedirectingHttpClient(TwilioHttpClient):
    """The ``twilio`` client's documented extension point, sending its requests to another base."""

    def __init__(self, base_url: str, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")

    def request(self, method, url, *args, **kwargs):
        if self.base_url and url.startswith(TWILIO_API):
            url = self.base_url + url[len(TWILIO_API) :]
        return super().request(method, url, *args, **kwargs)


@functools.cache
def client() -> Client:
    http = RedirectingHttpClient(settings.TWILIO_API_BASE_URL, timeout=10, max_retries=2)
    return Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, http_client=http)


def absolute(path: str) -> str:
    """A webhook path as Twilio must call it from REST-sent TwiML."""
    base = settings.TWILIO_WEBHOOK_BASE_URL or f"https://{settings.PLATFORM_HOST}"
    return base + path


class Answer(enum.Enum):
    """What became of a REST request."""

    DONE = "done"
    GONE = "gone"  # the call or conference no longer exists (the caller hung up)
    REFUSED = "refused"  # any other 4xx: our request was wrong (logged with Twilio's error code)


class TwilioUnavailable(Exception):
    """429, 5xx or no answer in time: the same request may be sent again later, with backoff."""


class TwilioNoAnswer(TwilioUnavailable):
    """The request went out but no answer came (a read timeout, a dropped connection): Twilio may
    have done it. Sending a create again may do it twice (``created_call`` looks first)."""


def classify(exc: TwilioRestException, *, what: str) -> Answer:
    """A refused request by its status and Twilio's code; raises ``TwilioUnavailable`` when retryable."""
    if exc.status == 429 or exc.status >= 500:
        raise TwilioUnavailable(f"{what}: Twilio answered {exc.status} (error {exc.code})") from exc
    if exc.status == 404 or exc.code in GONE_CODES:
        log.info("%s: gone (%s, error %s)", what, exc.status, exc.code)
        return Answer.GONE
    log.warning("%s refused by Twilio: %s, error %s: %s", what, exc.status, exc.code, exc.msg)
    return Answer.REFUSED


def may_have_reached_twilio(exc: BaseException) -> bool:
    """Whether a failed request may have reached Twilio and been done there: no answer came (a read
    timeout, a dropped connection). Not when Twilio answered (it refused) or the connection timed
    out (never sent). Any other connection failure counts as "may have": the caller looks before
    acting again, which costs a request, where assuming "never sent" could place a call twice."""
    return isinstance(exc, requests.RequestException) and not isinstance(exc, requests.ConnectTimeout)


def _unfetched_page(exc: TwilioException, *, what: str) -> Answer:
    """A page of a list refused by its HTTP status (the ``twilio`` client gives no error code
    there); raises ``TwilioUnavailable`` for 429 and 5xx. Without a status (a page the client could
    not read) it is refused: asking again would get the same."""
    status = next((arg.status_code for arg in exc.args if hasattr(arg, "status_code")), 0)
    if status == 429 or status >= 500:
        raise TwilioUnavailable(f"{what}: Twilio answered {status}") from exc
    log.warning("%s refused by Twilio: %s (%s)", what, status or "no answer to read", exc)
    return Answer.GONE if status == 404 else Answer.REFUSED


def send(request: Callable[[], T], *, what: str) -> tuple[Answer, T | None]:
    """Run one ``twilio`` client request: ``(DONE, result)`` or ``(GONE | REFUSED, None)``; raises
    ``TwilioUnavailable`` for 429, 5xx, timeouts and broken connections (``TwilioNoAnswer`` when
    the request may have reached Twilio)."""
    try:
        return Answer.DONE, request()
    except TwilioRestException as exc:
        return classify(exc, what=what), None
    except TwilioException as exc:  # a list Twilio did not serve: "Unable to fetch page", its answer
        return _unfetched_page(exc, what=what), None
    except requests.RequestException as exc:  # after the HTTP client's own connection retries
        unavailable = TwilioNoAnswer if may_have_reached_twilio(exc) else TwilioUnavailable
        raise unavailable(f"{what}: {type(exc).__name__}") from exc


def update_call(*, call_sid: str, twiml_text: str) -> Answer:
    """Give a live call new TwiML (it leaves its queue or conference)."""
    return send(lambda: client().calls(call_sid).update(twiml=twiml_text), what=f"update of {call_sid}")[0]


def update_twiml(*, call_sid: str, twiml_text: str) -> bool:
    """``update_call``, True when done (False: gone or refused)."""
    return update_call(call_sid=call_sid, twiml_text=twiml_text) is Answer.DONE


def _join(
    conference: str, *, label: str, status_callback: str, what: str, **params: object
) -> tuple[Answer, str]:
    """Add a participant to a conference (``Conferences/{name}/Participants``), no beep, no early
    media; the leg's final status (``LEG_STATUS_EVENTS``) reported to ``status_callback``.
    ``(answer, the leg's CallSid)``."""
    answer, participant = send(
        lambda: (
            client()
            .conferences(conference)
            .participants.create(
                label=label,
                status_callback=status_callback,
                status_callback_method="POST",
                status_callback_event=LEG_STATUS_EVENTS,
                beep="false",
                early_media=False,
                **params,
            )
        ),
        what=what,
    )
    return answer, (participant.call_sid or "") if participant is not None else ""


def add_participant(
    *, conference: str, to: str, caller_id: str, label: str, status_callback: str, timeout: int
) -> tuple[Answer, str]:
    """Ring a number (``to``, from ``caller_id``) into a conference (a specialist taking a transfer:
    the conference ends when they leave). ``(answer, the leg's CallSid)``."""
    return _join(
        conference,
        label=label,
        status_callback=status_callback,
        what=f"participant {label} into {conference}",
        from_=caller_id,
        to=to,
        timeout=timeout,
        start_conference_on_enter=True,
        end_conference_on_exit=True,
    )


def client_leg(identity: str) -> str:
    """The address of a browser phone (the Voice SDK's identity), as ``To`` and ``From``."""
    return f"client:{identity}"


def ring_client(*, identity: str, twiml_text: str, status_callback: str, timeout: int) -> tuple[Answer, str]:
    """Call a browser phone (``identity``) that plays ``twiml_text`` when answered (``calls.create``
    with ``Twiml``: no webhook to fetch it); its final status (``LEG_STATUS_EVENTS``) goes to
    ``status_callback``. ``(answer, the leg's CallSid)``."""
    address = client_leg(identity)
    return _create(to=address, from_=address, status_callback=status_callback, events=LEG_STATUS_EVENTS,
                   timeout=timeout, twiml=twiml_text)  # fmt: skip


def add_monitor(
    *,
    conference: str,
    to: str,
    from_: str,
    label: str,
    status_callback: str,
    muted: bool,
    coaching: bool,
    call_sid_to_coach: str = "",
) -> tuple[Answer, str]:
    """A supervisor into a live call's conference (R21), unnoticed: no beep, neither starting nor
    ending it; listening (``muted``) or whispering to one participant (``coaching``). ``(answer,
    the supervisor's leg CallSid)``."""
    return _join(
        conference,
        label=label,
        status_callback=status_callback,
        what=f"supervisor {label} into {conference}",
        from_=from_,
        to=to,
        timeout=30,
        muted=muted,
        coaching=coaching,
        call_sid_to_coach=call_sid_to_coach or None,
        start_conference_on_enter=False,
        end_conference_on_exit=False,
    )


def place_call(*, to: str, from_: str, url: str, status_callback: str, timeout: int) -> tuple[Answer, str]:
    """Dial a number (``calls.create``): ``url`` answers with the TwiML when it picks up, its call
    status goes to ``status_callback``. ``(answer, the new call's CallSid)``."""
    events = ["initiated", "ringing", "answered", "completed"]
    return _create(to=to, from_=from_, status_callback=status_callback, events=events, timeout=timeout,
                   url=url, method="POST")  # fmt: skip


def _create(
    *, to: str, from_: str, status_callback: str, events: list[str], timeout: int, **how: str
) -> tuple[Answer, str]:
    """``calls.create``, its status (``events``) posted to ``status_callback``; ``how``: what it
    plays when answered (``url`` to fetch, or ``twiml`` inline). ``(answer, the call's CallSid)``."""
    answer, created = send(
        lambda: client().calls.create(
            to=to,
            from_=from_,
            status_callback=status_callback,
            status_callback_method="POST",
            status_callback_event=events,
            timeout=timeout,
            **how,
        ),
        what=f"call to {to}",
    )
    return answer, (created.sid or "") if created is not None else ""


def created_call(*, to: str, from_: str, since: dt.datetime, live: bool = False) -> str:
    """The CallSid of a call Twilio created to ``to`` from ``from_`` at or after ``since`` (less
    ``CLOCK_MARGIN``; '' when none): after a ``calls.create`` Twilio did not answer, whether it
    placed the call anyway. ``live``: only a call not over yet (an operator's phone takes many
    calls: one that already ended within the margin is another's). Raises ``TwilioUnavailable``
    when Twilio does not answer this either."""
    _, found = send(
        lambda: list(client().calls.page(to=to, from_=from_, page_size=LOOKUP_LIMIT)),  # newest first
        what=f"calls to {to}",
    )
    for call in found or []:
        if call.date_created is None or call.date_created < since - CLOCK_MARGIN:
            continue
        if not live or call.status in LIVE_STATUSES:
            return call.sid or ""
    return ""


def update_participant(*, conference_sid: str, participant: str, **changes: object) -> Answer:
    """Hold/unhold (``hold``, ``hold_url``), mute, or ``end_conference_on_exit`` of one participant
    (its CallSid or label)."""
    return send(
        lambda: client().conferences(conference_sid).participants(participant).update(**changes),
        what=f"update of participant {participant} in {conference_sid}",
    )[0]


def remove_participant(*, conference_sid: str, participant: str) -> Answer:
    """Take one participant out of a conference (their leg hangs up)."""
    return send(
        lambda: client().conferences(conference_sid).participants(participant).delete(),
        what=f"removal of participant {participant} from {conference_sid}",
    )[0]


def update_recording(*, conference_sid: str, status: str) -> Answer:
    """Pause (``paused``: the paused part is skipped, not kept as silence) or resume (``in-progress``)
    the conference's recording being made now (``Twilio.CURRENT``: its SID comes only at the end)."""
    changes: dict[str, str] = {"status": status}
    if status == "paused":
        changes["pause_behavior"] = "skip"
    return send(
        lambda: client().conferences(conference_sid).recordings("Twilio.CURRENT").update(**changes),
        what=f"recording {status} in {conference_sid}",
    )[0]


def delete_recording(*, recording_sid: str) -> Answer:
    """Delete a recording at Twilio (its media and its resource): retention is over."""
    return send(lambda: client().recordings(recording_sid).delete(), what=f"deletion of {recording_sid}")[0]


def end_conference(*, conference_sid: str) -> Answer:
    """End a conference: every participant's leg is disconnected."""
    return send(
        lambda: client().conferences(conference_sid).update(status="completed"),
        what=f"end of {conference_sid}",
    )[0]


def transfer_to_specialist(
    *, call_sid: str, number: str, name: str, caller_id: str, voice: twiml.Voice
) -> bool:
    """Hand a live call to one of the client company's specialists (R8) outside a conference."""
    response = twiml.transfer(
        voice=voice,
        number=number,
        name=name,
        caller_id=caller_id,
        action=absolute(twiml.url("twilio-dial-result", leg="specialist")),
    )
    return update_twiml(call_sid=call_sid, twiml_text=str(response))


def hang_up(*, call_sid: str) -> bool:
    """End a live call; False when it is already over (or the request was refused)."""
    answer, _ = send(
        lambda: client().calls(call_sid).update(status="completed"), what=f"hang-up of {call_sid}"
    )
    return answer is Answer.DONE
