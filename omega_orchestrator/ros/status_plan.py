"""What each publication sends: the whole ~/status, the ~/status_updates, the /diagnostics.

The whole array grows with the services (about 230 bytes and 20 us of serializing each), so it
is not sent every period. The three channels:
- `~/status_updates` carries only the services whose status changed (anything but uptime)
  since they were last sent on either status topic, and nothing when nothing changed: a
  listener knows the orchestrator is there from the topic's DDS liveliness, which the node
  asserts (presence.py), not from a message a second.
- `~/status` (latched) carries every service: when the set of services or anything besides
  usage and uptime changed (at most every `full_gap` s), every `full_period` s while anything
  else did, usage too (a late joiner's usage figures stay recent; with a status rate of at
  least 0.1 Hz; an idle robot whose figures hold still sends it no more), and last at
  shutdown. What changed goes out on ~/status_updates as well, so that a listener of either
  topic alone misses nothing.
- `/diagnostics` carries the services whose level or message may have changed, and each other
  one at least every `diagnostic_refresh` s: less than the 5 s after which diagnostic_aggregator
  and rqt_robot_monitor call an item stale.
A topic nobody subscribes to gets nothing (serializing 1,000 statuses costs about 20 ms): the
whole ~/status stays wanted until someone listens, then goes out at the next period; a
diagnostic not sent stays due.
Most periods send nothing: while the cache's count of changes holds, a plan looks at no entry
until `quiet_until` (the next refresh or whole status due by time), and the publisher does not
even wake for such periods (ros/face.py).
Pure bookkeeping (no node, no clock of its own): the node asks, then publishes.
"""

from dataclasses import dataclass
from typing import Protocol

from diagnostic_msgs.msg import DiagnosticStatus
from omega_orchestrator_interfaces.msg import ServiceStatus

from omega_orchestrator.ros.messages import CachedService

DIAGNOSTIC_REFRESH = 3.0
FULL_PERIOD = 10.0


class Listening(Protocol):
    """Which topics have a subscriber now; read only when the answer matters (the node's
    asks DDS, which costs a little).
    """

    @property
    def status(self) -> bool: ...

    @property
    def updates(self) -> bool: ...

    @property
    def diagnostics(self) -> bool: ...


@dataclass(frozen=True)
class Audience:
    """Which topics have a subscriber now, known in advance."""

    status: bool = True
    updates: bool = True
    diagnostics: bool = True


EVERYONE = Audience()


@dataclass
class Publication:
    """What goes out now; None: nothing on that topic."""

    full: list[ServiceStatus] | None = None
    updates: list[ServiceStatus] | None = None
    diagnostics: list[DiagnosticStatus] | None = None


