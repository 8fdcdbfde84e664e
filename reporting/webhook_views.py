"""Portal pages of outgoing webhooks: a client company's admins manage its endpoints and see deliveries."""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.permissions import CLIENT_ADMINS, require
from reporting import webhook_delivery, webhooks
from reporting.webhook_models import EventType, WebhookDelivery, WebhookEndpoint

RECENT = 50


class EndpointForm(forms.Form):
    url = forms.CharField(label="URL", max_length=500, help_text="Where we POST the events.")
    description = forms.CharField(max_length=200, required=False)
    events = forms.MultipleChoiceField(choices=EventType.choices, widget=forms.CheckboxSelectMultiple)

    def clean_url(self) -> str:
        return webhooks.check_url(self.cleaned_data["url"])


class EndpointEditForm(EndpointForm):
    active = forms.BooleanField(required=False, help_text="Unticked: no events are sent to it.")


def _by(request: HttpRequest) -> str:
    return request.user.get_full_name() or request.user.username


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"  # the page may hold a signing secret
    return response


@login_required
@require_http_methods(["GET", "POST"])
def endpoints(request: HttpRequest) -> HttpResponse:
    """The endpoints, and a form for a new one whose secret is shown this once."""
    require(CLIENT_ADMINS, request.user)
    form = EndpointForm(request.POST or None)
    created = secret = None
    if request.method == "POST" and form.is_valid():
        try:
            created, secret = webhooks.endpoint_create(by=_by(request), **form.cleaned_data)
            form = EndpointForm()
        except ValidationError as error:
            form.add_error(None, error)
    context = {
        "endpoints": WebhookEndpoint.objects.all(),
        "form": form,
        "created": created,
        "secret": secret,
        "event_types": EventType.choices,
    }
    status = 400 if form.is_bound and form.errors else 200
    return _no_store(render(request, "reporting/webhooks.html", context, status=status))


def _detail(
    request: HttpRequest,
    endpoint: WebhookEndpoint,
    *,
    form=None,
    secret: str | None = None,
    status: int = 200,
) -> HttpResponse:
    if form is None:
        form = EndpointEditForm(
            initial={
                "url": endpoint.url,
                "description": endpoint.description,
                "events": endpoint.events,
                "active": endpoint.active,
            }
        )
    deliveries = (
        WebhookDelivery.objects.filter(endpoint=endpoint)
        .select_related("event")
        .order_by("-created_at")[:RECENT]
    )
    context = {"endpoint": endpoint, "form": form, "secret": secret, "deliveries": deliveries}
    return _no_store(render(request, "reporting/webhooks_endpoint.html", context, status=status))


@login_required
@require_http_methods(["GET", "POST"])
def endpoint_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """An endpoint's settings and its recent deliveries."""
    require(CLIENT_ADMINS, request.user)
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    if request.method == "GET":
        return _detail(request, endpoint)
    form = EndpointEditForm(request.POST)
    if form.is_valid():
        try:
            webhooks.endpoint_update(endpoint=endpoint, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "Webhook endpoint saved.")
            return redirect("webhook_endpoint", pk=endpoint.pk)
    return _detail(request, endpoint, form=form, status=400)


@login_required
@require_POST
def endpoint_rotate(request: HttpRequest, pk: int) -> HttpResponse:
    require(CLIENT_ADMINS, request.user)
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    secret = webhooks.endpoint_rotate_secret(endpoint=endpoint, keep_old=not request.POST.get("expire_old"))
    endpoint.refresh_from_db()
    return _detail(request, endpoint, secret=secret)


@login_required
@require_POST
def endpoint_test(request: HttpRequest, pk: int) -> HttpResponse:
    require(CLIENT_ADMINS, request.user)
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    webhooks.send_test(endpoint=endpoint, by=_by(request))
    messages.success(request, "Test event queued: its delivery appears below within seconds.")
    return redirect("webhook_endpoint", pk=endpoint.pk)


@login_required
@require_POST
def endpoint_delete(request: HttpRequest, pk: int) -> HttpResponse:
    require(CLIENT_ADMINS, request.user)
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    webhooks.endpoint_delete(endpoint=endpoint)
    messages.success(request, "Webhook endpoint deleted.")
    return redirect("webhooks")


@login_required
def delivery_detail(request: HttpRequest, uid: uuid.UUID) -> HttpResponse:
    """One delivery: the JSON body sent and every attempt."""
    require(CLIENT_ADMINS, request.user)
    delivery = get_object_or_404(WebhookDelivery.objects.select_related("event", "endpoint"), uid=uid)
    context = {
        "delivery": delivery,
        "attempts": delivery.attempt_log.all(),
        "body": webhook_delivery.event_body(delivery.event).decode(),
    }
    return render(request, "reporting/webhooks_delivery.html", context)


@login_required
@require_POST
def delivery_retry(request: HttpRequest, uid: uuid.UUID) -> HttpResponse:
    """Send a failed delivery again (e.g. once the receiver is fixed)."""
    require(CLIENT_ADMINS, request.user)
    delivery = get_object_or_404(WebhookDelivery, uid=uid)
    try:
        webhooks.delivery_retry(delivery=delivery)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "Delivery queued again.")
    return redirect("webhook_delivery", uid=delivery.uid)
