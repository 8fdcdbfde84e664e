from django.apps import AppConfig


class TelephonyConfig(AppConfig):
    name = "telephony"
    verbose_name = "Telephony"

    def ready(self) -> None:
        from telephony import events
        from telephony.routing import serve_freed_operator

        events.operator_available.connect(serve_freed_operator, dispatch_uid="router-serves-freed-operator")
