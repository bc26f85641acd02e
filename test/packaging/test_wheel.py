"""`pip wheel .` ships the whole package: every module of the source tree, and the console scripts.

setup.py finds packages with find_packages(), which skips a folder without `__init__.py`: such a
folder works from the source tree (and through the editable install of .venv) but is missing
from every real install. The wheel is built from a copy of the repo, so the checkout gains no
build/ or *.egg-info. The data files (launch/, config/, web/) are test_colcon.py's concern.
"""

import ast
from collections.abc import Iterator
import configparser
import importlib.util
from pathlib import Path
import shutil
import subprocess
import sys
import zipfile

import pytest

from test.packaging.test_launch import console_scripts

pytestmark = pytest.mark.timeout(300)

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = 'omega_orchestrator'
NOT_SOURCES = shutil.ignore_patterns(
    '.venv', '.venv-*', '.git', 'build', 'install', 'log', 'logs', '__pycache__', '*.egg-info',
    '.pytest_cache', '.ruff_cache', 'dist')
LAUNCHED = {'orchestrator', 'sidecar'}  # the launch file's executables


def venv_builds_wheels() -> bool:
    """True when the venv can build a wheel itself: the `wheel` package or setuptools>=70.1."""
    if importlib.util.find_spec('wheel') is not None:
        return True
    return importlib.util.find_spec('setuptools.command.bdist_wheel') is not None


@pytest.fixture(scope='module')
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the repo: what `pip wheel .` sees, without build leftovers of the checkout."""
    copy = tmp_path_factory.mktemp('wheel') / 'src'
    shutil.copytree(ROOT, copy, ignore=NOT_SOURCES, symlinks=True)
    return copy


@pytest.fixture(scope='module')
def wheel(source: Path) -> Iterator[zipfile.ZipFile]:
    """The wheel built from the copy, as a user's `pip wheel .` builds it."""
    dist = source.parent / 'dist'
    # Offline with the venv's setuptools when it can build wheels; else pip's isolated build env.
    isolation = ['--no-build-isolation'] if venv_builds_wheels() else []
    done = subprocess.run(
        [sys.executable, '-m', 'pip', 'wheel', '--no-deps', *isolation, '--wheel-dir',
         str(dist), str(source)],
        cwd=source.parent, timeout=240, text=True, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT)
    assert done.returncode == 0, f'pip wheel exited {done.returncode}:\n{done.stdout}'
    (built,) = dist.glob(f'{PACKAGE}-*.whl')
    with zipfile.ZipFile(built) as archive:
        yield archive


def dist_info(wheel: zipfile.ZipFile, name: str) -> str:
    """The text of a file of the wheel's .dist-info folder."""
    (path,) = [n for n in wheel.namelist()
               if n.split('/')[0].endswith('.dist-info') and n.split('/')[1:] == [name]]
    return wheel.read(path).decode()


def test_every_module_of_the_source_tree_is_in_the_wheel(source, wheel):
    modules = {p.relative_to(source).as_posix() for p in (source / PACKAGE).rglob('*.py')
               if '__pycache__' not in p.parts}
    assert f'{PACKAGE}/runtime/supervisor.py' in modules  # the copy holds the whole tree
    shipped = {n for n in wheel.namelist() if n.startswith(f'{PACKAGE}/') and n.endswith('.py')}
    missing = sorted(modules - shipped)
    assert not missing, (f'not in the wheel (a folder without __init__.py is not a package '
                         f'for find_packages): {missing}')
    assert shipped == modules, f'in the wheel but not in the source: {sorted(shipped - modules)}'


def test_every_package_folder_has_an_init(source):
    folders = {p.parent for p in (source / PACKAGE).rglob('*.py') if '__pycache__' not in p.parts}
    missing = sorted(str(f.relative_to(source)) for f in folders
                     if not (f / '__init__.py').is_file())
    assert not missing, f'folders without __init__.py: {missing}'


def test_console_scripts_are_declared(wheel):
    entry_points = configparser.ConfigParser(delimiters=('=',))
    entry_points.optionxform = str  # script names are case-sensitive
    entry_points.read_string(dist_info(wheel, 'entry_points.txt'))
    declared = {name: target.strip()
                for name, target in entry_points.items('console_scripts')}
    assert declared == console_scripts()
    assert LAUNCHED <= set(declared)


@pytest.mark.parametrize('name', sorted(console_scripts()))
def test_console_script_targets_ship_in_the_wheel(wheel, name):
    module, _, function = console_scripts()[name].partition(':')
    path = module.replace('.', '/') + '.py'
    assert path in wheel.namelist(), f'{name}: {path} is not in the wheel'
    tree = ast.parse(wheel.read(path).decode(), path)
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert function in functions, f'{name}: {path} defines no {function}()'
