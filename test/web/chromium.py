"""The headless Chromium the page tests drive: where it is, how it is started, and the skip
rule every browser test shares (skipped only outside CI: in CI a missing browser must fail,
not pass silently).
"""

from collections.abc import Iterator
from contextlib import contextmanager
import os
from typing import Any

import pytest

CHROMIUM = '/usr/bin/chromium'
ARGS = ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        '--no-first-run', '--disable-quic']
BROWSER_TESTS = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM) and not os.environ.get('CI'),
                       reason=f'{CHROMIUM} is missing (scripts/setup --test installs it)'),
]


@contextmanager
def watched_tab(browser: Any, **options: Any) -> Iterator[Any]:
    """A fresh tab (a context of its own: 1280x800, plus `options`); on leaving, fails on
    any script error or Content-Security-Policy violation it saw.
    """
    context = browser.new_context(viewport={'width': 1280, 'height': 800}, **options)
    tab = context.new_page()
    problems: list[str] = []
    tab.on('pageerror', lambda exc: problems.append(f'page error: {exc}'))
    tab.on('console', lambda msg: problems.append(f'console: {msg.text}')
           if 'Content Security Policy' in msg.text else None)
    yield tab
    context.close()
    assert not problems, problems
