"""Wall time of ``rv --help`` and ``rv plugins list``, beside a bare interpreter start.

Each command runs N times in a fresh subprocess (as a user's shell runs it);
the median is printed together with the median of ``python -c pass``
measured in the same run, so the figures can be compared across machines.
The target is < 0.5 s per command with every package installed.

    python bench/cli_startup.py            # 15 runs each
    python bench/cli_startup.py -n 31 --python .venv/bin/python

Not a test: it prints figures and exits 0; ``--check`` exits 1 when a command
misses the target.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

TARGET_S = 0.5

def commands(python: str) -> dict[str, list[str]]:
    """argv of each measured command: the ``rv`` console script beside ``python``, else ``python -m rv``."""
    script = os.path.join(os.path.dirname(python), "rv.exe" if os.name == "nt" else "rv")
    rv = [script] if os.path.isfile(script) else [python, "-m", "rv"]
    return {
        "python -c pass": [python, "-c", "pass"],
        "rv --help": [*rv, "--help"],
        "rv plugins list": [*rv, "plugins", "list"],
    }


def time_once(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=True)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--runs", type=int, default=15, help="runs per command (default 15)")
    parser.add_argument("--python", default=sys.executable, help="interpreter of the environment to measure")
    parser.add_argument("--check", action="store_true", help="exit 1 when a command misses the target")
    opts = parser.parse_args(argv)

    env = dict(os.environ)
    argvs = commands(opts.python)
    # One untimed run each: the first start after an install compiles bytecode.
    for argv in argvs.values():
        time_once(argv, env)
    # Interleave the commands so that load changes on the machine hit them alike.
    samples: dict[str, list[float]] = {name: [] for name in argvs}
    for _ in range(opts.runs):
        for name, argv in argvs.items():
            samples[name].append(time_once(argv, env))

    baseline = statistics.median(samples["python -c pass"])
    print(f"CLI start-up, median of {opts.runs} runs ({' '.join(argvs['rv --help'][:-1])})")
    print(f"{'command':<18} {'median':>8} {'min':>8} {'max':>8} {'- python':>9}  target")
    missed = []
    for name, values in samples.items():
        median = statistics.median(values)
        over = median - baseline
        verdict = "" if name == "python -c pass" else ("ok" if median < TARGET_S else "MISSED")
        if verdict == "MISSED":
            missed.append(name)
        extra = "" if name == "python -c pass" else f"{over:8.3f}s"
        print(f"{name:<18} {median:7.3f}s {min(values):7.3f}s {max(values):7.3f}s {extra:>9}  "
              f"{'' if not verdict else f'< {TARGET_S:.1f} s: {verdict}'}")
    print(f"rv --help costs {statistics.median(samples['rv --help']) / baseline:.1f}x a bare interpreter start")
    return 1 if (opts.check and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
