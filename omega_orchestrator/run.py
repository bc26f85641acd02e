"""Running the orchestrator: its own log, the engine, the ROS node beside it, and shutdown."""

import argparse
import asyncio
import importlib
import logging
import logging.handlers
import os
import signal
import sys
from typing import TYPE_CHECKING

from omega_orchestrator.core.registry import Registry
from omega_orchestrator.runtime.logs import LogSettings
from omega_orchestrator.runtime.relay import EventRelay

if TYPE_CHECKING:
    from omega_orchestrator.runtime.sdnotify import UnitLink
    from omega_orchestrator.runtime.supervisor import Supervisor

log = logging.getLogger('omega_orchestrator')
LEVELS = {'debug': logging.DEBUG, 'info': logging.INFO, 'warn': logging.WARNING,
          'warning': logging.WARNING, 'error': logging.ERROR, 'fatal': logging.CRITICAL}


def requested_log_level(ros_args: list[str] | None) -> int:
    """The level `--ros-args --log-level LEVEL` asks for (default INFO), read before rclpy
    is loaded so the first lines of services.log already follow it. A per-logger form
    (`--log-level name:=LEVEL`) applies to ours only when it names omega_orchestrator.
    """
    level = logging.INFO
    args = ros_args or []
    for flag, value in zip(args, args[1:], strict=False):
        if flag != '--log-level':
            continue
        name, _, wanted = value.rpartition(':=')
        if not name or name.split('.')[-1] == 'omega_orchestrator':
            level = LEVELS.get(wanted.lower(), level)
    return level


def setup_logging(log_dir: str, level: int = logging.INFO) -> None:
    """The orchestrator's own log: LOG_DIR/services.log (rotated) and stderr.

    A log folder that cannot be written never stops the robot: the log goes to stderr only,
    and says so.
    """
    fmt = logging.Formatter('%(asctime)s %(levelname)s %(name)s: %(message)s')
    root = logging.getLogger('omega_orchestrator')
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    problem = None
    try:
        os.makedirs(log_dir, exist_ok=True)
        handlers.append(logging.handlers.RotatingFileHandler(
            os.path.join(log_dir, 'services.log'), maxBytes=10 * 1024 * 1024, backupCount=5))
    except OSError as exc:
        problem = exc
    for handler in handlers:
        handler.setFormatter(fmt)
        root.addHandler(handler)
    root.setLevel(level)
    if problem is not None:
        root.error('cannot write the log folder %s (%s): logging to stderr only; service '
                   'output is kept in memory', log_dir, problem)


def log_settings(args: argparse.Namespace) -> LogSettings:
    """Log settings from the command line."""
    return LogSettings(log_dir=args.log_dir, max_bytes=args.log_max_bytes,
                       backups=args.log_backups)


