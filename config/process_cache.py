"""One helper for what a process keeps in memory between requests (queue rules, hosts…).

Readers never lock and never see a mapping half built: a refresh builds a new mapping and then
rebinds one attribute (an atomic step), so a reader holds either the old snapshot or the new one.
Every entry expires after ``ttl`` seconds; a save of a model that feeds the cache can drop it at once
in this process (``invalidate_on_save``); other processes see the change within ``ttl``, so callers
that must never act on stale data check it where they write (e.g. again inside the transaction).
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Hashable, Mapping
from types import MappingProxyType
from typing import Any, Generic, TypeVar

from django.db import transaction
from django.db.models.signals import post_delete, post_save

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

EMPTY: Mapping[Any, Any] = MappingProxyType({})
# What ``version`` answers when it cannot tell (e.g. Redis away): the entry is loaded again.
UNKNOWN: Any = object()


class ProcessCache(Generic[K, V]):
    """A process-wide cache filled either whole (``load_all``: every key in one read) or key by
    key (``load_one``); ``get`` returns None for a key that does not exist.

    With ``load_all``, a key missing from the snapshot reloads it (a new queue is seen at once), at
    most once per ``miss_reload_seconds``, so unknown keys cannot make every request reload.
    ``clock``: seconds, only ever compared (tests pass their own).

    ``version`` (with ``load_one``): the key's version now, read where every process sees it (a
    counter in Redis that each change bumps as it commits: ``config.change_versions``): an entry
    loaded under another version is loaded again at once, whatever its age, so a change made in
    another process is seen by the next reader and ``ttl`` is only a backstop; ``UNKNOWN`` loads it
    again every time. Read before the load: a change committed during it leaves the entry under the
    older version (loaded again).

    ``version`` with ``load_all``: the whole mapping's version (no argument), read at most once per
    ``version_every`` seconds (a snapshot read by many requests asks Redis once a second, not each
    time); a snapshot of another version is loaded again, and with the version ``UNKNOWN`` (Redis
    away) a snapshot is kept ``unknown_ttl`` seconds at most.
    """

    _instances: weakref.WeakSet[ProcessCache[Any, Any]] = weakref.WeakSet()

    def __init__(
        self,
        *,
        ttl: float,
        load_all: Callable[[], Mapping[K, V]] | None = None,
        load_one: Callable[[K], V | None] | None = None,
        version: Callable[..., Hashable] | None = None,
        version_every: float = 1.0,
        unknown_ttl: float = 5.0,
        max_entries: int = 10_000,
        miss_reload_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if (load_all is None) == (load_one is None):
            raise ValueError("Give exactly one of load_all and load_one.")
        self.ttl, self.max_entries, self.miss_reload_seconds = ttl, max_entries, miss_reload_seconds
        self.load_all, self.load_one, self.version, self.clock = load_all, load_one, version, clock
        self.version_every, self.unknown_ttl = version_every, unknown_ttl
        # load_all: (loaded at, version, mapping) and the version last read (read at, version);
        # load_one: key → (loaded at, version, value). Rebound, never mutated.
        self._snapshot: tuple[float, Hashable, Mapping[K, V]] = (float("-inf"), UNKNOWN, EMPTY)
        self._version_read: tuple[float, Hashable] = (float("-inf"), UNKNOWN)
        self._entries: Mapping[K, tuple[float, Hashable, V | None]] = EMPTY
        self._generation = 0  # bumped by every invalidation: a load begun before it is not kept
        self._refresh = threading.Lock()
        ProcessCache._instances.add(self)

    @classmethod
    def invalidate_all(cls) -> None:
        """Forget everything every cache of this process holds (e.g. after the tests' rollbacks,
        which no save signal reports)."""
        for cache in list(cls._instances):
            cache.invalidate()

    def get(self, key: K) -> V | None:
        if self.load_one is not None:
            return self._get_one(key)
        return self.snapshot(want=key).get(key)

    def snapshot(self, want: K | None = None) -> Mapping[K, V]:
        """The whole mapping (``load_all`` caches), fresh within ``ttl``; ``want``: a key that
        should be there (reload early when it is not)."""
        seen = self._snapshot
        loaded, version, mapping = seen
        now = self.clock()
        age = now - loaded
        if age < self.ttl and (want is None or want in mapping or age < self.miss_reload_seconds):
            if self.version is None:
                return mapping
            current = self._version_now(now)
            if age < self.unknown_ttl if current is UNKNOWN else current == version:
                return mapping
        with self._refresh:
            current_snapshot = self._snapshot
            if current_snapshot is not seen and current_snapshot[0] != float("-inf"):
                return current_snapshot[2]  # another thread refreshed it meanwhile
            assert self.load_all is not None
            started = self.clock()  # the data is at least this old
            version = self._version_now(started, fresh=True) if self.version is not None else UNKNOWN
            mapping = MappingProxyType(dict(self.load_all()))
            self._snapshot = (started, version, mapping)
        return mapping

    def _version_now(self, now: float, *, fresh: bool = False) -> Hashable:
        """The whole mapping's version, read again when the last read is ``version_every`` old."""
        read_at, version = self._version_read
        if fresh or now - read_at >= self.version_every:
            assert self.version is not None
            version = self.version()
            self._version_read = (now, version)
        return version

    def _get_one(self, key: K) -> V | None:
        now = self.clock()
        version = self.version(key) if self.version is not None else None
        hit = self._entries.get(key)
        if hit is not None and now - hit[0] < self.ttl and hit[1] == version and version is not UNKNOWN:
            return hit[2]
        assert self.load_one is not None
        generation = self._generation
        value = self.load_one(key)
        with self._refresh:
            if self._generation == generation:  # else dropped while loading: may be stale, not kept
                entries = {k: e for k, e in self._entries.items() if now - e[0] < self.ttl}
                if len(entries) >= self.max_entries:
                    entries.clear()
                entries[key] = (now, version, value)
                self._entries = MappingProxyType(entries)
        return value

    def invalidate(self) -> None:
        """Forget everything: the next reader loads afresh."""
        with self._refresh:
            self._generation += 1
            self._snapshot = (float("-inf"), UNKNOWN, EMPTY)
            self._entries = EMPTY

    def invalidate_on_save(self, *models: type) -> ProcessCache[K, V]:
        """Forget everything in this process when a row of one of ``models`` is saved or deleted:
        at once (the saving thread reads its own change) and again once the change commits (a
        thread that reloaded meanwhile read the rows as they were before it)."""
        for model in models:
            for signal in (post_save, post_delete):
                signal.connect(self._on_change, sender=model)  # weakly: a dropped cache disconnects
        return self

    def _on_change(self, using: str | None = None, **kwargs: Any) -> None:
        self.invalidate()
        transaction.on_commit(self.invalidate, using=using)
