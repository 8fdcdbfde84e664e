"""Calls as Twilio places them, for the telephony tests."""

from __future__ import annotations

import itertools

from tests.twilio_kit import signed_post

_sids = itertools.count(1)


def new_sid() -> str:
    return f"CA{next(_sids):032d}"


def incoming(
    to: str,
    sid: str | None = None,
    caller: str = "+14155550100",
    *,
    meta: dict[str, str] | None = None,
    **extra: str,
):
    """Twilio's first webhook of a call; ``extra``: more of its fields, ``meta``: more headers."""
    params = {
        "AccountSid": "AC" + "1" * 32, "ApiVersion": "2010-04-01", "CallSid": sid or new_sid(),
        "CallStatus": "ringing", "Direction": "inbound", "From": caller, "To": to, "Caller": caller,
        "Called": to, "FromCountry": "US", **extra,
    }  # fmt: skip
    return signed_post("/twilio/voice/incoming", params, **(meta or {})), params
