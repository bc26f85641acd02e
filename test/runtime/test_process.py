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


def test_a_listing_of_children_serves_only_sweeps_requested_before_it():
    import subprocess
    import sys
    import time

    from omega_orchestrator.runtime.process import _ChildrenSnapshot
    listing = _ChildrenSnapshot()
    asked = time.monotonic()
    first = listing.since(asked)
    assert listing.since(asked) is first                 # the same moment: reused
    child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)'])
    try:
        later = listing.since(time.monotonic())          # asked after the spawn: listed anew
        assert later is not first and child.pid in later and child.pid not in first
    finally:
        child.kill()
        child.wait()
