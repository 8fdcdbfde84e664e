"""REST API v1 on the tenant host: read-only, Bearer API keys with scopes, rate-limited per key."""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_replace
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.http import HttpResponse, JsonResponse
from django.templatetags.static import static
from django.utils import timezone
from django.utils.decorators import method_decorator
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework import pagination, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request

from reporting import recording_log
from reporting.api import serializers
from reporting.api.auth import ApiKeyAuthentication, HasScope, PerKeyRateThrottle
from reporting.client_events import client_events
from reporting.filters import NumberFilter
from reporting.keys import Scope
from reporting.models import Invoice, Statistic
from scripts_engine.models import Script
from telephony.calls.models import Call, CallEvent, Contact, RecordingAccess
from telephony.recording_access import Listener, serve_recording


class Cursor(pagination.CursorPagination):
    """Cursor pages; a cursor whose position is not a value of the ordering field (a hand-made or
    corrupted one) is an invalid cursor (404), never a database error."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000

    def paginate_queryset(self, queryset, request, view=None):
        self.model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request):
        cursor = super().decode_cursor(request)
        if cursor is None or cursor.position is None:
            return cursor
        field = self.model._meta.get_field(self.ordering[0].lstrip("-"))
        try:
            position = field.to_python(cursor.position)
            if isinstance(position, dt.datetime):
                if timezone.is_naive(position):
                    position = timezone.make_aware(position, dt.UTC)
                position = position.astimezone(dt.UTC)
        except (ValidationError, ValueError, TypeError, OverflowError):
            raise NotFound(self.invalid_cursor_message) from None
        return cursor._replace(position=position)


def cursor(*ordering: str) -> type[Cursor]:
    return type("Cursor", (Cursor,), {"ordering": ordering})


def error_responses(*, filtered: bool = False) -> dict[int, OpenApiResponse]:
    """The error answers of an endpoint (``filtered``: a list whose query parameters are checked)."""
    error = serializers.ErrorSerializer
    errors = {
        401: OpenApiResponse(error, description="No, an unknown or a revoked API key."),
        403: OpenApiResponse(error, description="The key lacks the scope this endpoint needs."),
        404: OpenApiResponse(error, description="No such object here, or an invalid page cursor."),
        429: OpenApiResponse(error, description="Over the key's rate limit; see Retry-After."),
    }
    if filtered:
        errors[400] = OpenApiResponse(
            serializers.VALIDATION_ERROR, description="A query parameter was refused."
        )
    return errors


class ApiSchema(AutoSchema):
    """Every operation documents its error answers too, not only its 200."""

    def get_response_serializers(self):
        documented = super().get_response_serializers()
        responses = dict(documented) if isinstance(documented, dict) else {200: documented}
        view = self.view
        filtered = getattr(view, "filterset_class", None) or getattr(view, "filterset_fields", None)
        errors = error_responses(filtered=bool(filtered) and getattr(view, "action", None) == "list")
        return responses | {code: answer for code, answer in errors.items() if code not in responses}


class ApiView(viewsets.ReadOnlyModelViewSet):
    """Every endpoint: key auth, the view's scope, the per-key limit, JSON only."""

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasScope]
    throttle_classes = [PerKeyRateThrottle]
    renderer_classes = [JSONRenderer]
    filter_backends = [DjangoFilterBackend]
    pagination_class = Cursor
    schema = ApiSchema()
    required_scope = Scope.READ_REPORTS

    def finalize_response(
        self, request: Request, response: HttpResponse, *args: Any, **kwargs: Any
    ) -> HttpResponse:
        response = super().finalize_response(request, response, *args, **kwargs)
        decision = getattr(request, "rate_limit", None)  # set by the key's or the address's limit
        for name, value in (decision.headers() if decision is not None else {}).items():
            response[name] = value
        return response


class UtcDateTimeField(django_filters.fields.IsoDateTimeField):
    """An ISO 8601 date-time, given to the database in UTC: any offset Python accepts (up to ±23:59)
    works, and a moment beyond year 1..9999 once in UTC is refused (400), not a database error."""

    def to_python(self, value):
        moment = super().to_python(value)
        if moment is None:
            return None
        try:
            return moment.astimezone(dt.UTC)
        except OverflowError:
            raise ValidationError("Enter a date/time between the years 1 and 9999.", code="invalid") from None


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField


class CallFilter(django_filters.FilterSet):
    started_after = UtcDateTimeFilter(field_name="started_at", lookup_expr="gte")
    started_before = UtcDateTimeFilter(field_name="started_at", lookup_expr="lt")
    number = NumberFilter()

    class Meta:
        model = Call
        fields = ["direction", "queue_id", "outcome", "disposition", "operator_id"]


