"""Architecture rules: core/ imports only the standard library; runtime/ never imports ROS."""

import ast
from pathlib import Path
import sys

PACKAGE = Path(__file__).resolve().parents[1] / 'omega_orchestrator'


def imported_modules(folder: Path) -> dict[str, set[str]]:
    found = {}
    for path in folder.rglob('*.py'):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name.split('.')[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split('.')[0])
        found[str(path.relative_to(PACKAGE))] = names
    return found


def test_core_imports_only_the_standard_library():
    banned = {'asyncio', 'os', 'signal', 'subprocess', 'psutil', 'rclpy', 'fastapi'}
    for path, names in imported_modules(PACKAGE / 'core').items():
        outside = {n for n in names if n not in sys.stdlib_module_names
                   and n != 'omega_orchestrator'}
        assert not outside, f'{path} imports {outside}'
        assert not names & banned, f'{path} imports {names & banned}'


def test_runtime_does_not_import_ros_or_web():
    for path, names in imported_modules(PACKAGE / 'runtime').items():
        assert not names & {'rclpy', 'fastapi', 'starlette'}, path


def internal_imports(folder: Path) -> dict[str, set[str]]:
    """Per module: the omega_orchestrator modules it imports (absolute imports only)."""
    found = {}
    for path in folder.rglob('*.py'):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and \
                    node.module.startswith('omega_orchestrator'):
                names.update(f'{node.module}.{a.name}' for a in node.names)
            elif isinstance(node, ast.Import):
                names.update(a.name for a in node.names
                             if a.name.startswith('omega_orchestrator'))
        found[str(path.relative_to(PACKAGE.parent))] = names
    return found


def test_the_sidecar_imports_nothing_of_the_engine():
    """It reaches the orchestrator only over ROS: no core, runtime, run or ROS-face module."""
    allowed = ('omega_orchestrator.sidecar', 'omega_orchestrator_interfaces',
               'omega_orchestrator.ros.rosout', 'omega_orchestrator.ros.presence',
               'omega_orchestrator.DEFAULT_API_PORT',
               'omega_orchestrator.robot_names')
    for path, names in internal_imports(PACKAGE / 'sidecar').items():
        bad = {n for n in names if not n.startswith(allowed)}
        assert not bad, f'{path} imports {bad}'


def test_rclpy_is_imported_only_by_the_ros_modules():
    for path, names in imported_modules(PACKAGE).items():
        if 'rclpy' in names:
            assert path.startswith('ros/') or \
                path in ('sidecar/gateway.py', 'sidecar/robot_link.py'), path


def test_runtime_never_imports_the_ros_face_or_the_root():
    for path, names in internal_imports(PACKAGE / 'runtime').items():
        bad = {n for n in names if n.startswith(('omega_orchestrator.ros.',
                                                 'omega_orchestrator.run.',
                                                 'omega_orchestrator.sidecar.',
                                                 'omega_orchestrator.launcher.'))}
        assert not bad, f'{path} imports {bad}'


def test_the_http_layer_runs_without_rclpy():
    """The app and its routes import no rclpy (only RosGateway and RobotLink do), so route
    tests with a fake gateway, and the OpenAPI document, need no ROS at all.
    """
    import subprocess
    code = ('import sys\nimport omega_orchestrator.sidecar.app\n'
            'assert "rclpy" not in sys.modules, "rclpy was imported"')
    done = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
