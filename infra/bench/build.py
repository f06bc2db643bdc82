"""Build time and peak memory at scale: 1,000,000 rows x 30 mixed columns, per stage, beside the targets.

Generates a table of ``--rows`` rows (default 1,000,000): 25 numeric columns of assorted shapes and
5 categorical string columns (3 to 20 levels), about 2% of the cells of every column missing, and a
binary target ``churn`` (yes/no, about 12% yes) with a learnable signal in a handful of columns.
Then one build runs in a child process, so its peak RSS is that process's alone (``VmHWM``), and
the build's stage lines (``stage <name> <seconds> s``) are read back into a table of wall time and
peak RSS per stage next to the targets (whole build <= 5 min, peak RSS <= 1.5 GB).

``--source csv`` (default) writes the table as a CSV and runs ``litelens build --data``: the real
path, reading included. ``--categories codes`` writes categorical cells as integer codes and
``--no-missing`` leaves every cell filled, for a CSV reader that takes only complete numeric cells.
``--source arrays`` skips the CSV: the child builds the same table in column space and calls
``build_bundle`` directly (everything but reading).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from litelens.build.command import ExitCode

TARGETS = {"seconds": 300.0, "rss_mb": 1536.0}
N_NUMERIC = 25
LEVELS = (3, 5, 8, 12, 20)
MISSING_SHARE = 0.02
TARGET = "churn"
CLASSES = ["no", "yes"]
STAGE_LINE = re.compile(r"^stage (?P<name>[\w-]+) +(?P<seconds>[\d.]+) s")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the generated table (default 1000000)")
    parser.add_argument("--source", choices=["csv", "arrays"], default="csv", help="build from a CSV or from arrays")
    parser.add_argument(
        "--categories", choices=["strings", "codes"], default="strings", help="categorical CSV cells as text or codes"
    )
    parser.add_argument("--no-missing", action="store_true", help="write every CSV cell (no missing values)")
    parser.add_argument("--epochs", type=int, help="maximum epochs (default: the build's)")
    parser.add_argument("--work-dir", help="where the CSV and the bundle go (default: a temp dir)")
    parser.add_argument("--seed", type=int, default=0)


def column_names() -> tuple[list[str], list[str]]:
    return [f"num_{j:02d}" for j in range(N_NUMERIC)], [f"cat_{j}" for j in range(len(LEVELS))]


def level_names(j: int) -> list[str]:
    return [f"{chr(ord('a') + j)}{k:02d}" for k in range(LEVELS[j])]


def make_columns(n_rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(numbers float64 (n, 25) with NaN, codes int16 (n, 5) with -1 for missing, y int64 (n,))``."""
    rng = np.random.default_rng(seed)
    numbers = np.empty((n_rows, N_NUMERIC), dtype=np.float64)
    for j in range(N_NUMERIC):
        shape = j % 5
        if shape == 0:
            numbers[:, j] = rng.standard_normal(n_rows)
        elif shape == 1:
            numbers[:, j] = np.round(np.exp(rng.normal(10.5, 0.6, n_rows)), 2)  # income-like
        elif shape == 2:
            numbers[:, j] = rng.integers(0, 60, n_rows)  # counts, whole numbers
        elif shape == 3:
            numbers[:, j] = rng.uniform(0, 1, n_rows)
        else:
            numbers[:, j] = rng.gamma(2.0, 3.0, n_rows)
    codes = np.empty((n_rows, len(LEVELS)), dtype=np.int16)
    for j, n_levels in enumerate(LEVELS):
        shares = rng.dirichlet(np.full(n_levels, 2.0))
        codes[:, j] = rng.choice(n_levels, size=n_rows, p=shares)
    effect = [rng.normal(0, 0.8, n) for n in LEVELS]
    logit = (
        -2.6
        + 0.9 * numbers[:, 0]
        - 0.8 * (np.log(numbers[:, 1]) - 10.5) / 0.6
        + 0.03 * (numbers[:, 2] - 30)
        + 1.2 * (numbers[:, 3] - 0.5)
        + 0.6 * np.sin(numbers[:, 5])
        + sum(effect[j][codes[:, j]] for j in range(3))
    )
    y = (rng.random(n_rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    numbers[rng.random(numbers.shape) < MISSING_SHARE] = np.nan
    codes[rng.random(codes.shape) < MISSING_SHARE] = -1
    return numbers, codes, y


def column_space(numbers: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, Any]:
    """The table in a schema's column space (the missing code for a missing level) and that schema."""
    from litelens.build.bundle.schema import CATEGORICAL, Column, Schema
    from litelens.build.stats import numeric_column

    numeric_names, categorical_names = column_names()
    columns = [numeric_column(name, numbers[:, j]) for j, name in enumerate(numeric_names)]
    Z = np.empty((len(numbers), len(columns) + len(LEVELS)), dtype=np.float64)
    Z[:, : len(columns)] = numbers
    for j, name in enumerate(categorical_names):
        missing = bool(np.any(codes[:, j] < 0))
        columns.append(Column(name, CATEGORICAL, missing=missing, levels=tuple(level_names(j))))
        Z[:, N_NUMERIC + j] = np.where(codes[:, j] < 0, LEVELS[j], codes[:, j])
    return Z, Schema(tuple(columns))


def write_csv(path: Path, numbers: np.ndarray, codes: np.ndarray, y: np.ndarray, *, strings: bool) -> None:
    """The table as a CSV through pyarrow (empty cells for missing values)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    numeric_names, categorical_names = column_names()
    arrays: dict[str, Any] = {
        name: pa.array(numbers[:, j], mask=np.isnan(numbers[:, j])) for j, name in enumerate(numeric_names)
    }
    for j, name in enumerate(categorical_names):
        missing = codes[:, j] < 0
        if strings:
            levels = pa.array(level_names(j))
            arrays[name] = pa.DictionaryArray.from_arrays(pa.array(codes[:, j], mask=missing), levels).cast(pa.string())
        else:
            arrays[name] = pa.array(codes[:, j].astype(np.int64), mask=missing)
    arrays[TARGET] = pa.DictionaryArray.from_arrays(pa.array(y), pa.array(CLASSES)).cast(pa.string())
    pacsv.write_csv(pa.table(arrays), path, pacsv.WriteOptions(quoting_style="none"))


def _arrays_child(rows: int, seed: int, out: str, epochs: int | None) -> None:
    """The child of ``--source arrays``: build from column-space rows, stage lines on stdout."""
    from litelens.build.bundle import Task
    from litelens.build.pipeline import BuildConfig, build_bundle

    started = time.perf_counter()
    numbers, codes, y = make_columns(rows, seed)
    Z, schema = column_space(numbers, codes)
    del numbers, codes
    print(f"stage generate {time.perf_counter() - started:.1f} s", flush=True)
    config = BuildConfig(seed=seed) if epochs is None else BuildConfig(seed=seed, epochs=epochs)
    build_bundle(
        Z, y, schema.names, TARGET, Task.BINARY, out, config, classes=CLASSES, force=True,
        source=f"bench build (arrays, {rows} rows)", log=lambda line: print(line, flush=True), schema=schema,
    )  # fmt: skip


def _peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def run_build(command: list[str]) -> tuple[int, float, list[tuple[str, float, float | None]], list[str]]:
    """Run a build; ``(exit code, wall seconds, [(stage, seconds, peak RSS MB when it ended)], output lines)``."""
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    stages: list[tuple[str, float, float | None]] = []
    lines: list[str] = []
    peak: list[float] = [0.0]

    def watch() -> None:  # VmHWM is gone once the child exits: sample it while it runs
        while child.poll() is None:
            peak[0] = max(peak[0], _peak_rss_mb(child.pid) or 0.0)
            time.sleep(0.2)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    assert child.stdout is not None
    for line in child.stdout:
        line = line.rstrip("\n")
        lines.append(line)
        print(f"  | {line}", flush=True)
        match = STAGE_LINE.match(line.strip())
        if match:
            stages.append((match["name"], float(match["seconds"]), _peak_rss_mb(child.pid) or peak[0] or None))
    code = child.wait()
    watcher.join()
    wall = time.perf_counter() - started
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux
    stages.append(("total", wall, max(peak[0], children)))
    return code, wall, stages, lines


def run(args: argparse.Namespace) -> int:
    if args.rows < 1000:
        print("litelens bench build: --rows must be at least 1000", file=sys.stderr)
        return ExitCode.USAGE
    work = Path(args.work_dir) if args.work_dir else Path(tempfile.mkdtemp(prefix="litelens-bench-build-"))
    work.mkdir(parents=True, exist_ok=True)
    out = work / "bundle"
    if args.source == "arrays":
        child_code = (
            "from litelens.infra.bench.build import _arrays_child; "
            f"_arrays_child({args.rows}, {args.seed}, {str(out)!r}, {args.epochs!r})"
        )
        command = [sys.executable, "-c", child_code]
    else:
        started = time.perf_counter()
        numbers, codes, y = make_columns(args.rows, args.seed)
        if args.no_missing:
            numbers = np.where(np.isnan(numbers), 0.0, numbers)
            codes = np.where(codes < 0, 0, codes).astype(np.int16)
        csv_path = work / f"mixed_{args.rows}.csv"
        write_csv(csv_path, numbers, codes, y, strings=args.categories == "strings")
        del numbers, codes, y
        size = csv_path.stat().st_size / 2**20
        print(f"wrote {csv_path} ({size:.0f} MiB) in {time.perf_counter() - started:.1f} s", flush=True)
        command = [sys.executable, "-m", "litelens.infra.cli", "build", "--data", str(csv_path), "--target", TARGET]
        command += ["--out", str(out), "--force"] + (["--epochs", str(args.epochs)] if args.epochs else [])
    print("running: " + " ".join(command), flush=True)
    code, wall, stages, _ = run_build(command)
    print(f"\nbuild of {args.rows} rows x 30 columns ({args.source}): exit {code}")
    print(f"  {'stage':<14}{'seconds':>9}  {'peak RSS MB':>12}")
    for name, seconds, rss in stages:
        print(f"  {name:<14}{seconds:>9.1f}  {(f'{rss:.0f}' if rss else '-'):>12}")
    total_rss = stages[-1][2] or 0.0
    print(
        f"  targets: wall <= {TARGETS['seconds']:.0f} s ({'ok' if wall <= TARGETS['seconds'] else 'MISSED'}), "
        f"peak RSS <= {TARGETS['rss_mb']:.0f} MB ({'ok' if total_rss <= TARGETS['rss_mb'] else 'MISSED'})"
        + ("" if args.rows == 1_000_000 else f" (targets are for 1000000 rows; this run had {args.rows})")
    )
    return ExitCode.OK if code == 0 else ExitCode.FAILED
