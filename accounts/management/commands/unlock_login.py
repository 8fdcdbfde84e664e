"""Unlock logins for platform staff: an account locked by failed logins, or a client address."""

from __future__ import annotations

from typing import Any

from axes.utils import reset
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.throttling import unlock_address


class Command(BaseCommand):
    help = (
        "Unlock an account (--account <schema>:<username>, e.g. acme:bob or public:admin) or a "
        "client address (--address 203.0.113.7) locked by failed logins."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", default="", help="<schema>:<username>")
        parser.add_argument("--address", default="", help="a client IP address")

    def handle(self, *args: Any, account: str = "", address: str = "", **options: Any) -> None:
        if not account and not address:
            raise CommandError("Name an --account <schema>:<username> or an --address.")
        if account:
            if ":" not in account:
                raise CommandError("An account is <schema>:<username>, e.g. acme:bob.")
            self.stdout.write(f"{account}: {reset(username=account)} lock record(s) removed.")
        if address:
            attempts = reset(ip=address)
            cleared = unlock_address(address)
            self.stdout.write(
                f"{address}: {attempts} lock record(s) removed, failures {'cleared' if cleared else 'none'}."
            )
