"""The shipped systemd unit points at commands that exist and stops the orchestrator gently."""

import configparser
from pathlib import Path
import shlex

ROOT = Path(__file__).resolve().parents[1]


def test_unit_runs_the_launcher_and_lets_it_stop_the_services():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    text = (ROOT / 'config' / 'systemd' / 'omega-orchestrator.service').read_text()
    unit.read_string(text.replace('\\\n', ' '))
    service = unit['Service']
    argv = shlex.split(service['ExecStart'])
    assert argv[1:3] == ['-m', 'omega_orchestrator.launcher']
    assert (ROOT / 'omega_orchestrator' / 'launcher.py').exists()
    assert '--registry' in argv and '--log-dir' in argv
    assert service['KillMode'] == 'mixed' and service['KillSignal'] == 'SIGTERM'
    assert int(service['TimeoutStopSec']) >= 30
