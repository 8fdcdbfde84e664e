"""REST API v1 on the tenant host: read-only, Bearer API keys with scopes, rate-limited per key."""

from __future__ import annotations

import django_filters
from django.db.models import Q
from django.http import HttpResponse
from django.templatetags.static import static
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework import pagination, viewsets
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer

from reporting.api import serializers
from reporting.api.auth import ApiKeyAuthentication, HasScope, PerKeyRateThrottle
from reporting.keys import Scope
from reporting.models import Invoice, Statistic
from scripts_engine.models import Script
from telephony.calls.models import Call, Contact


class Cursor(pagination.CursorPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


def cursor(*ordering: str) -> type[Cursor]:
    return type("Cursor", (Cursor,), {"ordering": ordering})


class ApiView(viewsets.ReadOnlyModelViewSet):
    """Every endpoint: key auth, the view's scope, the per-key limit, JSON only."""

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasScope]
    throttle_classes = [PerKeyRateThrottle]
    renderer_classes = [JSONRenderer]
    filter_backends = [DjangoFilterBackend]
    pagination_class = Cursor
    schema = AutoSchema()
    required_scope = Scope.READ_REPORTS


class CallFilter(django_filters.FilterSet):
    started_after = django_filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="gte")
    started_before = django_filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="lt")
    number = django_filters.CharFilter(method="filter_number", help_text="The caller's or callee's number.")

    class Meta:
        model = Call
        fields = ["direction", "queue_id", "outcome", "disposition", "operator_id"]

    def filter_number(self, queryset, name, value):
        return queryset.filter(Q(from_number=value) | Q(to_number=value))


class CallViewSet(ApiView):
    required_scope = Scope.READ_CALLS
    filterset_class = CallFilter
    pagination_class = cursor("-started_at", "-id")

    def get_queryset(self):
        if self.action == "retrieve":
            return Call.objects.prefetch_related("events")
        return Call.objects.all()

    def get_serializer_class(self):
        if self.action == "retrieve":
            return serializers.CallDetailSerializer
        return serializers.CallSerializer


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

    @action(detail=True, methods=["get"])
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


class DocsView(SpectacularSwaggerView):
    """Swagger UI from the vendored drf-spectacular-sidecar static files (no CDN)."""

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
