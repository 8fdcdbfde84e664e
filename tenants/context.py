from django.conf import settings
from django.http import HttpRequest


def tenant(request: HttpRequest) -> dict[str, object]:
    """The client company of the request's host, for every template."""
    current = getattr(request, "tenant", None)
    return {
        "tenant": current,
        "on_platform": current is None or current.schema_name == "public",
        "platform_name": settings.PLATFORM_NAME,
    }
