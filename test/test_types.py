"""House style: the type checker (mypy, configured in mypy.ini) passes."""

from pathlib import Path
import shutil
import subprocess
import sys

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_is_clean():
    mypy = shutil.which('mypy', path=str(Path(sys.executable).parent)) or shutil.which('mypy')
    assert mypy, 'mypy is installed by scripts/setup --test'
    result = subprocess.run([mypy], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
