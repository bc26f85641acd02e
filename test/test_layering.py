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
