"""``python manage.py simulate``: play Twilio and operators against a running platform; print KPIs."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from telephony.simulator.outbound_side import Callee
from telephony.simulator.profiles import NAMES, named
from telephony.simulator.run import Plan, simulate
from telephony.simulator.setup import numbers_of, simulated_operators, simulated_supervisors


class Command(BaseCommand):
    help = (
        "Place simulated calls against a running server (signed webhooks, following its TwiML) and play "
        "operators on the console socket. The server's TWILIO_API_BASE_URL must point at --rest-port."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--url", default="http://localhost:8000", help="the platform as Twilio calls it")
        parser.add_argument("--connect", default="127.0.0.1:8000", help="host:port the server listens on")
        parser.add_argument(
            "--voice-connect",
            default="",
            help="host:port of the voice processes, if any: the webhooks a caller waits on go there",
        )
        parser.add_argument(
            "--hooks-connect",
            default="",
            help="host:port of the hooks processes, if any: Twilio's callbacks nobody waits on go there",
        )
        parser.add_argument(
            "--rest-port", type=int, default=8765, help="port of the simulated Twilio REST API"
        )
        parser.add_argument("--tenants", default="", help="comma-separated slugs (default: all active)")
        parser.add_argument("--operators", type=int, default=3)
        parser.add_argument(
            "--supervisors",
            type=int,
            default=1,
            help="supervisors who listen, whisper and barge on live calls",
        )
        parser.add_argument("--calls", type=int, default=20)
        parser.add_argument(
            "--profile", choices=NAMES, default="fast",
            help="callers' and operators' behaviour: fast (seconds-long calls) or working-day (the demo's)",
        )  # fmt: skip
        parser.add_argument(
            "--rate", type=float, default=None,
            help="calls per second (default: 0.5 for fast, what keeps the operators 85%% busy otherwise)",
        )  # fmt: skip
        parser.add_argument("--talk", type=float, nargs=2, default=None, metavar=("MIN", "MAX"))
        parser.add_argument("--patience", type=float, nargs=2, default=None, metavar=("MIN", "MAX"))
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
            "--miss-first", type=float, default=0.25,
            help="chance a person the platform calls (back) does not answer its first try",
        )  # fmt: skip
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
        plan = build_plan(options, numbers, simulated_operators(count=options["operators"], slugs=slugs))
        plan.supervisors = simulated_supervisors(count=options["supervisors"])
        if options.get("profile") == "working-day":  # minutes-long calls: stay long enough to be seen
            plan.supervisor_dwell = (5.0, 15.0)
        try:
            result = asyncio.run(simulate(plan))
        except KeyboardInterrupt:
            return
        self.stdout.write(json.dumps(result, indent=2, default=str))


def build_plan(options: dict, numbers: list[str], operators: list[tuple[str, str]]) -> Plan:
    """The run the command's options describe, on the named profile with the options' overrides."""
    preset = named(options.get("profile") or "fast")
    profile = replace(
        preset.profile,
        leg_no_answer=options["leg_no_answer"],
        leg_busy=options["leg_busy"],
        leg_failed=options["leg_failed"],
        reorder=options["reorder"],
        duplicate=options["duplicate"],
        rest_faults={fault: options["rest_faults"] / 3 for fault in ("429", "500", "timeout")},
    )
    if options.get("talk"):
        profile = replace(profile, talk=tuple(options["talk"]), talk_median=0.0)
    if options.get("patience"):
        profile = replace(profile, patience=tuple(options["patience"]))
    behaviour = replace(preset.behaviour, miss=options["miss"], logout=options["logout"])
    rate = options.get("rate")
    if rate is None:
        rate = 0.5 if options.get("profile", "fast") == "fast" else preset.rate_for(len(operators))
    return Plan(
        base_url=options["url"],
        connect=options["connect"],
        voice_connect=options.get("voice_connect", ""),
        hooks_connect=options.get("hooks_connect", ""),
        auth_token=settings.TWILIO_AUTH_TOKEN,
        numbers=numbers,
        operators=operators,
        calls=options["calls"],
        rate=rate,
        seed=options["seed"],
        forever=options["forever"],
        rest_port=options["rest_port"],
        profile=profile,
        behaviour=behaviour,
        callee=Callee(miss_first=options.get("miss_first", 0.0)),
    )
