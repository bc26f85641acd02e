"""Demo service: a worker that logs a line every second, like a sensor driver."""

import itertools
import sys
import time

for tick in itertools.count():
    print(f'worker tick {tick}: processed {tick * 7 % 50} messages', flush=True)
    if tick % 10 == 9:
        print(f'worker tick {tick}: queue high-water mark reached', file=sys.stderr, flush=True)
    time.sleep(1.0)
