"""The sidecar's HTTP server (sidecar/__main__.py make_quiet_server) over real sockets: it
sleeps while nobody is connected, answers with a fresh Date after such a sleep, ticks once a
second while a connection is open, and stops when told.
"""

import asyncio
from email.utils import parsedate_to_datetime
import signal
import threading
import time

from fastapi import FastAPI
import httpx
import uvicorn

from omega_orchestrator.sidecar.__main__ import make_quiet_server
from test.support import free_port, wait_until


class CountingServer(make_quiet_server(uvicorn)):      # type: ignore[misc]
    """The sidecar's server, counting its ticks and keeping its loop for the test."""

    ticks = 0
    loop: asyncio.AbstractEventLoop | None = None

    async def on_tick(self, counter: int) -> bool:
        self.loop = asyncio.get_running_loop()
        self.ticks += 1
        return await super().on_tick(counter)


def test_the_server_sleeps_without_connections_and_renews_the_date_when_one_opens():
    app = FastAPI()
    app.get('/')(lambda: {'ok': True})
    port = free_port()
    server = CountingServer(uvicorn.Config(app, host='127.0.0.1', port=port,
                                           log_level='warning'), asyncio.Event())
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, what='the server up')
        ticks = server.ticks
        # nobody connected: no tick in a window longer than uvicorn's 1 s Date period (an
        # absence over a span of time, so the window is waited out, not polled for)
        threading.Event().wait(2.5)
        assert server.ticks == ticks
        with httpx.Client(base_url=f'http://127.0.0.1:{port}') as client:
            answer = client.get('/')
            assert answer.json() == {'ok': True}
            dated = parsedate_to_datetime(answer.headers['date']).timestamp()
            assert abs(dated - time.time()) < 1.5          # renewed, not 2.5 s old
            # the connection stays open (keep-alive): the Date is renewed each second
            seen = server.ticks
            wait_until(lambda: server.ticks >= seen + 2, what='ticks while connected')
    finally:
        if server.loop is not None:
            server.loop.call_soon_threadsafe(server.handle_exit, signal.SIGINT, None)
        thread.join(10)
    assert not thread.is_alive()
