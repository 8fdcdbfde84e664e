from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "operations"
    verbose_name = "Operations (skills, shifts and certification)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported once the models are loaded (Django's place for connecting receivers).
        from operations import tasks
        from scripts_engine.events import major_version_activated

        major_version_activated.connect(tasks.on_major_version, dispatch_uid="operations.major_version")
