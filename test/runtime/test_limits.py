"""Resource limits on real processes: soft warnings, the restart at a hard limit, the kernel's
own enforcement, nice and CPU affinity.
"""

import os

import psutil

from omega_orchestrator.core.states import ServiceState as S
from test.runtime.support import wait_state
from test.support import py, until

SLEEP = 'import time\ntime.sleep(600)'
#: A tree that grows: two children, each holding 60 MB (each under a 100 MB address space).
HOG_TREE = """
import subprocess, sys, time
hold = "x = bytearray(60_000_000)\\nimport time\\ntime.sleep(600)"
kids = [subprocess.Popen([sys.executable, "-c", hold]) for _ in range(2)]
time.sleep(600)
"""


async def test_a_memory_hog_is_restarted_at_its_hard_limit(supervise):
    sup = supervise(py(HOG_TREE, name='mapper', autostart=True, restart_policy='always',
                       limits={'memory_mb': 100, 'memory_soft_mb': 50, 'over_samples': 2}))
    crashes, warnings = [], []
    sup.add_listener(lambda e: (crashes if e.to_state is S.CRASHED else warnings).append(e)
                     if e.to_state in (S.CRASHED, S.RUNNING) and e.from_state in
                     (S.STOPPING, S.RUNNING) else None)
    await sup.start_all()
    first = sup.status('mapper').pid
    await until(lambda: crashes)
    assert crashes[0].reason.startswith('memory limit 100 MB (')
    assert crashes[0].reason.endswith(' MB) for 2 samples in a row')
    assert warnings[0].reason.startswith('memory ') and \
        warnings[0].reason.endswith('above the soft limit 50 MB')      # the soft level first
    await until(lambda: sup.status('mapper').state is S.RUNNING
                and sup.status('mapper').pid != first)
    assert sup.status('mapper').crash_count == 1
    assert sup.status('mapper').limits == (
        'memory 100 MB (kernel: RLIMIT_AS + samples); memory soft 50 MB')


async def test_over_the_soft_limit_is_a_warning_in_the_status(supervise):
    sup = supervise(py('x = bytearray(40_000_000)\nimport time\ntime.sleep(600)',
                       name='cache', autostart=True, limits={'memory_soft_mb': 20}))
    await sup.start_all()
    await until(lambda: sup.status('cache').limit_warning)
    status = sup.status('cache')
    assert status.state is S.RUNNING and status.restart_count == 0
    assert status.message == status.limit_warning
    assert status.limit_warning.endswith('above the soft limit 20 MB')


async def test_the_kernel_enforces_the_memory_limit_of_a_process(supervise):
    sup = supervise(py('x = bytearray(300_000_000)', name='greedy', autostart=True,
                       limits={'memory_mb': 150}))
    await sup.start_all()
    await wait_state(sup, 'greedy', S.CRASHED)
    assert sup.status('greedy').last_exit_code == 1             # MemoryError at once
    assert 'MemoryError' in '\n'.join(sup.logs('greedy', 'stderr', 20))


async def test_nice_and_cpu_affinity_are_set_on_the_process(supervise):
    cpu = os.sched_getaffinity(0)
    last = max(cpu)
    sup = supervise(py(SLEEP, name='background', autostart=True,
                       limits={'nice': 7, 'cpu_affinity': [last]}))
    await sup.start_all()
    await wait_state(sup, 'background', S.RUNNING)
    proc = psutil.Process(sup.status('background').pid)
    assert proc.nice() == 7 and proc.cpu_affinity() == [last]
    assert sup.status('background').limits == f'nice 7; cpus {last}'
