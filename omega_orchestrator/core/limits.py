"""Resource limits of a service: the spec and the verdict on one metrics sample (pure)."""

from dataclasses import dataclass

MB = 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class LimitsSpec:
    """What the registry's `limits` object says."""

    memory_mb: float | None = None
    memory_soft_mb: float | None = None
    cpu_percent: float | None = None
    cpu_soft_percent: float | None = None
    over_samples: int = 3
    nice: int | None = None
    cpu_affinity: tuple[int, ...] = ()

    def watched(self) -> bool:
        """Whether the samples need looking at (any soft or hard level)."""
        return any(v is not None for v in (self.memory_mb, self.memory_soft_mb,
                                           self.cpu_percent, self.cpu_soft_percent))


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """One sample against the limits: what is over the hard and the soft levels, in words."""

    hard: str | None = None
    soft: str | None = None


def judge(limits: LimitsSpec, memory_bytes: int, cpu_percent: float) -> Verdict:
    """Compare one sample of the service's whole tree with its limits."""
    memory = memory_bytes / MB
    hard = soft = None
    if limits.memory_mb is not None and memory > limits.memory_mb:
        hard = f'memory limit {limits.memory_mb:g} MB ({memory:.0f} MB)'
    elif limits.cpu_percent is not None and cpu_percent > limits.cpu_percent:
        hard = f'cpu limit {limits.cpu_percent:g} % ({cpu_percent:.0f} %)'
    if limits.memory_soft_mb is not None and memory > limits.memory_soft_mb:
        soft = f'memory {memory:.0f} MB above the soft limit {limits.memory_soft_mb:g} MB'
    elif limits.cpu_soft_percent is not None and cpu_percent > limits.cpu_soft_percent:
        soft = f'cpu {cpu_percent:.0f} % above the soft limit {limits.cpu_soft_percent:g} %'
    return Verdict(hard=hard, soft=soft or hard)
