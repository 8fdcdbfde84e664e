from django.apps import AppConfig


class OutboundConfig(AppConfig):
    name = "outbound"
    verbose_name = "Outbound campaigns"

    def ready(self) -> None:
        from outbound.orphans import on_orphaned_before_dial
        from outbound.reconciled import on_outbound_call_reconciled
        from outbound.rules import callback_refusal
        from outbound.tasks import on_operator_freed
        from outbound.work import on_callback_booked
        from telephony import events

        events.operator_freed.connect(on_operator_freed, dispatch_uid="dialer-serves-freed-operator")
        events.orphaned_before_dial.connect(
            on_orphaned_before_dial, dispatch_uid="orphaned-preview-given-back"
        )
        events.callback_dial_check.connect(callback_refusal, dispatch_uid="callback-dnc-and-hours")
        events.callback_booked.connect(on_callback_booked, dispatch_uid="dialer-index-callback-booked")
        events.outbound_call_reconciled.connect(
            on_outbound_call_reconciled, dispatch_uid="outbound-lost-status-played"
        )
