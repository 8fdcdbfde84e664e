"""Fixtures the security tests share with the telephony tests."""

from tests.telephony.conftest import alpha_number  # noqa: F401 (a fixture, used by name)