class CallViewSet(ApiView):
    required_scope = Scope.READ_CALLS
    filterset_class = CallFilter
    pagination_class = cursor("-started_at", "-id")

    def get_queryset(self):
        if self.action == "retrieve" and not getattr(self, "swagger_fake_view", False):
            # The events the client may see (live supervision only if its contract says so).
            return Call.objects.prefetch_related(
                Prefetch("events", queryset=client_events(CallEvent.objects.all()))
            )
        return Call.objects.all()

    def get_serializer_class(self):
        if self.action == "retrieve":
            return serializers.CallDetailSerializer
        return serializers.CallSerializer

    @extend_schema(
        summary="The call's recording (audio)",
        description="The stored audio (audio/mpeg, or audio/wav). Every request from the start of the "
        "file is logged in the recording access log as a play, or a download with `download=1`.",
        parameters=[OpenApiParameter("download", bool, description="Send as an attachment (a download).")],
        responses={
            (200, "audio/mpeg"): OpenApiTypes.BINARY,
            (200, "audio/wav"): OpenApiTypes.BINARY,
            **error_responses(),
        },
    )
    @action(detail=True, methods=["get"], schema=ApiSchema())
    def recording(self, request, pk=None):
        call = self.get_object()
        key = request.auth
        listener = Listener(username=f"API key {key.name} (cck_{key.prefix}_…)", user_id=None)
        return serve_recording(
            call=call, request=request, surface=RecordingAccess.Surface.API, listener=listener
        )


class RecordingAccessFilter(django_filters.FilterSet):
    at_after = UtcDateTimeFilter(field_name="at", lookup_expr="gte")
    at_before = UtcDateTimeFilter(field_name="at", lookup_expr="lt")
    who = django_filters.CharFilter(
        method="filter_who", max_length=150, help_text="A part of the name shown."
    )

    class Meta:
        model = RecordingAccess
        fields = ["action", "surface", "call_sid", "platform_staff"]

    def filter_who(self, queryset, name, value):
        return recording_log.filter_who(queryset, value)


class RecordingAccessViewSet(ApiView):
    """Who heard what: every play, download and deletion of the company's recordings."""

    required_scope = Scope.READ_CALLS
    queryset = RecordingAccess.objects.all()
    serializer_class = serializers.RecordingAccessSerializer
    filterset_class = RecordingAccessFilter
    pagination_class = cursor("-at", "-id")


class ContactViewSet(ApiView):
    required_scope = Scope.READ_CALLS
    queryset = Contact.objects.all()
    serializer_class = serializers.ContactSerializer
    filterset_fields = ["phone", "vip"]
    pagination_class = cursor("id")


class StatisticFilter(django_filters.FilterSet):
    day_from = django_filters.DateFilter(field_name="day", lookup_expr="gte")
    day_to = django_filters.DateFilter(field_name="day", lookup_expr="lte")

    class Meta:
        model = Statistic
        fields = ["granularity", "dimension", "key"]


class StatisticViewSet(ApiView):
    queryset = Statistic.objects.all()
    serializer_class = serializers.StatisticSerializer
    filterset_class = StatisticFilter
    pagination_class = cursor("period_start", "id")


class InvoiceViewSet(ApiView):
    """Issued and paid invoices (a draft is not the client's yet)."""

    queryset = Invoice.objects.exclude(state=Invoice.State.DRAFT).prefetch_related("lines")
    serializer_class = serializers.InvoiceSerializer
    pagination_class = cursor("-period_start")

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY, **error_responses()})
    @action(detail=True, methods=["get"], schema=ApiSchema())
    def pdf(self, request, pk=None):
        invoice = self.get_object()
        response = HttpResponse(bytes(invoice.pdf), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{invoice.number}.pdf"'
        return response


class ScriptViewSet(ApiView):
    queryset = Script.objects.prefetch_related("versions")
    serializer_class = serializers.ScriptSerializer
    pagination_class = cursor("id")


class SchemaView(SpectacularAPIView):
    schema = None
    authentication_classes: list = []
    permission_classes: list = []


@method_decorator(csp_replace({"style-src": [SELF, UNSAFE_INLINE]}), name="dispatch")
class DocsView(SpectacularSwaggerSplitView):
    """Swagger UI from the vendored drf-spectacular-sidecar static files (no CDN); its set-up script
    is a request of its own, not inline (Content-Security-Policy). Swagger UI styles its own
    elements inline: this page alone allows inline styles (never inline scripts)."""

    schema = None
    authentication_classes: list = []
    permission_classes: list = []
    title = "Contact center API v1"

    @staticmethod
    def _swagger_ui_resource(filename):
        return static(f"drf_spectacular_sidecar/swagger-ui-dist/{filename}")

    @staticmethod
    def _swagger_ui_favicon():
        return static("drf_spectacular_sidecar/swagger-ui-dist/favicon-32x32.png")


def not_found(request, *args, **kwargs) -> JsonResponse:
    """Any other path under /api/v1/ (``calls/0.5/`` included): a JSON 404, as the schema says."""
    return JsonResponse({"detail": "Not found."}, status=404)
