"""The plots of bench/all.py: each scale figure against the number of services, and memory.

    bench/.venv-plot/bin/python bench/plot.py --json bench/results-all.json --out bench/plots

Run by ``bench/all.py`` in its own venv (``bench/requirements-plot.txt``); needs nothing but
matplotlib and the JSON. Writes ``scale-<figure>.png`` for every scale figure that has a
value (log x axis: 10 to 1,000 services; one line with the ROS node and the sidecar, one for
the engine alone), ``scale-overview.png`` with all of them, and ``memory.png`` (RSS,
descriptors and threads of the orchestrator and the sidecar against the restarts). Prints
the paths written, one a line.
"""

import argparse
import json
from pathlib import Path
import re

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

SERIES = {'omega': ('omega (ROS node + sidecar)', '-o'),
          'omega-engine': ('omega engine alone (--no-ros)', '--s')}
MEMORY_FIGURES = (('rss_mb', 'RSS (MB)'), ('fds', 'open descriptors'), ('threads', 'threads'))


def unit(fmt: str) -> str:
    """The unit that a scale.py format string puts after the number ('{:.3f} s' -> 's')."""
    match = re.search(r'\}\s*(.+)$', fmt)
    return match.group(1).strip() if match else ''


def caption(doc: dict) -> str:
    """Date, machine and run kind, for every plot's corner."""
    info = doc.get('meta', {}).get('machine', {})
    quick = ' -- quick smoke run' if doc.get('meta', {}).get('quick') else ''
    return (f'{info.get("date", "?")}, {info.get("cpu_model", "?")}, '
            f'{info.get("cores", "?")} cores{quick}')


def draw_scale(ax: plt.Axes, scale: dict, key: str, title: str, fmt: str) -> bool:
    """One figure against the number of services; False when no series has a value."""
    top = 0.0
    sizes: set[int] = set()
    for name, (label, style) in SERIES.items():
        points = [(row['services'], row[key]) for row in scale.get(name, [])
                  if row.get(key) is not None]
        if points:
            xs, ys = zip(*sorted(points), strict=True)
            ax.plot(xs, ys, style, label=label)
            top = max(top, *ys)
            sizes.update(xs)
    drawn = bool(ax.lines)
    if drawn:
        ax.set_xscale('log')
        ax.xaxis.set_major_locator(FixedLocator(sorted(sizes)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _pos: f'{value:,.0f}'))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel('services')
        ax.set_ylabel(f'{title} ({unit(fmt)})' if unit(fmt) else title)
        ax.set_title(title)
        ax.set_ylim(0, top * 1.15 or 1)
        ax.grid(True, which='both', alpha=0.3)
        ax.legend(fontsize='small')
    return drawn


def plot_scale(doc: dict, out: Path) -> list[Path]:
    """One PNG per scale figure, and the overview."""
    scale = doc.get('scale')
    if not scale:
        return []
    figures = [(key, title, fmt) for key, title, fmt in scale['columns'] if key != 'services']
    written = []
    shown = []
    for key, title, fmt in figures:
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        if draw_scale(ax, scale, key, title, fmt):
            fig.text(0.99, 0.01, caption(doc), ha='right', va='bottom', fontsize=7,
                     color='gray')
            fig.tight_layout()
            path = out / f'scale-{slug(key)}.png'
            fig.savefig(path, dpi=100)
            written.append(path)
            shown.append((key, title, fmt))
        plt.close(fig)
    if shown:
        columns = 3
        lines = (len(shown) + columns - 1) // columns
        fig, axes = plt.subplots(lines, columns, figsize=(15, 3.6 * lines), squeeze=False)
        for ax, (key, title, fmt) in zip(axes.flat, shown, strict=False):
            draw_scale(ax, scale, key, title, fmt)
        for ax in list(axes.flat)[len(shown):]:
            ax.set_visible(False)
        fig.suptitle(f'Growth with the number of services ({caption(doc)})')
        fig.tight_layout()
        path = out / 'scale-overview.png'
        fig.savefig(path, dpi=80)
        plt.close(fig)
        written.append(path)
    return written


def plot_memory(doc: dict, out: Path) -> list[Path]:
    """RSS, descriptors and threads of both processes against the restarts."""
    memory = doc.get('memory') or {}
    samples = memory.get('samples')
    if not samples:
        return []
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    restarts = [sample['restarts'] for sample in samples]
    for ax, (key, title) in zip(axes, MEMORY_FIGURES, strict=True):
        top = 0.0
        for process in ('orchestrator', 'sidecar'):
            values = [sample[process][key] for sample in samples]
            ax.plot(restarts, values, label=process)
            top = max(top, *values)
        ax.set_xlabel('restarts')
        ax.set_title(title)
        ax.set_ylim(0, top * 1.15 or 1)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize='small')
    fig.suptitle(f'Memory over {memory.get("restarts")} restarts ({caption(doc)})')
    fig.tight_layout()
    path = out / 'memory.png'
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return [path]


def slug(key: str) -> str:
    """A file-name part from a JSON key."""
    return re.sub(r'[^a-z0-9]+', '-', key.lower()).strip('-')


def main() -> None:
    """Read the JSON, write the PNGs, print their paths."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--json', type=Path, required=True)
    parser.add_argument('--out', type=Path, required=True)
    args = parser.parse_args()
    doc = json.loads(args.json.read_text())
    args.out.mkdir(parents=True, exist_ok=True)
    for path in plot_scale(doc, args.out) + plot_memory(doc, args.out):
        print(path)


if __name__ == '__main__':
    main()
