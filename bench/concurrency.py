"""Concurrent REST calls against the real stack (orchestrator + sidecar over ROS), loopback only.

    .venv/bin/python bench/concurrency.py [--calls 200] [--runs 3] [--services 10]

Each run sends --calls requests at once, mixed over start/stop/restart/logs/list of
--services sleeping services, then one service restarted --calls times at once; prints the
time and the status codes of each run and the median time. Every call must get a real
answer (2xx, or 409 for a request the service's state refuses): no 5xx, no 504.
"""

import argparse
import asyncio
import collections
from pathlib import Path
import random
import statistics
import sys
import tempfile
import time

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from test.stack import py, Stack  # noqa: E402

SLEEP = 'import time\ntime.sleep(600)'


async def burst(url: str, calls: int, kinds: list[str], names: list[str],
                seed: int) -> tuple[float, dict[int, int]]:
    """`calls` requests at once; returns the time they took and the count per status."""
    rng = random.Random(seed)
    codes: collections.Counter = collections.Counter()
    async with httpx.AsyncClient(base_url=url, timeout=60,
                                 limits=httpx.Limits(max_connections=calls)) as client:
        async def one() -> None:
            kind, name = rng.choice(kinds), rng.choice(names)
            if kind == 'list':
                response = await client.get('/api/services/list')
            elif kind == 'logs':
                response = await client.get(f'/api/services/logs/{name}?lines=5')
            else:
                response = await client.post(f'/api/services/{kind}/{name}')
            codes[response.status_code] += 1
        started = time.monotonic()
        await asyncio.gather(*(one() for _ in range(calls)))
        return time.monotonic() - started, dict(codes)


def main() -> int:
    """Run the bursts; exit 1 when any call got no real answer."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--calls', type=int, default=200)
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--services', type=int, default=10)
    args = parser.parse_args()
    names = [f'svc{i}' for i in range(args.services)]
    bad = 0
    with tempfile.TemporaryDirectory() as folder:
        stack = Stack(Path(folder), [py(SLEEP, name=n) for n in names]).start()
        try:
            for label, kinds, targets in (
                    ('mixed', ['start', 'stop', 'restart', 'logs', 'list'], names),
                    ('restarts of one service', ['restart'], names[:1])):
                times = []
                for run in range(args.runs):
                    took, codes = asyncio.run(burst(stack.url, args.calls, kinds, targets, run))
                    times.append(took)
                    bad += sum(n for code, n in codes.items() if code not in (200, 409))
                    print(f'{label}, {args.calls} at once: {took:.2f} s {codes}', flush=True)
                print(f'{label}: median {statistics.median(times):.2f} s of {args.runs} runs')
        finally:
            stack.stop()
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
