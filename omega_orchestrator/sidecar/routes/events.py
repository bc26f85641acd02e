"""GET /api/services/events: Server-Sent Events with every transition and status update."""

import asyncio
import collections
from collections.abc import AsyncIterator
import json

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from omega_orchestrator.sidecar.deps import Gateway, KnownQueryOnly
from omega_orchestrator.sidecar.errors import GatewayError
from omega_orchestrator.sidecar.schemas import errors

router = APIRouter(prefix='/api/services', tags=['services'], responses=errors(400),
                   dependencies=[KnownQueryOnly])
HEARTBEAT = 15.0       # seconds between keep-alive comments
REACHABILITY = 2.0     # seconds between checks that the orchestrator is still there
QUEUE_LIMIT = 256


def sse(kind: str, payload: dict) -> str:
    """One SSE frame."""
    return f'event: {kind}\ndata: {json.dumps(payload, separators=(",", ":"))}\n\n'


@router.get('/events', response_class=StreamingResponse, responses=errors(404, 422))
async def events(request: Request, gateway: Gateway) -> StreamingResponse:
    """`status` frames, `transition` frames (one state change, with exit code and stderr
    tail on a crash), and `alive` every REACHABILITY s while nothing changes and the
    orchestrator is there (a status frame may not come for a long while). A status frame
    holds every service (the first one, and whenever the orchestrator sends its whole
    status), or, with `"partial": true`, only the services that changed.
    """
    loop = asyncio.get_running_loop()
    updates = UpdateBuffer()

    def on_update(kind: str, payload: dict) -> None:   # called on the ROS thread
        loop.call_soon_threadsafe(updates.offer, kind, payload)

    remove = gateway.add_listener(on_update)

    stopping: asyncio.Event = request.app.state.stopping

    async def stream() -> AsyncIterator[str]:
        try:
            yield 'retry: 2000\n\n'
            try:
                yield sse('status', {'services': gateway.services()})
                reachable = True
            except GatewayError as exc:
                yield sse('unreachable', {'message': exc.message})
                reachable = False
            quiet = 0.0
            while not await request.is_disconnected():
                try:
                    kind, payload = await updates.next(stopping, REACHABILITY)
                except _ServerStoppingError:      # the server shuts down: end the stream cleanly
                    return
                except asyncio.TimeoutError:
                    quiet += REACHABILITY
                    if reachable and not gateway.reachable():
                        reachable = False
                        yield sse('unreachable', {'message': 'the orchestrator is gone: it '
                                                             'left, or its liveliness lapsed'})
                    elif reachable:      # nothing changed, and the orchestrator is there
                        quiet = 0.0
                        yield 'event: alive\ndata: {}\n\n'
                    elif quiet >= HEARTBEAT:
                        quiet = 0.0
                        yield ': keep-alive\n\n'
                    continue
                if payload is RESYNC:             # this client fell behind: all anew
                    try:
                        payload = {'services': gateway.services()}
                    except GatewayError:
                        continue
                quiet, reachable = 0.0, reachable or kind == 'status'
                yield sse(kind, payload)
        finally:
            remove()

    return StreamingResponse(stream(), media_type='text/event-stream',
                             headers={'Cache-Control': 'no-cache', 'X-Accel-Buffering': 'no'})


class _ServerStoppingError(Exception):
    """The server is shutting down."""


#: in place of the status frames a slow client lost: send it every service
RESYNC: dict = {}


class UpdateBuffer:
    """The updates waiting for one client, bounded: when full, its queued status frames give
    way to one that will hold every service (RESYNC), and a transition is lost only when
    nothing else is left. Used on the loop only (offer() is handed there with
    call_soon_threadsafe).
    """

    def __init__(self, limit: int = QUEUE_LIMIT) -> None:
        self.limit = limit
        self.items: collections.deque[tuple[str, dict]] = collections.deque()
        self.ready = asyncio.Event()

    def offer(self, kind: str, payload: dict) -> None:
        """Add one update, making room as described above."""
        if kind == 'status' and self.items and self.items[-1][1] is RESYNC:
            return                   # the frame to come holds this change already
        if len(self.items) >= self.limit:
            kept = [item for item in self.items if item[0] != 'status']
            if len(kept) < len(self.items):
                self.items = collections.deque(kept)
                self.items.append(('status', RESYNC))
                if kind == 'status':
                    return
            while len(self.items) >= self.limit:      # transitions only: the oldest goes
                oldest = next(i for i, item in enumerate(self.items) if item[1] is not RESYNC)
                del self.items[oldest]
        self.items.append((kind, payload))
        self.ready.set()

    async def next(self, stopping: asyncio.Event, timeout: float) -> tuple[str, dict]:
        """The oldest update; TimeoutError after `timeout` s; _ServerStoppingError once the server
        stops.
        """
        if stopping.is_set():
            raise _ServerStoppingError
        if not self.items:
            self.ready.clear()
            waiters = {asyncio.ensure_future(self.ready.wait()),
                       asyncio.ensure_future(stopping.wait())}
            try:
                await asyncio.wait(waiters, timeout=timeout,
                                   return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()
        if stopping.is_set():
            raise _ServerStoppingError
        if not self.items:
            raise asyncio.TimeoutError
        return self.items.popleft()
