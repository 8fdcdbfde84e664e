"""The public order form (R3): strict, friendly, idempotent, and never a 500."""

from __future__ import annotations

from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile

from tenants.models import AuditEvent, Order
from tests.conftest import http, logged_in
from tests.onboarding.helpers import manager, order_post, unique_slug


def test_the_catalogue_shows_services_with_prices(db, tenants):
    order_post(unique_slug())  # seeds the catalogue
    page = http(None).get("/services/").content.decode()
    assert "Inbound hotline" in page
    assert "490.00 EUR" in page
    assert "6/6" in page


def test_a_valid_order_is_saved_confirmed_by_email_and_audited(
    db, tenants, django_capture_on_commit_callbacks
):
    slug = unique_slug()
    with django_capture_on_commit_callbacks(execute=True):
        response = http(None).post("/order/", order_post(slug))
    assert response.status_code == 302
    assert "/order/thanks/" in response["Location"]
    order = Order.objects.get(portal_slug=slug)
    assert order.state == "submitted"
    assert order.services.count() == 2
    assert order.languages == ["en", "de"]
    assert [m.to for m in mail.outbox] == [[f"cora@{slug}.example"]]
    assert "we received your order" in mail.outbox[0].subject
    assert AuditEvent.objects.filter(
        object_type="order", object_id=order.pk, action="order.submitted"
    ).exists()
    thanks = http(None).get(response["Location"]).content.decode()
    assert f"{slug}.localhost" in thanks


def test_submitting_the_same_form_twice_makes_one_order_and_one_email(
    db, tenants, django_capture_on_commit_callbacks
):
    slug = unique_slug()
    data = order_post(slug)
    client = http(None)
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post("/order/", data)
        second = client.post("/order/", data)
    assert first["Location"] == second["Location"]
    assert Order.objects.filter(portal_slug=slug).count() == 1
    assert len(mail.outbox) == 1


INVALID = {
    "no services": ({"services": []}, "services", "Choose at least one service."),
    "bad e-mail": ({"contact_email": "not-an-email"}, "contact_email", "valid email"),
    "bad phone": ({"contact_phone": "call me maybe"}, "contact_phone", "7 to 15 digits"),
    "peak above month": (
        {"calls_per_month": "10", "peak_hour_calls": "50"},
        "peak_hour_calls",
        "whole month",
    ),
    "past start": ({"start_date": "2001-01-01"}, "start_date", "cannot be in the past"),
    "bad date": ({"start_date": "31/31/2031"}, "start_date", "valid date"),
    "bad slug": ({"portal_slug": "Not A Slug!"}, "portal_slug", "Lower-case letters"),
    "reserved slug": ({"portal_slug": "admin"}, "portal_slug", "reserved"),
    "taken slug": ({"portal_slug": "alpha"}, "portal_slug", "already taken"),
    "unknown time zone": ({"time_zone": "Mars/Olympus"}, "time_zone", "valid choice"),
    "business hours missing": ({"coverage": "business"}, "coverage_hours", "business hours"),
    "negative calls": ({"calls_per_month": "-5"}, "calls_per_month", "greater than or equal"),
    "too many numbers": ({"numbers_wanted": "500"}, "numbers_wanted", "less than or equal"),
    "unknown language": ({"languages": ["xx"]}, "languages", "valid choice"),
    "no token": ({"token": "garbage"}, "token", "valid UUID"),
}


def test_invalid_orders_get_field_errors_and_nothing_is_saved(db, tenants):
    client = http(None)
    for name, (change, field, message) in INVALID.items():
        response = client.post("/order/", order_post(unique_slug(), **change))
        assert response.status_code == 400, name
        assert field in response.context["form"].errors, name
        assert message in " ".join(response.context["form"].errors[field]), (
            name,
            response.context["form"].errors,
        )
        assert f'id="id_{field}_error"' in response.content.decode() or field == "token", name
    assert not Order.objects.exists()
    assert not mail.outbox


def test_a_draft_script_is_stored_under_the_orders_prefix(db, tenants, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    data = order_post(unique_slug())
    data["draft_script"] = SimpleUploadedFile("script.txt", b"Operator: Hello!\nCustomer: Hi.", "text/plain")
    assert http(None).post("/order/", data).status_code == 302
    order = Order.objects.get(token=data["token"])
    assert order.draft_script.name == f"orders/{order.token}/draft-script.txt"
    assert (tmp_path / order.draft_script.name).read_bytes().startswith(b"Operator:")
    download = logged_in(None, manager()).get(f"/staff/orders/{order.pk}/script/")
    assert download["Content-Disposition"].startswith("attachment")
    assert b"".join(download.streaming_content).startswith(b"Operator:")
    assert http(None).get(f"/staff/orders/{order.pk}/script/").status_code == 302


def test_oversized_or_disguised_draft_scripts_are_refused(db, tenants, settings):
    settings.ORDER_UPLOAD_MAX_BYTES = 1024
    client = http(None)
    cases = [
        (SimpleUploadedFile("big.txt", b"a" * 2048, "text/plain"), "larger than"),
        (SimpleUploadedFile("virus.exe", b"MZ\x90\x00", "application/octet-stream"), "Please upload one of"),
        (SimpleUploadedFile("fake.pdf", b"hello", "application/pdf"), "not a PDF"),
    ]
    for upload, message in cases:
        data = order_post(unique_slug())
        data["draft_script"] = upload
        response = client.post("/order/", data)
        assert response.status_code == 400
        assert message in " ".join(response.context["form"].errors["draft_script"])
    assert not Order.objects.exists()


def test_garbage_never_gives_a_500(db, tenants):
    client = http(None)
    bodies = [
        {},
        {"services": ["abc", "999999"], "calls_per_month": "1e99", "numbers_wanted": "x"},
        {"token": "' OR 1=1 --", "portal_slug": "a" * 500, "legal_name": "x" * 5000},
        {"languages": "en", "start_date": "9999-99-99", "coverage": "always"},
    ]
    for body in bodies:
        assert client.post("/order/", body).status_code == 400
    assert client.get("/order/thanks/00000000-0000-0000-0000-000000000000/").status_code == 404
    assert client.get("/order/thanks/not-a-uuid/").status_code == 404
    assert not Order.objects.exists()
