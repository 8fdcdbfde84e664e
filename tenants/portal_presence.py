"""Who is online in a client company's portal (its home page's list), read from Redis.

One sorted set per company holds a member per open portal socket (``<name>|<channel>``), scored by
the time it last beat. Online is everyone with a socket that beat within ``ALIVE_SECONDS``. A
socket beats every ``BEAT_SECONDS`` and sends its page the list again then. So the list is right
for a page opened after others (it is read, not pieced together from pushes), and is put right
within a beat after a push was lost (the channel layer's subscription down while Redis restarted)
or a web process died without its sockets leaving.

An unreachable Redis gives ``None``: the page keeps the list it has.
"""

from __future__ import annotations

import contextlib
import time

from django.conf import settings

from config import redis_clients

ALIVE_SECONDS = 60.0
BEAT_SECONDS = 20.0
OUTAGE = redis_clients.UNREACHABLE


def _key(schema: str) -> str:
    return f"cc:portal:online:{schema}"


def _names(members: list[bytes]) -> list[str]:
    return sorted({member.decode().rsplit("|", 1)[0] for member in members})


async def present(*, schema: str, name: str, channel: str, now: float | None = None) -> list[str] | None:
    """This socket is open (joined, or beating): who is online in the company now."""
    now = time.time() if now is None else now
    key = _key(schema)
    pipe = redis_clients.shared_async(settings.CONSOLE_PRESENCE_REDIS_URL).pipeline(transaction=False)
    pipe.zadd(key, {f"{name}|{channel}": now})
    pipe.zremrangebyscore(key, "-inf", now - ALIVE_SECONDS)
    pipe.expire(key, int(ALIVE_SECONDS * 2))
    pipe.zrange(key, 0, -1)
    try:
        *_, members = await pipe.execute()
    except OUTAGE:
        return None
    return _names(members)


async def gone(*, schema: str, name: str, channel: str) -> None:
    """This socket closed (with Redis away, it is forgotten after ``ALIVE_SECONDS`` without a beat)."""
    client = redis_clients.shared_async(settings.CONSOLE_PRESENCE_REDIS_URL)
    with contextlib.suppress(*OUTAGE):
        await client.zrem(_key(schema), f"{name}|{channel}")


async def online(*, schema: str, now: float | None = None) -> list[str] | None:
    """Who is online in the company now (sockets that beat within ``ALIVE_SECONDS``)."""
    now = time.time() if now is None else now
    client = redis_clients.shared_async(settings.CONSOLE_PRESENCE_REDIS_URL)
    try:
        members = await client.zrangebyscore(_key(schema), now - ALIVE_SECONDS, "+inf")
    except OUTAGE:
        return None
    return _names(members)
