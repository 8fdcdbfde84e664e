"""A stand-in for the platform's side of the simulator's HTTP: aiohttp serving a few POST routes on
a free local port, for tests of what the simulated Twilio does when the platform answers oddly."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@contextlib.asynccontextmanager
async def stub_platform(routes: dict[str, Handler]) -> AsyncIterator[str]:
    """Serves ``routes`` (path → POST handler) until the block ends; yields its ``host:port``."""
    app = web.Application()
    for path, handler in routes.items():
        app.router.add_post(path, handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        yield f"127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()
