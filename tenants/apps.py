from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Client companies"

    def ready(self) -> None:
        from tenants import resolution  # noqa: F401  (cache invalidation signals)
