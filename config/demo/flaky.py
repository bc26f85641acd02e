"""Demo service: runs for a while, then crashes, so restarts can be seen."""

import random
import sys
import time

lifetime = random.uniform(8.0, 20.0)
print(f'flaky: up, will crash in {lifetime:.1f} s', flush=True)
time.sleep(lifetime)
print('flaky: simulated fault, exiting with code 3', file=sys.stderr, flush=True)
sys.exit(3)
