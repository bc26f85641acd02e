"""The dependency DAG: problems (unknown names, cycles), start order and stop order."""

from collections.abc import Mapping, Sequence


def dependency_problems(deps: Mapping[str, Sequence[str]]) -> list[str]:
    """Unknown dependencies and cycles, each naming the service and the field."""
    problems = []
    for name, wanted in deps.items():
        for dep in wanted:
            if dep == name:
                problems.append(f"service '{name}' field 'depends_on': depends on itself")
            elif dep not in deps:
                problems.append(f"service '{name}' field 'depends_on': unknown service '{dep}'")
    if not problems:
        cycle = find_cycle(deps)
        if cycle:
            problems.append(f"service '{cycle[0]}' field 'depends_on': dependency cycle "
                            + ' -> '.join(cycle))
    return problems


def find_cycle(deps: Mapping[str, Sequence[str]]) -> list[str] | None:
    """One cycle as a closed path [a, b, ..., a], or None (iterative: any depth)."""
    colour: dict[str, int] = {}   # 1 = on the current path, 2 = done
    for root in deps:
        if root in colour:
            continue
        path: list[str] = [root]
        pending = [iter(deps.get(root, ()))]
        colour[root] = 1
        while pending:
            dep = next(pending[-1], None)
            if dep is None:                       # every dependency of path[-1] is done
                colour[path.pop()] = 2
                pending.pop()
            elif colour.get(dep) == 1:
                return path[path.index(dep):] + [dep]
            elif dep in deps and dep not in colour:
                colour[dep] = 1
                path.append(dep)
                pending.append(iter(deps.get(dep, ())))
    return None


def start_waves(deps: Mapping[str, Sequence[str]],
                names: Sequence[str] | None = None) -> list[list[str]]:
    """Group `names` (default all) into waves: each wave only depends on earlier waves.

    Dependencies outside `names` are ignored. Order inside a wave follows declaration order.
    """
    chosen = list(deps) if names is None else [n for n in deps if n in set(names)]
    remaining = {n: {d for d in deps[n] if d in chosen} for n in chosen}
    waves: list[list[str]] = []
    done: set[str] = set()
    while remaining:
        wave = [n for n in chosen if n in remaining and remaining[n] <= done]
        if not wave:
            raise ValueError('dependency cycle among: ' + ', '.join(sorted(remaining)))
        waves.append(wave)
        done.update(wave)
        for n in wave:
            del remaining[n]
    return waves


def stop_waves(deps: Mapping[str, Sequence[str]],
               names: Sequence[str] | None = None) -> list[list[str]]:
    """The reverse of start_waves: dependants stop before what they depend on."""
    return list(reversed(start_waves(deps, names)))
