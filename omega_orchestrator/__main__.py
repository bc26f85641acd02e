"""`python -m omega_orchestrator --registry FILE [--check]`: validate or run a registry."""

import asyncio
import sys

from omega_orchestrator.cli_args import (build_parser, describe_plan, load_or_exit, run_engine,
                                         setup_logging)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = build_parser().parse_args(argv)
    registry = load_or_exit(args.registry)
    if args.check:
        print(describe_plan(registry))
        return 0
    setup_logging(args.log_dir)
    asyncio.run(run_engine(registry, args))
    return 0


if __name__ == '__main__':
    sys.exit(main())
