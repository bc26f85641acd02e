"""Spinning an rclpy executor in a thread of its own until its context shuts down."""

import logging

from rclpy.executors import Executor, ExternalShutdownException, ShutdownException

log = logging.getLogger('omega_orchestrator')


def spin_until_shutdown(executor: Executor, what: str) -> None:
    """Spin until shutdown. An error escaping a callback is logged (`what` failed) and the
    spin goes on: it must not end every answer.
    """
    while True:
        try:
            executor.spin()
            return
        except (ExternalShutdownException, ShutdownException):
            return
        except Exception:
            log.exception('%s failed; the node goes on', what)
