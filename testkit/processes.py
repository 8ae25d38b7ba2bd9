"""Memory and CPU time of a process and its children, read from /proc (Linux), for the load benchmarks."""
import os
from pathlib import Path


def descendants(pid: int) -> list[int]:
    """Process `pid` and every process below it, from /proc (Linux)."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                pass
    return found


def process_tree_rss_mb(pid: int) -> tuple[float, float]:
    """(RSS of process `pid`, RSS of it and all its descendants) in MB, from /proc (Linux); (0, 0) if it is gone."""
    def rss(p: int) -> float:
        try:
            status = Path(f"/proc/{p}/status").read_text()
        except OSError:
            return 0.0
        return next((int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmRSS:")), 0.0)

    return rss(pid), sum(rss(p) for p in descendants(pid))


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of process `pid` and every process below it (those alive, and the ones they have waited for)."""
    return sum(sum(cpu_seconds(p)) for p in descendants(pid))


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(CPU seconds of process `pid` itself, CPU seconds of its children it has waited for), from /proc (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0, 0.0
    tick = os.sysconf("SC_CLK_TCK")
    utime, stime, cutime, cstime = (int(f) for f in fields[11:15])
    return (utime + stime) / tick, (cutime + cstime) / tick
