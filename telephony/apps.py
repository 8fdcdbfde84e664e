from django.apps import AppConfig


class TelephonyConfig(AppConfig):
    name = "telephony"
    verbose_name = "Telephony"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from telephony import events, reconcile
        from telephony.calls.company import SETUP_MODELS, mirror_company_day, note_setup_change
        from telephony.calls.models import Call, TelephonySettings
        from telephony.models import Queue
        from telephony.routing import queues, serve_freed_operator
        from tenants.models import Client

        events.operator_available.connect(serve_freed_operator, dispatch_uid="router-serves-freed-operator")
        for signal in (post_save, post_delete):
            signal.connect(mirror_company_day, sender=TelephonySettings, dispatch_uid="mirror-company-day")
            for model in SETUP_MODELS:  # every process reads the company's call setup again
                signal.connect(note_setup_change, sender=model, dispatch_uid=f"call-setup-{model.__name__}")
            for model in (Queue, Client):  # every process reads the queues' rules again
                signal.connect(
                    queues.note_rules_change, sender=model, dispatch_uid=f"queue-rules-{model.__name__}"
                )
        # A new call gives its company work for the reconciliation (tenants.work).
        post_save.connect(reconcile.note_new_call, sender=Call, dispatch_uid="reconcile-new-call")
