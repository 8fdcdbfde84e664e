"""``python manage.py demo``: the demo platform, created idempotently."""

from __future__ import annotations

import datetime
import functools
import uuid

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.models import Role, User
from operations.demo import MORE_OPERATORS, seed_working_day
from quality.demo import seed_scored_calls
from scripts_engine.demo import seed_demo_scripts
from telephony.demo import seed_operators
from telephony.pool import fake_numbers, pool_add
from tenants import contracting, orders, payments
from tenants.catalogue import seed_catalogue
from tenants.clients import ensure_platform
from tenants.models import Client, Order, Service

DEMO_PASSWORD = "demo-pass-2026"

PLATFORM_STAFF = [
    ("admin", "Ada", "Admin", Role.PLATFORM_ADMIN),
    ("manager", "Max", "Manager", Role.ACCOUNT_MANAGER),
    ("supervisor", "Sara", "Supervisor", Role.SUPERVISOR),
    ("operator1", "Olga", "Ivanova", Role.OPERATOR),
    ("operator2", "Oscar", "Nguyen", Role.OPERATOR),
    ("operator3", "Nino", "Beridze", Role.OPERATOR),
    *((username, first, last, Role.OPERATOR) for username, first, last, _ in MORE_OPERATORS),
]
COMPANIES = [
    ("acme", "Acme Corporation", "#b3261e"),
    ("globex", "Globex Corporation", "#1f6f43"),
    ("initech", "Initech", "#3b4cc0"),
]
# The client admin is the order's contact, invited by the onboarding itself; these join later.
CLIENT_STAFF = [
    ("editor", "Erin", Role.CLIENT_EDITOR),
    ("viewer", "Victor", Role.CLIENT_VIEWER),
]
DEMO_SERVICES = ["inbound", "ivr", "recording", "coverage-24x7"]
PENDING_ORDER = ("umbrella", "Umbrella Corporation")
# Order tokens derived from the slug: running the demo twice submits each order once.
DEMO_NAMESPACE = uuid.UUID("6b1f3c1e-5d0a-4a53-9f3e-2b7c8e9d0a11")


@functools.cache
def _demo_password_hash() -> str:
    """Hashed once: the demo's 15 logins share a password, and hashing is deliberately slow."""
    return make_password(DEMO_PASSWORD)


def _user(username: str, first: str, last: str, role: str, email: str) -> None:
    user, created = User.objects.get_or_create(
        username=username, defaults={"first_name": first, "last_name": last, "role": role, "email": email}
    )
    if created:
        user.is_staff = user.is_superuser = role == Role.PLATFORM_ADMIN
        user.password = _demo_password_hash()
        user.save()


def _order(slug: str, name: str, manager: User) -> Order:
    """Submit the demo company's order, as its contact would on the order form (idempotent)."""
    today = timezone.localdate()
    order, _ = orders.order_submit(
        token=str(uuid.uuid5(DEMO_NAMESPACE, slug)),
        services=list(Service.objects.filter(code__in=DEMO_SERVICES)),
        fields={
            "legal_name": name,
            "registration_number": f"REG-{slug.upper()}-001",
            "tax_number": f"TAX-{slug.upper()}",
            "address": f"1 {name.split()[0]} Plaza, Springfield",
            "portal_slug": slug,
            "contact_first_name": "Alex",
            "contact_last_name": name.split()[0],
            "contact_email": f"admin@{slug}.example",
            "contact_phone": "+1 202 555 0199",
            "calls_per_month": 3000,
            "peak_hour_calls": 60,
            "coverage": Order.Coverage.ALWAYS,
            "time_zone": "America/New_York",
            "languages": ["en", "es"],
            "start_date": today + datetime.timedelta(days=7),
            "numbers_wanted": 1,
        },
    )
    return order


