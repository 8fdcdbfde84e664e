"""The simulated Twilio's answer to ``client.calls(sid).fetch()`` (issue 22: the reconciliation asks
Twilio for a call's real status): live while the simulated call runs, completed once it ended,
404 for a CallSid the simulator never placed or received."""

from __future__ import annotations

import email.utils
import time
from typing import Any

from aiohttp import web

# The status callback event that reports each call status: any end is "completed".
STATUS_EVENT = {
    "initiated": "initiated",
    "ringing": "ringing",
    "answered": "answered",
    "in-progress": "answered",
}


def _rfc2822(monotonic: float) -> str:
    return email.utils.formatdate(time.time() - (time.monotonic() - monotonic), usegmt=True)


async def call_status(twilio: Any, request: web.Request) -> web.Response:
    """GET /2010-04-01/Accounts/{account}/Calls/{sid}.json, shaped like Twilio's call resource."""
    sid = request.match_info["sid"]
    account = request.match_info["account"]
    inbound = next((r for r in reversed(twilio.records) if r.sid == sid), None)
    outbound = next((r for r in reversed(twilio.outbound.records) if r.sid == sid), None)
    record = inbound or outbound
    if record is None:
        return web.json_response(
            {"code": 20404, "message": "The requested resource was not found", "status": 404}, status=404
        )
    if inbound is not None:
        ended = inbound.ended_at
        status = "in-progress" if sid in twilio.redirects or ended is None else "completed"
        to = inbound.tenant_number
    else:  # live until its callee is done: then busy, no-answer or completed (a lost callback's)
        ended = outbound.ended_at
        busy = outbound.result in ("busy", "no-answer")
        status = "in-progress" if ended is None else (outbound.result if busy else "completed")
        to = outbound.to
    over = status != "in-progress" and ended is not None
    body = {
        "sid": sid, "account_sid": account, "status": status, "from": "", "to": to,
        "direction": "inbound" if inbound is not None else "outbound-api",
        "start_time": _rfc2822(record.placed_at),
        "end_time": _rfc2822(ended) if over else None,
        "duration": str(int(ended - record.placed_at)) if over else None,
    }  # fmt: skip
    return web.json_response(body)


async def child_calls(twilio: Any, request: web.Request) -> web.Response:
    """GET /2010-04-01/Accounts/{account}/Calls.json?ParentCallSid=…: the legs a call's <Dial>
    created; one (to the operator) once the simulated caller was bridged, else none. ``?To=…``: the
    calls placed to that address (an operator's browser phone)."""
    parent = request.query.get("ParentCallSid", "")
    inbound = next((r for r in reversed(twilio.records) if r.sid == parent), None)
    calls = []
    to = request.query.get("To", "")
    if to:  # the calls placed to one browser phone (an operator's legs), newest first
        legs = [leg for leg in reversed(twilio.conferences.legs_by_sid.values()) if leg.to == to]
        calls = [{"sid": leg.call_sid, "to": leg.to, "status": leg.status, "direction": "outbound-api",
                  "date_created": _rfc2822(leg.created_at), "account_sid": request.match_info["account"]}
                 for leg in legs]  # fmt: skip
    if inbound is not None and inbound.bridged_at is not None:
        leg = {"sid": "CA" + parent[2:][::-1], "parent_call_sid": parent, "status": "completed",
               "direction": "outbound-dial", "account_sid": request.match_info["account"]}  # fmt: skip
        calls.append(leg)
    uri = request.path
    page = {"calls": calls, "page": 0, "page_size": 50, "first_page_uri": uri, "next_page_uri": None,
            "previous_page_uri": None, "uri": uri, "start": 0, "end": len(calls)}  # fmt: skip
    return web.json_response(page)
