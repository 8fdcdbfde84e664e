"""What the script lifecycle announces after commit; higher apps connect in ``AppConfig.ready()``."""

from django.dispatch import Signal

# A version marked major went live (``client_id``: the company, ``version_id``, ``number``):
# operators certified on the old script must certify again (operations.certification).
major_version_activated = Signal()
