"""The launch file, setup.py and package.xml agree, checked without ROS `launch` installed.

`launch` and `launch_ros` are not on PyPI, so the launch file is read with `ast` here; where they
are importable (a sourced ROS 2 install), it is also imported and its LaunchDescription built.
"""

import ast
import importlib.util
from pathlib import Path
import sys
import time
from typing import Any
import xml.etree.ElementTree as ET

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAUNCH_FILE = ROOT / 'launch' / 'orchestrator.launch.py'
PACKAGE = 'omega_orchestrator'
ARGUMENTS = {'registry', 'log_dir', 'api_host', 'api_port', 'namespace', 'status_rate',
             'stop_grace', 'base_dir', 'control_discovery_range', 'token_env', 'api_timeout',
             'cors_origins', 'allowed_hosts', 'open_writes_for_origins', 'token_for_logs',
             'refuse_remote_writes'}


def literal(node: ast.AST, names: dict[str, Any]) -> Any:
    """A constant expression's value: literals, module-level names and simple f-strings."""
    if isinstance(node, ast.Name) and node.id in names:
        return names[node.id]
    if isinstance(node, ast.JoinedStr):
        return ''.join(str(literal(part, names)) for part in node.values)
    if isinstance(node, ast.FormattedValue):
        return literal(node.value, names)
    if isinstance(node, (ast.List, ast.Tuple)):
        return [literal(item, names) for item in node.elts]
    if isinstance(node, ast.Dict):
        return {literal(k, names): literal(v, names)
                for k, v in zip(node.keys, node.values, strict=True)}
    return ast.literal_eval(node)


def module_constants(tree: ast.Module) -> dict[str, Any]:
    """NAME = <literal> assignments at module level."""
    names: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                and isinstance(node.targets[0], ast.Name):
            try:
                names[node.targets[0].id] = literal(node.value, names)
            except ValueError:
                pass
    return names


def calls(tree: ast.AST, name: str) -> list[ast.Call]:
    """Every call of `name(...)` or `x.name(...)`."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            called = func.id if isinstance(func, ast.Name) else getattr(func, 'attr', None)
            if called == name:
                found.append(node)
    return found


def keyword(call: ast.Call, name: str) -> ast.AST | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def strings_in(node: ast.AST, names: dict[str, Any]) -> list[str]:
    """The string constants (and resolvable names) anywhere inside node."""
    found = []
    for sub in ast.walk(node):
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            found.append(sub.value)
        elif isinstance(sub, ast.Name) and isinstance(names.get(sub.id), str):
            found.append(names[sub.id])
    return found


class LaunchFile:
    """The launch file's tree, its constants and its Node(...) calls by executable."""

    def __init__(self, path: Path) -> None:
        self.tree = ast.parse(path.read_text(), str(path))
        self.names = module_constants(self.tree)
        self.nodes = {literal(keyword(c, 'executable'), self.names): c
                      for c in calls(self.tree, 'Node')}

    def node_keyword(self, executable: str, name: str) -> Any:
        value = keyword(self.nodes[executable], name)
        assert value is not None, f'Node {executable!r} has no {name}='
        return value


@pytest.fixture(scope='module')
def launch_file() -> LaunchFile:
    return LaunchFile(LAUNCH_FILE)


def console_scripts() -> dict[str, str]:
    """console_scripts of setup.py, read with ast: {name: 'module:function'}."""
    tree = ast.parse((ROOT / 'setup.py').read_text())
    names = module_constants(tree)
    (setup_call,) = calls(tree, 'setup')
    entry_points = literal(keyword(setup_call, 'entry_points'), names)
    scripts = {}
    for line in entry_points['console_scripts']:
        name, target = (part.strip() for part in line.split('='))
        scripts[name] = target
    return scripts


def test_defines_generate_launch_description(launch_file):
    functions = {n.name for n in launch_file.tree.body if isinstance(n, ast.FunctionDef)}
    assert 'generate_launch_description' in functions


