"""The whole stack for end-to-end tests: orchestrator and sidecar as real processes.

Each stack gets its own ROS_DOMAIN_ID, a free HTTP port on 127.0.0.1 and its own folder.
"""

from collections.abc import Callable, Iterator
import json
import os
from pathlib import Path
import random
import signal
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest

from test.support import free_port, py  # noqa: F401 - py: the stack's services

DEADLINE = 30.0


def wait_watching(predicate: Callable[[], Any], what: str, procs: list[subprocess.Popen],
                  logs: Callable[[], str], timeout: float = DEADLINE) -> Any:
    """Poll predicate until truthy; fail early, with the logs, when one of procs has exited
    (a process is named by the module it runs), or after timeout s.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        for proc in procs:
            if proc.poll() is not None:
                raise AssertionError(f'{_module_of(proc)} exited with {proc.returncode}:\n'
                                     + logs())
        if time.monotonic() > deadline:
            raise AssertionError(f'{what}: not within {timeout} s\n' + logs())
        time.sleep(0.05)


def _module_of(proc: subprocess.Popen) -> str:
    """'omega_orchestrator.sidecar' of '... python -m omega_orchestrator.sidecar ...', with
    the network namespace it runs in, if any ('ip netns exec NAME ...').
    """
    args = [str(arg) for arg in proc.args]
    module = args[args.index('-m') + 1] if '-m' in args[:-1] else ' '.join(args)
    return f'{module} in {args[3]}' if args[:3] == ['ip', 'netns', 'exec'] else module


class Stack:
    """An orchestrator process plus a sidecar process talking to it over ROS."""

    def __init__(self, folder: Path, services: list[dict] | Path, token: str | None = None,
                 sidecar_args: tuple[str, ...] = (),
                 orchestrator_args: tuple[str, ...] = (),
                 env: dict[str, str] | None = None) -> None:
        """`services`: the registry's services, or the path of a registry file as it is;
        `env`: variables of the robot's environment, on top of the test's.
        """
        self.folder = folder
        self.sidecar_args = list(sidecar_args)
        self.orchestrator_args = list(orchestrator_args)
        self.port = free_port()
        self.url = f'http://127.0.0.1:{self.port}'
        self.env = dict(os.environ, ROS_DOMAIN_ID=str(random.randint(1, 100)),
                        ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST', PYTHONUNBUFFERED='1')
        self.env.update(env or {})
        if token:
            self.env['OMEGA_API_TOKEN'] = token
        # a namespace of its own: another run on the same domain cannot answer for it
        self.namespace = f'/t{random.randint(0, 10**9)}'
        if isinstance(services, Path):
            self.registry = services
        else:
            self.registry = folder / 'registry.json'
            self.registry.write_text(json.dumps({'services': services}))
        self.procs: list[subprocess.Popen] = []

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        log = open(self.folder / f'{name}.log', 'w')
        proc = subprocess.Popen([sys.executable, '-m', *args], env=self.env,
                                stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def start_orchestrator(self) -> subprocess.Popen:
        self.orchestrator = self._spawn('orchestrator', [
            'omega_orchestrator', '--registry', str(self.registry), '--log-dir',
            str(self.folder / 'logs'), '--status-rate', '2', '--metrics-interval', '0.5',
            *self.orchestrator_args, '--ros-args', '-r', f'__ns:={self.namespace}'])
        return self.orchestrator

    def start(self) -> 'Stack':
        self.start_orchestrator()
        # in the orchestrator's namespace, the sidecar finds it by its relative default name
        self.sidecar = self._spawn('sidecar', [
            'omega_orchestrator.sidecar', '--port', str(self.port), *self.sidecar_args,
            '--ros-args', '-r', f'__ns:={self.namespace}'])
        self.wait_for(lambda: self.get('/api/services/list').status_code == 200,
                      'the API lists the services')
        return self

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return httpx.get(self.url + path, timeout=10, **kwargs)
        except httpx.TransportError:
            return httpx.Response(599)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.post(self.url + path, timeout=10, **kwargs)

    def service(self, name: str) -> dict:
        return self.get(f'/api/services/status/{name}').json()['service']

    def wait_for(self, predicate: Any, what: str, timeout: float = DEADLINE) -> Any:
        return wait_watching(predicate, what, self.procs, self.logs, timeout)

    def logs(self) -> str:
        return '\n'.join((self.folder / f'{n}.log').read_text()[-3000:]
                         for n in ('orchestrator', 'sidecar')
                         if (self.folder / f'{n}.log').exists())

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in self.procs:
            try:
                proc.wait(DEADLINE)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Any]:
    """Build started Stacks (services, token, extra options); all stopped after the test."""
    made: list[Stack] = []

    def build(services: list[dict] | Path, token: str | None = None,
              sidecar_args: tuple[str, ...] = (),
              orchestrator_args: tuple[str, ...] = (),
              env: dict[str, str] | None = None) -> Stack:
        made.append(Stack(tmp_path, services, token, sidecar_args, orchestrator_args, env))
        return made[-1].start()
    yield build
    for item in made:
        item.stop()


class FleetStack:
    """Several robots on one ROS domain: an orchestrator per robot, in the namespace '/<name>',
    and one sidecar whose local robot is `local` (it finds the others on the graph).
    """

    def __init__(self, folder: Path, robots: dict[str, list[dict]], local: str,
                 sidecar_args: tuple[str, ...] = (),
                 orchestrator_args: dict[str, tuple[str, ...]] | None = None) -> None:
        self.folder, self.local = folder, local
        self.robots = list(robots)
        self.orchestrator_args = orchestrator_args or {}
        self.port = free_port()
        self.url = f'http://127.0.0.1:{self.port}'
        self.env = dict(os.environ, ROS_DOMAIN_ID=str(random.randint(1, 100)),
                        ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST', PYTHONUNBUFFERED='1')
        self.registries = {}
        for name, services in robots.items():
            self.registries[name] = folder / f'{name}.json'
            self.registries[name].write_text(json.dumps({'services': services}))
        self.sidecar_args = list(sidecar_args)
        self.orchestrators: dict[str, subprocess.Popen] = {}
        self.procs: list[subprocess.Popen] = []

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        log = open(self.folder / f'{name}.log', 'a')
        proc = subprocess.Popen([sys.executable, '-m', *args], env=self.env,
                                stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def start_robot(self, name: str) -> subprocess.Popen:
        """Start (or start again) the orchestrator of robot `name`."""
        self.orchestrators[name] = self._spawn(f'orchestrator-{name}', [
            'omega_orchestrator', '--registry', str(self.registries[name]), '--log-dir',
            str(self.folder / f'logs-{name}'), '--status-rate', '2', '--metrics-interval', '0.5',
            *self.orchestrator_args.get(name, ()), '--ros-args', '-r', f'__ns:=/{name}'])
        return self.orchestrators[name]

    def stop_robot(self, name: str) -> None:
        """Stop robot `name`'s orchestrator (SIGINT) and wait until it has exited."""
        proc = self.orchestrators[name]
        proc.send_signal(signal.SIGINT)
        proc.wait(DEADLINE)
        self.procs.remove(proc)

    def start(self) -> 'FleetStack':
        for name in self.robots:
            self.start_robot(name)
        self.sidecar = self._spawn('sidecar', [
            'omega_orchestrator.sidecar', '--port', str(self.port), *self.sidecar_args,
            '--ros-args', '-r', f'__ns:=/{self.local}'])
        self.wait_for(lambda: self.reachable() == set(self.robots), 'every robot is reachable')
        return self

    def reachable(self) -> set[str]:
        """The robots /api/robots says are reachable."""
        response = self.get('/api/robots')
        if response.status_code != 200:
            return set()
        return {r['name'] for r in response.json()['robots'] if r['reachable']}

    # the same over this stack's processes and logs
    get, post, wait_for, stop = Stack.get, Stack.post, Stack.wait_for, Stack.stop

    def logs(self) -> str:
        return '\n'.join(f'--- {path.name}\n' + path.read_text()[-2000:]
                         for path in sorted(self.folder.glob('*.log')))


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Any]:
    """Build started FleetStacks (robots: name -> services, the sidecar's local robot, extra
    options); all stopped after the test.
    """
    made: list[FleetStack] = []

    def build(robots: dict[str, list[dict]], local: str, sidecar_args: tuple[str, ...] = (),
              orchestrator_args: dict[str, tuple[str, ...]] | None = None) -> FleetStack:
        made.append(FleetStack(tmp_path, robots, local, sidecar_args, orchestrator_args))
        return made[-1].start()
    yield build
    for item in made:
        item.stop()
