"""A registry read that never answers must not freeze control (issue 9, defect 6).

Unit tests of runtime/registry_file.py (non-regular files, a read that hangs, one reload at a
time), then the real orchestrator over ROS (a FIFO), then the whole stack over REST (calls
keep answering while a slow reload is in flight).
"""

import asyncio
import json
import os
from pathlib import Path
import threading
import time
from typing import Any

import httpx
from omega_orchestrator_interfaces.srv import ListServices, ReloadRegistry, StartService
import pytest

from omega_orchestrator.core.errors import ErrorCode, RegistryError, WrongStateError
from omega_orchestrator.core.registry import load_registry, Registry
from omega_orchestrator.runtime.registry_file import (
    load_regular_file,
    RegistryFileReader,
    RegistryReloader,
)
from test.support import py, wait_until

SLEEP = 'import time\nprint("up", flush=True)\ntime.sleep(600)'
STUBBORN = ('import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n'
            'print("up", flush=True)\ntime.sleep(600)')


def registry_file(folder: Path, *names: str) -> Path:
    path = folder / 'registry.json'
    path.write_text(json.dumps({'services': [py(SLEEP, name=n) for n in names]}))
    return path


def refused(path: Path, timeout: float = 5.0) -> RegistryError:
    """Load path with a fresh reader: the RegistryError, which must come at once."""
    started = time.monotonic()
    with pytest.raises(RegistryError) as caught:
        asyncio.run(RegistryFileReader(timeout=timeout).load(str(path)))
    assert time.monotonic() - started < 1.0
    assert caught.value.code is ErrorCode.REGISTRY_INVALID
    assert str(path) in str(caught.value)
    return caught.value


# -- the file reader ----------------------------------------------------------------------------

def test_a_fifo_is_refused_at_once(tmp_path):
    fifo = tmp_path / 'registry.fifo'
    os.mkfifo(fifo)
    error = refused(fifo)
    assert 'not a regular file but a FIFO' in error.problems[0]


@pytest.mark.parametrize('where, kind', [('folder', 'a folder'),
                                         ('/dev/null', 'a character device')])
def test_other_non_regular_files_are_refused(tmp_path, where, kind):
    path = tmp_path if where == 'folder' else Path(where)
    assert kind in refused(path).problems[0]


def test_a_missing_file_is_refused(tmp_path):
    assert 'cannot read the file' in refused(tmp_path / 'nowhere.json').problems[0]


def test_a_regular_file_loads(tmp_path):
    path = registry_file(tmp_path, 'a', 'b')
    registry = asyncio.run(RegistryFileReader().load(str(path)))
    assert [s.name for s in registry.services] == ['a', 'b']


def test_a_hung_read_times_out_and_holds_at_most_one_thread(tmp_path):
    path = str(registry_file(tmp_path, 'a'))
    release, calls = threading.Event(), []

    def hanging(where: str, base_dir: str | None) -> Registry:
        calls.append(where)
        if len(calls) == 1:
            release.wait(30)       # a mount that stopped answering
        return load_regular_file(where, base_dir)
    reader = RegistryFileReader(timeout=0.3, loader=hanging)

    async def scenario() -> None:
        started = time.monotonic()
        with pytest.raises(RegistryError, match='no answer within 0.3 s'):
            await reader.load(path)
        assert time.monotonic() - started < 2.0
        assert reader.hung() == path
        with pytest.raises(RegistryError, match='has hung for'):
            await reader.load(path)          # refused at once: no second hung thread
        assert len(calls) == 1
        release.set()
        deadline = time.monotonic() + 10
        while reader.hung() is not None and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert [s.name for s in (await reader.load(path)).services] == ['a']
    asyncio.run(scenario())
    assert len(calls) == 2


# -- one reload at a time -----------------------------------------------------------------------