async def run(registry: Registry, args: argparse.Namespace,
              ros_args: list[str] | None) -> None:
    """Run the engine until SIGINT/SIGTERM, then stop everything in reverse start order.

    Services start first; the ROS node (unless ros_args is None) comes up beside them, in a
    worker thread, and replays the transitions it missed. A robot's services do not wait
    for DDS discovery to boot.
    """
    from omega_orchestrator.command_line import stop_grace_warning
    from omega_orchestrator.core.errors import OrchestratorError
    from omega_orchestrator.runtime import lifeline, process
    from omega_orchestrator.runtime.environment import control_plane, robot_environment
    from omega_orchestrator.runtime.sdnotify import UnitLink
    from omega_orchestrator.runtime.supervisor import Supervisor
    from omega_orchestrator.runtime.webhook import WebhookNotifier
    systemd = UnitLink.from_environment()  # first: takes NOTIFY_SOCKET etc. from os.environ
    # services get the robot's environment, taken before our own DDS settings are applied
    robot = robot_environment(os.environ, sys.prefix, drop=tuple(args.drop_env))
    control_plane(args.control_discovery_range)
    process.raise_open_file_limit()
    try:
        process.check_descriptor_budget(sum(1 for s in registry.services if s.autostart))
    except OrchestratorError as exc:
        log.warning('%s', exc)
    supervisor = Supervisor(registry, log_settings(args), environment=robot,
                            metrics_interval=args.metrics_interval,
                            use_cgroups=getattr(args, 'cgroups', False))
    log.info("process tracking: %s (how a service's processes are found at a stop)",
             supervisor.tracking)
    relay = EventRelay()
    supervisor.add_listener(relay)
    webhook = WebhookNotifier(lambda: supervisor.registry.webhook)   # the current registry's
    supervisor.add_listener(webhook)
    systemd.watch(supervisor.snapshot, supervisor.add_listener)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    on_stop = lifeline.exit_with_parent(stop.set)    # SIGTERM, logged, if the parent dies
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_stop)
    reload_on_hangup(supervisor, args, systemd)
    if ros_args is None:
        supervisor.use_lifecycle(None)     # no ROS node: managed nodes cannot be driven
    grace_warning = stop_grace_warning(registry, getattr(args, 'stop_grace', None))
    if grace_warning:
        log.warning(grace_warning.removeprefix('warning: '))
    await asyncio.to_thread(lifeline.clean_leftovers, args.log_dir)   # a killed run's services
    starting = loop.create_task(supervisor.start_all())
    starting.add_done_callback(_log_failure)
    stopping = loop.create_task(stop.wait())
    face = None
    try:
        first_wave = loop.create_task(supervisor.first_wave_spawned.wait())
        await asyncio.wait({first_wave, starting, stopping},
                           return_when=asyncio.FIRST_COMPLETED)
        first_wave.cancel()
        if supervisor.first_wave_spawned.is_set():
            systemd.ready()
        if ros_args is not None and not stop.is_set():
            # after the first services are spawned: rclpy's start-up is CPU-heavy
            ros_face = await asyncio.to_thread(importlib.import_module,
                                               'omega_orchestrator.ros.face')
            face = await asyncio.to_thread(ros_face.RosFace, supervisor, loop, args, ros_args)
            face.start(relay)
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            starting.cancel()          # a stop signal during start-up wins at once
        await stopping
    finally:
        # whatever happened above (a signal, a failed ROS start-up), nothing is left running
        systemd.stopping()
        log.info('shutting down: stopping all services in reverse start order')
        if not starting.done():
            starting.cancel()
        await supervisor.close()
        await webhook.close()          # the last crash notifications, briefly
        systemd.close()
        if face is not None:
            face.close()


def reload_on_hangup(supervisor: 'Supervisor', args: argparse.Namespace,
                     systemd: 'UnitLink') -> None:
    """SIGHUP reloads the registry file, as the srv and REST reload do: validated first (a
    broken file changes nothing and is logged with every error), then only the added,
    removed and changed services are touched. systemd hears RELOADING=1, then READY=1.
    """
    from omega_orchestrator.core.errors import OrchestratorError
    from omega_orchestrator.runtime.registry_file import RegistryReloader
    reloader = RegistryReloader(supervisor, getattr(args, 'base_dir', None))
    loop = asyncio.get_running_loop()
    pending: set[asyncio.Task] = set()

    async def reload() -> None:
        systemd.reloading()
        try:
            done = await reloader.reload(wait=3600.0)
            log.info('SIGHUP: reloaded %s: added %s, removed %s, changed %s', done.path,
                     done.added or 'none', done.removed or 'none', done.changed or 'none')
        except OrchestratorError as exc:
            log.error('SIGHUP: the registry was not reloaded; nothing changed:\n%s', exc)
        finally:
            systemd.ready()

    def hangup() -> None:
        task = loop.create_task(reload())
        pending.add(task)
        task.add_done_callback(pending.discard)
    loop.add_signal_handler(signal.SIGHUP, hangup)


def _log_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error('starting the services failed', exc_info=task.exception())
