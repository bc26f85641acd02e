"""Running the orchestrator: its own log, the engine, the ROS node beside it, and shutdown."""

import argparse
import asyncio
import importlib
import logging
import logging.handlers
import os
import signal
from typing import Callable

from omega_orchestrator.core.registry import Registry
from omega_orchestrator.runtime.logs import LogSettings


def setup_logging(log_dir: str) -> None:
    """The orchestrator's own log: LOG_DIR/services.log (rotated) and stderr."""
    os.makedirs(log_dir, exist_ok=True)
    fmt = logging.Formatter('%(asctime)s %(levelname)s %(name)s: %(message)s')
    to_file = logging.handlers.RotatingFileHandler(
        os.path.join(log_dir, 'services.log'), maxBytes=10 * 1024 * 1024, backupCount=5)
    to_stderr = logging.StreamHandler()
    root = logging.getLogger('omega_orchestrator')
    for handler in (to_file, to_stderr):
        handler.setFormatter(fmt)
        root.addHandler(handler)
    root.setLevel(logging.INFO)


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
    from omega_orchestrator.runtime.supervisor import Supervisor
    supervisor = Supervisor(registry, log_settings(args),
                            metrics_interval=args.metrics_interval)
    relay = EventRelay()
    supervisor.add_listener(relay)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    log = logging.getLogger('omega_orchestrator')
    starting = loop.create_task(supervisor.start_all())
    starting.add_done_callback(_log_failure)
    stopping = loop.create_task(stop.wait())
    face = None
    try:
        first_wave = loop.create_task(supervisor.first_wave_spawned.wait())
        await asyncio.wait({first_wave, starting, stopping},
                           return_when=asyncio.FIRST_COMPLETED)
        first_wave.cancel()
        if ros_args is not None and not stop.is_set():
            # after the first services are spawned: rclpy's start-up is CPU-heavy
            ros_main = await asyncio.to_thread(importlib.import_module,
                                               'omega_orchestrator.ros.main')
            face = await asyncio.to_thread(ros_main.RosFace, supervisor, loop, args, ros_args)
            face.attach(relay)
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            starting.cancel()          # a stop signal during start-up wins at once
        await stopping
    finally:
        # whatever happened above (a signal, a failed ROS start-up), nothing is left running
        log.info('shutting down: stopping all services in reverse start order')
        if not starting.done():
            starting.cancel()
        await supervisor.close()
        if face is not None:
            face.close()


def _log_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        logging.getLogger('omega_orchestrator').error(
            'starting the services failed', exc_info=task.exception())


class EventRelay:
    """Keeps transitions until a consumer is attached, then hands it those and every new one."""

    def __init__(self) -> None:
        self.early: list = []
        self.target = None

    def __call__(self, event: object) -> None:
        if self.target is None:
            self.early.append(event)
        else:
            self.target(event)

    def connect(self, target: Callable[[object], None]) -> None:
        """Replay what was kept, then forward."""
        for event in self.early:
            target(event)
        self.early.clear()
        self.target = target
