from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "People"

    def ready(self) -> None:
        from accounts import (
            lockouts,  # noqa: F401 (logs axes' lockouts)
            throttling,  # noqa: F401 (connects the failed-login receiver)
        )
