"""config.process_cache: whole mappings swapped at once, per-key entries, TTL, invalidation on save."""

from __future__ import annotations

import itertools
import sys
import threading
import time
from collections.abc import Mapping

import pytest

from config.process_cache import UNKNOWN, ProcessCache
from telephony.models import PhoneNumber


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Loads:
    """A loader that counts its calls and returns what ``source`` holds at the time."""

    def __init__(self, source: dict) -> None:
        self.source, self.calls = source, 0

    def all(self) -> dict:
        self.calls += 1
        return dict(self.source)

    def one(self, key: object) -> object:
        self.calls += 1
        return self.source.get(key)


def test_exactly_one_way_of_loading_is_given():
    with pytest.raises(ValueError, match="exactly one"):
        ProcessCache(ttl=1)
    with pytest.raises(ValueError, match="exactly one"):
        ProcessCache(ttl=1, load_all=dict, load_one=lambda key: None)


def test_a_whole_mapping_is_read_once_and_kept_for_its_ttl():
    clock, loads = Clock(), Loads({"a": 1, "b": 2})
    cache = ProcessCache(ttl=10, load_all=loads.all, clock=clock)
    assert (cache.get("a"), cache.get("b"), loads.calls) == (1, 2, 1)
    loads.source["a"] = 3
    clock.now += 9.9
    assert (cache.get("a"), loads.calls) == (1, 1)  # still fresh: the old value
    clock.now += 0.2
    assert (cache.get("a"), loads.calls) == (3, 2)  # expired: read again, every key at once
    assert dict(cache.snapshot()) == {"a": 3, "b": 2} and loads.calls == 2


def test_a_key_missing_from_the_mapping_reloads_it_at_most_once_per_interval():
    clock, loads = Clock(), Loads({"a": 1})
    cache = ProcessCache(ttl=60, load_all=loads.all, miss_reload_seconds=1, clock=clock)
    assert cache.get("a") == 1
    loads.source["new"] = 2
    assert (cache.get("new"), loads.calls) == (None, 1)  # just loaded: not again at once
    clock.now += 1
    assert (cache.get("new"), loads.calls) == (2, 2)  # a new row is seen without waiting the TTL
    clock.now += 1
    for _ in range(100):
        assert cache.get("never") is None
    assert loads.calls == 3  # an unknown key costs one read per interval, not one per request


def test_per_key_entries_load_on_first_use_expire_on_their_own_and_remember_unknown_keys():
    clock, loads = Clock(), Loads({"a": 1, "b": 2})
    cache = ProcessCache(ttl=10, load_one=loads.one, clock=clock)
    assert (cache.get("a"), loads.calls) == (1, 1)
    clock.now += 6
    assert (cache.get("b"), cache.get("a"), cache.get("nobody"), loads.calls) == (2, 1, None, 3)
    assert (cache.get("nobody"), loads.calls) == (None, 3)  # unknown: kept as None too
    loads.source.update(a=10, b=20)
    clock.now += 5  # a is 11 s old, b 5 s
    assert (cache.get("a"), cache.get("b"), loads.calls) == (10, 2, 4)


def test_a_per_key_entry_of_another_version_is_loaded_again_whatever_its_age():
    clock, loads, versions = Clock(), Loads({"a": 1, "b": 2}), {"a": b"1", "b": None}
    cache = ProcessCache(ttl=300, load_one=loads.one, version=versions.get, clock=clock)
    assert (cache.get("a"), cache.get("b"), loads.calls) == (1, 2, 2)
    assert (cache.get("a"), cache.get("b"), loads.calls) == (1, 2, 2)  # same versions: kept
    loads.source["a"] = 10
    versions["a"] = b"2"  # changed in another process, bumped as it committed
    clock.now += 1
    assert (cache.get("a"), cache.get("b"), loads.calls) == (10, 2, 3)  # only a, at once
    assert (cache.get("a"), loads.calls) == (10, 3)
    clock.now += 300
    assert (cache.get("a"), loads.calls) == (10, 4)  # the TTL still bounds an entry's age


