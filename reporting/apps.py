from django.apps import AppConfig


class ReportingConfig(AppConfig):
    name = "reporting"
    verbose_name = "Reports and billing"

    def ready(self) -> None:
        # Imported once the models are loaded (Django's place for connecting receivers).
        from django.db.models.signals import pre_save

        from reporting import tasks, webhooks
        from telephony import events
        from telephony.calls.models import TelephonySettings

        events.call_completed.connect(webhooks.on_call_completed, dispatch_uid="reporting.call_completed")
        pre_save.connect(
            tasks.on_telephony_settings_saving,
            sender=TelephonySettings,
            dispatch_uid="reporting.telephony_settings_zone",
        )