def test_declares_the_launch_arguments(launch_file):
    declared = [literal(c.args[0], launch_file.names)
                for c in calls(launch_file.tree, 'DeclareLaunchArgument')]
    assert sorted(declared) == sorted(ARGUMENTS)
    used = {literal(c.args[0], launch_file.names)
            for c in calls(launch_file.tree, 'LaunchConfiguration')
            if not isinstance(c.args[0], ast.Name) or c.args[0].id in launch_file.names}
    used |= set(launch_file.names['SIDECAR_ARGUMENTS'])    # LaunchConfiguration(name) in a loop
    assert used <= ARGUMENTS, f'undeclared launch arguments: {used - ARGUMENTS}'
    assert used == ARGUMENTS, f'declared but unused: {ARGUMENTS - used}'


def test_starts_the_orchestrator_and_the_sidecar(launch_file):
    assert set(launch_file.nodes) == {'orchestrator', 'sidecar'}
    for executable in launch_file.nodes:
        assert literal(launch_file.node_keyword(executable, 'package'),
                       launch_file.names) == PACKAGE
        assert literal(launch_file.node_keyword(executable, 'output'),
                       launch_file.names) == 'screen'
        launch_file.node_keyword(executable, 'namespace')


def test_node_command_lines(launch_file):
    orchestrator = strings_in(launch_file.node_keyword('orchestrator', 'arguments'),
                              launch_file.names)
    for flag in ('--registry', '--log-dir', '--status-rate', '--stop-grace'):
        assert flag in orchestrator
    for flag in ('--base-dir', '--drop-env', '--control-discovery-range',
                 '--refuse-remote-writes'):
        assert flag in orchestrator


@pytest.mark.parametrize('argv, refused', [
    (['--refuse-remote-writes'], True), (['--no-refuse-remote-writes'], False), ([], False)])
def test_the_orchestrator_takes_both_forms_of_the_switch(argv: list[str], refused: bool):
    """The launch file passes `--refuse-remote-writes` or `--no-refuse-remote-writes`."""
    from omega_orchestrator.command_line import build_parser
    parsed = build_parser().parse_args(['--registry', 'r.json', *argv])
    assert parsed.refuse_remote_writes is refused


def test_every_sidecar_option_is_a_launch_argument(launch_file):
    from omega_orchestrator.sidecar.__main__ import build_parser
    config = {'api_host': '0.0.0.0', 'api_port': '8090', 'token_env': 'TOKEN',
              'api_timeout': '3', 'cors_origins': 'http://a:3000, http://b',
              'allowed_hosts': 'omega1.local', 'open_writes_for_origins': 'true',
              'token_for_logs': 'true',
              'control_discovery_range': 'SUBNET'}
    assert set(config) == set(launch_file.names['SIDECAR_ARGUMENTS'])
    argv = launch_function('sidecar_arguments', listed=launch_function('listed'),
                           is_true=launch_function('is_true'))(
        config, '/robot1/omega_orchestrator')
    parsed = build_parser().parse_args(argv)
    assert (parsed.host, parsed.port, parsed.token_env, parsed.timeout) == \
        ('0.0.0.0', 8090, 'TOKEN', 3.0)
    assert parsed.cors_origin == ['http://a:3000', 'http://b']
    assert parsed.allowed_host == ['omega1.local'] and parsed.open_writes_for_origins
    assert parsed.token_for_logs and parsed.control_discovery_range == 'SUBNET'
    assert parsed.orchestrator == '/robot1/omega_orchestrator'
    used = {o for a in build_parser()._actions for o in a.option_strings if o[:2] == '--'}
    # the namespace is the Node action's (launch_ros passes it as a remap rule)
    assert used - {'--help', '--namespace'} <= set(argv), \
        f'not passed by the launch file: {used - set(argv)}'


def is_configuration(node: ast.AST, name: str) -> bool:
    """Whether node is `LaunchConfiguration('name')`."""
    return isinstance(node, ast.Call) and getattr(node.func, 'id', None) == \
        'LaunchConfiguration' and [getattr(a, 'value', None) for a in node.args] == [name]


def declared_default(launch_file: LaunchFile, name: str) -> Any:
    (declaration,) = [c for c in calls(launch_file.tree, 'DeclareLaunchArgument')
                      if literal(c.args[0], launch_file.names) == name]
    return literal(keyword(declaration, 'default_value'), launch_file.names)


