from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "operations"
    verbose_name = "Operations (skills and shifts)"
    default_auto_field = "django.db.models.BigAutoField"
