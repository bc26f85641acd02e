"""What each publication sends (ros/status_plan.py), over real cached messages."""

from dataclasses import replace

from omega_orchestrator.core.states import ServiceState
from omega_orchestrator.ros.messages import MessageCache
from omega_orchestrator.ros.status_plan import Audience, Publication, StatusPlan
from omega_orchestrator.runtime.metrics import Usage
from test.ros.test_messages import engine_status

FQN = '/ns/omega_orchestrator'


class Robot:
    """Services whose statuses a test changes, and the plan publishing them."""

    def __init__(self, *names: str) -> None:
        self.cache = MessageCache()
        self.plan = StatusPlan(full_gap=1.0, full_period=10.0, diagnostic_refresh=3.0)
        base = engine_status(ServiceState.RUNNING)
        self.statuses = {n: replace(base, spec=replace(base.spec, name=n)) for n in names}

    def change(self, name: str, **fields) -> None:
        self.statuses[name] = replace(self.statuses[name], **fields)

    def publish(self, now: float, **kwargs):
        """As the node does: the cache's count of changes lets a quiet period skip the
        entries (every test here runs through that shortcut).
        """
        entries = self.cache.update(tuple(self.statuses.values()), FQN, '')
        return self.plan.plan(entries, now, changes=self.cache.changes, **kwargs), \
            self.plan.full_due_in(now)


def names(statuses) -> list[str]:
    return [s.name for s in statuses]


def diagnosed(diagnostics) -> list[str]:
    return [d.name.split(': ')[-1] for d in diagnostics]


def test_the_first_publication_sends_everything():
    first, due = Robot('a', 'b').publish(0.0)
    assert names(first.full) == ['a', 'b'] and names(first.updates) == ['a', 'b']
    assert diagnosed(first.diagnostics) == ['a', 'b'] and due is None


def test_a_quiet_period_sends_nothing():
    robot = Robot('a', 'b')
    robot.publish(0.0)
    robot.change('a', uptime=60.0)                 # uptime moves: not a change
    tick, due = robot.publish(1.0)
    assert (tick.full, tick.updates, tick.diagnostics) == (None, None, None)
    assert due is None
    burst, _ = robot.publish(1.05)                 # a poke with nothing new: nothing at all
    assert (burst.full, burst.updates, burst.diagnostics) == (None, None, None)


def test_usage_goes_out_as_an_update_of_that_service_only():
    robot = Robot('a', 'b')
    robot.publish(0.0)
    robot.change('b', usage=Usage(cpu_percent=40.0, memory_bytes=10))
    tick, _ = robot.publish(1.0)
    assert tick.full is None and names(tick.updates) == ['b']
    assert tick.updates[0].cpu_percent == 40.0
    assert tick.diagnostics is None                # the level did not change
    again, _ = robot.publish(2.0)
    assert again.updates is None                   # sent once


def test_a_state_change_is_an_update_at_once_and_a_whole_status_once_allowed():
    robot = Robot('a', 'b')
    robot.publish(0.0)
    robot.change('a', state=ServiceState.CRASHED, pid=None, message='killed by signal 9')
    burst, due = robot.publish(0.2)                # within full_gap of the last whole one
    assert burst.full is None and names(burst.updates) == ['a']
    assert diagnosed(burst.diagnostics) == ['a']   # its level changed: at once
    assert due == 0.8                              # the whole status is pending
    held, due = robot.publish(0.5)
    assert (held.full, held.updates) == (None, None) and due == 0.5
    full, due = robot.publish(1.0)
    assert names(full.full) == ['a', 'b'] and full.full[0].state_name == 'crashed'
    assert full.updates is None and due is None      # the update went out at 0.2 already


def test_the_whole_status_comes_every_full_period_while_usage_moves_and_diagnostics_refresh():
    robot = Robot('a', 'b')
    robot.publish(0.0)
    kinds = {}
    for second in range(1, 22):
        if second in (5, 15):
            robot.change('b', usage=Usage(cpu_percent=float(second), memory_bytes=10))
        tick, _ = robot.publish(float(second))
        kinds[second] = (tick.full is not None, diagnosed(tick.diagnostics or []))
    assert [s for s, (full, _) in kinds.items() if full] == [10, 20]
    assert [s for s, (_, diag) in kinds.items() if diag] == [3, 6, 9, 12, 15, 18, 21]
    assert kinds[3][1] == ['a', 'b']


def test_an_idle_robot_whose_figures_hold_still_sends_no_whole_status_again():
    robot = Robot('a', 'b')
    robot.publish(0.0)
    robot.change('a', uptime=600.0)                  # uptime moves: not a change
    fulls = [second for second in range(1, 41)
             if robot.publish(float(second))[0].full is not None]
    assert fulls == []
    robot.change('a', usage=Usage(cpu_percent=3.0, memory_bytes=10))
    moved, _ = robot.publish(41.0)                   # past the period: at once
    assert names(moved.full) == ['a', 'b'] and names(moved.updates) == ['a']


def test_a_reload_that_adds_or_removes_a_service_sends_the_whole_status():
    robot = Robot('a', 'b')
    robot.publish(0.0)
    del robot.statuses['b']
    removed, _ = robot.publish(1.0)
    assert names(removed.full) == ['a']
    robot.statuses['c'] = replace(robot.statuses['a'], spec=replace(
        robot.statuses['a'].spec, name='c'))
    added, _ = robot.publish(2.0)
    assert names(added.full) == ['a', 'c'] and diagnosed(added.diagnostics) == ['c']


