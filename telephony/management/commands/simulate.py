"""``python manage.py simulate``: play Twilio and operators against a running platform; print KPIs."""

from __future__ import annotations

import asyncio
import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from telephony.simulator.operators import Behaviour
from telephony.simulator.run import Plan, simulate
from telephony.simulator.setup import numbers_of, simulated_operators
from telephony.simulator.twilio_side import Profile


class Command(BaseCommand):
    help = (
        "Place simulated calls against a running server (signed webhooks, following its TwiML) and play "
        "operators on the console socket. The server's TWILIO_API_BASE_URL must point at --rest-port."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--url", default="http://localhost:8000", help="the platform as Twilio calls it")
        parser.add_argument("--connect", default="127.0.0.1:8000", help="host:port the server listens on")
        parser.add_argument(
            "--rest-port", type=int, default=8765, help="port of the simulated Twilio REST API"
        )
        parser.add_argument("--tenants", default="", help="comma-separated slugs (default: all active)")
        parser.add_argument("--operators", type=int, default=3)
        parser.add_argument("--calls", type=int, default=20)
        parser.add_argument("--rate", type=float, default=0.5, help="calls per second")
        parser.add_argument("--talk", type=float, nargs=2, default=(3.0, 10.0), metavar=("MIN", "MAX"))
        parser.add_argument("--patience", type=float, nargs=2, default=(20.0, 90.0), metavar=("MIN", "MAX"))
        parser.add_argument(
            "--miss", type=float, default=0.0, help="chance an operator lets an offer ring out"
        )
        parser.add_argument("--logout", type=float, default=0.0, help="chance an operator drops on an offer")
        parser.add_argument("--leg-no-answer", type=float, default=0.0, help="chance a leg rings out")
        parser.add_argument("--leg-busy", type=float, default=0.0, help="chance an operator's leg is busy")
        parser.add_argument("--leg-failed", type=float, default=0.0, help="chance an operator's leg fails")
        parser.add_argument("--reorder", type=float, default=0.0, help="chance a conference callback is late")
        parser.add_argument("--duplicate", type=float, default=0.0, help="chance a webhook is posted twice")
        parser.add_argument(
            "--rest-faults", type=float, default=0.0, help="chance a REST request answers 429, 500 or drops"
        )
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--forever", action="store_true", help="keep calling until Ctrl-C")

    def handle(self, *args, **options) -> None:
        slugs = [s for s in options["tenants"].split(",") if s]
        numbers = numbers_of(slugs)
        if not numbers:
            raise CommandError("No in-service numbers for those client companies.")
        plan = Plan(
            base_url=options["url"],
            connect=options["connect"],
            auth_token=settings.TWILIO_AUTH_TOKEN,
            numbers=numbers,
            operators=simulated_operators(count=options["operators"], slugs=slugs),
            calls=options["calls"],
            rate=options["rate"],
            seed=options["seed"],
            forever=options["forever"],
            rest_port=options["rest_port"],
            profile=Profile(
                talk=tuple(options["talk"]),
                patience=tuple(options["patience"]),
                leg_no_answer=options["leg_no_answer"],
                leg_busy=options["leg_busy"],
                leg_failed=options["leg_failed"],
                reorder=options["reorder"],
                duplicate=options["duplicate"],
                rest_faults={fault: options["rest_faults"] / 3 for fault in ("429", "500", "timeout")},
            ),
            behaviour=Behaviour(miss=options["miss"], logout=options["logout"]),
        )
        try:
            result = asyncio.run(simulate(plan))
        except KeyboardInterrupt:
            return
        self.stdout.write(json.dumps(result, indent=2, default=str))
