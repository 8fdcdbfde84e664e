"""The lockout event: django-axes locked an account after too many failed logins."""

from __future__ import annotations

import logging
from typing import Any

from axes.signals import user_locked_out
from django.dispatch import receiver

log = logging.getLogger(__name__)


@receiver(user_locked_out)
def _locked_out(
    sender: Any, request: Any = None, username: str = "", ip_address: str = "", **kwargs: Any
) -> None:
    log.warning("login locked out: account %s (from %s) after too many failed logins", username, ip_address)