def test_an_unknown_version_loads_every_time_and_a_change_during_a_load_is_read_again():
    loads, versions = Loads({"a": 1}), {"a": UNKNOWN}
    cache = ProcessCache(ttl=300, load_one=loads.one, version=versions.get)
    assert (cache.get("a"), cache.get("a"), loads.calls) == (1, 1, 2)  # e.g. Redis away: never kept
    versions["a"] = b"1"

    def load_during_a_change(key: str) -> object:
        value = loads.one(key)  # read before the change below commits
        loads.source["a"], versions["a"] = 2, b"2"
        return value

    racing = ProcessCache(ttl=300, load_one=load_during_a_change, version=versions.get)
    assert racing.get("a") == 1  # kept under version 1, which is no longer the current one
    racing.load_one = loads.one
    assert racing.get("a") == 2


class Version:
    """The whole mapping's version, counting its reads."""

    def __init__(self, value: object) -> None:
        self.value, self.reads = value, 0

    def __call__(self) -> object:
        self.reads += 1
        return self.value


def test_a_whole_snapshot_is_kept_until_its_version_changes_asking_once_a_second():
    clock, loads, version = Clock(), Loads({"a": 1}), Version(b"1")
    cache = ProcessCache(ttl=300, load_all=loads.all, version=version, version_every=1.0, clock=clock)
    assert (cache.get("a"), loads.calls) == (1, 1)
    reads = version.reads
    for _ in range(50):
        clock.now += 0.1
        assert cache.get("a") == 1
    assert loads.calls == 1 and version.reads - reads == 5  # 5 s, one read a second, no load
    loads.source["a"], version.value = 2, b"2"  # changed in another process, bumped as it committed
    assert cache.get("a") == 1  # read less than a second ago: not asked yet
    clock.now += 1.0
    assert (cache.get("a"), loads.calls) == (2, 2)  # within a second, loaded again
    clock.now += 300
    assert (cache.get("a"), loads.calls) == (2, 3)  # the TTL still bounds a snapshot's age


def test_a_whole_snapshot_is_kept_briefly_while_its_version_is_unknown():
    clock, loads, version = Clock(), Loads({"a": 1}), Version(UNKNOWN)  # Redis away
    cache = ProcessCache(ttl=300, load_all=loads.all, version=version, unknown_ttl=5.0, clock=clock)
    assert (cache.get("a"), loads.calls) == (1, 1)
    clock.now += 4
    assert (cache.get("a"), loads.calls) == (1, 1)
    clock.now += 1.5
    assert (cache.get("a"), loads.calls) == (1, 2)  # 5 s at most, as before versions
    version.value = b"7"  # Redis back: a snapshot loaded while it was away is loaded again
    clock.now += 1.0
    assert (cache.get("a"), loads.calls) == (1, 3)
    clock.now += 10
    assert (cache.get("a"), loads.calls) == (1, 3)  # then kept


def test_per_key_entries_are_bounded():
    loads = Loads({})
    cache = ProcessCache(ttl=60, load_one=loads.one, max_entries=3)
    for key in range(4):
        cache.get(key)
    cache.get(3)
    assert loads.calls == 4  # the newest is kept
    cache.get(0)
    assert loads.calls == 5  # the others were dropped to make room


def test_a_value_loaded_while_the_cache_was_dropped_is_not_kept():
    """A save while a key loads may have come after that load's read: the value is used once,
    not kept for the TTL."""
    loads = Loads({"a": 1})
    cache = ProcessCache(ttl=60, load_one=lambda key: (cache.invalidate(), loads.one(key))[1])
    assert cache.get("a") == 1
    assert cache.get("a") == 1 and loads.calls == 2


