"""Crash notifications: the registry's webhook gets a JSON POST when a service crashes, gives
up (failed) or recovers: runs again after it had failed or was cooling down from a crash loop
(not after each automatic restart: the crash already said that one).

A listener of the supervisor's transitions that only enqueues: a worker task on the loop
posts one notification at a time, each attempt bounded by the timeout, a few retries with
a growing pause, so a slow or dead receiver never delays supervision. At most QUEUE
notifications wait; past that the oldest are dropped and counted in the log.
"""

import asyncio
from collections import deque
from collections.abc import Callable
from datetime import datetime, timezone
import json
import logging
import socket
import ssl
from urllib.parse import urlsplit

from omega_orchestrator.core.registry import WebhookSpec
from omega_orchestrator.core.states import ServiceState
from omega_orchestrator.runtime.status import TransitionEvent

log = logging.getLogger('omega_orchestrator')
QUEUE = 100
RETRY_PAUSE = 0.5      # then 1 s, 2 s, ...


def kind_of(event: TransitionEvent, troubled: set[str]) -> str | None:
    """'crash', 'give_up', 'recover' or None; `troubled` (services that failed or went into
    a crash-loop cooldown and have not run since) is updated.
    """
    if event.to_state is ServiceState.CRASHED:
        return 'crash'
    if event.to_state is ServiceState.COOLDOWN:
        troubled.add(event.service)
        return None
    if event.to_state is ServiceState.FAILED:
        troubled.add(event.service)
        return 'give_up'
    if event.to_state is ServiceState.RUNNING and event.from_state is not ServiceState.RUNNING \
            and event.service in troubled:
        troubled.discard(event.service)
        return 'recover'
    if event.to_state is ServiceState.STOPPED:
        troubled.discard(event.service)       # an operator's stop: nothing to recover from
    return None


def payload(kind: str, event: TransitionEvent) -> bytes:
    """The JSON body of one notification."""
    return json.dumps({
        'event': kind, 'service': event.service, 'host': socket.gethostname(),
        'stamp': datetime.fromtimestamp(event.stamp, timezone.utc).isoformat(),
        'from': event.from_state.value, 'to': event.to_state.value, 'reason': event.reason,
        'exit_code': event.exit_code, 'exit_signal': event.exit_signal,
        'stderr_tail': list(event.stderr_tail)}).encode()


class WebhookNotifier:
    """Posts the notifications the current registry's webhook asks for."""

    def __init__(self, spec: Callable[[], WebhookSpec | None]) -> None:
        self._spec = spec
        self._queue: deque[tuple[WebhookSpec, bytes]] = deque(maxlen=QUEUE)
        self._wake = asyncio.Event()
        self._worker: asyncio.Task | None = None
        self._troubled: set[str] = set()
        self.dropped = 0
        self.sent = 0

    def __call__(self, event: TransitionEvent) -> None:
        """A transition (on the loop): enqueue its notification, if one is wanted."""
        spec = self._spec()
        kind = kind_of(event, self._troubled)
        if spec is None or kind is None or kind not in spec.events:
            return
        if len(self._queue) == self._queue.maxlen:
            self.dropped += 1
            log.warning('webhook: %d notification(s) dropped: the receiver is too slow',
                        self.dropped)
        self._queue.append((spec, payload(kind, event)))
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._work())
        self._wake.set()

    async def close(self, timeout: float = 5.0) -> None:
        """Give the waiting notifications up to `timeout` s, then stop."""
        if self._worker is None:
            return
        try:
            await asyncio.wait_for(self._drained(), timeout)
        except asyncio.TimeoutError:
            log.warning('webhook: %d notification(s) not sent at exit', len(self._queue))
        self._worker.cancel()

    async def _drained(self) -> None:
        while self._queue or self._wake.is_set():
            await asyncio.sleep(0.05)

    async def _work(self) -> None:
        while True:
            await self._wake.wait()
            while self._queue:
                spec, body = self._queue.popleft()
                await self._deliver(spec, body)
            self._wake.clear()

    async def _deliver(self, spec: WebhookSpec, body: bytes) -> None:
        problem = ''
        for attempt in range(spec.retries + 1):
            if attempt:
                await asyncio.sleep(RETRY_PAUSE * 2 ** (attempt - 1))
            try:
                status = await asyncio.wait_for(post(spec.url, body), spec.timeout)
            except (OSError, asyncio.TimeoutError, ValueError) as exc:
                problem = f'{type(exc).__name__}: {exc}' if str(exc) else type(exc).__name__
                continue
            if 200 <= status < 300:
                self.sent += 1
                return
            problem = f'HTTP {status}'
        log.warning('webhook %s: not delivered after %d attempt(s): %s', spec.url,
                    spec.retries + 1, problem)


async def post(url: str, body: bytes) -> int:
    """POST a JSON body; the response's status code."""
    parts = urlsplit(url)
    secure = parts.scheme == 'https'
    host = parts.hostname or ''
    port = parts.port or (443 if secure else 80)
    reader, writer = await asyncio.open_connection(
        host, port, ssl=ssl.create_default_context() if secure else None)
    try:
        target = (parts.path or '/') + (f'?{parts.query}' if parts.query else '')
        writer.write(f'POST {target} HTTP/1.1\r\nHost: {parts.netloc}\r\n'
                     'User-Agent: omega-orchestrator\r\nContent-Type: application/json\r\n'
                     f'Content-Length: {len(body)}\r\nConnection: close\r\n\r\n'.encode()
                     + body)
        await writer.drain()
        status_line = (await reader.readline()).decode('latin-1').split(' ', 2)
    finally:
        writer.close()
    if len(status_line) < 2 or not status_line[1].isdigit():
        raise ValueError('not an HTTP answer')
    return int(status_line[1])