def _onboard(slug: str, name: str, manager: User, port: int | None) -> Client:
    """Walk one company through order → contract → send → accept → pay, resuming where it stopped."""
    order = _order(slug, name, manager)
    if order.state == Order.State.SUBMITTED:
        contracting.contract_draft(order=order, by=manager)
        order.refresh_from_db()
    contract = order.contract
    if order.state == Order.State.DRAFTING:
        contracting.contract_send(contract=contract, by=manager, port=port)
        order.refresh_from_db()
        contract.refresh_from_db()
    client = order.client
    if order.state == Order.State.SENT:
        with tenant_context(client):
            contact = User.objects.get(email=order.contact_email)
            if not contact.has_usable_password():  # what the contact does with the invitation link
                contact.password = _demo_password_hash()
                contact.save(update_fields=["password"])
            contracting.contract_accept(
                version=contract.latest, user=contact, ip="127.0.0.1", user_agent="demo"
            )
        order.refresh_from_db()
        contract.refresh_from_db()
    if not contract.is_paid:
        invoice = contract.first_invoice
        payments.payment_record(
            contract=contract,
            by=manager,
            amount=invoice.balance_due,
            currency=invoice.currency,
            paid_on=timezone.localdate(),
            reference=f"DEMO-{slug.upper()}-1",
        )
    client.refresh_from_db()
    return client


def _schedule_number_release() -> None:
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every_hour, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.HOURS)
    PeriodicTask.objects.get_or_create(
        name="Release numbers after their grace period",
        defaults={"task": "tenants.tasks.release_numbers", "interval": every_hour},
    )


class Command(BaseCommand):
    help = "Create the demo: platform staff, three client companies onboarded end to end, one pending order."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--port", type=int, default=None, help="the port to show in the URLs")

    def handle(self, *args, **options) -> None:
        ensure_platform()
        for username, first, last, role in PLATFORM_STAFF:
            _user(username, first, last, role, f"{username}@{settings.PLATFORM_HOST}")
        seed_catalogue()
        pool_add(numbers=fake_numbers(area="202", count=30), label="demo pool")
        _schedule_number_release()
        manager = User.objects.get(username="manager")
        for slug, name, color in COMPANIES:
            legacy = Client.objects.filter(slug=slug, order__isnull=True).first()
            if legacy is not None:
                self.stderr.write(
                    f"{slug}: created before onboarding existed; left as it is (no order, no number)."
                )
                client = legacy
            else:
                client = _onboard(slug, name, manager, options.get("port"))
            if client.brand_color != color:
                client.brand_color = color
                client.save(update_fields=["brand_color"])
            with tenant_context(client):
                for suffix, first, role in CLIENT_STAFF:
                    _user(f"{slug}-{suffix}", first, name.split()[0], role, f"{suffix}@{slug}.example")
            seed_demo_scripts(client=client, approver=manager)
        _order(*PENDING_ORDER, manager)
        seed_operators()  # the demo operators' skills on the companies' default queues
        seed_working_day()  # a dozen operators with shifts, the last weeks' calls and statistics
        supervisor = User.objects.get(username="supervisor")
        for client in Client.objects.companies().filter(status=Client.Status.ACTIVE):
            seed_scored_calls(client=client, scorer=supervisor)  # recordings to play, scores to chart
        if options["verbosity"] > 0:
            self.stdout.write(self.style.SUCCESS("Demo ready."))
            self.stdout.write(describe(port=options.get("port")))


def describe(port: int | None = None) -> str:
    """Where to look and how to log in."""
    suffix = f":{port}" if port and port not in (80, 443) else ""
    host = settings.PLATFORM_HOST
    lines = [
        f"Platform (staff):      http://{host}{suffix}/staff/   admin at http://{host}{suffix}/admin/",
        "  logins: " + ", ".join(u for u, *_ in PLATFORM_STAFF),
    ]
    for slug, name, _ in COMPANIES:
        lines.append(
            f"{name + ':':22} http://{slug}.{host}{suffix}/   "
            f"logins: admin@{slug}.example, {slug}-editor, {slug}-viewer"
        )
    lines.append(f"Pending order awaiting a contract: {PENDING_ORDER[1]} (back office: /staff/orders/)")
    lines.append(f"Password for every demo login: {DEMO_PASSWORD}")
    lines.append(f"Health: http://{host}{suffix}/healthz")
    return "\n".join(lines)
