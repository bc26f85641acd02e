"""`python -m omega_orchestrator --registry FILE [--check] [--no-ros] [--ros-args ...]`.

Validates a registry (--check, ROS-free), or runs it: inside the ROS 2 node by default, or as
the bare engine with --no-ros.
"""

import asyncio
import sys

from omega_orchestrator.command_line import build_parser, check, load_or_exit, split_ros_args
from omega_orchestrator.run import requested_log_level, run, setup_logging


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    ours, ros_args = split_ros_args(list(sys.argv[1:] if argv is None else argv))
    args = build_parser().parse_args(ours)
    registry = load_or_exit(args.registry, args.base_dir)
    if args.check:
        return check(args, registry, args.api_port)
    setup_logging(args.log_dir, requested_log_level(ros_args))
    asyncio.run(run(registry, args, None if args.no_ros else ros_args))
    return 0


if __name__ == '__main__':
    sys.exit(main())
