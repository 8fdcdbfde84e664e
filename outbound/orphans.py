"""Outbound work left by an operator whose console went away before they dialled (issue 22).

Telephony's presence sweep sets such an operator offline and announces the call
(``telephony.events.orphaned_before_dial``, in the call's company's schema); here the task goes back
to its campaign (or callback list) at once, as a skipped preview does, without waiting for
``dialer.release_stale_previews``' five minutes: another operator may take it now.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from outbound.calls import is_pending
from outbound.progress import give_back
from telephony.calls.models import Call

REASON = "operator's console closed before dialling"


def on_orphaned_before_dial(*, call_id: int, **kwargs: Any) -> bool:
    """Give the undialled task back (idempotent: a call dialled or given back meanwhile is left)."""
    call = Call.objects.filter(pk=call_id).first()
    if call is None or not is_pending(call) or call.status != Call.Status.QUEUED:
        return False
    give_back(call=call, reason=REASON, now=timezone.now())
    return True
