"""The repo builds as a colcon workspace: both packages, installed where `ros2 run/launch` look.

colcon stops descending at the root package.xml, so the nested interfaces package needs its own
base path; this is the command the README gives. The build uses the venv's ros-* wheels as the
underlay (AMENT_PREFIX_PATH/CMAKE_PREFIX_PATH = the venv), cmake from PATH, and takes about 30 s.

What is installed is what runs: the installed code runs under an interpreter that sees the
install space and the venv's third-party packages, but not the source tree. The venv's own python
would not do: its editable install of this package (scripts/setup) quietly serves whatever the
install space lacks from the checkout.
"""

from collections.abc import Iterator
import json
import os
from pathlib import Path
import random
import shutil
import signal
import subprocess
import sys

from omega_orchestrator_interfaces.msg import ServiceStatus, ServiceStatusArray
from omega_orchestrator_interfaces.srv import RestartService
import psutil
import pytest

from test.ros.support import by_name, LATCHED, RosClient
from test.support import DEADLINE, py, wait_until

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
NODE = 'omega_orchestrator'
SLEEP = 'import time\ntime.sleep(600)'


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


@pytest.fixture(scope='module')
def python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An interpreter that sees the venv's packages but not the source tree.

    A throwaway venv of the base interpreter, whose site-packages holds a .pth file with a plain
    path line: the venv's site-packages joins sys.path, but its own .pth files are not processed,
    so neither the editable finder of this package nor the ros_wheels_bootstrapper is active.
    workspace_env() sets what the bootstrapper would (the library path).
    """
    root = tmp_path_factory.mktemp('isolated') / 'venv'
    run([sys._base_executable, '-m', 'venv', '--without-pip', str(root)], root.parent,
        underlay_env())
    (root / SITE / 'underlay.pth').write_text(f'{VENV / SITE}\n')
    return root / 'bin' / 'python'


def workspace_env(ws: Path, *, packages: tuple[str, ...] = (PACKAGE, INTERFACES),
                  **extra: str) -> dict[str, str]:
    """What `. install/setup.bash` gives an interpreter: our site-packages and libs first.

    The venv's ros_wheels_bootstrapper would re-exec python with LD_LIBRARY_PATH passed through
    a set(), in random order; the venv holds its own copy of our interface libraries (the wheel
    scripts/setup installs), so the path is set here in overlay-first order, bootstrap marked done.
    `packages` are the install spaces put on PYTHONPATH.
    """
    install = ws / 'install'
    libs = [install / INTERFACES / 'lib', VENV / 'lib', *sorted((VENV / SITE).glob('ros_*.libs'))]
    return underlay_env(
        PYTHONPATH=os.pathsep.join(str(install / p / SITE) for p in packages),
        LD_LIBRARY_PATH=os.pathsep.join(map(str, libs)), _ROS_WHEELS_BOOTSTRAP_COMPLETE='1',
        AMENT_PREFIX_PATH=os.pathsep.join([str(install / PACKAGE), str(install / INTERFACES),
                                           str(VENV)]), **extra)


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


def test_every_module_is_installed(workspace):
    source = workspace / 'src' / PACKAGE
    site = workspace / 'install' / PACKAGE / SITE
    modules = sorted(p.relative_to(source) for p in (source / PACKAGE).rglob('*.py')
                     if '__pycache__' not in p.parts)
    assert Path(PACKAGE, 'runtime', 'supervisor.py') in modules
    missing = [str(m) for m in modules if not (site / m).is_file()]
    assert not missing, f'not installed in {site}: {missing}'


def test_the_interpreter_sees_the_install_space_not_the_source_tree(workspace, python):
    probe = ('import importlib.util\n'
             'for name in ("omega_orchestrator", "omega_orchestrator_interfaces", "rclpy"):\n'
             '    spec = importlib.util.find_spec(name)\n'
             '    print(spec.origin if spec else None)\n')
    package, interfaces, rclpy = run([str(python), '-c', probe], workspace,
                                     workspace_env(workspace)).split()
    assert package.startswith(str(workspace / 'install' / PACKAGE / SITE))
    assert interfaces.startswith(str(workspace / 'install' / INTERFACES / SITE))
    assert rclpy.startswith(str(VENV / SITE))
    # without our install space on PYTHONPATH, nothing serves omega_orchestrator: no editable
    # finder, no source tree on sys.path; so a module missing from the install space would fail
    package, interfaces, rclpy = run([str(python), '-c', probe], workspace,
                                     workspace_env(workspace, packages=(INTERFACES,))).split()
    assert package == 'None'
    assert interfaces != 'None' and rclpy != 'None'


def test_installed_orchestrator_checks_the_installed_registry(workspace, python):
    install = workspace / 'install'
    registry = install / PACKAGE / 'share' / PACKAGE / 'config' / 'service_registry.json'
    out = run([str(python), str(install / PACKAGE / 'lib' / PACKAGE / 'orchestrator'),
               '--registry', str(registry), '--check'], workspace, workspace_env(workspace))
    assert 'valid' in out


def test_workspace_code_and_typesupport_are_the_ones_used(workspace, python):
    install = workspace / 'install'
    probe = (
        'import omega_orchestrator, omega_orchestrator_interfaces.msg as m\n'
        'm.ServiceStatusArray.__class__.__import_type_support__()\n'
        'maps = open("/proc/self/maps").read()\n'
        'print(omega_orchestrator.__file__)\n'
        'print(m.__file__)\n'
        'print(*sorted({l.split()[-1] for l in maps.splitlines() if "lib" + "omega_" in l}))\n')
    out = run([str(python), '-c', probe], workspace, workspace_env(workspace)).split()
    package_file, msg_file, *libraries = out
    assert package_file.startswith(str(install / PACKAGE))
    assert msg_file.startswith(str(install / INTERFACES))
    assert libraries and all(lib.startswith(str(install / INTERFACES)) for lib in libraries)


@pytest.fixture
def domain() -> int:
    return random.randint(1, 100)


@pytest.fixture
def client(domain: int) -> Iterator[RosClient]:
    """A client node of the test process: it loads the interfaces of the venv, not ours."""
    ros = RosClient(domain)
    yield ros
    ros.close()
    # close() does not wait for the spin thread; one still in rclpy when the interpreter exits
    # aborts it ('terminate called without an active exception', exit status 134)
    ros.thread.join(DEADLINE)


def running_pid(received: list) -> int:
    """The pid of `sleeper` in the latest status, once it is running; else 0."""
    status = by_name(received[-1]).get('sleeper') if received else None
    return status.pid if status and status.state == ServiceStatus.STATE_RUNNING else 0


def gone(pid: int) -> bool:
    """True once pid is no process, or only a zombie waiting for its reaper."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_installed_orchestrator_runs_restarts_and_stops(workspace, python, domain, client,
                                                       tmp_path):
    namespace = f'/t{random.randint(1000, 9999)}'
    registry = tmp_path / 'registry.json'
    registry.write_text(json.dumps({'services': [py(SLEEP, name='sleeper', autostart=True)]}))
    env = workspace_env(workspace, ROS_DOMAIN_ID=str(domain), PYTHONUNBUFFERED='1',
                        ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST')
    errors = tmp_path / 'orchestrator.err'
    with open(errors, 'w') as stderr:
        proc = subprocess.Popen(
            [str(python), str(workspace / 'install' / PACKAGE / 'lib' / PACKAGE / 'orchestrator'),
             '--registry', str(registry), '--log-dir', str(tmp_path / 'logs'),
             '--status-rate', '5', '--ros-args', '-r', f'__ns:={namespace}'],
            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        statuses = client.collect(ServiceStatusArray, f'{namespace}/{NODE}/status', LATCHED)
        first = wait_until(lambda: proc.poll() is not None or running_pid(statuses),
                           timeout=2 * DEADLINE, what='sleeper running')
        assert proc.poll() is None, f'orchestrator exited {proc.returncode}:\n' \
            f'{errors.read_text()}'
        answer = client.call(RestartService, f'{namespace}/{NODE}/restart', name='sleeper')
        assert answer.success, answer.message
        assert answer.error_code == RestartService.Response.ERR_NONE
        second = wait_until(lambda: (pid := running_pid(statuses)) not in (0, first) and pid,
                            what='sleeper running with a new pid')
        wait_until(lambda: gone(first), what=f'first sleeper {first} gone')

        proc.send_signal(signal.SIGINT)
        assert proc.wait(DEADLINE) == 0, errors.read_text()
        wait_until(lambda: gone(second), what=f'sleeper {second} gone with the orchestrator')
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
