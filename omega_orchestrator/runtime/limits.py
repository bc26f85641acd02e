"""Putting a service's limits on its new process: what the kernel can enforce, and how.

The supervisor's own enforcement (a restart after samples over a hard limit) works
everywhere; this adds the kernel's where it allows:
- memory_mb: cgroup v2 `memory.max` of the run's cgroup (the whole tree; needs --cgroups and
  a delegated memory controller), else RLIMIT_AS of the main process (its address space:
  inherited by what it forks; a program that reserves much more than it uses fails early).
- cpu_percent: cgroup v2 `cpu.max` (throttling; needs the cpu controller), else none.
- nice and cpu_affinity: set on the main process (inherited by what it starts after).
Applied right after the spawn, from the spawning thread (blocking /proc and /sys I/O).
"""

import logging
import os
import resource

from omega_orchestrator.core.limits import LimitsSpec, MB

log = logging.getLogger('omega_orchestrator')


def describe(limits: LimitsSpec, enforcement: dict[str, str]) -> str:
    """The limits in words, each with who enforces it ('' when there are none)."""
    parts = []
    if limits.memory_mb is not None:
        parts.append(f'memory {limits.memory_mb:g} MB ({enforcement.get("memory", "samples")})')
    if limits.memory_soft_mb is not None:
        parts.append(f'memory soft {limits.memory_soft_mb:g} MB')
    if limits.cpu_percent is not None:
        parts.append(f'cpu {limits.cpu_percent:g} % ({enforcement.get("cpu", "samples")})')
    if limits.cpu_soft_percent is not None:
        parts.append(f'cpu soft {limits.cpu_soft_percent:g} %')
    if limits.nice is not None:
        parts.append(f'nice {limits.nice}')
    if limits.cpu_affinity:
        parts.append('cpus ' + ','.join(str(c) for c in limits.cpu_affinity))
    return '; '.join(parts)


def enforce(pid: int, limits: LimitsSpec, cgroup_dir: str | None) -> dict[str, str]:
    """Apply the limits to a new process; returns what enforces each ('memory': 'cgroup
    memory.max' | 'rlimit' | 'samples', 'cpu': 'cgroup cpu.max' | 'samples').
    """
    done: dict[str, str] = {}
    if limits.memory_mb is not None:
        hard = int(limits.memory_mb * MB)
        if cgroup_dir is not None and _write(cgroup_dir, 'memory.max', str(hard)):
            done['memory'] = 'kernel: cgroup memory.max + samples'
        elif _prlimit(pid, resource.RLIMIT_AS, hard):
            done['memory'] = 'kernel: RLIMIT_AS + samples'
    if limits.cpu_percent is not None and cgroup_dir is not None:
        period = 100_000
        if _write(cgroup_dir, 'cpu.max', f'{int(limits.cpu_percent / 100 * period)} {period}'):
            done['cpu'] = 'kernel: cgroup cpu.max + samples'
    try:
        if limits.nice is not None:
            os.setpriority(os.PRIO_PROCESS, pid, limits.nice)
        if limits.cpu_affinity:
            os.sched_setaffinity(pid, limits.cpu_affinity)
    except OSError as exc:      # e.g. a CPU this machine does not have
        log.warning('pid %d: cannot set nice/cpu_affinity: %s', pid, exc.strerror or exc)
    return done


def _write(folder: str, name: str, value: str) -> bool:
    try:
        with open(os.path.join(folder, name), 'w') as control:
            control.write(value)
        return True
    except OSError:
        return False


def _prlimit(pid: int, which: int, value: int) -> bool:
    try:
        resource.prlimit(pid, which, (value, value))
        return True
    except (OSError, ValueError):   # EPERM, or a hard limit below the value already
        return False
