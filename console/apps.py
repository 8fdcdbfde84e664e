from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    """The operator console and the supervisors' wallboard: the pages and sockets that know both
    inbound (``telephony``) and outbound (``outbound``) work."""

    name = "console"
    verbose_name = "Operator console and wallboard"
