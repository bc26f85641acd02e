"""The repo builds as a colcon workspace: both packages, installed where `ros2 run/launch` look.

colcon stops descending at the root package.xml, so the nested interfaces package needs its own
base path; this is the command the README gives. The build uses the venv's ros-* wheels as the
underlay (AMENT_PREFIX_PATH/CMAKE_PREFIX_PATH = the venv), cmake from PATH, and takes about 30 s.
"""

import os
from pathlib import Path
import shutil
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.colcon, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(sys.prefix)
PACKAGE = 'omega_orchestrator'
INTERFACES = 'omega_orchestrator_interfaces'
BASE_PATHS = ['src', f'src/{PACKAGE}/{INTERFACES}']  # README: other packages in src/ build too
NOT_SOURCES = shutil.ignore_patterns(
    '.venv', '.venv-*', '.git', 'build', 'install', 'log', 'logs', '__pycache__', '*.egg-info',
    '.pytest_cache')
SITE = f'lib/python{sys.version_info.major}.{sys.version_info.minor}/site-packages'


def underlay_env(**extra: str) -> dict[str, str]:
    """A fresh shell's environment with the venv as the ROS underlay."""
    env = {k: v for k, v in os.environ.items()
           if k not in ('PYTHONPATH', 'LD_LIBRARY_PATH', '_ROS_WHEELS_BOOTSTRAP_COMPLETE')
           and not k.startswith(('AMENT_', 'COLCON_', 'CMAKE_PREFIX'))}
    env.update(VIRTUAL_ENV=str(VENV), PATH=f'{VENV / "bin"}{os.pathsep}{env.get("PATH", "")}',
               AMENT_PREFIX_PATH=str(VENV), CMAKE_PREFIX_PATH=str(VENV), MAKEFLAGS='-j2',
               PYTHONDONTWRITEBYTECODE='1')
    env.update(extra)
    return env


