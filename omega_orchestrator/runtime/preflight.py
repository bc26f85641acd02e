"""Preflight: does what the registry names exist on this machine? (`--check` prints it.)

For every service: its working_dir, its command (in the robot's PATH, or relative to the
working dir), the script-like arguments it passes (`movement/server.py`, `main.go`, a
compose file), its stop_cmd, and an exec probe's command. Each finding names the service,
the field and the path, so a registry moved from another layout is fixed before boot, not
found out by services failing one by one. Nothing here starts or changes anything.
"""

import os
import shutil

from omega_orchestrator.core.registry import Registry, ServiceSpec

#: Arguments with these endings are files the service expects to find.
FILE_ENDINGS = ('.py', '.go', '.sh', '.js', '.rb', '.pl', '.yml', '.yaml', '.json', '.toml',
                '.launch.py', '.xml', '.jar')


def looks_like_a_file(arg: str) -> bool:
    """An argument that names a file: a known ending, not an option, not a URL."""
    if not arg or arg.startswith('-') or '://' in arg or '=' in arg:
        return False
    return arg.lower().endswith(FILE_ENDINGS)


def _command_problem(cmd: str, cwd: str, path_env: str) -> str | None:
    if '/' in cmd:
        full = cmd if os.path.isabs(cmd) else os.path.join(cwd, cmd)
        if not os.path.exists(full):
            return f"'{cmd}' not found (looked at {full})"
        if os.path.isdir(full) or not os.access(full, os.X_OK):
            return f"'{cmd}' is not executable ({full})"
        return None
    if shutil.which(cmd, path=path_env) is None:
        return f"'{cmd}' not found in PATH"
    return None


def service_problems(spec: ServiceSpec, path_env: str) -> list[str]:
    """What this service names that is missing here, each naming the field and the path."""
    where = f"service '{spec.name}'"
    cwd = spec.working_dir
    if not os.path.isdir(cwd):
        return [f"{where} field 'working_dir': {cwd} does not exist or is not a folder"]
    found = []
    problem = _command_problem(spec.cmd, cwd, path_env)
    if problem:
        found.append(f"{where} field 'cmd': {problem}")
    for index, arg in enumerate(spec.args):
        if looks_like_a_file(arg):
            full = arg if os.path.isabs(arg) else os.path.join(cwd, arg)
            if not os.path.exists(full):
                found.append(f"{where} field 'args'[{index}]: {arg} not found "
                             f'(looked at {os.path.normpath(full)})')
    if spec.stop_cmd:
        problem = _command_problem(spec.stop_cmd[0], cwd, path_env)
        if problem:
            found.append(f"{where} field 'stop_cmd': {problem}")
    if spec.health and spec.health.kind == 'exec' and spec.health.cmd:
        problem = _command_problem(spec.health.cmd, cwd, path_env)
        if problem:
            found.append(f"{where} field 'health_check': {problem}")
    return found


def registry_problems(registry: Registry, environ: dict[str, str]) -> list[str]:
    """Every missing path or command of the registry, in declaration order."""
    path_env = environ.get('PATH', os.defpath)
    return [p for spec in registry.services for p in service_problems(spec, path_env)]
