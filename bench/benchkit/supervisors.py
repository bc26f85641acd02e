"""The supervisors under test, each reduced to "write a config, give me an argv".

All run the same child programs with the same interpreter (benchstack.SERVICE_PYTHON, the
base Python of the bench's venv) and the same inherited environment; only the supervisor
differs.

* ``OmegaSupervisor``: ``<python> -m omega_orchestrator --registry F --log-dir D``
  run from the repository root, with the project venv's interpreter.
* ``SupervisordSupervisor``: supervisord from PyPI, installed into the private
  venv ``bench/.venv-supervisord`` (created on first use), with a generated
  config that keeps supervisord's defaults apart from what the benchmark needs.

circus and ``ros2 launch`` live in ``circusd.py`` and ``ros2launch.py``; ``sides.py``
lists every side.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass
import json
import os
from pathlib import Path
import shlex
import signal
import sys

from benchstack import SERVICE_PYTHON

from benchkit.venvs import PrivateVenv

BENCH_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = BENCH_DIR.parent
CHILDREN_DIR = BENCH_DIR / 'children'
SUPERVISORD_VENV = PrivateVenv(BENCH_DIR / '.venv-supervisord',
                               ('supervisor==4.3.0', 'psutil'), 'supervisord')

# Our orchestrator treats a run shorter than this as a crash loop (backoff); the
# crash benchmark only kills processes that are older than KILL_MIN_AGE.
STABLE_AFTER = 1.0
KILL_MIN_AGE = STABLE_AFTER + 0.5


@dataclass(frozen=True)
class Service:
    """One supervised child: ``<python> children/<script> --tag <tag>``, or ``command``.

    A ``command`` (e.g. the crash storm's ``/bin/sh -c '...; exec /bin/false' storm --tag
    TAG``) replaces the Python child; it must carry ``--tag TAG`` itself.
    """

    name: str
    tag: str
    script: str = ''
    command: tuple[str, ...] = ()

    def argv(self) -> list[str]:
        """Full command line of the child, with absolute paths."""
        if self.command:
            return list(self.command)
        return [SERVICE_PYTHON, *CHILD_FLAGS, str(CHILDREN_DIR / self.script), '--tag', self.tag]

    @property
    def is_python(self) -> bool:
        """True for the Python children of ``children/``."""
        return not self.command


#: Extra interpreter flags for every child. `--light-children` sets ['-S', '-E']: no site
#: module, so no venv .pth bootstrap (a re-exec) and a start-up of a few ms instead of ~60 ms
#: of CPU per child; the children only need the standard library.
CHILD_FLAGS: list[str] = []


class Supervisor(ABC):
    """A supervisor that the benchmark can configure and launch."""

    label: str
    #: What stops it: SIGTERM, except for ``ros2 launch``, which orphans its processes on
    #: SIGTERM and is stopped with Ctrl-C (SIGINT) by its users.
    stop_signal: int = signal.SIGTERM

    @abstractmethod
    def prepare(self, services: list[Service], workdir: Path) -> list[str]:
        """Write the config for ``services`` into ``workdir``; return the argv to run."""

    def cwd(self, workdir: Path) -> Path:
        """Working directory of the supervisor process."""
        return workdir

    def env(self, workdir: Path) -> dict[str, str]:
        """Environment of the supervisor process (and so of its children): ours."""
        return dict(os.environ)

    def version(self) -> str:
        """Human-readable version string for the results metadata."""
        return 'unknown'

    def unavailable(self) -> str | None:
        """Why this side cannot run on this machine (installing what it needs), or None."""
        return None


class OmegaSupervisor(Supervisor):
    """Our orchestrator, run as ``python -m omega_orchestrator`` from the repo root."""

    label = 'omega'

    def prepare(self, services: list[Service], workdir: Path) -> list[str]:
        """Write a registry JSON; return the orchestrator command line."""
        registry = workdir / 'registry.json'
        registry.write_text(json.dumps(self.registry(services), indent=2))
        log_dir = workdir / 'logs'
        log_dir.mkdir()
        return [
            sys.executable,
            '-m',
            'omega_orchestrator',
            '--registry',
            str(registry),
            '--log-dir',
            str(log_dir),
        ]

    @staticmethod
    def registry(services: list[Service]) -> dict[str, object]:
        """Registry document in the orchestrator's version-1 format."""
        entries = [
            {
                'name': svc.name,
                'type': 'python' if svc.is_python else 'exec',
                'cmd': svc.argv()[0],
                'args': svc.argv()[1:],
                'autostart': True,
                'restart_policy': 'always',
                **({'restart': {'stable_after': STABLE_AFTER}} if svc.is_python else {}),
            }
            for svc in services
        ]
        return {'version': 1, 'description': 'omega bench', 'services': entries}

    def cwd(self, workdir: Path) -> Path:
        """Run from the repository root so that ``-m omega_orchestrator`` imports."""
        return REPO_ROOT

    def version(self) -> str:
        """Path of the package that ``-m omega_orchestrator`` would run."""
        return str(REPO_ROOT / 'omega_orchestrator')


