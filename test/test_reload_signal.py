"""SIGHUP reloads the registry: validated first, then only what changed is touched.

Run as users run it: the engine from the command line (and once through the launcher, as
`systemctl reload` reaches it), with the services' PIDs read from the process table.
"""

import json
import os
from pathlib import Path
import random
import signal
import subprocess
import sys

import httpx
import psutil

from test.support import alive, free_port, wait_until

ROOT = Path(__file__).resolve().parents[1]


def service(name: str, tag: str, **fields: object) -> dict:
    return {'name': name, 'cmd': sys.executable, 'autostart': True,
            'args': ['-c', 'import time; time.sleep(600)', f'{tag}-{name}'], **fields}


def pids(tag: str) -> dict[str, int]:
    """The running services carrying `tag`, by name."""
    found = {}
    for proc in psutil.process_iter(['cmdline', 'pid']):
        args = proc.info['cmdline'] or []
        try:     # one may end between the listing and this question: then it does not run
            running = proc.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            running = False
        if args and args[-1].startswith(f'{tag}-') and running:
            found[args[-1][len(tag) + 1:]] = proc.info['pid']
    return found


def test_sighup_touches_only_the_changed_services_and_refuses_a_broken_file(tmp_path: Path):
    tag = f'hup-{os.getpid()}'
    registry = tmp_path / 'r.json'
    registry.write_text(json.dumps({'services': [service('keep', tag), service('edit', tag),
                                                 service('drop', tag)]}))
    log = open(tmp_path / 'engine.log', 'w')
    proc = subprocess.Popen([sys.executable, '-m', 'omega_orchestrator', '--no-ros',
                             '--registry', str(registry), '--log-dir', str(tmp_path / 'logs')],
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        before = wait_until(lambda: p if len(p := pids(tag)) == 3 else None,
                            what='three services')
        registry.write_text('{"services": [ this is not JSON')
        proc.send_signal(signal.SIGHUP)
        wait_until(lambda: 'SIGHUP: the registry was not reloaded; nothing changed' in
                   (tmp_path / 'engine.log').read_text(), what='the refusal logged')
        # The same processes, still running. Asked by PID: the venv's interpreter re-executes
        # itself at start (its ROS-wheels .pth), and a process between two execs shows no
        # command line for a moment, so a look by command line alone can miss one.
        assert all(alive(pid) for pid in before.values()) and proc.poll() is None
        assert pids(tag).items() <= before.items()
        registry.write_text(json.dumps({'services': [
            service('keep', tag), service('edit', tag, env={'CHANGED': '1'}),
            service('new', tag)]}))
        proc.send_signal(signal.SIGHUP)
        after = wait_until(lambda: p if set(p := pids(tag)) == {'keep', 'edit', 'new'}
                           and p['edit'] != before['edit'] else None, what='the reload')
        assert after['keep'] == before['keep']        # unchanged: the same process
        assert not alive(before['drop'])
        text = (tmp_path / 'engine.log').read_text()
        assert "added ['new'], removed ['drop'], changed ['edit']" in text
        assert 'invalid JSON at line 1' in text
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
    assert pids(tag) == {}


def test_the_launcher_passes_sighup_on_and_keeps_running(tmp_path: Path):
    tag = f'hup-launcher-{os.getpid()}'
    registry = tmp_path / 'r.json'
    registry.write_text(json.dumps({'services': [service('keep', tag)]}))
    port = free_port()
    env = dict(os.environ, ROS_DOMAIN_ID=str(random.randint(1, 100)),
               ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST')
    proc = subprocess.Popen(
        [sys.executable, '-m', 'omega_orchestrator.launcher', '--registry', str(registry),
         '--log-dir', str(tmp_path / 'logs'), '--api-port', str(port)], env=env, cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def listed() -> set[str] | None:
        try:
            body = httpx.get(f'http://127.0.0.1:{port}/api/services/list', timeout=5).json()
        except (httpx.TransportError, ValueError):
            return None
        return {s['name'] for s in body.get('services', [])} or None
    try:
        assert wait_until(listed, timeout=60, what='the API') == {'keep'}
        registry.write_text(json.dumps({'services': [service('keep', tag),
                                                     service('added', tag)]}))
        proc.send_signal(signal.SIGHUP)
        wait_until(lambda: listed() == {'keep', 'added'}, timeout=60, what='reloaded')
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0
