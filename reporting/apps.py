from django.apps import AppConfig


class ReportingConfig(AppConfig):
    name = "reporting"
    verbose_name = "Reports and billing"

    def ready(self) -> None:
        # Imported once the models are loaded (Django's place for connecting receivers).
        from django.db.models.signals import post_delete, post_save, pre_save

        from reporting import freshness, tasks, webhooks
        from reporting.webhook_models import WebhookEndpoint
        from telephony import events
        from telephony.calls.models import Call, TelephonySettings

        events.call_completed.connect(webhooks.on_call_completed, dispatch_uid="reporting.call_completed")
        events.call_completed.connect(freshness.on_call_completed, dispatch_uid="reporting.statistics_stale")
        post_save.connect(freshness.on_call_saved, sender=Call, dispatch_uid="reporting.call_saved")
        for signal in (post_save, post_delete):  # every process reads what the endpoints listen to again
            signal.connect(
                webhooks.note_endpoints_change, sender=WebhookEndpoint, dispatch_uid="reporting.endpoints"
            )
        pre_save.connect(
            tasks.on_telephony_settings_saving,
            sender=TelephonySettings,
            dispatch_uid="reporting.telephony_settings_zone",
        )
