"""``/api/v1/certification/``: how many certified operators serve the company (a count, never who)."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from operations import certification
from reporting.api.views import ApiSchema, ApiView
from reporting.keys import Scope


class CertificationSummarySerializer(serializers.Serializer):
    certified_operators = serializers.IntegerField(
        help_text="Operators holding a valid certificate for you now."
    )
    valid_days = serializers.IntegerField(help_text="How long a pass of your quiz is valid (your contract).")


class CertificationSummaryView(APIView):
    """Key auth, scope and per-key limit as every endpoint of ``/api/v1/``."""

    authentication_classes = ApiView.authentication_classes
    permission_classes = ApiView.permission_classes
    throttle_classes = ApiView.throttle_classes
    renderer_classes = ApiView.renderer_classes
    required_scope = Scope.READ_REPORTS
    schema = ApiSchema()
    serializer_class = CertificationSummarySerializer  # what the schema documents

    def get(self, request: Request) -> Response:
        client, now = request.tenant, timezone.now()
        summary = {
            "certified_operators": certification.certified_count(client=client, now=now),
            "valid_days": certification.valid_days(client),
        }
        return Response(CertificationSummarySerializer(summary).data)