class FakeSupervisor:
    """What RegistryReloader uses: the current registry and reload()."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.gate = asyncio.Event()

    async def reload(self, registry: Registry) -> tuple[list[str], list[str], list[str]]:
        await self.gate.wait()
        self.registry = registry
        return ['c'], ['b'], []


def test_a_second_reload_is_refused_while_one_reads(tmp_path):
    path = str(registry_file(tmp_path, 'a', 'b'))
    release = threading.Event()

    def slow(where: str, base_dir: str | None) -> Registry:
        release.wait(30)
        return load_regular_file(where, base_dir)

    async def scenario() -> None:
        supervisor = FakeSupervisor(load_registry(path))
        supervisor.gate.set()
        reloader = RegistryReloader(supervisor, reader=RegistryFileReader(5.0, slow))
        first = asyncio.create_task(reloader.reload())
        await asyncio.sleep(0.05)
        assert reloader.busy == f'reading {path}'
        with pytest.raises(WrongStateError, match=r'a reload is in progress \(reading'):
            await reloader.reload()
        release.set()
        assert (await first).finished and reloader.busy is None
    asyncio.run(scenario())


def test_a_slow_reload_answers_accepted_and_goes_on(tmp_path):
    path = registry_file(tmp_path, 'a', 'b')
    new = tmp_path / 'new.json'
    new.write_text(json.dumps({'services': [py(SLEEP, name='a'), py(SLEEP, name='c')]}))

    async def scenario() -> None:
        supervisor = FakeSupervisor(load_registry(path))
        reloader = RegistryReloader(supervisor)
        answer = await reloader.reload(str(new), wait=0.1)
        assert not answer.finished and answer.path == str(new)
        assert (answer.added, answer.removed, answer.changed) == (['c'], ['b'], [])
        assert reloader.busy == f'applying {new}'
        with pytest.raises(WrongStateError, match='a reload is in progress'):
            await reloader.reload()
        supervisor.gate.set()
        while reloader.busy is not None:
            await asyncio.sleep(0.01)
        assert supervisor.registry.path == str(new)
    asyncio.run(scenario())


# -- the real orchestrator over ROS -------------------------------------------------------------

def test_reloading_a_fifo_answers_at_once_and_control_goes_on(orchestrator, client, tmp_path):
    orchestrator.start([py(SLEEP, name='keep', autostart=True), py(SLEEP, name='other')])
    pid = wait_until(lambda: client.call(ListServices, orchestrator.at('list')).services[0].pid)
    fifo = tmp_path / 'hung.fifo'
    os.mkfifo(fifo)
    for _ in range(6):       # more than the executor has threads: none of them is kept
        started = time.monotonic()
        answer = client.call(ReloadRegistry, orchestrator.at('reload'), path=str(fifo))
        assert time.monotonic() - started < 2.0
        assert answer.error_code == ReloadRegistry.Response.ERR_REGISTRY_INVALID
        assert str(fifo) in answer.message and 'FIFO' in answer.errors[0]
    started = client.call(StartService, orchestrator.at('start'), name='other')
    assert started.success
    services = {s.name: s for s in client.call(ListServices, orchestrator.at('list')).services}
    assert services['keep'].pid == pid and services['other'].state_name == 'running'


# -- the whole stack over REST ------------------------------------------------------------------

def test_control_answers_while_a_slow_reload_is_in_flight(stack):
    names = [f'svc{i}' for i in range(5)]
    s = stack([py(STUBBORN, name='slow', autostart=True, stop_timeout=4),
               *(py(SLEEP, name=n, autostart=True) for n in names)])
    s.wait_for(lambda: all(x['status'] == 'running'
                           for x in s.get('/api/services/list').json()['services']),
               'all running')
    # the new file drops 'slow': the reload waits for its stop, SIGTERM ignored -> 4 s
    s.registry.write_text(json.dumps({'services': [py(SLEEP, name=n, autostart=True)
                                                   for n in names]}))
    reloaded: dict[str, Any] = {}

    def reload() -> None:
        response = httpx.post(s.url + '/api/services/reload', timeout=60)
        reloaded.update(status=response.status_code, body=response.json(),
                        at=time.monotonic())
    thread = threading.Thread(target=reload)
    thread.start()
    s.wait_for(lambda: s.service('slow')['status'] == 'stopping', 'the reload stops slow')
    second = s.post('/api/services/reload')
    assert second.status_code == 409 and 'a reload is in progress' in second.json()['message']
    calls = [('post', f'/api/services/stop/{names[0]}'),
             ('post', f'/api/services/start/{names[0]}'),
             ('get', f'/api/services/logs/{names[1]}?lines=5'), ('get', '/api/services/list'),
             ('post', f'/api/services/restart/{names[2]}')] * 4
    for method, path in calls:
        started = time.monotonic()
        response = getattr(s, method)(path)
        took = time.monotonic() - started
        assert response.status_code in (200, 409), (path, response.text)
        assert took < 1.0, f'{path} took {took:.2f} s during the reload'
    assert 'at' not in reloaded, 'the reload ended before the calls: nothing was tested'
    thread.join(60)
    assert reloaded['status'] == 200 and reloaded['body']['removed'] == ['slow']