def run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float = 60) -> str:
    """Run cmd; on failure show its output."""
    done = subprocess.run(cmd, cwd=cwd, env=env, timeout=timeout, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert done.returncode == 0, f'{" ".join(cmd)} exited {done.returncode}:\n{done.stdout}'
    return done.stdout


@pytest.fixture(scope='module')
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with the repo copied under src/, built with colcon."""
    colcon = VENV / 'bin' / 'colcon'
    if not colcon.exists():
        pytest.fail(f'{colcon} is missing: run scripts/setup --test')
    if not shutil.which('cmake', path=underlay_env()['PATH']):
        pytest.fail('cmake is not on PATH: colcon builds the interfaces package with it')
    if not (VENV / 'share' / 'rosidl_default_generators' / 'cmake').is_dir():
        pytest.fail('the venv lacks the rosidl/ament_cmake build wheels (see the interfaces '
                    'pyproject.toml build-system requires): run scripts/setup --test')
    ws = tmp_path_factory.mktemp('ws')
    shutil.copytree(ROOT, ws / 'src' / PACKAGE, ignore=NOT_SOURCES, symlinks=True)
    env = underlay_env(COLCON_HOME=str(ws / 'colcon_home'))
    run([str(colcon), 'build', '--base-paths', *BASE_PATHS,
         '--event-handlers', 'console_cohesion+', 'status-', 'summary+'], ws, env, timeout=480)
    return ws


def workspace_env(ws: Path) -> dict[str, str]:
    """What `. install/setup.bash` gives the venv's python: our site-packages and libs first.

    The venv's ros_wheels_bootstrapper would re-exec python with LD_LIBRARY_PATH passed through
    a set(), in random order; the venv holds its own copy of our interface libraries (the wheel
    scripts/setup installs), so the path is set here in overlay-first order, bootstrap marked done.
    """
    install = ws / 'install'
    libs = [install / INTERFACES / 'lib', VENV / 'lib', *sorted((VENV / SITE).glob('ros_*.libs'))]
    return underlay_env(
        PYTHONPATH=os.pathsep.join(str(install / p / SITE) for p in (PACKAGE, INTERFACES)),
        LD_LIBRARY_PATH=os.pathsep.join(map(str, libs)), _ROS_WHEELS_BOOTSTRAP_COMPLETE='1',
        AMENT_PREFIX_PATH=os.pathsep.join([str(install / PACKAGE), str(install / INTERFACES),
                                           str(VENV)]))


def test_colcon_finds_both_packages(workspace):
    env = underlay_env(COLCON_HOME=str(workspace / 'colcon_home'))
    names = run([str(VENV / 'bin' / 'colcon'), 'list', '--names-only', '--base-paths',
                 *BASE_PATHS], workspace, env)
    assert sorted(names.split()) == [PACKAGE, INTERFACES]


def test_interfaces_are_installed(workspace):
    prefix = workspace / 'install' / INTERFACES
    module = prefix / SITE / INTERFACES
    assert (module / 'msg' / '__init__.py').is_file()
    assert (module / 'srv' / '__init__.py').is_file()
    assert list(module.glob(f'{INTERFACES}_s__rosidl_typesupport_c*.so'))
    assert (prefix / 'lib' / f'lib{INTERFACES}__rosidl_typesupport_c.so').is_file()
    assert (prefix / 'share' / 'ament_index' / 'resource_index' / 'packages' / INTERFACES
            ).is_file()


@pytest.mark.parametrize('script', ['orchestrator', 'sidecar', 'omega-services'])
def test_scripts_are_where_ros2_run_looks(workspace, script):
    path = workspace / 'install' / PACKAGE / 'lib' / PACKAGE / script
    assert path.is_file()
    assert os.access(path, os.X_OK)


def test_data_files_are_installed(workspace):
    share = workspace / 'install' / PACKAGE / 'share' / PACKAGE
    assert (share / 'launch' / 'orchestrator.launch.py').is_file()
    assert (share / 'config' / 'service_registry.json').is_file()
    assert (share / 'config' / 'service_registry.schema.json').is_file()
    assert (share / 'package.xml').is_file()
    assert (workspace / 'install' / PACKAGE / 'share' / 'ament_index' / 'resource_index'
            / 'packages' / PACKAGE).is_file()
    source = workspace / 'src' / PACKAGE
    expected = [p for folder in ('launch', 'config', 'web') if (source / folder).is_dir()
                for p in (source / folder).rglob('*')
                if p.is_file() and '__pycache__' not in p.parts]
    assert any(p.parts[-2] == 'demo' for p in expected)
    missing = [str(p.relative_to(source)) for p in expected
               if not (share / p.relative_to(source)).is_file()]
    assert not missing, f'not installed under share/{PACKAGE}: {missing}'


def test_installed_orchestrator_checks_the_installed_registry(workspace):
    install = workspace / 'install'
    registry = install / PACKAGE / 'share' / PACKAGE / 'config' / 'service_registry.json'
    out = run([str(install / PACKAGE / 'lib' / PACKAGE / 'orchestrator'),
               '--registry', str(registry), '--check'], workspace, workspace_env(workspace))
    assert 'valid' in out


def test_workspace_code_and_typesupport_are_the_ones_used(workspace):
    install = workspace / 'install'
    probe = (
        'import omega_orchestrator, omega_orchestrator_interfaces.msg as m\n'
        'm.ServiceStatusArray.__class__.__import_type_support__()\n'
        'maps = open("/proc/self/maps").read()\n'
        'print(omega_orchestrator.__file__)\n'
        'print(m.__file__)\n'
        'print(*sorted({l.split()[-1] for l in maps.splitlines() if "lib" + "omega_" in l}))\n')
    out = run([sys.executable, '-c', probe], workspace, workspace_env(workspace)).split()
    package_file, msg_file, *libraries = out
    assert package_file.startswith(str(install / PACKAGE))
    assert msg_file.startswith(str(install / INTERFACES))
    assert libraries and all(lib.startswith(str(install / INTERFACES)) for lib in libraries)
