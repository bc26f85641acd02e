"""circus (PyPI ``circus``) as a side: ``circusd circus.ini`` from ``bench/.venv-circus``.

The generated config keeps circus's defaults apart from what the benchmark needs (see
bench/README.md): its control and publish sockets are ``ipc://`` files in the temp dir
instead of fixed TCP ports (parallel runs, and ports that may be taken), the UDP multicast
discovery is off (it would join a multicast group on the network), and ``copy_env = true``
gives the children the same inherited environment as under the other supervisors (circus
otherwise starts them with an empty one). Everything else is circus's default on purpose:
``check_delay = 5`` (the period of its process check), ``respawn = true``,
``stop_signal = TERM``, ``graceful_timeout = 30``, ``stop_children = false``.
"""

from pathlib import Path
import shlex

from benchkit.supervisors import BENCH_DIR, Service, Supervisor
from benchkit.venvs import PrivateVenv

CIRCUS_VENV = PrivateVenv(BENCH_DIR / '.venv-circus', ('circus==0.19.0', 'psutil'), 'circusd')


class CircusSupervisor(Supervisor):
    """circusd from the benchmark's private venv."""

    label = 'circus'

    def prepare(self, services: list[Service], workdir: Path) -> list[str]:
        """Write ``circus.ini``; return the circusd command line."""
        conf = workdir / 'circus.ini'
        conf.write_text(circus_config(services, workdir))
        return [str(CIRCUS_VENV.program()), str(conf)]

    def version(self) -> str:
        """Installed version of the ``circus`` distribution."""
        return CIRCUS_VENV.version('circus')

    def unavailable(self) -> str | None:
        """Create ``bench/.venv-circus`` on first use; why it failed, if it did."""
        return CIRCUS_VENV.ensure()


def ini_value(text: str) -> str:
    """Escape ``text`` for circus's ConfigParser (``%`` interpolation)."""
    return text.replace('%', '%%')


def circus_config(services: list[Service], workdir: Path) -> str:
    """The ``[circus]`` section (sockets in ``workdir``) and one watcher per service."""
    tmp = ini_value(str(workdir))
    sections = [
        '[circus]\n'
        f'endpoint = ipc://{tmp}/circus-control.sock\n'
        f'pubsub_endpoint = ipc://{tmp}/circus-pubsub.sock\n'
        'multicast_endpoint =\n'
        'statsd = false\n'
    ]
    sections += [watcher_section(svc) for svc in services]
    return '\n'.join(sections)


def watcher_section(svc: Service) -> str:
    """One ``[watcher:x]``: the command, one process, the inherited environment."""
    argv = svc.argv()
    return (
        f'[watcher:{svc.name}]\n'
        f'cmd = {ini_value(argv[0])}\n'
        f'args = {ini_value(shlex.join(argv[1:]))}\n'
        'numprocesses = 1\n'
        'copy_env = true\n'
    )