def test_the_final_publication_sends_everything_on_every_topic():
    robot = Robot('a', 'b')
    robot.publish(0.0)
    final, _ = robot.publish(0.1, final=True)
    assert names(final.full) == ['a', 'b'] and diagnosed(final.diagnostics) == ['a', 'b']


def test_a_topic_nobody_listens_to_gets_nothing_until_someone_does():
    robot = Robot('a', 'b')
    nobody = Audience(status=False, updates=False, diagnostics=False)
    quiet, due = robot.publish(0.0, audience=nobody)
    assert (quiet.full, quiet.updates, quiet.diagnostics) == (None, None, None)
    assert due is None                      # nothing is scheduled for nobody
    robot.change('a', state=ServiceState.CRASHED, pid=None)
    quiet, due = robot.publish(5.0, audience=nobody)
    assert (quiet.full, quiet.updates, quiet.diagnostics) == (None, None, None)
    assert due is None
    joined, _ = robot.publish(5.5)       # the first period someone listens
    assert names(joined.full) == ['a', 'b'] and joined.full[0].state_name == 'crashed'
    assert diagnosed(joined.diagnostics) == ['a', 'b']


def test_a_health_check_that_decides_the_same_is_an_update_not_a_whole_status():
    from omega_orchestrator.core.machine import Health
    robot = Robot('a', 'b')
    robot.change('a', health=Health(checked=True, healthy=True, message='HTTP 200',
                                    checked_at=100.0, successes=1))
    robot.publish(0.0)
    robot.change('a', health=Health(checked=True, healthy=True, message='HTTP 200',
                                    checked_at=110.0, successes=2))
    tick, due = robot.publish(2.0)
    assert tick.full is None and due is None and tick.diagnostics is None
    assert names(tick.updates) == ['a'] and tick.updates[0].health_checked_at.sec > 0
    robot.change('a', health=Health(checked=True, healthy=False, message='HTTP 503',
                                    checked_at=120.0, failures=1))
    verdict, _ = robot.publish(2.5)                  # a new verdict: the whole status too
    assert names(verdict.full) == ['a', 'b'] and names(verdict.updates) == ['a']
    assert diagnosed(verdict.diagnostics) == ['a']


def test_a_listener_of_the_updates_alone_sees_every_change():
    robot = Robot('a', 'b')
    robot.publish(0.0)
    robot.change('b', state=ServiceState.CRASHED, pid=None)
    crash, _ = robot.publish(5.0)                    # after a quiet spell: whole at once...
    assert names(crash.full) == ['a', 'b'] and names(crash.updates) == ['b']   # ...and this


class AskedAudience:
    """Everyone listens; records which topics the plan asked about (asking DDS costs)."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def _ask(self, topic: str) -> bool:
        self.asked.append(topic)
        return True

    status = property(lambda self: self._ask('status'))
    updates = property(lambda self: self._ask('updates'))
    diagnostics = property(lambda self: self._ask('diagnostics'))


def test_the_audience_is_asked_only_about_a_topic_something_would_go_out_on():
    robot = Robot('a', 'b')
    robot.publish(0.0)
    quiet = AskedAudience()
    robot.publish(1.0, audience=quiet)               # nothing changed, nothing due
    assert quiet.asked == []
    usage = AskedAudience()
    robot.change('a', usage=Usage(cpu_percent=5.0, memory_bytes=10))
    robot.publish(2.0, audience=usage)               # an update only
    assert usage.asked == ['updates']
    refresh = AskedAudience()
    robot.publish(3.0, audience=refresh)             # the diagnostics' refresh only
    assert refresh.asked == ['diagnostics']
    crash = AskedAudience()
    robot.change('b', state=ServiceState.CRASHED, pid=None)
    robot.publish(4.0, audience=crash)               # a change of state: all three
    assert sorted(set(crash.asked)) == ['diagnostics', 'status', 'updates']


def test_a_quiet_period_looks_at_no_entry_until_something_falls_due():
    robot = Robot('a', 'b')
    robot.publish(0.0)
    entries = robot.cache.update(tuple(robot.statuses.values()), FQN, '')
    unchanged = robot.cache.changes
    assert robot.plan.plan([], 1.0, changes=unchanged) == Publication()  # not even read
    refresh = robot.plan.plan(entries, 3.0, changes=unchanged)   # the diagnostics are due
    assert diagnosed(refresh.diagnostics) == ['a', 'b']
    robot.change('a', state=ServiceState.CRASHED, pid=None)
    crash, _ = robot.publish(3.5)                    # a change is never skipped
    assert names(crash.updates) == ['a']


def test_a_topic_that_was_unheard_is_served_as_soon_as_someone_listens_in_a_quiet_period():
    robot = Robot('a', 'b')
    robot.publish(0.0, audience=Audience(diagnostics=False))
    quiet, _ = robot.publish(1.0, audience=Audience(diagnostics=False))
    assert quiet == Publication()
    joined, _ = robot.publish(1.5)                  # nothing changed, but now someone listens
    assert diagnosed(joined.diagnostics) == ['a', 'b'] and joined.updates is None


def test_only_what_falls_due_by_time_keeps_the_periods_busy_not_what_waits_for_a_listener():
    robot = Robot('a', 'b')
    robot.publish(0.0)
    assert robot.plan.quiet_until == 3.0             # the diagnostics' refresh
    robot.change('a', usage=Usage(cpu_percent=5.0, memory_bytes=10))
    robot.publish(1.0)
    assert robot.plan.quiet_until == 3.0             # the whole status would be at 10.0
    alone = Robot('a', 'b')
    alone.publish(0.0, audience=Audience(status=False, updates=False, diagnostics=False))
    assert alone.plan.quiet_until == float('inf')    # looked for at each period that runs
