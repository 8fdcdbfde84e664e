"""Telephony fixtures: a number of the pool assigned to the standing tenant alpha."""

from __future__ import annotations

import pytest

from telephony.models import PhoneNumber


@pytest.fixture
def alpha_number(db, tenants) -> str:
    number, _ = PhoneNumber.objects.get_or_create(
        number="+15550199001", defaults={"tenant": tenants.alpha, "state": PhoneNumber.State.ASSIGNED}
    )
    return number.number


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    """Run what the router does on commit (matching, pushes) at the end of the block."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def caller_moved_on_accept(settings):
    """Every caller waits in Twilio's queue and is moved into the conference on accept, as a call
    queued before an operator was free is (``CALLS_STRAIGHT_INTO_CONFERENCE`` off): these tests
    make the operator free first, and play that move (``tests/telephony/test_straight_in.py``
    plays the call offered as it comes in)."""
    settings.CALLS_STRAIGHT_INTO_CONFERENCE = False


@pytest.fixture
def bridges(monkeypatch) -> list[int]:
    """The bridge tasks the platform sends (their ids), not run: each test runs them itself."""
    sent: list[int] = []
    monkeypatch.setattr("telephony.tasks.bridge_call.delay", sent.append)
    return sent
