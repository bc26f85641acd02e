"""House style: ruff (pyflakes, pycodestyle, single quotes, 99 columns) over the repository."""

from pathlib import Path
import shutil
import subprocess
import sys

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_is_clean():
    ruff = shutil.which('ruff', path=str(Path(sys.executable).parent)) or shutil.which('ruff')
    assert ruff, 'ruff is installed by scripts/setup --test'
    result = subprocess.run([ruff, 'check', '--output-format', 'concise', '.'], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
