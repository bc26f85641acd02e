"""Restart decisions: policy, exponential backoff with jitter, stable-run reset, crash loops."""

from collections.abc import Callable
from dataclasses import dataclass

from omega_orchestrator.core.registry import RestartSpec


@dataclass(frozen=True, kw_only=True)
class RestartDecision:
    """What to do after an unexpected exit."""

    action: str        # 'restart' | 'cooldown' | 'give_up' | 'done'
    delay: float = 0.0
    why: str = ''


@dataclass(frozen=True, kw_only=True)
class CrashHistory:
    """What the policy remembers between exits of one service."""

    consecutive: int = 0                 # restarts since the last stable run
    recent: tuple[float, ...] = ()       # times of exits inside the crash-loop window


def wants_restart(policy: str, success: bool) -> bool:
    """The seed's policies: never, on-failure (non-zero exit or signal), always."""
    if policy == 'always':
        return True
    if policy == 'on-failure':
        return not success
    return False


def backoff_delay(spec: RestartSpec, consecutive: int, rng: Callable[[], float]) -> float:
    """Delay before restart number `consecutive` (0 = first after a stable run: immediate)."""
    if consecutive <= 0:
        return 0.0
    try:
        grown = spec.backoff_initial * spec.backoff_factor ** (consecutive - 1)
    except OverflowError:          # a long crash loop: the cap applies anyway
        grown = spec.backoff_max
    base = min(spec.backoff_max, grown)
    spread = 1.0 + spec.jitter * (2.0 * rng() - 1.0)
    return max(0.0, base * spread)


def after_exit(spec: RestartSpec, policy: str, history: CrashHistory, *, success: bool,
               oneshot: bool, ran_for: float, now: float,
               rng: Callable[[], float]) -> tuple[RestartDecision, CrashHistory]:
    """Decide what follows an exit the operator did not ask for, and the updated history."""
    if oneshot and success:
        return RestartDecision(action='done', why='completed'), CrashHistory()
    consecutive = 0 if ran_for >= spec.stable_after else history.consecutive
    recent = tuple(t for t in history.recent if now - t < spec.crash_loop_window) + (now,)
    if not wants_restart(policy, success):
        return RestartDecision(action='done', why=f'restart_policy {policy}'), CrashHistory(
            consecutive=consecutive, recent=recent)
    if spec.max_retries is not None and consecutive >= spec.max_retries:
        why = f'gave up after {consecutive} consecutive restart(s) (max_retries)'
        return RestartDecision(action='give_up', why=why), CrashHistory(
            consecutive=consecutive, recent=recent)
    if len(recent) >= spec.crash_loop_max:
        why = (f'{len(recent)} exits within {spec.crash_loop_window:g} s: cooling down '
               f'for {spec.cooldown:g} s')
        return RestartDecision(action='cooldown', delay=spec.cooldown, why=why), CrashHistory(
            consecutive=consecutive, recent=())
    delay = backoff_delay(spec, consecutive, rng)
    why = 'restarting at once' if delay == 0 else f'restarting in {delay:.2f} s'
    return RestartDecision(action='restart', delay=delay, why=why), CrashHistory(
        consecutive=consecutive + 1, recent=recent)
