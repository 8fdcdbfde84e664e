"""Walking a client company through onboarding with the domain functions, for tests."""

from __future__ import annotations

import datetime
import random
import uuid

from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.models import Role, User
from telephony.pool import fake_numbers, pool_add
from tenants import contracting, orders, payments
from tenants.catalogue import seed_catalogue
from tenants.models import Client, Contract, FirstInvoice, Order, Service
from tests.conftest import PASSWORD, make_user


def unique_slug() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


def order_post(slug: str, **overrides: object) -> dict[str, object]:
    """A valid order form submission (as the browser posts it)."""
    seed_catalogue()
    inbound = Service.objects.get(code="inbound")
    ivr = Service.objects.get(code="ivr")
    data: dict[str, object] = {
        "token": str(uuid.uuid4()),
        "services": [str(inbound.pk), str(ivr.pk)],
        "legal_name": f"Company {slug} Ltd",
        "registration_number": "HRB 12345",
        "tax_number": "DE123456789",
        "address": "1 Main Street\nSpringfield",
        "portal_slug": slug,
        "contact_first_name": "Cora",
        "contact_last_name": "Contact",
        "contact_email": f"cora@{slug}.example",
        "contact_phone": "+1 202 555 0142",
        "calls_per_month": "5000",
        "peak_hour_calls": "120",
        "coverage": "24x7",
        "coverage_hours": "",
        "time_zone": "Europe/Berlin",
        "languages": ["en", "de"],
        "start_date": (timezone.localdate() + datetime.timedelta(days=10)).isoformat(),
        "numbers_wanted": "1",
        "notes": "",
        "queues-TOTAL_FORMS": "3", "queues-INITIAL_FORMS": "1", "queues-MIN_NUM_FORMS": "0",
        "queues-MAX_NUM_FORMS": "1000", "queues-0-name": "Main",
    }  # fmt: skip
    data.update(overrides)
    return data


def submit_order(slug: str | None = None, *, numbers: int = 1) -> Order:
    slug = slug or unique_slug()
    seed_catalogue()
    order, created = orders.order_submit(
        token=str(uuid.uuid4()),
        services=list(Service.objects.filter(code__in=["inbound", "recording"])),
        fields={
            "legal_name": f"Company {slug} Ltd",
            "registration_number": "R-1",
            "tax_number": "T-1",
            "address": "1 Main Street",
            "portal_slug": slug,
            "contact_first_name": "Cora",
            "contact_last_name": "Contact",
            "contact_email": f"cora@{slug}.example",
            "contact_phone": "+12025550142",
            "calls_per_month": 1000,
            "peak_hour_calls": 50,
            "coverage": "24x7",
            "time_zone": "UTC",
            "languages": ["en"],
            "start_date": timezone.localdate(),
            "numbers_wanted": numbers,
        },
    )
    assert created
    return order


def manager() -> User:
    return make_user(None, role=Role.ACCOUNT_MANAGER, first_name="Mia", last_name="Manager")


def sent_contract(*, numbers: int = 1, by: User | None = None) -> tuple[Contract, Client]:
    """An order drafted and sent: the client company exists as a prospect with its invited contact."""
    by = by or manager()
    order = submit_order(numbers=numbers)
    contract = contracting.contract_draft(order=order, by=by)
    contracting.contract_send(contract=contract, by=by)
    contract.refresh_from_db()
    return contract, contract.client


def contact(client: Client) -> User:
    """The invited contact, having chosen a password (what the invitation link lets them do)."""
    with tenant_context(client):
        user = User.objects.get(role=Role.CLIENT_ADMIN, email__startswith="cora@")
        if not user.has_usable_password():
            user.set_password(PASSWORD)
            user.save()
        return user


def accept(contract: Contract) -> None:
    contract.refresh_from_db()
    user = contact(contract.client)
    with tenant_context(contract.client):
        contracting.contract_accept(version=contract.latest, user=user, ip="192.0.2.10")


def pay(contract: Contract, by: User, amount: object = None) -> None:
    """Pay the first invoice (its balance due unless ``amount`` says otherwise)."""
    invoice = FirstInvoice.objects.filter(contract=contract).first()
    payments.payment_record(
        contract=contract,
        by=by,
        amount=amount if amount is not None else (invoice.balance_due if invoice else "640.00"),
        currency=invoice.currency if invoice else "EUR",
        paid_on=timezone.localdate(),
        reference=f"REF-{uuid.uuid4().hex[:8]}",
    )


def add_numbers(count: int = 5) -> list[str]:
    """Fresh numbers in the pool, under a random area code."""
    numbers = fake_numbers(area=str(random.randint(300, 989)), count=count)
    pool_add(numbers=numbers, label="test")
    return numbers
