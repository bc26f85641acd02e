"""The children registry: our own children are never reaped by the orphan reaper."""

import os
import sys

from omega_orchestrator.runtime import process
from test.support import wait_until


def test_the_orphan_reaper_never_reaps_our_own_child():
    proc = process.spawn([sys.executable, '-c', 'pass'], cwd='/', env=dict(os.environ),
                         capture=False)
    assert process.CHILDREN.owns(proc.pid)
    wait_until(lambda: process._is_zombie(proc.pid), what='the child exited')
    process.reap_orphans()
    assert proc.wait(10) == 0                 # its status was left for us to collect
    process.forget(proc.pid)
    assert not process.CHILDREN.owns(proc.pid)


def test_a_spawn_in_progress_holds_the_reaper_off():
    registry = process.ChildRegistry()
    with registry.spawning() as record:
        assert registry.reap_orphans() == 0   # waits (bounded), then reaps nothing
        record(12345)
    assert registry.owns(12345)
