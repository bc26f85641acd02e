"""Private virtual environments for the other sides and the plots, created on first use.

Each one lives in ``bench/.venv-NAME`` (git-ignored; delete it to reinstall), is made with
``python -m venv`` from the interpreter running the benchmark and filled with ``pip install``
of pinned requirements; a stamp file inside records what was installed, so that a change of
the pins (or of a ``-r`` file) makes it again. A failure (no network, no wheel for this
Python) becomes a reason to skip that side, never a failed benchmark.
"""

from dataclasses import dataclass
from pathlib import Path
import subprocess
import sys

INSTALL_TIMEOUT_S = 600.0
OUTPUT_TAIL_CHARS = 400
STAMP = '.bench-installed'


@dataclass(frozen=True)
class PrivateVenv:
    """``path`` with ``requirements`` installed; ``program`` is its main executable."""

    path: Path
    requirements: tuple[str, ...]
    program_name: str = 'python'

    def python(self) -> Path:
        """The venv's interpreter."""
        return self.path / 'bin' / 'python'

    def program(self) -> Path:
        """The venv's main executable (e.g. ``bin/supervisord``)."""
        return self.path / 'bin' / self.program_name

    def stamp(self) -> str:
        """What the venv should hold: the requirements, and the text of any ``-r`` file."""
        parts = list(self.requirements)
        for flag, value in zip(self.requirements, self.requirements[1:], strict=False):
            if flag == '-r':
                parts.append(Path(value).read_text())
        return '\n'.join(parts)

    def ensure(self) -> str | None:
        """Create the venv unless it is there as stamped; None when ready, else why not."""
        stamp_file = self.path / STAMP
        if self.program().exists() and stamp_file.exists() \
                and stamp_file.read_text() == self.stamp():
            return None
        print(f'creating {self.path} ({" ".join(self.requirements)}) ...', file=sys.stderr)
        steps = [[sys.executable, '-m', 'venv', '--clear', str(self.path)],
                 [str(self.python()), '-m', 'pip', 'install', '--quiet',
                  '--disable-pip-version-check', *self.requirements]]
        for argv in steps:
            try:
                done = subprocess.run(argv, capture_output=True, text=True,
                                      timeout=INSTALL_TIMEOUT_S, check=False)
            except (OSError, subprocess.TimeoutExpired) as exc:
                return f'{argv[2]} failed: {exc}'
            if done.returncode != 0:
                tail = (done.stderr or done.stdout).strip()[-OUTPUT_TAIL_CHARS:]
                return f'`{" ".join(argv[1:4])} ...` failed: {tail}'
        if not self.program().exists():
            return f'{self.program()} missing after the install'
        stamp_file.write_text(self.stamp())
        return None

    def version(self, distribution: str) -> str:
        """Installed version of ``distribution`` inside the venv."""
        code = f'import importlib.metadata as m; print(m.version({distribution!r}))'
        return subprocess.check_output([str(self.python()), '-c', code], text=True).strip()
