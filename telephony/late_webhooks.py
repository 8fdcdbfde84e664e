"""A webhook Twilio has stopped waiting for is not served (issue 23: an overloaded box starts no
work for a call Twilio has sent elsewhere).

Twilio waits 15 s for the answer to a webhook, then fails the request (error 11205) and, for a
number's voice webhook, asks the number's fallback URL, which takes a message (README, "The
fallback outside the platform"). An answer sent later is never heard, and the work behind it is
worse than lost: the call it creates would be offered to an operator while its caller is leaving a
message on the fallback, the key it records would move a script nobody hears. And on a box that
has fallen behind, those requests are the oldest in each process's queue: serving them takes CPU
from the callers behind them, who can still be answered in time.

So the proxy stamps each request as it receives it (``X-Request-Start: t=<seconds since the
epoch>``, nginx's ``$msec``: docs/scale.md §4), and a webhook a caller waits on
(``telephony.urls.CALLER_WAITS``) that reaches Django more than ``WEBHOOK_GIVE_UP_SECONDS`` after
it is answered 503 at once, before any middleware reads the database. Twilio's callbacks (status,
conference events, recordings) are served however late: what they report did happen. Without the
header (no proxy in front), nothing is shed.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from telephony.urls import caller_wait_paths

log = logging.getLogger(__name__)


def stamped_at(header: str) -> float | None:
    """The seconds since the epoch in an ``X-Request-Start`` header: ``t=1765100000.123`` (nginx's
    ``$msec``) or the same in milliseconds or microseconds (Heroku's router, HAProxy), ``t=``
    optional; None when it is none of these."""
    try:
        value = float(header.strip().removeprefix("t="))
    except ValueError:
        return None
    if not math.isfinite(value) or value <= 0:
        return None
    if value > 1e14:  # microseconds: seconds since the epoch are ~1.8e9, milliseconds ~1.8e12
        return value / 1e6
    return value / 1e3 if value > 1e11 else value


class LateWebhookMiddleware:
    """Answers 503, unserved, a webhook a caller waits on that Twilio has given up on."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.paths = frozenset(caller_wait_paths())
        self.limit = settings.WEBHOOK_GIVE_UP_SECONDS

    def __call__(self, request: HttpRequest) -> HttpResponse:
        header = request.META.get("HTTP_X_REQUEST_START")
        if header and self.limit and request.path_info in self.paths:
            stamped = stamped_at(header)
            if stamped is not None and (late := time.time() - stamped) > self.limit:
                log.warning("%s not served: it reached us %.1f s after the proxy, Twilio has given up",
                            request.path_info, late)  # fmt: skip
                return HttpResponse(
                    f"Not served: this webhook reached the platform {late:.1f} s after the proxy received "
                    f"it, and Twilio gives up after 15 s (the fallback URL takes over).\n",
                    status=503,
                    content_type="text/plain",
                )
        return self.get_response(request)