def test_readers_never_see_a_partial_mapping_while_others_invalidate_and_reload():
    """Every snapshot a reader gets holds all the keys of one generation, and keeps holding
    them while it is read, however the reloads interleave (a cache that refreshed its mapping in
    place fails this: readers then see keys missing, or of two generations)."""
    keys = frozenset(range(1000))
    generations = itertools.count()

    def load_all() -> dict[int, int]:
        generation, mapping = next(generations), {}
        for key in sorted(keys):
            mapping[key] = generation
            if key % 50 == 0:
                time.sleep(0)  # let the other threads run while this mapping is half built
        return mapping

    cache: ProcessCache[int, int] = ProcessCache(ttl=60, load_all=load_all)
    start, stop = threading.Barrier(20), threading.Event()
    problems: list[str] = []
    seen: set[int] = set()

    def generation_of(snapshot: Mapping[int, int]) -> int | None:
        """The one generation of a complete snapshot (None, and a problem noted, if it is not)."""
        values = set(snapshot.values())
        if set(snapshot) != keys or len(values) != 1:
            problems.append(f"{len(snapshot)} keys of generations {sorted(values)[:5]}")
            return None
        return values.pop()

    def read() -> None:
        start.wait()
        for turn in range(100):
            try:
                snapshot = cache.snapshot()
                generation = generation_of(snapshot)
                seen.add(generation)
                # A slow reader: others reload meanwhile, and what it holds must not change.
                for key in sorted(keys):
                    if snapshot[key] != generation:
                        problems.append(f"key {key} changed while the snapshot was read")
                        break
                    if key % 100 == 0:
                        time.sleep(0)
                if cache.get(turn % 1000) is None:
                    problems.append(f"key {turn % 1000} missing")
            except Exception as error:  # e.g. a mapping changing while it is read
                problems.append(repr(error))

    def reload() -> None:
        start.wait()
        while not stop.is_set():
            cache.invalidate()  # as a save in this process does
            cache.snapshot()
            time.sleep(0.0005)

    readers = [threading.Thread(target=read) for _ in range(16)]
    reloaders = [threading.Thread(target=reload) for _ in range(4)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads take turns as often as they can, mid-statement
    try:
        for thread in readers + reloaders:
            thread.start()
        for thread in readers:
            thread.join(timeout=120)
    finally:
        stop.set()
        sys.setswitchinterval(interval)
    for thread in reloaders:
        thread.join(timeout=10)
    assert not problems, problems[:5]
    assert len(seen) > 10  # the readers did meet many generations, swapped under them


@pytest.mark.django_db
def test_saving_or_deleting_a_row_of_a_watched_model_drops_the_cache(django_capture_on_commit_callbacks):
    loads = Loads({})

    def numbers() -> dict[str, str]:
        loads.calls += 1
        return dict(PhoneNumber.objects.values_list("number", "state"))

    cache = ProcessCache(ttl=3600, load_all=numbers).invalidate_on_save(PhoneNumber)
    assert cache.get("+15550177001") is None and loads.calls == 1
    number = PhoneNumber.objects.create(number="+15550177001")
    assert cache.get("+15550177001") == "available" and loads.calls == 2
    with django_capture_on_commit_callbacks(execute=True):
        number.label = "renamed"
        number.save()
        cache.get("+15550177001")  # another request reads it before the save commits…
        assert loads.calls == 3
    cache.get("+15550177001")
    assert loads.calls == 4  # …and what it read is dropped again once the save commits
    number.delete()
    assert cache.get("+15550177001") is None and loads.calls == 5


@pytest.mark.django_db
def test_per_key_entries_are_dropped_on_save_too():
    loads = Loads({})

    def state(number: str) -> str | None:
        loads.calls += 1
        return PhoneNumber.objects.filter(number=number).values_list("state", flat=True).first()

    cache = ProcessCache(ttl=3600, load_one=state).invalidate_on_save(PhoneNumber)
    assert cache.get("+15550177002") is None
    PhoneNumber.objects.create(number="+15550177002")
    assert cache.get("+15550177002") == "available" and loads.calls == 2
