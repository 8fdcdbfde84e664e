"""A console's seat asks the database for its operator's overdue offer only when one it was sent
may be due (issue 23: 1,000 operators' beats were a query each every 5 s)."""

from __future__ import annotations

from datetime import UTC, datetime

from console.floor import OfferWatch


def _offer(reservation: int, expires: float) -> dict[str, object]:
    return {"type": "offer", "reservation": reservation,
            "expires_at": datetime.fromtimestamp(expires, tz=UTC).isoformat()}  # fmt: skip


def test_a_console_looks_when_an_offer_it_was_sent_is_past_its_deadline():
    watch = OfferWatch()
    assert not watch.due(1005.0)  # nothing sent: presence only
    watch.note(_offer(1, expires=1012.0))
    assert not watch.due(1010.0)  # ringing, not yet due
    assert watch.due(1015.0)  # past its deadline: the beat expires it
    watch.looked(1015.0)
    assert not watch.due(1020.0)


def test_an_offer_that_ended_is_no_longer_watched():
    watch = OfferWatch()
    for end in ("offer_cancelled", "call_lost", "accepted"):
        watch.note(_offer(2, expires=1003.0))
        watch.note({"type": end, "reservation": 2})
        assert not watch.due(1010.0), end


def test_messages_without_an_offer_are_ignored():
    watch = OfferWatch()
    watch.note({"type": "state", "state": "available"})
    watch.note({"type": "offer", "reservation": "x", "expires_at": "soon"})
    watch.note({"type": "offer", "reservation": 3, "expires_at": "soon"})
    assert watch.offers == {} and not watch.due(1001.0)
