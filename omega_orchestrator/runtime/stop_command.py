"""A service's `stop_cmd`: the command that ends what its start left running.

`docker compose ... up -d` exits at once and leaves containers behind, so stopping the
service means running `docker compose ... down`. The command runs in the service's working
dir and environment, never through a shell, in its own process group, and is killed when it
takes longer than `stop_cmd_timeout`.
"""

import asyncio

from omega_orchestrator.core.registry import ServiceSpec
from omega_orchestrator.runtime import process


async def run_stop_command(spec: ServiceSpec, env: dict[str, str]) -> str:
    """Run spec.stop_cmd to its end (or its timeout); returns what happened, in words."""
    loop = asyncio.get_running_loop()
    try:
        proc = process.spawn(list(spec.stop_cmd), cwd=spec.working_dir, env=env, capture=False)
    except process.SpawnError as exc:
        return f'stop_cmd could not start: {exc}'
    done: asyncio.Future = loop.create_future()
    process.watch_exit(loop, proc, lambda code, sig: done.set_result((code, sig)))
    try:
        code, sig = await asyncio.wait_for(asyncio.shield(done), spec.stop_cmd_timeout)
    except asyncio.TimeoutError:
        process.signal_group(proc.pid, 'SIGKILL')
        await done
        return f'stop_cmd killed after {spec.stop_cmd_timeout:g} s'
    except asyncio.CancelledError:
        process.signal_group(proc.pid, 'SIGKILL')
        raise
    if sig is not None:
        return f'stop_cmd killed by signal {sig}'
    return 'stop_cmd exited 0' if code == 0 else f'stop_cmd exited with code {code}'
