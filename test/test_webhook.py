"""Crash notifications reach a real HTTP receiver, from the engine as users run it."""

import http.server
import json
from pathlib import Path
import signal
import subprocess
import sys
import threading

from omega_orchestrator.core.states import ServiceState as S
from omega_orchestrator.runtime.status import TransitionEvent
from omega_orchestrator.runtime.webhook import kind_of
from test.support import free_port, wait_until

ROOT = Path(__file__).resolve().parents[1]


class Receiver(http.server.ThreadingHTTPServer):
    """Keeps every JSON body POSTed to it; answers `status` (503 for the first `refuse`)."""

    def __init__(self, refuse: int = 0) -> None:
        self.bodies: list[dict] = []
        self.refuse = refuse
        bodies, server = self.bodies, self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers['Content-Length']))
                if server.refuse:
                    server.refuse -= 1
                    self.send_response(503)
                else:
                    bodies.append(json.loads(body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass
        super().__init__(('127.0.0.1', free_port()), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


def test_crash_give_up_and_recover_are_posted_with_the_stderr_tail(tmp_path: Path):
    receiver = Receiver(refuse=1)            # the first attempt fails: retried
    fixed = tmp_path / 'fixed'
    code = (f'import os, sys, time\nif not os.path.exists({str(fixed)!r}):\n'
            '    print("camera not found", file=sys.stderr)\n    sys.exit(3)\n'
            'time.sleep(600)')
    registry = tmp_path / 'r.json'
    registry.write_text(json.dumps({
        'webhook': {'url': f'http://127.0.0.1:{receiver.server_port}/hook', 'timeout': 2},
        'services': [{'name': 'camera', 'cmd': sys.executable, 'args': ['-c', code],
                      'autostart': True, 'restart_policy': 'on-failure',
                      'restart': {'max_retries': 1, 'backoff_initial': 0.1,
                                  'retry_failed_after': 1}}]}))
    proc = subprocess.Popen([sys.executable, '-m', 'omega_orchestrator', '--no-ros',
                             '--registry', str(registry), '--log-dir', str(tmp_path / 'logs')],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: [b['event'] for b in receiver.bodies].count('give_up') == 1,
                   what='crashes and the give-up posted')
        crash = receiver.bodies[0]
        assert crash['event'] == 'crash' and crash['service'] == 'camera'
        assert crash['exit_code'] == 3 and crash['stderr_tail'] == ['camera not found']
        assert [b['event'] for b in receiver.bodies[:3]] == ['crash', 'crash', 'give_up']
        fixed.touch()                        # fixed: the retry after the failure runs
        wait_until(lambda: receiver.bodies[-1]['event'] == 'recover', what='recover posted')
        assert receiver.bodies[-1]['to'] == 'running'
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
        receiver.shutdown()


def test_only_a_run_after_trouble_is_a_recovery():
    def event(source: S, to: S) -> TransitionEvent:
        return TransitionEvent(stamp=0.0, service='s', from_state=source, to_state=to,
                               reason='')
    troubled: set[str] = set()
    assert kind_of(event(S.STARTING, S.RUNNING), troubled) is None
    assert kind_of(event(S.RUNNING, S.CRASHED), troubled) == 'crash'
    assert kind_of(event(S.STARTING, S.RUNNING), troubled) is None     # restarted at once
    assert kind_of(event(S.CRASHED, S.COOLDOWN), troubled) is None
    assert kind_of(event(S.STARTING, S.RUNNING), troubled) == 'recover'
    assert kind_of(event(S.RUNNING, S.RUNNING), troubled) is None      # a soft-limit event
    assert kind_of(event(S.STARTING, S.FAILED), troubled) == 'give_up'
    assert kind_of(event(S.FAILED, S.STOPPED), troubled) is None
    assert kind_of(event(S.STARTING, S.RUNNING), troubled) is None     # stopped in between
