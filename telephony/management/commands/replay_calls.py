"""``manage.py replay_calls --company acme --day 2026-11-02``: rebuild a local day's calls from the
webhooks kept as evidence (``telephony.evidence``) and list where the call records differ."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import tenant_context

from telephony import evidence
from telephony.calls.models import TelephonySettings
from tenants.models import Client


class Command(BaseCommand):
    help = "Replay a client company's day of calls from the kept webhooks; 0 differences, or a list."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--company", required=True, help="The client company's slug (or schema name).")
        parser.add_argument("--day", required=True, help="A local day of the company, YYYY-MM-DD.")

    def handle(self, *args: object, company: str, day: str, **options: object) -> None:
        client = (
            Client.objects.companies().filter(slug=company).first()
            or Client.objects.companies().filter(schema_name=company).first()
        )
        if client is None:
            raise CommandError(f"No client company {company!r}.")
        try:
            local_day = dt.date.fromisoformat(day)
        except ValueError:
            raise CommandError(f"--day must be YYYY-MM-DD, not {day!r}.") from None
        with tenant_context(client):
            zone = zoneinfo.ZoneInfo(TelephonySettings.current().timezone or "UTC")
            start = dt.datetime.combine(local_day, dt.time(), tzinfo=zone)
            end = dt.datetime.combine(local_day + dt.timedelta(days=1), dt.time(), tzinfo=zone)
            result = evidence.replay(start=start, end=end)
        for difference in result.differences:
            self.stdout.write(str(difference))
        summary = (
            f"{client.slug} {local_day} ({zone}): {result.calls} calls, {result.webhooks} webhooks, "
            f"{len(result.differences)} differences"
        )
        if result.differences:
            raise CommandError(summary)
        self.stdout.write(summary)
