"""Health probes against real children and servers: tcp, http, exec, timeouts, a broken probe."""

from test.support import free_port, PY, py


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


async def test_a_probe_that_raises_reports_unhealthy():
    from omega_orchestrator.core.registry import ProbeSpec, ServiceSpec
    from omega_orchestrator.runtime.probes import run_probe

    async def broken(spec, service):
        raise ValueError('bad port')
    ok, message = await run_probe(broken, ProbeSpec(kind='tcp', label='tcp'),
                                  ServiceSpec(name='s', cmd='x'))
    assert not ok and message == 'tcp: probe failed: ValueError: bad port'
