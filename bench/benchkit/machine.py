"""Where a benchmark ran: date, CPU model, cores, memory, Python, load."""

import os
import platform
import socket
import sys
import time


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, else platform's guess."""
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as handle:
            for line in handle:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'unknown CPU'


def memory_gib() -> float | None:
    """Total memory in GiB from /proc/meminfo, None when unknown."""
    try:
        with open('/proc/meminfo', encoding='utf-8') as handle:
            for line in handle:
                if line.startswith('MemTotal:'):
                    return int(line.split()[1]) / 2**20
    except (OSError, ValueError, IndexError):
        pass
    return None


def machine() -> dict[str, object]:
    """Everything the results header says about the machine and the moment."""
    return {
        'date': time.strftime('%Y-%m-%d'),
        'time_utc': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
        'host': socket.gethostname(),
        'cpu_model': cpu_model(),
        'cores': os.cpu_count(),
        'memory_gib': memory_gib(),
        'platform': platform.platform(),
        'python': sys.version.split()[0],
        'python_executable': sys.executable,
        'load_average_at_start': os.getloadavg(),
    }


def header(info: dict[str, object]) -> str:
    """One Markdown line: date, CPU, cores, memory, OS, Python, load at the start."""
    memory = info.get('memory_gib')
    load = info.get('load_average_at_start')
    load_text = ', '.join(f'{v:.2f}' for v in load) if isinstance(load, (tuple, list)) else '?'
    mem_text = f'{memory:.0f} GiB, ' if isinstance(memory, float) else ''
    return (f'Run on {info["time_utc"]} on {info["cpu_model"]}, {info["cores"]} cores, '
            f'{mem_text}{info["platform"]}, Python {info["python"]}; load average at the '
            f'start {load_text}.')
