"""Hundreds of services under the default soft limit of open files (1,024, what a systemd
unit without LimitNOFILE gets): all start, none fails with "Too many open files".
"""

import json
from pathlib import Path
import resource
import signal
import subprocess
import sys
import time

import psutil

from test.support import find_tagged, wait_until

COUNT = 300


def test_300_autostart_services_under_a_soft_limit_of_1024(tmp_path: Path):
    tag = f'scale-{time.time_ns()}'
    services = [{'name': f's{i}', 'cmd': '/bin/sh', 'args': ['-c', 'sleep 600; :', tag],
                 'autostart': True} for i in range(COUNT)]
    (tmp_path / 'r.json').write_text(json.dumps({'services': services}))
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)

    def low_soft_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
    proc = subprocess.Popen(
        [sys.executable, '-m', 'omega_orchestrator', '--registry', str(tmp_path / 'r.json'),
         '--log-dir', str(tmp_path / 'logs'), '--no-ros', '--metrics-interval', '0'],
        stderr=subprocess.DEVNULL, preexec_fn=low_soft_limit)
    try:
        wait_until(lambda: len(find_tagged(tag)) == COUNT, 60, what=f'{COUNT} services run')
        limit = psutil.Process(proc.pid).rlimit(psutil.RLIMIT_NOFILE)
        assert limit[0] == hard or hard == resource.RLIM_INFINITY   # raised at start
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0
    log = (tmp_path / 'logs' / 'services.log').read_text()
    assert 'Too many open files' not in log and 'failed' not in log
    assert find_tagged(tag) == []
