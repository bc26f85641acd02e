"""The sampler on real processes, both readers (Linux /proc and psutil) agreeing."""

import os
import subprocess
import sys

import pytest

from omega_orchestrator.core.states import ServiceState as S
from omega_orchestrator.runtime.metrics import (
    _advance,
    MetricsSampler,
    MIN_WINDOW,
    next_pass_in,
)
from test.runtime.support import wait_state
from test.support import PY, py, until, wait_until

BUSY_TREE = ('import subprocess, sys, time\n'
             'subprocess.Popen([sys.executable, "-c", "while True: pass"])\n'
             'x = bytearray(40_000_000)\ntime.sleep(600)')


@pytest.fixture
def tree():
    proc = subprocess.Popen([sys.executable, '-c', BUSY_TREE], start_new_session=True)
    yield proc
    import signal
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@pytest.mark.parametrize('use_proc', [True, False], ids=['proc', 'psutil'])
def test_sampler_sums_the_tree(tree, use_proc):
    sampler = MetricsSampler(use_proc=use_proc)

    def busy_tree():       # CPU % needs two samples some time apart
        usage = sampler.sample({'svc': tree.pid})['svc']
        return usage if usage.processes >= 2 and usage.cpu_percent >= 20 and \
            usage.memory_bytes > 40_000_000 else None
    usage = wait_until(busy_tree, 20, what='the tree sampled busy')
    assert usage.memory_bytes > 40_000_000
    assert usage.threads >= 2
    assert usage.cpu_percent <= 100 * 2 + 5      # two cores at most
    sampler.close()
    assert sampler.held == 0


def test_a_rate_is_never_measured_over_a_sliver_of_time():
    # Two passes 8 ms apart that straddle two 10 ms clock ticks would read as 250 %.
    first = _advance(None, 1.00, now=10.0)
    assert first.rate == 0.0
    assert _advance(first, 1.02, now=10.008) is first          # too soon: the old baseline
    later = _advance(first, 1.10, now=10.0 + MIN_WINDOW * 2)
    assert later.rate == pytest.approx(100 * 0.10 / (MIN_WINDOW * 2))
    assert _advance(later, 1.10, now=later.at + MIN_WINDOW).rate == 0.0   # idle since


def test_dead_pid_is_empty():
    proc = subprocess.Popen([sys.executable, '-c', 'pass'])
    proc.wait()
    sampler = MetricsSampler()
    usage = sampler.sample({'gone': proc.pid})['gone']
    assert usage.processes == 0 and usage.memory_bytes == 0
    assert sampler.held == 0                      # nothing kept for a process that is gone


async def test_a_sigstopped_service_is_shown_as_paused(supervise):
    import signal

    from test.support import py, until
    sup = supervise(py('import time\ntime.sleep(600)', name='frozen'))
    sup.start('frozen')
    await wait_state(sup, 'frozen', S.RUNNING)
    os.kill(sup.status('frozen').pid, signal.SIGSTOP)
    await until(lambda: sup.status('frozen').paused)
    assert sup.status('frozen').state is S.RUNNING
    os.kill(sup.status('frozen').pid, signal.SIGCONT)
    await until(lambda: not sup.status('frozen').paused)


async def test_metrics_cover_the_whole_process_tree(supervise):
    code = (f'import subprocess, time\nsubprocess.Popen([{PY!r}, "-c", '
            '"import time; time.sleep(600)"])\nx = bytearray(30_000_000)\ntime.sleep(600)')
    sup = supervise(py(code, name='tree'))
    sup.start('tree')
    await sup.start_all()       # starts the sampler (nothing autostarts here)
    await until(lambda: sup.status('tree').usage.processes == 2)
    usage = sup.status('tree').usage
    assert usage.memory_bytes > 30_000_000 and usage.threads >= 2
    assert sup.status('tree').uptime > 0


WIDE_TREE = ('import subprocess, time\n'
             'kids = [subprocess.Popen(["sleep", "120"]) for _ in range(900)]\n'
             'print("up", flush=True)\ntime.sleep(120)')


def test_a_tree_wider_than_a_page_of_pids_is_counted_whole_within_the_descriptor_cap():
    """/proc hands out a page of children per read: 900 pids are more than that. The
    sampler keeps at most `held_limit` files open; the others are read and closed.
    """
    parent = subprocess.Popen([sys.executable, '-c', WIDE_TREE], stdout=subprocess.PIPE,
                              start_new_session=True)
    sampler = MetricsSampler(use_proc=True, held_limit=100)
    try:
        assert parent.stdout is not None and parent.stdout.readline() == b'up\n'
        for _ in range(2):                         # the second pass reads what it kept
            usage = sampler.sample({'wide': parent.pid})['wide']
            assert usage.processes == 901 and sampler.held == 100
    finally:
        sampler.close()
        import signal
        os.killpg(parent.pid, signal.SIGKILL)
        parent.wait()


def test_passes_are_spaced_so_sampling_stays_within_its_budget():
    assert next_pass_in(2.0, 0.002) == 2.0                  # 50 services: the interval
    assert next_pass_in(2.0, 0.025) == pytest.approx(4.975)  # 1,000: 25 ms in every 5 s
