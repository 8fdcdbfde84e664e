"""A web process's console sockets are kept alive together (``console.floor``, issue 23): one
Redis round trip beats them all every few seconds, a socket's overdue offer is looked for when it
is due, and every operator's (a lost push) once per period for the whole process."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from console import floor as floor_module
from console.floor import CANARY_TIMEOUT, Canary, Floor, Seat, Settled
from telephony import console_presence
from tests.conftest import run_async


@pytest.fixture
def looks(monkeypatch) -> list[object]:
    """What the floor asked of the database, instead of asking it (the expiries themselves are
    tested in tests/telephony/test_reliability.py)."""
    asked: list[object] = []

    def in_tenant(tenant, func):
        async def run(*args):
            asked.append((tenant, func.__name__, *args))

        return run

    monkeypatch.setattr(floor_module, "in_tenant", in_tenant)
    return asked


def _offer(reservation: int, expires: float) -> dict[str, object]:
    return {"type": "offer", "reservation": reservation,
            "expires_at": datetime.fromtimestamp(expires, tz=UTC).isoformat()}  # fmt: skip


def test_one_beat_refreshes_every_seat_and_the_next_waits_its_period(presence, looks, monkeypatch):
    monkeypatch.setattr(console_presence, "node_name", lambda: "web-1")
    floor = Floor()
    floor.seats |= {Seat(profile_id=7, channel="a", tenant="platform"),
                    Seat(profile_id=8, channel="b", tenant="platform")}  # fmt: skip
    run_async(floor.beat(1000.0))
    assert presence.zscore(console_presence.KEY, "7|web-1|a") == 1000.0
    assert presence.zscore(console_presence.KEY, "8|web-1|b") == 1000.0
    run_async(floor.beat(1000.0 + console_presence.BEAT_SECONDS - 1))
    assert presence.zscore(console_presence.KEY, "7|web-1|a") == 1000.0  # not yet
    run_async(floor.beat(1000.0 + console_presence.BEAT_SECONDS))
    assert presence.zscore(console_presence.KEY, "8|web-1|b") == 1000.0 + console_presence.BEAT_SECONDS


def test_a_seat_is_looked_at_when_its_offer_is_due_and_the_process_looks_once_a_period(presence, looks):
    floor = Floor()
    ringing, idle = Seat(profile_id=7, channel="a", tenant="p"), Seat(profile_id=8, channel="b", tenant="p")
    floor.seats |= {ringing, idle}
    ringing.watch.note(_offer(1, expires=1012.0))
    run_async(floor.look(1000.0))
    assert looks == [("p", "expire_lost")]  # the process's first look; nothing of its own due
    run_async(floor.look(1013.0))
    assert looks[1:] == [("p", "expire_own", 7)]  # the ringing seat's offer is past its deadline
    run_async(floor.look(1014.0))
    assert looks[2:] == []  # looked at already; the process's next look is 30 s after its first
    run_async(floor.look(1000.0 + floor_module.OFFER_LOOK_SECONDS))
    assert looks[2:] == [("p", "expire_lost")]


def test_a_seat_told_other_than_the_database_holds_is_told_apart():
    seat = Seat(profile_id=7, channel="a", tenant="p")
    assert (
        seat.told_apart(Settled("available", None)) is None
    )  # told nothing yet: its first messages are on their way
    seat.note({"type": "state", "state": "available", "reason": ""})
    assert seat.told_apart(Settled("available", None)) is None
    assert seat.told_apart(None) is None  # a change younger than SETTLE_SECONDS: not compared yet
    assert seat.told_apart(Settled("break", None)) == "state"  # a state push lost
    assert (
        seat.told_apart(Settled("available", 5)) == "offer"
    )  # an offer never sent (its state push lost too)
    seat.note({"type": "state", "state": "reserved", "reason": ""})
    assert seat.told_apart(Settled("reserved", 5)) == "offer"  # the state came, the offer did not
    seat.note(_offer(5, expires=2000.0))
    assert seat.told_apart(Settled("reserved", 5)) is None
    seat.note({"type": "offer_cancelled", "reservation": 5, "reason": "no answer"})
    seat.note({"type": "state", "state": "available", "reason": ""})
    assert seat.told_apart(Settled("available", None)) is None


def test_the_floor_tells_everything_again_to_the_seats_told_apart(monkeypatch):
    truth = {
        7: Settled("available", 3),
        8: Settled("available", None),
        11: Settled("break", None),
    }  # 9: young
    asked: list[tuple[list[int], float]] = []
    resumed: list[int] = []

    def in_tenant(tenant, func):
        async def run(profile_ids, before):
            asked.append((sorted(profile_ids), before))
            return dict(truth)

        return run

    monkeypatch.setattr(floor_module, "in_tenant", in_tenant)

    def seat(profile_id: int, told_at: float = 900.0) -> Seat:
        async def resume() -> None:
            resumed.append(profile_id)

        taken = Seat(profile_id=profile_id, channel=str(profile_id), tenant="p", resume=resume)
        taken.note({"type": "state", "state": "available", "reason": ""}, at=told_at)
        return taken

    floor = Floor()
    late = seat(12, told_at=1000.0)  # told something as the comparison began: the answer may be older
    floor.seats |= {seat(7), seat(8), seat(9), seat(11), late, Seat(profile_id=10, channel="10", tenant="p")}
    truth[12] = Settled("break", None)
    run_async(floor.check(1000.0))
    # One question for the process (the seat told nothing yet is not asked about); the seat whose
    # ringing offer never came and the one whose state push was lost are told everything again.
    assert asked == [([7, 8, 9, 11, 12], 1000.0 - floor_module.SETTLE_SECONDS)] and sorted(resumed) == [7, 11]
    run_async(floor.check(1000.0 + floor_module.CHECK_SECONDS - 0.1))
    assert len(asked) == 1  # once a period
    truth[7] = Settled("reserved", 4)  # the next offer lost too: told at once
    run_async(floor.check(1000.0 + floor_module.CHECK_SECONDS))
    # 11's state was told again a moment ago: not again so soon (the box may be slow, not lossy);
    # 12 told before this comparison now, and still apart.
    assert len(asked) == 2 and sorted(resumed) == [7, 7, 11, 12]
    run_async(floor.check(1000.0 + floor_module.RETELL_SECONDS))
    assert sorted(resumed) == [7, 7, 7, 11, 11, 12]  # 12's state again within 30 s: not yet


def test_the_floor_runs_while_a_seat_is_taken(presence, looks, monkeypatch):
    monkeypatch.setattr(floor_module, "TICK_SECONDS", 0.01)

    async def scenario() -> tuple[bool, bool]:
        floor = floor_module.floor()
        assert floor_module.floor() is floor  # one per event loop
        seat = Seat(profile_id=7, channel="a", tenant="p")
        floor.sit(seat)
        await asyncio.sleep(0.05)
        tasks = list(floor.tasks)
        running = len(tasks) == 5 and not any(task.done() for task in tasks)
        await floor.stand(seat)
        await asyncio.sleep(0.05)
        return running, all(task.done() for task in tasks) and floor.tasks == []

    assert run_async(scenario()) == (True, True)
    assert 7 in console_presence.live_operators()


def test_presence_is_beaten_while_the_database_hangs_and_after_a_failed_beat(presence, monkeypatch):
    """What ended the first batched beat (reverted): one loop stopped, every console of the process
    was swept offline. A look stuck on the database does not hold up the beat; a beat that raised
    does not end its task, and a task that ends all the same (cancelled from inside) is started
    again."""
    monkeypatch.setattr(floor_module, "TICK_SECONDS", 0.01)
    monkeypatch.setattr(console_presence, "BEAT_SECONDS", 0.02)

    def in_tenant(tenant, func):
        async def hang(*args):
            await asyncio.Event().wait()

        return hang

    monkeypatch.setattr(floor_module, "in_tenant", in_tenant)
    beats: list[float] = []
    real_beat = console_presence.abeat

    async def abeat(consoles, **kwargs):
        beats.append(kwargs["now"])
        if len(beats) == 1:
            raise RuntimeError("a bug in the first beat")
        if len(beats) == 3:
            raise asyncio.CancelledError  # ends the beat's task
        return await real_beat(consoles, **kwargs)

    monkeypatch.setattr(console_presence, "abeat", abeat)

    async def scenario() -> None:
        floor = floor_module.floor()
        seat = Seat(profile_id=9, channel="a", tenant="p")
        seat.watch.note(_offer(1, expires=0.0))  # due at once: its look hangs on the database
        floor.sit(seat)
        await asyncio.sleep(0.3)
        await floor.stand(seat)

    run_async(scenario())
    assert len(beats) >= 6
    assert 9 in console_presence.live_operators()


def test_the_floor_beats_and_looks_again_when_the_clock_steps_back(presence, looks):
    floor = Floor()
    floor.seats.add(Seat(profile_id=7, channel="a", tenant="p"))
    run_async(floor.beat(1000.0))
    run_async(floor.look(1000.0))
    run_async(floor.beat(900.0))  # NTP stepped the clock back 100 s: not 100 s without a beat
    run_async(floor.look(900.0))
    assert floor.beat_at == 900.0
    assert looks == [("p", "expire_lost"), ("p", "expire_lost")]


def test_a_canary_tells_when_a_push_may_have_been_lost_and_when_to_resume():
    canary = Canary()
    assert canary.due(100.0) and canary.sending(100.0) == 1
    assert not canary.due(101.0)  # in flight
    assert not canary.back(1, 101.0)  # back: nothing lost
    assert canary.due(101.0) and canary.sending(101.0) == 2
    assert canary.due(101.0 + CANARY_TIMEOUT + 0.1) and not canary.broken  # late: sent again
    canary.sending(104.0)
    assert not canary.back(2, 104.1) and not canary.back(3, 104.2)  # only late: nothing lost
    canary.sending(105.0)
    canary.sending(107.5)  # 4 never came back
    assert canary.back(5, 107.6)  # 5 did: 4 was lost, resume
    canary.sending(108.0)
    canary.failed()  # Redis away: could not even send
    assert canary.broken and canary.due(108.5)
    canary.sending(109.0)
    assert canary.back(7, 109.1) and not canary.broken  # the next back: resume, once
    assert not canary.back(7, 109.2)
    canary.server_is("a1")
    canary.server_is("a1")
    assert not canary.broken
    canary.sending(110.0)
    canary.server_is("b2")  # Redis restarted between two canaries: a canary is due at once
    assert canary.broken and canary.due(110.1)
    canary.sending(110.1)
    assert canary.back(9, 110.2)


def test_a_floor_that_hears_no_canary_says_so_now_and_then():
    canary = Canary()
    canary.sending(100.0)
    assert canary.back(1, 100.1) is False
    canary.sending(101.0)
    assert not canary.silent(120.0)
    assert canary.silent(131.0)  # nothing back for 30 s
    assert not canary.silent(140.0)  # said; again in 30 s
    assert canary.silent(161.5)


@pytest.mark.parametrize("down", [0.0, 1.0])
def test_consoles_are_told_everything_again_after_the_layers_redis_restarts(monkeypatch, down):
    """On Redis publish/subscribe a push published while the subscription is down is lost and the
    socket stays open: the floor notices (a restart quicker than the canaries' period by the
    server's run_id), and each seat is resumed once Redis is back; with Redis steady, never."""
    from channels_redis.pubsub import RedisPubSubChannelLayer

    from bench.soak import OwnRedis

    monkeypatch.setattr(floor_module, "TICK_SECONDS", 0.05)
    monkeypatch.setattr(floor_module, "CANARY_SECONDS", 0.1)
    monkeypatch.setattr(floor_module, "CANARY_TIMEOUT", 0.5)
    monkeypatch.setattr(console_presence, "BEAT_SECONDS", 3600)  # presence is not what is tested
    server = OwnRedis()
    server.start()
    resumed: list[int] = []

    async def scenario() -> tuple[int, int]:
        layer = RedisPubSubChannelLayer(hosts=[server.url], prefix="floor-test")
        floor = Floor(layer=layer, redis_url=server.url)

        async def resume() -> None:
            resumed.append(7)

        seat = Seat(profile_id=7, channel="a", tenant="p", resume=resume)
        floor.sit(seat)
        await asyncio.sleep(1.5)
        steady = len(resumed)
        await asyncio.to_thread(server.stop)
        await asyncio.sleep(down)
        await asyncio.to_thread(server.start)
        for _ in range(100):
            if resumed:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # told once, not again and again
        await floor.stand(seat)
        await layer.flush()
        return steady, len(resumed)

    try:
        assert run_async(scenario()) == (0, 1)
    finally:
        server.stop()


def test_settled_is_what_the_database_holds_once_every_change_is_old_enough(db, tenants):
    from telephony import routing
    from telephony.models import Reservation
    from tests.telephony.helpers import make_operator, make_queue, sid

    queue = make_queue(tenants.alpha)
    ringing, idle = make_operator({queue: 1}), make_operator({queue: 1}, state="break")
    call = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid())
    offer = Reservation.objects.get(call__call_sid=call.call_sid, state="offered")
    now = offer.offered_at.timestamp()
    young = floor_module.settled([ringing.pk, idle.pk], now - floor_module.SETTLE_SECONDS)
    old = floor_module.settled([ringing.pk, idle.pk], now + 0.001)
    assert ringing.pk not in young  # offered a moment ago: its push may be on its way
    assert old == {ringing.pk: Settled("reserved", offer.pk), idle.pk: Settled("break", None)}
    assert floor_module.settled([idle.pk], now + 1) == {idle.pk: Settled("break", None)}  # only those asked
