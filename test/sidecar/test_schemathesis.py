"""The live sidecar against its own OpenAPI document (schemathesis), over the real stack.

A real orchestrator and a real sidecar talk over ROS; the schema is loaded from the running
sidecar's /openapi.json, and schemathesis sends what it generates from it, values the document
allows and values it forbids, once against a sidecar without a token and once against one
with a token (sending the Bearer header). No answer may be a 5xx, and every status, header and
body must be one the document promises. The endless event stream is left out.

schemathesis's lazy pytest loader (from_fixture) does not run under this pytest, so each
operation is a test of its own, over the strategies schemathesis makes for it.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hypothesis import given, HealthCheck, settings
from hypothesis import strategies as st
import pytest
import schemathesis
from schemathesis import GenerationMode

from omega_orchestrator.sidecar.app import create_app
from test.sidecar.fake_gateway import FakeGateway
from test.stack import Stack
from test.support import py

pytestmark = pytest.mark.ros

TOKEN = 's3cret-for-schemathesis'
SLEEP = 'import time\ntime.sleep(600)'
SERVICES = [py(SLEEP, name='camera', autostart=True),
            py(SLEEP, name='motors'),
            {'name': 'broken', 'cmd': 'no-such-program-xyz'}]
KNOWN = ('camera', 'motors')     # names that exist: their answers are checked too
ENDLESS = ('/api/services/events',)
#: The operations the app documents (the live document must list exactly these).
OPERATIONS = sorted((method.upper(), path)
                    for path, item in create_app(FakeGateway()).openapi()['paths'].items()
                    for method in item if path not in ENDLESS)
BOUNDED = settings(max_examples=30, deadline=None, database=None, derandomize=True,
                   suppress_health_check=list(HealthCheck))


class Live:
    """A started stack and the schema its sidecar serves."""

    def __init__(self, stack: Stack, token: str | None) -> None:
        self.stack = stack
        self.token = token
        self.schema = schemathesis.openapi.from_url(stack.url + '/openapi.json', timeout=10)

    def headers(self) -> dict[str, str] | None:
        """The Bearer header, when the sidecar has a token."""
        return {'Authorization': f'Bearer {self.token}'} if self.token else None


@pytest.fixture(scope='module', params=[None, TOKEN], ids=['open', 'token'])
def live(request: pytest.FixtureRequest,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """One stack per token setting, shared by every operation's test."""
    folder: Path = tmp_path_factory.mktemp('schemathesis')
    stack = Stack(folder, SERVICES, token=request.param)
    try:
        yield Live(stack.start(), request.param)
    finally:
        stack.stop()


def test_the_live_document_lists_every_operation(live: Live) -> None:
    served = sorted((method.upper(), path) for path, item in live.schema.raw_schema['paths']
                    .items() for method in item if path not in ENDLESS)
    assert served == OPERATIONS


@pytest.mark.parametrize('method, path', OPERATIONS)
def test_each_operation_keeps_its_documented_promises(live: Live, method: str,
                                                      path: str) -> None:
    operation = live.schema[path][method]
    strategies = [operation.as_strategy(GenerationMode.POSITIVE),
                  operation.as_strategy(GenerationMode.NEGATIVE)]
    if '{name}' in path:      # random names are unknown (404): real ones, too
        strategies += [operation.as_strategy(path_parameters={'name': name}) for name in KNOWN]
    cases = st.one_of(strategies)

    @BOUNDED
    @given(case=cases)
    def check(case: Any) -> None:
        case.call_and_validate(headers=live.headers(), timeout=15)
    check()
