"""Run one command and print `SECONDS CPU_SECONDS PEAK_RSS_KIB EXIT_CODE`; run.py's helper.

Usage: python -I -S bench/probe.py LOG ARGV...

Linux counts a parent's RSS in its child's peak RSS until the child's exec, so
run.py spawns every measured command through this tiny process (about 8 MiB)
rather than from itself. The command's stdout and stderr go to LOG.
"""

import os
import sys
import time


def probe(log: str, argv: list) -> tuple:
    """Spawn argv once and return (seconds, CPU seconds, peak RSS KiB, exit code) from os.wait4."""
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    actions = [(os.POSIX_SPAWN_DUP2, fd, 1), (os.POSIX_SPAWN_DUP2, fd, 2)]
    start = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - start
    os.close(fd)
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    print("%.6f %.6f %d %d" % probe(sys.argv[1], sys.argv[2:]))
