"""Demo oneshot: prepares a folder and exits 0, like `docker compose up -d`."""

import pathlib
import tempfile

target = pathlib.Path(tempfile.gettempdir()) / 'omega_demo'
target.mkdir(exist_ok=True)
(target / 'ready').write_text('ok\n')
print(f'prepared {target}')