def test_orchestrator_gets_the_stop_grace_to_stop_its_services(launch_file):
    sigterm = launch_file.node_keyword('orchestrator', 'sigterm_timeout')
    assert is_configuration(sigterm, 'stop_grace'), 'the grace is the stop_grace argument'
    assert float(declared_default(launch_file, 'stop_grace')) >= 20, \
        'launch would SIGTERM the orchestrator mid-shutdown'
    sigkill = literal(launch_file.node_keyword('orchestrator', 'sigkill_timeout'),
                      launch_file.names)
    assert float(sigkill) >= 2


def test_orchestrator_is_told_its_stop_grace(launch_file):
    arguments = launch_file.node_keyword('orchestrator', 'arguments')
    assert isinstance(arguments, ast.List)
    flags = [literal(a, launch_file.names) if isinstance(a, ast.Constant) else a
             for a in arguments.elts]
    grace = flags[flags.index('--stop-grace') + 1]
    assert is_configuration(grace, 'stop_grace')


def test_the_launch_ends_when_the_orchestrator_exits(launch_file):
    (handler,) = calls(launch_file.tree, 'OnProcessExit')
    registered = [c for c in calls(launch_file.tree, 'RegisterEventHandler') if handler in c.args]
    assert registered, 'OnProcessExit is not registered'
    target = keyword(handler, 'target_action')
    assert isinstance(target, ast.Name)
    # the target is the variable holding the orchestrator's Node(...)
    (assignment,) = [n for n in ast.walk(launch_file.tree) if isinstance(n, ast.Assign)
                     and any(getattr(t, 'id', None) == target.id for t in n.targets)]
    assert assignment.value is launch_file.nodes['orchestrator']
    on_exit = keyword(handler, 'on_exit')
    assert isinstance(on_exit, ast.Name)
    # the Node and the handler are both in the LaunchDescription
    (description,) = calls(launch_file.tree, 'LaunchDescription')
    entries = description.args[0].elts
    assert any(isinstance(e, ast.Name) and e.id == target.id for e in entries)
    assert registered[0] in entries


class Stub:
    """Stands in for a launch class: keeps its arguments."""

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs


class Exited:
    """A ProcessExited event as far as the handler reads it."""

    def __init__(self, returncode: int) -> None:
        self.returncode = returncode


def exit_handler(**names: Any) -> Any:
    """The launch file's on_exit function, its launch names replaced by `names` or stubs."""
    (handler,) = calls(ast.parse(LAUNCH_FILE.read_text()), 'OnProcessExit')
    names = {'EmitEvent': Stub, 'Shutdown': Stub, 'ProcessExited': Exited,
             'LaunchContext': object, **names}
    return launch_function(keyword(handler, 'on_exit').id, **names)


def test_a_clean_orchestrator_exit_shuts_the_launch_down():
    (emit,) = exit_handler()(Exited(0), None)
    shutdown = emit.kwargs['event']
    assert isinstance(shutdown, Stub) and 'orchestrator' in shutdown.kwargs['reason']


@pytest.mark.parametrize('code, text', [(2, 'exited with status 2'),
                                        (-9, 'killed by signal 9')])
def test_a_failed_orchestrator_fails_the_launch(code, text):
    # ros2 launch returns LaunchService.run()'s code: 1 only for an exception raised in launch
    with pytest.raises(RuntimeError, match=text):
        exit_handler()(Exited(code), None)


def test_orchestrator_node_name_matches_the_node():
    source = (ROOT / PACKAGE / 'ros' / 'node.py').read_text()
    name = module_constants(ast.parse(LAUNCH_FILE.read_text()))['NODE_NAME']
    assert f"super().__init__('{name}'" in source


def test_launched_executables_are_console_scripts(launch_file):
    scripts = console_scripts()
    missing = set(launch_file.nodes) - set(scripts)
    assert not missing, f'not console_scripts in setup.py: {missing}'


@pytest.mark.parametrize('name', sorted(console_scripts()))
def test_console_script_targets_exist(name):
    module, _, function = console_scripts()[name].partition(':')
    assert module.split('.')[0] == PACKAGE and function
    path = ROOT.joinpath(*module.split('.'))
    if not path.with_suffix('.py').is_file() and not (path / '__init__.py').is_file():
        pytest.skip(f'{module} is not written yet')
    assert f'def {function}(' in path.with_suffix('.py').read_text()


