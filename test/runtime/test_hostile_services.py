"""Services that misbehave on purpose: none of them may wedge the engine or outlive a stop."""

import os

from omega_orchestrator.core.states import ServiceState as S
from test.runtime.support import wait_state
from test.support import find_tagged, py, until

SLEEPER = 'import time\ntime.sleep(600)'


async def test_a_200_process_fork_tree_is_swept(supervise):
    tag = f'forktree-{os.getpid()}'
    code = ('import os, sys, time\n'
            'for _ in range(7):\n'          # 2**7 = 128 leaves plus the inner nodes: > 200
            '    os.fork()\n'
            f'sys.argv.append({tag!r})\n'
            'os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(600)", '
            f'{tag!r}])\n')
    sup = supervise(py(code, name='bomb'), py(SLEEPER, name='bystander'))
    sup.start('bomb')
    sup.start('bystander')
    await until(lambda: len(find_tagged(tag)) >= 128, timeout=60)
    sup.stop('bomb')
    await sup.wait_stopped('bomb', 30)
    await until(lambda: not find_tagged(tag))
    assert sup.status('bystander').state is S.RUNNING


async def test_invalid_utf8_and_a_one_megabyte_line_are_kept_readable(supervise):
    code = ('import sys\nsys.stdout.buffer.write(b"bad \\xff\\xfe bytes\\n")\n'
            'sys.stdout.buffer.write(b"x" * 1_000_000 + b"\\n")\n'
            'sys.stdout.buffer.write(b"after\\n")\nsys.stdout.flush()')
    sup = supervise(py(code, name='noisy'))
    sup.start('noisy')
    await wait_state(sup, 'noisy', S.EXITED)
    lines = sup.logs('noisy', 'stdout', 10)
    assert lines[0] == 'bad \ufffd\ufffd bytes'
    assert lines[1] == 'x' * 4096                         # the long line once, cut
    assert lines[2:] == ['after']


async def test_a_service_that_closes_its_output_early_is_still_supervised(supervise):
    code = 'import os, time\nos.close(1)\nos.close(2)\ntime.sleep(0.3)\nraise SystemExit(3)'
    sup = supervise(py(code, name='mute', restart_policy='never'))
    sup.start('mute')
    await wait_state(sup, 'mute', S.CRASHED)
    assert sup.status('mute').last_exit_code == 3


async def test_a_term_ignoring_daemon_with_the_marker_is_swept(supervise):
    tag = f'setsid-marked-{os.getpid()}'
    code = ('import os, signal, subprocess, sys, time\n'
            'subprocess.Popen([sys.executable, "-c", "import signal, time; '
            'signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)", '
            f'{tag!r}], start_new_session=True)\n'
            'time.sleep(600)')
    sup = supervise(py(code, name='daemonizer', stop_timeout=1))
    sup.start('daemonizer')
    await until(lambda: find_tagged(tag))
    sup.stop('daemonizer')
    await sup.wait_stopped('daemonizer', 20)
    await until(lambda: not find_tagged(tag))
