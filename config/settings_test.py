"""Settings for the test suite: the same settings, in the ``test`` environment."""

import os

os.environ.setdefault("DJANGO_ENV", "test")

from config.settings import *  # noqa: E402, F403
