"""Health probes: tcp, http, exec and path, each bounded by its timeout; pluggable by kind;
and running a service's startup, readiness and liveness probes, each in a task of its own.

A probe is `async def probe(spec: ProbeSpec, service: ServiceSpec) -> (ok, message)`.
The ROS layer registers the ros_* kinds; without it they report that ROS is not available.
"""

import asyncio
from collections.abc import Awaitable, Callable
import ipaddress
import os
import socket
from urllib.parse import urlsplit

from omega_orchestrator.core import events as ev
from omega_orchestrator.core.registry import ProbeSpec, ServiceSpec
from omega_orchestrator.runtime import process
from omega_orchestrator.runtime.environment import service_environment
from omega_orchestrator.runtime.unit import ServiceUnit

ProbeResult = tuple[bool, str]
Probe = Callable[[ProbeSpec, ServiceSpec], Awaitable[ProbeResult]]


async def tcp_probe(spec: ProbeSpec, service: ServiceSpec) -> ProbeResult:
    """Healthy when host:port accepts a TCP connection (a bare non-blocking socket: a
    stream's transport and protocol would triple the cost of a check).
    """
    loop = asyncio.get_running_loop()
    try:     # an address (the usual 127.0.0.1) needs no resolver thread
        family = socket.AF_INET6 if ipaddress.ip_address(spec.host).version == 6 \
            else socket.AF_INET
        address: tuple = (spec.host, spec.port)
    except ValueError:
        infos = await loop.getaddrinfo(spec.host, spec.port, type=socket.SOCK_STREAM)
        family, address = infos[0][0], infos[0][4]
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, address)
        except ConnectionRefusedError:
            return False, f'port {spec.port} refused the connection'
    return True, f'port {spec.port} accepts connections'


async def http_probe(spec: ProbeSpec, service: ServiceSpec) -> ProbeResult:
    """Healthy when GET url answers with the expected status."""
    url = urlsplit(spec.url or '')
    host, port = url.hostname or '127.0.0.1', url.port or 80
    reader, writer = await asyncio.open_connection(host, port)
    try:
        target = (url.path or '/') + (f'?{url.query}' if url.query else '')
        writer.write(f'GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\n'
                     'User-Agent: omega-orchestrator\r\nConnection: close\r\n\r\n'.encode())
        await writer.drain()
        status_line = (await reader.readline()).decode('latin-1').strip()
    finally:
        writer.close()
    parts = status_line.split(' ', 2)
    if len(parts) < 2 or not parts[1].isdigit():
        return False, f'not an HTTP answer: {status_line[:80]!r}'
    status = int(parts[1])
    if status != spec.expect_status:
        return False, f'HTTP {status}, expected {spec.expect_status}'
    return True, f'HTTP {status}'


async def exec_probe(spec: ProbeSpec, service: ServiceSpec,
                     env: dict[str, str] | None = None) -> ProbeResult:
    """Healthy when the command exits 0 within the timeout; it runs in the service's
    environment (`env`, the robot's, plus the service's registry env).
    """
    loop = asyncio.get_running_loop()
    env = service_environment(os.environ if env is None else env, service)
    proc = process.spawn([spec.cmd or ''] + list(spec.args), cwd=service.working_dir, env=env,
                         capture=False)
    done: asyncio.Future = loop.create_future()
    process.watch_exit(loop, proc, lambda code, sig: done.set_result((code, sig)))
    try:
        code, sig = await asyncio.shield(done)
    except asyncio.CancelledError:
        process.signal_group(proc.pid, 'SIGKILL')
        raise
    if code == 0:
        return True, 'check command exited 0'
    return False, f'check command exited with code {code}' if sig is None else \
        f'check command killed by signal {sig}'


async def path_probe(spec: ProbeSpec, service: ServiceSpec) -> ProbeResult:
    """Healthy when the file or device exists (the original's sensor_check: /dev/i2c-1)."""
    if await asyncio.to_thread(os.path.exists, spec.path or ''):
        return True, f'{spec.path} exists'
    return False, f'{spec.path} does not exist'


async def unavailable_probe(spec: ProbeSpec, service: ServiceSpec) -> ProbeResult:
    """Stand-in for ROS probes when the engine runs without the ROS node."""
    return False, f'{spec.label}: the ROS node is not running (yet, or --no-ros)'


DEFAULT_PROBES: dict[str, Probe] = {
    'tcp': tcp_probe, 'http': http_probe, 'exec': exec_probe, 'path': path_probe,
    'ros_core': unavailable_probe, 'ros_node': unavailable_probe,
    'ros_topic': unavailable_probe, 'ros_service': unavailable_probe,
}


async def run_probe(probe: Probe, spec: ProbeSpec, service: ServiceSpec) -> ProbeResult:
    """Run one probe under its timeout; every failure becomes (False, message)."""
    try:
        return await asyncio.wait_for(probe(spec, service), timeout=spec.timeout)
    except asyncio.TimeoutError:
        return False, f'{spec.label}: no answer within {spec.timeout:g} s'
    except process.SpawnError as exc:
        return False, f'{spec.label}: {exc}'
    except OSError as exc:
        return False, f'{spec.label}: {exc.strerror or exc}'
    except Exception as exc:   # a broken probe reports unhealthy; it never dies silently
        return False, f'{spec.label}: probe failed: {type(exc).__name__}: {exc}'


async def probe_forever(spec: ProbeSpec, service: ServiceSpec, probes: dict[str, Probe],
                        report: Callable[[bool, str], None]) -> None:
    """Probe every spec.interval (the first after initial_delay, default the interval but
    at most 1 s) until cancelled; the kind is looked up each time: the ROS probes arrive once
    the node is up. One probe of each service and kind is in flight at a time, and none
    outlives its timeout, so a hung probe delays nothing but its own next check.
    """
    first = spec.initial_delay if spec.initial_delay is not None else min(1.0, spec.interval)
    await asyncio.sleep(first)
    while True:
        ok, message = await run_probe(probes[spec.kind], spec, service)
        report(ok, message)
        await asyncio.sleep(spec.interval)


def run_probes(unit: ServiceUnit, kinds: tuple[str, ...], probes: dict[str, Probe],
               report: Callable[[ServiceUnit, ev.Event], None]) -> None:
    """Run exactly the probes `kinds` ('startup', 'readiness', 'liveness') of a service,
    each in a task of its own; readiness reports HealthReported, the others ProbeReported.
    """
    for kind in [k for k in unit.probe_tasks if k not in kinds]:
        unit.probe_tasks.pop(kind).cancel()
    specs = {'startup': unit.spec.startup, 'readiness': unit.spec.health,
             'liveness': unit.spec.liveness}
    loop = asyncio.get_running_loop()
    for kind in kinds:
        probe = specs[kind]
        if kind in unit.probe_tasks or probe is None:
            continue

        def probed(ok: bool, message: str, kind: str = kind) -> None:
            report(unit, ev.HealthReported(ok=ok, message=message) if kind == 'readiness'
                   else ev.ProbeReported(probe=kind, ok=ok, message=message))
        unit.probe_tasks[kind] = loop.create_task(
            probe_forever(probe, unit.spec, probes, probed))


def stop_probes(unit: ServiceUnit) -> None:
    """Stop every probe of the service."""
    for task in unit.probe_tasks.values():
        task.cancel()
    unit.probe_tasks.clear()
