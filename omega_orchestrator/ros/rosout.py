"""Our own log lines on /rosout: a logging handler that hands records to a node's logger.

rclpy's logger publishes to /rosout (rqt_console, `ros2 topic echo /rosout`) and honours
`--ros-args --log-level`; the orchestrator and the sidecar keep their own console and file
handlers, so rcl's own console output is turned off for their contexts (no double lines).
"""

import logging
import logging.handlers
import queue
from typing import Any

from rclpy.logging import LoggingSeverity

try:        # what RcutilsLogger.log ends in, after it looked up its caller's frame and file
    from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
    _rcutils_log = _rclpy.rclpy_logging_rcutils_log
except (ImportError, AttributeError):      # pragma: no cover - another rclpy
    _rcutils_log = None

QUIET_CONSOLE = ['--ros-args', '--disable-stdout-logs']


class RosoutHandler(logging.Handler):
    """Forwards Python log records to an rclpy logger (and so to /rosout).

    The record already says where it was logged, so it goes straight to rcutils with that:
    rclpy's logger would look up its own caller (this handler) by inspecting frames and
    source files, about 1 ms a line, which at a stop of 1,000 services was a second of CPU.
    """

    def __init__(self, ros_logger: Any) -> None:
        super().__init__()
        self.ros_logger = ros_logger
        self.setFormatter(logging.Formatter('%(message)s'))

    def emit(self, record: logging.LogRecord) -> None:
        """Send one record; a failure is reported by logging, never raised."""
        try:
            severity = severity_of(record.levelno)
            if _rcutils_log is None:
                self.ros_logger.log(self.format(record), severity)
            elif self.ros_logger.is_enabled_for(severity):
                _rcutils_log(severity, self.ros_logger.name, self.format(record),
                             record.funcName or '', record.pathname or '', record.lineno or 0)
        except Exception:
            self.handleError(record)


def severity_of(levelno: int) -> LoggingSeverity:
    """The rcutils severity for a Python logging level."""
    for severity in (LoggingSeverity.FATAL, LoggingSeverity.ERROR, LoggingSeverity.WARN,
                     LoggingSeverity.INFO):
        if levelno >= severity:
            return severity
    return LoggingSeverity.DEBUG


def follow_ros_level(logger: logging.Logger, ros_logger: Any) -> None:
    """Make a Python logger as verbose as `--ros-args --log-level` made the node's logger."""
    level = int(ros_logger.get_effective_level())
    if level:   # the numbers are Python's (10 debug ... 50 fatal)
        logger.setLevel(level)


class Forwarding:
    """A logger's records handed to /rosout by a thread of their own: the caller (the
    engine's loop) only enqueues, because rclpy's logger inspects the calling frames and
    their source files for every line, which costs a restart's worth of time.
    """

    def __init__(self, logger: logging.Logger, ros_logger: Any) -> None:
        self.logger = logger
        records: queue.SimpleQueue = queue.SimpleQueue()
        self.handler = logging.handlers.QueueHandler(records)
        self.listener = logging.handlers.QueueListener(records, RosoutHandler(ros_logger))
        self.listener.start()
        logger.addHandler(self.handler)

    def close(self) -> None:
        """Stop forwarding (what was logged before is still sent)."""
        self.logger.removeHandler(self.handler)
        self.listener.stop()


def attach(logger: logging.Logger, ros_logger: Any) -> Forwarding:
    """Forward `logger`'s records to /rosout at the node's level; close() stops it."""
    follow_ros_level(logger, ros_logger)
    return Forwarding(logger, ros_logger)
