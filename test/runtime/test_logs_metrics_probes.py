"""Log capture and rotation, resource sampling, and health probes, against real children."""

import os
from pathlib import Path

from omega_orchestrator.core.states import ServiceState as S
from test.runtime.support import wait_state
from test.support import free_port, PY, py, until


async def test_output_goes_to_the_seed_log_files_and_the_tail(supervise, tmp_path: Path):
    code = ('import sys\nprint("to out")\nprint("to err", file=sys.stderr)\n'
            'print("no newline", end="")')
    sup = supervise(py(code, name='talker'))
    sup.start('talker')
    await wait_state(sup, 'talker', S.EXITED)
    assert sup.logs('talker', 'stdout', 50) == ['to out', 'no newline']
    assert sup.logs('talker', 'stderr', 50) == ['to err']
    logs = tmp_path / 'logs'
    assert (logs / 'talker.stdout.log').read_text() == 'to out\nno newline'
    assert (logs / 'talker.stderr.log').read_text() == 'to err\n'


async def test_logs_rotate_and_disk_use_stays_bounded(supervise, tmp_path: Path):
    code = 'import sys\nfor i in range(4000):\n    print("line %05d " % i + "x" * 90)'
    sup = supervise(py(code, name='chatty'), log_max_bytes=20_000, backups=3)
    sup.start('chatty')
    await wait_state(sup, 'chatty', S.EXITED)
    logs = tmp_path / 'logs'
    files = sorted(p.name for p in logs.glob('chatty.stdout.log*'))
    assert files == ['chatty.stdout.log', 'chatty.stdout.log.1', 'chatty.stdout.log.2',
                     'chatty.stdout.log.3']
    assert all((logs / f).stat().st_size <= 20_000 for f in files)
    assert sup.logs('chatty', 'stdout', 1) == ['line 03999 ' + 'x' * 90]


async def test_a_fast_writer_does_not_starve_supervision(supervise):
    spew = 'import sys\nwhile True:\n    sys.stdout.write("y" * 8191 + "\\n")'
    sup = supervise(py(spew, name='spew'), py('import time\ntime.sleep(600)', name='victim',
                                              restart_policy='always'),
                    log_max_bytes=1_000_000, backups=1)
    sup.start('spew')
    first = sup.start('victim').pid
    await until(lambda: len(sup.logs('spew', 'stdout', 10)) == 10)
    os.kill(first, 9)
    await sup.wait_for(lambda: sup.status('victim').pid not in (None, first), 20)
    assert sup.status('victim').state is S.RUNNING


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


async def test_tcp_probe_follows_the_port(supervise):
    port = free_port()
    server = ('import socket, time\ns = socket.socket()\n'
              f's.bind(("127.0.0.1", {port}))\ns.listen()\ntime.sleep(600)')
    sup = supervise(py(server, name='api', port=port, health_check='api_check'),
                    py('import time\ntime.sleep(600)', name='deaf', port=free_port(),
                       health_check={'type': 'tcp', 'interval': 0.2, 'timeout': 1}))
    sup.start('api')
    sup.start('deaf')
    await sup.wait_for(lambda: sup.status('api').health.checked, 20)
    assert sup.status('api').health.healthy
    await sup.wait_for(lambda: sup.status('deaf').health.checked, 20)
    health = sup.status('deaf').health
    assert not health.healthy and 'refused' in health.message.lower()


async def test_http_and_exec_probes(supervise):
    port = free_port()
    server = ('import http.server as h\n'
              f'h.test(h.SimpleHTTPRequestHandler, port={port}, bind="127.0.0.1")')
    sup = supervise(
        py(server, name='web', health_check={
            'type': 'http', 'url': f'http://127.0.0.1:{port}/', 'interval': 0.2}),
        py(server.replace(str(port), str(free_port())), name='web404', health_check={
            'type': 'http', 'url': f'http://127.0.0.1:{port}/missing', 'interval': 0.2}),
        py('import time\ntime.sleep(600)', name='execd', health_check={
            'type': 'exec', 'cmd': PY, 'args': ['-c', 'import sys; sys.exit(4)'],
            'interval': 0.2}))
    for name in ('web', 'web404', 'execd'):
        sup.start(name)
    await sup.wait_for(lambda: sup.status('web').health.healthy, 20)
    # its first probe may run before 'web' listens; wait for one that got an HTTP answer
    await sup.wait_for(lambda: sup.status('web404').health.message.startswith('HTTP'), 20)
    assert sup.status('web404').health.message.startswith('HTTP 404')
    await sup.wait_for(lambda: sup.status('execd').health.checked, 20)
    assert sup.status('execd').health.message == 'check command exited with code 4'


async def test_probe_timeout_is_reported(supervise):
    port = free_port()
    # accepts TCP but never answers HTTP: the probe must give up after its timeout
    server = ('import socket, time\ns = socket.socket()\n'
              f's.bind(("127.0.0.1", {port}))\ns.listen()\ntime.sleep(600)')
    sup = supervise(py(server, name='mute', health_check={
        'type': 'http', 'url': f'http://127.0.0.1:{port}/', 'interval': 0.2, 'timeout': 0.3}))
    sup.start('mute')
    # a first probe may come before the server listens (refused): wait for one that hangs
    await sup.wait_for(lambda: 'no answer' in sup.status('mute').health.message, 20)
    assert 'no answer within 0.3 s' in sup.status('mute').health.message


def test_a_log_that_cannot_be_written_loses_output_not_supervision(tmp_path: Path):
    from omega_orchestrator.runtime.logs import RotatingFile
    full = RotatingFile('/dev/full', max_bytes=1 << 20, backups=0)
    full.write(b'disk is full\n')
    full.write(b'still full\n')
    assert full.dropped == len(b'disk is full\n') + len(b'still full\n')


async def test_a_probe_that_raises_reports_unhealthy():
    from omega_orchestrator.core.registry import ProbeSpec, ServiceSpec
    from omega_orchestrator.runtime.probes import run_probe

    async def broken(spec, service):
        raise ValueError('bad port')
    ok, message = await run_probe(broken, ProbeSpec(kind='tcp', label='tcp'),
                                  ServiceSpec(name='s', cmd='x'))
    assert not ok and message == 'tcp: probe failed: ValueError: bad port'