def test_setup_cfg_puts_scripts_where_ros2_run_looks():
    text = (ROOT / 'setup.cfg').read_text()
    assert f'script_dir=$base/lib/{PACKAGE}' in text
    assert f'install_scripts=$base/lib/{PACKAGE}' in text
    assert (ROOT / 'resource' / PACKAGE).is_file()


def test_package_xml_declares_the_runtime_dependencies():
    root = ET.parse(ROOT / 'package.xml').getroot()
    assert root.get('format') == '3'
    assert root.findtext('name') == PACKAGE
    assert root.findtext('export/build_type') == 'ament_python'
    run_deps = {e.text for tag in ('exec_depend', 'depend') for e in root.iter(tag)}
    needed = {'rclpy', 'omega_orchestrator_interfaces', 'diagnostic_msgs', 'launch', 'launch_ros'}
    assert needed <= run_deps, f'missing exec_depend: {needed - run_deps}'


def load_launch_module() -> Any:
    pytest.importorskip('launch.actions')  # PyPI's unrelated `launch` has no launch.actions
    pytest.importorskip('launch_ros.actions')
    spec = importlib.util.spec_from_file_location('orchestrator_launch', LAUNCH_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_builds_a_launch_description():
    module = load_launch_module()
    from launch import LaunchDescription
    description = module.generate_launch_description()
    assert isinstance(description, LaunchDescription)
    assert {arg.name for arg in description.get_launch_arguments()} == ARGUMENTS
    from launch.actions import RegisterEventHandler
    from launch.event_handlers import OnProcessExit
    handlers = [e.event_handler for e in description.entities
                if isinstance(e, RegisterEventHandler)]
    assert any(isinstance(h, OnProcessExit) for h in handlers)


def launch_function(name: str, **stubs: Any) -> Any:
    """A function or class of the launch file, made without `launch`: stubs stand in for
    its names.
    """
    tree = ast.parse(LAUNCH_FILE.read_text())
    (found,) = [n for n in tree.body
                if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == name]
    namespace = dict(module_constants(tree), **stubs)
    exec(compile(ast.Module(body=[found], type_ignores=[]), str(LAUNCH_FILE), 'exec'),
         namespace)
    return namespace[name]


class Given:
    """Stands in for LaunchConfiguration: performs to a fixed value."""

    def __init__(self, value: str) -> None:
        self.value = value

    def perform(self, context: Any) -> str:
        return self.value

    def describe(self) -> str:
        return repr(self.value)


@pytest.mark.parametrize('given, expected', [
    ('true', '--refuse-remote-writes'), ('True', '--refuse-remote-writes'),
    ('1', '--refuse-remote-writes'), ('yes', '--refuse-remote-writes'),
    ('false', '--no-refuse-remote-writes'), ('0', '--no-refuse-remote-writes'),
    ('no', '--no-refuse-remote-writes')])
def test_the_switch_gives_one_form_or_the_other(given: str, expected: str):
    switch = launch_function('Switch', Substitution=object, LaunchContext=object,
                          LaunchConfiguration=Given, is_true=launch_function('is_true'))
    assert switch('--refuse-remote-writes', Given(given)).perform(None) == expected


def test_yes_no_arguments_refuse_a_typo(launch_file):
    """A typo in a yes/no argument must fail the launch, not read as no."""
    for name in ('refuse_remote_writes', 'open_writes_for_origins', 'token_for_logs'):
        (declaration,) = [c for c in calls(launch_file.tree, 'DeclareLaunchArgument')
                          if literal(c.args[0], launch_file.names) == name]
        choices = literal(keyword(declaration, 'choices'), launch_file.names)
        assert declared_default(launch_file, name) in choices
        assert {'true', 'false'} <= set(choices) and 'ture' not in choices
        assert all(launch_function('is_true')(c) == (c.lower() in ('true', '1', 'yes'))
                   for c in choices)


@pytest.mark.parametrize('namespace, pushed, expected', [
    ('', None, '/omega_orchestrator'),
    ('robot1', None, '/robot1/omega_orchestrator'),
    ('/robot1/', None, '/robot1/omega_orchestrator'),
    ('robot1', '/fleet', '/fleet/robot1/omega_orchestrator'),
    ('/robot1', '/fleet', '/robot1/omega_orchestrator'),
    ('', '/fleet', '/fleet/omega_orchestrator'),
])
def test_sidecar_targets_the_orchestrator_fqn(namespace, pushed, expected):
    assert launch_function('orchestrator_fqn')(namespace, pushed) == expected


def test_sidecar_node_is_built_from_the_context():
    module = load_launch_module()
    from launch.utilities import perform_substitutions
    from launch_ros.actions import Node

    from launch import LaunchContext
    context = LaunchContext()
    context.launch_configurations['namespace'] = 'robot1'     # `namespace:=robot1`
    for argument in module.generate_launch_description().get_launch_arguments():
        if argument.name in module.SIDECAR_ARGUMENTS:
            argument.visit(context)      # as `ros2 launch` does: every other one's default
    (node,) = module.sidecar_node(context)
    assert isinstance(node, Node)
    # the executable (cmd[0]) needs the package installed; its arguments do not
    argv = [perform_substitutions(context, part) for part in node.cmd[1:]]
    assert argv[argv.index('--orchestrator') + 1] == '/robot1/omega_orchestrator'
    assert argv[argv.index('--token-env') + 1] == 'OMEGA_API_TOKEN'


@pytest.mark.parametrize('given, refused', [
    (None, False), ('true', True), ('True', True), ('1', True), ('false', False), ('no', False),
    ('ture', None), ('', None)])
def test_refuse_remote_writes_reaches_the_orchestrator(given: str | None, refused: bool | None):
    """With the real `launch`: `refuse_remote_writes:=...` -> the orchestrator's command line."""
    module = load_launch_module()
    from launch.utilities import perform_substitutions
    from launch_ros.actions import Node

    from launch import LaunchContext
    from omega_orchestrator.command_line import build_parser
    description = module.generate_launch_description()
    context = LaunchContext()
    context.launch_configurations['registry'] = 'r.json'   # its default needs the package
    if given is not None:
        context.launch_configurations['refuse_remote_writes'] = given
    if refused is None:          # a typo fails the launch: it never reads as no
        with pytest.raises(RuntimeError, match='refuse_remote_writes'):
            for argument in description.get_launch_arguments():
                argument.visit(context)
        return
    for argument in description.get_launch_arguments():
        argument.visit(context)
    (orchestrator,) = [e for e in description.entities if isinstance(e, Node)]
    argv = []
    for part in orchestrator.cmd[1:]:      # its own arguments; the ROS ones come at execute
        if (performed := perform_substitutions(context, part)) == '--ros-args':
            break
        argv.append(performed)
    assert build_parser().parse_args(argv).refuse_remote_writes is refused


@pytest.mark.parametrize('code, expected', [(0, 0), (3, 1), (-9, 1)])
def test_ros2_launch_exits_as_the_orchestrator_did(code: int, expected: int):
    """With the real `launch`: what `ros2 launch` returns is LaunchService.run()'s code."""
    pytest.importorskip('launch.actions')
    from launch.actions import EmitEvent, ExecuteProcess, RegisterEventHandler
    from launch.event_handlers import OnProcessExit
    from launch.events import Shutdown
    from launch.events.process import ProcessExited

    from launch import LaunchContext, LaunchDescription, LaunchService
    handler = exit_handler(EmitEvent=EmitEvent, Shutdown=Shutdown, ProcessExited=ProcessExited,
                           LaunchContext=LaunchContext)
    ending = f'import os, sys; os.kill(os.getpid(), {-code}) if {code} < 0 else sys.exit({code})'
    orchestrator = ExecuteProcess(cmd=[sys.executable, '-c', ending])
    sidecar = ExecuteProcess(cmd=[sys.executable, '-c', 'import time; time.sleep(600)'])
    service = LaunchService(noninteractive=True)
    service.include_launch_description(LaunchDescription([
        orchestrator, sidecar,
        RegisterEventHandler(OnProcessExit(target_action=orchestrator, on_exit=handler))]))
    started = time.monotonic()
    assert service.run() == expected
    assert time.monotonic() - started < 30, 'the sidecar was not stopped with the launch'
