"""Rate limits that hold under concurrency (the REST API's, failed logins per address): a sliding
window per bucket, kept in Redis and checked and counted by one Lua script (one round trip,
atomic), so parallel requests can never read the same count and all pass.

A request is admitted only when every one of its buckets (its key, its company; or its address
for requests without a valid key) is under its limit, and it is then counted in all of them. The
window slides: a bucket holds the times of the requests admitted in the last ``window`` seconds.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import uuid
from dataclasses import dataclass
from typing import Any

import redis
from django.conf import settings

from config import redis_clients

log = logging.getLogger(__name__)

# KEYS: the buckets; ARGV[1]: "hit" (count it when every bucket has room), "peek" (count nothing) or
# "add" (count it whatever the buckets hold, e.g. a failure); ARGV[2]: its id; then each bucket's
# limit and window (ms).
# Returns: admitted (1/0), now (ms), then for each bucket its count before this request and the time
# of its oldest request still in the window (-1 when empty). Redis's clock, the same for every node.
SLIDING_WINDOW = """
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local admitted = 1
local result = {0, now}
for i, key in ipairs(KEYS) do
    local limit, window = tonumber(ARGV[2 * i + 1]), tonumber(ARGV[2 * i + 2])
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
    local count = redis.call('ZCARD', key)
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    if count >= limit then admitted = 0 end
    table.insert(result, count)
    table.insert(result, oldest[2] and tonumber(oldest[2]) or -1)
end
if (admitted == 1 and ARGV[1] == 'hit') or ARGV[1] == 'add' then
    for i, key in ipairs(KEYS) do
        redis.call('ZADD', key, now, ARGV[2])
        redis.call('PEXPIRE', key, tonumber(ARGV[2 * i + 2]))
    end
end
result[1] = admitted
return result
"""

_UNITS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}
_PERIOD = re.compile(r"^\s*(\d*)\s*([a-z]+)\s*$")


def parse_rate(rate: str) -> tuple[int, int]:
    """``"600/min"`` → (600, 60), ``"30/15min"`` → (30, 900): requests per window, window in seconds."""
    count, _, period = rate.partition("/")
    match = _PERIOD.match(period.lower())
    if match is None or match[2] not in _UNITS:
        raise ValueError(f"not a rate: {rate!r} (e.g. 600/min, 30/15min)")
    return int(count), int(match[1] or 1) * _UNITS[match[2]]


@dataclass(frozen=True)
class Decision:
    admitted: bool
    limit: int  # of the tightest bucket
    remaining: int
    reset: int  # seconds until the tightest bucket has room again (RateLimit-Reset)
    retry_after: int  # seconds to wait when not admitted (Retry-After)

    def headers(self) -> dict[str, str]:
        """The ``RateLimit-*`` fields (IETF httpapi draft), and ``Retry-After`` when refused."""
        fields = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset),
        }
        if not self.admitted:
            fields["Retry-After"] = str(self.retry_after)
        return fields


_script = None
_lock = threading.Lock()


def _redis() -> redis.Redis:
    return redis_clients.shared(settings.RATE_LIMIT_REDIS_URL)


def _sliding_window() -> Any:
    """The sliding-window script (registered once; run on ``_redis()``'s client each time)."""
    global _script
    with _lock:
        if _script is None:
            _script = _redis().register_script(SLIDING_WINDOW)
    return _script


def hit(buckets: list[tuple[str, str]], *, mode: str = "hit") -> Decision | None:
    """Count one request in ``buckets`` ([(name, rate), …], rates as ``"600/min"``) if all have room
    (``mode="peek"``: only tell whether they have; ``mode="add"``: count it in any case).

    None when Redis cannot be reached: the request goes through (logged), as an API that stops
    with its rate limiter would be a worse outage than a minute without limits.
    """
    names = [f"rl:{name}" for name, _ in buckets]
    rates = [parse_rate(rate) for _, rate in buckets]
    if mode not in {"hit", "peek", "add"}:
        raise ValueError(f"mode must be hit, peek or add, not {mode!r}")
    args: list[object] = [mode, uuid.uuid4().hex]
    for limit, window in rates:
        args += [limit, window * 1000]
    try:
        reply = _sliding_window()(keys=names, args=args, client=_redis())
    except redis.RedisError:
        log.exception("rate limit not checked: Redis unreachable")
        return None
    admitted, now = bool(reply[0]), int(reply[1])
    tightest = None
    for index, (limit, window) in enumerate(rates):
        window_ms = window * 1000
        count, oldest = int(reply[2 + 2 * index]), int(reply[3 + 2 * index])
        remaining = max(0, limit - count - (1 if admitted and mode != "peek" else 0))
        free_at = (oldest + window_ms) if oldest >= 0 else now + window_ms
        wait = 0 if count < limit else max(1, math.ceil((free_at - now) / 1000))
        reset = max(0, math.ceil((free_at - now) / 1000))
        candidate = (remaining, -wait, limit, reset, wait)
        if tightest is None or candidate[:2] < tightest[:2]:
            tightest = candidate
    remaining, _, limit, reset, wait = tightest
    return Decision(admitted=admitted, limit=limit, remaining=remaining, reset=reset, retry_after=wait)


def forget(name: str) -> bool:
    """Empty a bucket (staff unlocking an address); True if it held anything."""
    return bool(_redis().delete(f"rl:{name}"))
