from django.apps import AppConfig


class OutboundConfig(AppConfig):
    name = "outbound"
    verbose_name = "Outbound campaigns"

    def ready(self) -> None:
        from outbound.tasks import on_operator_freed
        from telephony import events

        events.operator_freed.connect(on_operator_freed, dispatch_uid="dialer-serves-freed-operator")
