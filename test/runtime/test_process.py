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


def test_a_listing_of_orphans_serves_only_sweeps_requested_before_it():
    import subprocess
    import sys
    import time

    from omega_orchestrator.runtime.process import _ChildrenSnapshot, CHILDREN
    listing = _ChildrenSnapshot()
    asked = time.monotonic()
    first = listing.orphans_since(asked)
    assert listing.orphans_since(asked) is first         # the same moment: reused
    # not spawned through the registry: to the listing, an orphan re-parented to us
    stray = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)'])
    with CHILDREN.spawning() as record:                  # spawned (and waited for) here
        ours = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)'])
        record(ours.pid)
    try:
        later = listing.orphans_since(time.monotonic())  # asked after the spawn: listed anew
        assert later is not first and stray.pid in later and stray.pid not in first
        assert ours.pid not in later                     # our own child is no orphan
    finally:
        for child in (stray, ours):
            child.kill()
            child.wait()
        CHILDREN.forget(ours.pid)


def test_the_reaper_peeks_for_an_exited_child_without_collecting_it():
    """Nothing is listed while no child has exited; the peek leaves the status in place."""
    import subprocess
    quick = subprocess.Popen([sys.executable, '-c', 'pass'])
    wait_until(lambda: process._some_child_exited(), what='a child exited, seen by the peek')
    assert process._is_zombie(quick.pid)                   # still there to collect
    assert quick.wait(10) == 0