class StatusPlan:
    """Remembers what was sent, and decides what to send."""

    def __init__(self, full_gap: float = 1.0, full_period: float = FULL_PERIOD,
                 diagnostic_refresh: float = DIAGNOSTIC_REFRESH) -> None:
        self.full_gap = full_gap
        self.full_period = full_period
        self.diagnostic_refresh = diagnostic_refresh
        self._sent: dict[str, int] = {}              # name -> version on a status topic
        self._in_full: dict[str, int] = {}           # name -> diagnostic_version in the last full
        self._full_versions: dict[str, int] = {}     # name -> version in the last full
        self._names: tuple[str, ...] | None = None   # the services of the last full
        self._diagnosed: dict[str, tuple[int, float]] = {}   # name -> (version, when sent)
        self._last_full = float('-inf')
        self._audience: Listening = EVERYONE         # as of the last plan
        self._pending_full = False                   # as of the last plan
        self._changes: int | None = None             # the cache's count at the last plan
        self._quiet_until = float('-inf')            # nothing falls due before (see plan)
        self._unheard: tuple[str, ...] = ()          # topics with something for nobody

    @property
    def quiet_until(self) -> float:
        """As of the last plan: without a change, nothing falls due before this time (a
        topic that had something for nobody may still gain a listener).
        """
        return self._quiet_until

    def full_due_in(self, now: float) -> float | None:
        """Seconds until a whole ~/status, pending as of the last plan, may go out (0: now);
        None: none pending, or nobody to send it to (it goes out on the first period someone
        listens).
        """
        if not self._pending_full or not self._audience.status:
            return None
        return max(0.0, self._last_full + self.full_gap - now)

    def plan(self, entries: list[CachedService], now: float, *, final: bool = False,
             audience: Listening = EVERYONE, changes: int | None = None) -> Publication:
        """What to publish now. `final`: the last one (everything, on every topic, listened
        to or not). The audience is asked about a topic only when something would go out on
        it. `changes`: the cache's count of changes (MessageCache.changes); while it holds,
        until the next thing falls due, the plan looks at no entry and asks only whether a
        topic that had something waiting for a listener now has one (most periods).
        """
        if not final and changes is not None and changes == self._changes and \
                now < self._quiet_until and \
                not any(getattr(audience, topic) for topic in self._unheard):
            return Publication()
        publication, self._audience, self._changes = Publication(), audience, changes
        unheard: list[str] = []                     # topics with something left for nobody
        self._pending_full = self._full_wanted(entries)
        full_at = self._full_due_at(entries)
        if final or now >= full_at:
            if final or audience.status:
                self._pending_full = False
                publication.full = [e.status for e in entries]
                self._last_full = now
                self._names = tuple(e.name for e in entries)
                self._in_full = {e.name: e.diagnostic_version for e in entries}
                self._full_versions = {e.name: e.version for e in entries}
            else:                                   # it stays wanted, for the first listener
                unheard.append('status')
            full_at = float('inf')                  # sent, or left to the first listener
        # a listener of the updates alone misses nothing
        changed = [e for e in entries if self._sent.get(e.name) != e.version]
        if changed and (final or audience.updates):
            publication.updates = [e.status for e in changed]
            for entry in changed:
                self._sent[entry.name] = entry.version
        elif changed:
            unheard.append('updates')
        diagnosed = [e for e in entries if final or self._diagnosis_due(e, now)]
        if diagnosed and not final and not audience.diagnostics:
            diagnosed = []                          # they stay due
            unheard.append('diagnostics')
        if diagnosed:
            publication.diagnostics = [e.diagnostic for e in diagnosed]
            for entry in diagnosed:
                self._diagnosed[entry.name] = (entry.diagnostic_version, now)
        if len(self._diagnosed) > len(entries):          # services removed by a reload
            names = {e.name for e in entries}
            self._diagnosed = {n: d for n, d in self._diagnosed.items() if n in names}
        refresh_at = float('inf') if 'diagnostics' in unheard else \
            min((sent for _, sent in self._diagnosed.values()), default=float('inf')) + \
            self.diagnostic_refresh
        self._quiet_until = min(full_at, refresh_at)
        self._unheard = tuple(unheard)
        return publication

    def _full_due_at(self, entries: list[CachedService]) -> float:
        """When a whole ~/status is due without another change: a full_gap after the last
        when it is wanted, a full_period after when anything moved since; else never.
        """
        if self._pending_full:
            return self._last_full + self.full_gap
        if self._moved_since_full(entries):
            return self._last_full + self.full_period
        return float('inf')

    def _full_wanted(self, entries: list[CachedService]) -> bool:
        """The set of services, or something besides usage, changed since the last full."""
        if self._names is None or len(entries) != len(self._names):
            return True
        return any(e.name != name or self._in_full.get(name) != e.diagnostic_version
                   for e, name in zip(entries, self._names, strict=True))

    def _moved_since_full(self, entries: list[CachedService]) -> bool:
        """Anything at all (usage too, not uptime) changed since the last full."""
        return any(self._full_versions.get(e.name) != e.version for e in entries)

    def _diagnosis_due(self, entry: CachedService, now: float) -> bool:
        last = self._diagnosed.get(entry.name)
        return last is None or last[0] != entry.diagnostic_version or \
            now - last[1] >= self.diagnostic_refresh
