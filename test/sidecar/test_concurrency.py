"""Hundreds of concurrent REST calls over the real stack (issue 9, defect 7).

Every call gets a real answer (2xx, or a 409 that says why; never 500/503/504), and the
services end in a state that matches their processes: exactly one process per running
service, none for a stopped one (counted by a tag unique to the test in each argv).
"""

import asyncio
import collections
import random
import time
from typing import Any
import uuid

import httpx
import psutil

from test.stack import Stack
from test.support import py

SLEEP = 'import time\nprint("up", flush=True)\ntime.sleep(600)'
SETTLED = ('running', 'stopped')
ANSWERS = (200, 409)          # accepted, or refused in the wrong state (with the reason)


def tagged(tag: str, name: str, **fields: Any) -> dict:
    """A sleeping service whose argv carries tag-name, so its processes can be counted."""
    spec = py(SLEEP, name=name, **fields)
    spec['args'].append(f'{tag}-{name}')
    return spec


def processes(tag: str, name: str) -> int:
    """Live processes whose argv holds this service's tag."""
    mark, count = f'{tag}-{name}', 0
    for proc in psutil.process_iter(['cmdline', 'status']):
        if mark in (proc.info['cmdline'] or []) and \
                proc.info['status'] != psutil.STATUS_ZOMBIE:
            count += 1
    return count


async def burst(url: str, calls: list[tuple[str, str]], limit: int) -> list[httpx.Response]:
    """Send every (method, path) at once, at most `limit` in flight; the responses in order."""
    slots = asyncio.Semaphore(limit)
    async with httpx.AsyncClient(base_url=url, timeout=30,
                                 limits=httpx.Limits(max_connections=limit)) as client:
        async def one(method: str, path: str) -> httpx.Response:
            async with slots:
                return await client.request(method, path)
        return await asyncio.gather(*(one(m, p) for m, p in calls))


def settle(s: Stack, names: list[str]) -> dict[str, dict]:
    """Wait until every service is running or stopped with its processes to match."""
    def settled() -> dict[str, dict] | None:
        services = {x['name']: x for x in s.get('/api/services/list').json()['services']}
        if all(services[n]['status'] in SETTLED for n in names):
            return services
        return None
    return s.wait_for(settled, 'every service settles', timeout=20)


def check_processes(s: Stack, tag: str, names: list[str]) -> None:
    """One process per running service, none per stopped one (after the sweeps)."""
    def matching() -> bool:
        services = settle(s, names)
        return all(processes(tag, n) == (services[n]['status'] == 'running') for n in names)
    s.wait_for(matching, 'one process per running service, none per stopped one', timeout=20)


def check_answers(responses: list[httpx.Response]) -> collections.Counter:
    codes = collections.Counter(r.status_code for r in responses)
    wrong = [(r.request.url.path, r.status_code, r.text[:200]) for r in responses
             if r.status_code not in ANSWERS]
    assert not wrong, f'{codes}: {wrong[:5]}'
    for response in responses:
        body = response.json()
        assert body['ok'] is (response.status_code == 200), body
        if response.status_code == 409:
            assert body['message'] and body['service']['status'], body
    return codes


def test_200_concurrent_mixed_calls_are_all_answered(stack):
    tag = f'omega-concurrency-{uuid.uuid4().hex[:12]}'
    names = [f'svc{i}' for i in range(10)]
    s = stack([tagged(tag, n, autostart=i % 2 == 0) for i, n in enumerate(names)])
    rng = random.Random(9)
    calls = []
    for _ in range(200):
        kind, name = rng.choice(['start', 'stop', 'restart', 'logs', 'list']), rng.choice(names)
        if kind == 'list':
            calls.append(('GET', '/api/services/list'))
        elif kind == 'logs':
            calls.append(('GET', f'/api/services/logs/{name}?lines=5'))
        else:
            calls.append(('POST', f'/api/services/{kind}/{name}'))
    started = time.monotonic()
    responses = asyncio.run(burst(s.url, calls, limit=200))
    took = time.monotonic() - started
    codes = check_answers(responses)
    print(f'200 mixed concurrent calls: {took:.2f} s, {dict(codes)}')
    assert codes[200] >= 100       # lists and logs always succeed: about 80 of them
    check_processes(s, tag, names)
    # and each service still obeys, one call at a time
    for name in names[:3]:
        assert s.post(f'/api/services/stop/{name}').status_code in ANSWERS
        s.wait_for(lambda n=name: s.service(n)['status'] == 'stopped', f'{name} stopped')
        assert s.post(f'/api/services/start/{name}').json()['service']['status'] == 'running'
    check_processes(s, tag, names)


def test_200_concurrent_restarts_of_one_service_are_all_answered(stack):
    tag = f'omega-restarts-{uuid.uuid4().hex[:12]}'
    s = stack([tagged(tag, 'camera', autostart=True)])
    s.wait_for(lambda: s.service('camera')['status'] == 'running', 'camera running')
    started = time.monotonic()
    responses = asyncio.run(burst(s.url, [('POST', '/api/services/restart/camera')] * 200,
                                  limit=200))
    took = time.monotonic() - started
    codes = check_answers(responses)
    print(f'200 concurrent restarts of one service: {took:.2f} s, {dict(codes)}')
    assert codes[200] >= 1
    s.wait_for(lambda: s.service('camera')['status'] == 'running', 'camera running again')
    s.wait_for(lambda: processes(tag, 'camera') == 1, 'exactly one camera process')
