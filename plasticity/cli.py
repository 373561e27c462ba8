"""The ``plasticity`` command: list and run studies, run benchmarks.

    plasticity study list
    plasticity study run NAME [--quick] [--out DIR] [--scheduler ADDR] [--seed N] [--max-workers N]
    plasticity bench [NAME [ARGS...]]
    plasticity warmup [FAMILY ...]

Also ``python -m plasticity``. Exit codes: 0 done, 1 a study finished with failed points or a
benchmark failed, 2 a usage error (unknown study or benchmark, missing command).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

__all__ = ["main"]


def _benchmarks_dir() -> Path:
    """``benchmarks/`` beside the package: present in a source checkout (``pip install -e .``)."""
    return Path(__file__).resolve().parent.parent / "benchmarks"


def _parser() -> argparse.ArgumentParser:
    from plasticity import __version__
    from plasticity.study import study_parser

    parser = argparse.ArgumentParser(
        prog="plasticity",
        description="Homeostatic plasticity rules on recurrent rate and spiking networks: studies and benchmarks.",
        epilog="Each command has its own --help, e.g. `plasticity study run --help`.")
    parser.add_argument("--version", action="version", version=f"plasticity {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    study = commands.add_parser("study", help="list or run the studies (a sweep, a table and figures each)",
                                description="List or run the registered studies (this project's and those other installed "
                                            "packages register in the entry-point group `plasticity.studies`). "
                                            "Each writes its figures (PNG and PDF) and results table into --out.")
    study.set_defaults(print_study_help=study.print_help)
    study_commands = study.add_subparsers(dest="study_command", metavar="SUBCOMMAND")
    study_commands.add_parser("list", help="each study with one line of what it shows",
                              description="List every study with one line of what it shows.")
    run = study_commands.add_parser(
        "run", help="run one study (sweep, tables, figures)", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run the study NAME: its sweep (resumable: a rerun computes only what is missing), then its "
                    "tables and figures in --out. The options after NAME go to the study:",
        epilog=study_parser("NAME").format_help())
    run.add_argument("name", metavar="NAME", help="the study (see `plasticity study list`)")
    run.add_argument("args", nargs=argparse.REMAINDER, help="options for the study (see below)")

    warm = commands.add_parser(
        "warmup", help="compile the numba kernels ahead of a first run (in parallel)",
        description="Compile the numba kernels of each family (rate, populations, spiking, metrics) on tiny "
                    "networks, one process per core, so that the next run starts from the on-disk cache.")
    warm.add_argument("families", metavar="FAMILY", nargs="*", help="families to compile (default: all)")

    bench = commands.add_parser(
        "bench", help="run a benchmark of benchmarks/ (source checkout only)",
        description="Run benchmarks/bench_NAME.py (ratios against baselines measured in the same run). Without "
                    "NAME, list the benchmarks. Needs the source checkout: benchmarks are not installed.")
    bench.add_argument("name", metavar="NAME", nargs="?", help="the benchmark, e.g. `sweep` for bench_sweep.py")
    bench.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the benchmark script")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``plasticity`` console script; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "study":
        return _study(args, parser)
    if args.command == "bench":
        return _bench(args.name, args.args)
    if args.command == "warmup":
        from plasticity.warmup import warmup

        try:
            times = warmup(args.families or None)
        except ValueError as e:
            print(f"plasticity {e}", file=sys.stderr)
            return 2
        for name, seconds in times.items():
            print(f"{name:<12} {seconds:6.1f} s")
        return 0
    parser.print_help(sys.stderr)
    return 2


def _study(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from plasticity.study_registry import ENTRY_POINT_GROUP, find_studies, load_study

    known = find_studies()
    if args.study_command == "list":
        if not known:
            print(f"no studies registered (entry-point group {ENTRY_POINT_GROUP!r}); is the package installed?")
            return 0
        width = max(map(len, known))
        for name, entry in known.items():
            print(f"{name:<{width}}  {entry.description}")
        return 0
    if args.study_command == "run":
        if args.name not in known:
            print(f"plasticity study run: unknown study {args.name!r}; known studies: {', '.join(known) or '(none)'}",
                  file=sys.stderr)
            return 2
        table = load_study(args.name).main(list(args.args))
        failed = getattr(table, "get", lambda *_: None)("error")
        if failed is not None and failed.notna().any():
            return 1
        return 0
    args.print_study_help(sys.stderr)  # no subcommand: usage on stderr, exit code 2 (like `plasticity`)
    return 2


def _bench(name: str | None, args: list[str]) -> int:
    root = _benchmarks_dir()
    if not root.is_dir():
        print(f"plasticity bench: no benchmarks directory at {root}. Benchmarks are not installed with the "
              "package; run them from a source checkout (git clone, then `pip install -e .`).", file=sys.stderr)
        return 2
    available = sorted(p.stem[len("bench_"):] for p in root.glob("bench_*.py"))
    if name is None:
        for b in available:
            print(b)
        return 0
    if name not in available:
        print(f"plasticity bench: unknown benchmark {name!r}; available: {', '.join(available) or '(none)'}",
              file=sys.stderr)
        return 2
    return subprocess.call([sys.executable, str(root / f"bench_{name}.py"), *args], cwd=root.parent)
