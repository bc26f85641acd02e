"""The browser every page test of a module shares (one Chromium a module)."""

from playwright.sync_api import sync_playwright
import pytest

from test.web.chromium import ARGS, CHROMIUM


@pytest.fixture(scope='module')
def browser():
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()