class OmegaEngineSupervisor(OmegaSupervisor):
    """The same orchestrator without its ROS 2 node (``--no-ros``): the engine alone."""

    label = 'omega-engine'

    def prepare(self, services: list[Service], workdir: Path) -> list[str]:
        """The orchestrator command line plus --no-ros."""
        return super().prepare(services, workdir) + ['--no-ros']


class SupervisordSupervisor(Supervisor):
    """supervisord (PyPI ``supervisor``) from the benchmark's private venv."""

    label = 'supervisord'

    def prepare(self, services: list[Service], workdir: Path) -> list[str]:
        """Write ``supervisord.conf``; return the supervisord command line."""
        conf = workdir / 'supervisord.conf'
        conf.write_text(supervisord_config(services, workdir))
        return [str(SUPERVISORD_VENV.program()), '-c', str(conf)]

    def version(self) -> str:
        """Installed version of the ``supervisor`` distribution."""
        return SUPERVISORD_VENV.version('supervisor')

    def unavailable(self) -> str | None:
        """Create ``bench/.venv-supervisord`` on first use; why it failed, if it did."""
        return SUPERVISORD_VENV.ensure()


def conf_value(text: str) -> str:
    """Escape ``text`` for supervisord's ``%(name)s`` expansion."""
    return text.replace('%', '%%')


def supervisord_config(services: list[Service], workdir: Path) -> str:
    """Build the supervisord config: socket, log and pid file in ``workdir``; defaults otherwise.

    stopsignal, stopwaitsecs, stopasgroup and killasgroup are left at their
    defaults (TERM, 10 s, false, false) on purpose: the benchmark measures
    supervisord as it behaves out of the box.
    """
    tmp = conf_value(str(workdir))
    sections = [
        f'[unix_http_server]\nfile={tmp}/supervisor.sock\n',
        '[supervisord]\nnodaemon=true\n'
        f'logfile={tmp}/supervisord.log\npidfile={tmp}/supervisord.pid\nchildlogdir={tmp}\n',
        '[rpcinterface:supervisor]\n'
        'supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n',
        f'[supervisorctl]\nserverurl=unix://{tmp}/supervisor.sock\n',
    ]
    sections += [program_section(svc, tmp) for svc in services]
    return '\n'.join(sections)


def program_section(svc: Service, tmp: str) -> str:
    """One ``[program:x]`` section: autostart, autorestart, startsecs=0, log files."""
    return (
        f'[program:{svc.name}]\n'
        f'command={conf_value(shlex.join(svc.argv()))}\n'
        'autostart=true\nautorestart=true\nstartsecs=0\n'
        f'stdout_logfile={tmp}/{svc.name}.out.log\n'
        f'stderr_logfile={tmp}/{svc.name}.err.log\n'
    )
