"""The headless Chromium the page tests drive: where it is, how it is started, and the skip
rule every browser test shares (skipped only outside CI: in CI a missing browser must fail,
not pass silently).
"""

import os

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
