"""``python manage.py demo``: the demo platform, created idempotently."""

from __future__ import annotations

import functools

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand
from django_tenants.utils import tenant_context

from accounts.models import Role, User
from tenants.clients import client_create, ensure_platform
from tenants.models import Client

DEMO_PASSWORD = "demo-pass-2026"

PLATFORM_STAFF = [
    ("admin", "Ada", "Admin", Role.PLATFORM_ADMIN),
    ("manager", "Max", "Manager", Role.ACCOUNT_MANAGER),
    ("supervisor", "Sara", "Supervisor", Role.SUPERVISOR),
    ("operator1", "Olga", "Ivanova", Role.OPERATOR),
    ("operator2", "Oscar", "Nguyen", Role.OPERATOR),
    ("operator3", "Nino", "Beridze", Role.OPERATOR),
]
COMPANIES = [
    ("acme", "Acme Corporation", "#b3261e"),
    ("globex", "Globex Corporation", "#1f6f43"),
    ("initech", "Initech", "#3b4cc0"),
]
CLIENT_STAFF = [
    ("admin", "Alex", Role.CLIENT_ADMIN),
    ("editor", "Erin", Role.CLIENT_EDITOR),
    ("viewer", "Victor", Role.CLIENT_VIEWER),
]


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


class Command(BaseCommand):
    help = "Create the demo: three client companies with their users, and platform staff."

    def add_arguments(self, parser) -> None:  # noqa: ANN001
        parser.add_argument("--port", type=int, default=None, help="the port to show in the URLs")

    def handle(self, *args, **options) -> None:  # noqa: ANN002, ANN003
        ensure_platform()
        for username, first, last, role in PLATFORM_STAFF:
            _user(username, first, last, role, f"{username}@{settings.PLATFORM_HOST}")
        for slug, name, color in COMPANIES:
            client = Client.objects.filter(slug=slug).first() or client_create(
                slug=slug, name=name, status=Client.Status.ACTIVE
            )
            if client.brand_color != color:
                client.brand_color = color
                client.save(update_fields=["brand_color"])
            with tenant_context(client):
                for suffix, first, role in CLIENT_STAFF:
                    _user(f"{slug}-{suffix}", first, name.split()[0], role, f"{suffix}@{slug}.example")
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
        lines.append(f"{name + ':':22} http://{slug}.{host}{suffix}/   logins: {slug}-admin, {slug}-editor, {slug}-viewer")
    lines.append(f"Password for every demo login: {DEMO_PASSWORD}")
    lines.append(f"Health: http://{host}{suffix}/healthz")
    return "\n".join(lines)
