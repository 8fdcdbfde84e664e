from django.apps import AppConfig


class CallsConfig(AppConfig):
    """Call records, contacts and callbacks: in each client company's own schema (R9, R26)."""

    name = "telephony.calls"
    label = "calls"
    verbose_name = "Calls"
