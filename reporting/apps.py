from django.apps import AppConfig


class ReportingConfig(AppConfig):
    name = "reporting"
    verbose_name = "Reports and billing"

    def ready(self) -> None:
        # Imported once the models are loaded (Django's place for connecting receivers).
        from reporting import webhooks
        from telephony import events

        events.call_completed.connect(webhooks.on_call_completed, dispatch_uid="reporting.call_completed")
