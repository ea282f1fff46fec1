#!/usr/bin/env python3
"""How fast tinyelf's outputs run, against GNU ld's link of the same objects.

    python benches/runtime.py                       # 15 rounds, markdown table on stdout
    python benches/runtime.py --rounds 25 --table docs/runtime-table.md
    python benches/runtime.py --programs mix,fmt --configs ld,tinyelf

The programs (``benches/runtime/``) are CPU-bound and freestanding: C built
with ``gcc -O2 -ffunction-sections`` (linked lists, matrices, a tokenizer
state machine with CRCs, sorting, and all four in one) and no_std Rust built
with ``opt-level=3`` (core::fmt formatting; sorting, lists, a CRC, a byte-code
machine, a matrix product) linked with the sysroot's libcore.  Each runs for
a few tenths of a second and prints a checksum.

Every program is linked by GNU ld (``linker_scripts/baseline.ld``, the
differential corpus's flags) and by tinyelf with its defaults, with each
size pass off in turn (``--no-squeeze-align``, ``--no-split-code``,
``--no-fold-functions``, ``--no-merge-strings``, ``--no-holes``) and with
``--every-byte`` when tinyelf has it.  Every output must print and exit as
GNU ld's does before it is timed.

Timing: each round runs every configuration of a program once, in an order
that rotates from round to round, pinned to one CPU (``taskset``), and
measures the child's CPU time (user + system, from ``wait4``: on a shared
machine it moves less than wall time).  A configuration's figure is the
median over rounds of its time divided by GNU ld's time *in the same round*
(paired ratios cancel the load drifts that hit both).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROGS = ROOT / "benches" / "runtime"
sys.path.insert(0, str(ROOT))

from tinyelf.tools import toolchain  # noqa: E402  (flags live in one place)

BASELINE_LD = ROOT / "linker_scripts" / "baseline.ld"
LD = ["ld", *toolchain.LD_BASELINE_FLAGS, "--no-warn-rwx-segments", "-T", str(BASELINE_LD)]

#: C for speed: the code a user who cares about run time compiles
CC_FLAGS = ("-c", "-O2", "-fno-pie", "-ffreestanding", "-fno-stack-protector",
            "-fno-asynchronous-unwind-tables", "-fno-unwind-tables", "-ffunction-sections",
            "-fdata-sections", "-fno-plt")
RUST_FLAGS = tuple("opt-level=3" if f == "opt-level=z" else f for f in toolchain.RUSTC_OBJ_FLAGS)
MEM_FLAGS = ("-c", "-O2", "-fno-pie", "-ffreestanding", "-fno-builtin",
             "-fno-tree-loop-distribute-patterns", "-fno-asynchronous-unwind-tables")

#: name -> source file in benches/runtime
PROGRAMS = {"lists": "lists.c", "matrix": "matrix.c", "fsm": "fsm.c", "sort": "sort.c",
            "mix": "mix.c", "fmt": "fmt.rs", "algo": "algo.rs"}

#: configuration -> tinyelf pack options (None: GNU ld)
CONFIGS = {
    "ld": None,
    "tinyelf": [],
    "--every-byte": ["--every-byte"],
    "--no-squeeze-align": ["--no-squeeze-align"],
    "--no-split-code": ["--no-split-code"],
    "--no-fold-functions": ["--no-fold-functions"],
    "--no-merge-strings": ["--no-merge-strings"],
    "--no-holes": ["--no-holes"],
}


def tinyelf_options() -> str:
    out = subprocess.run([sys.executable, "-m", "tinyelf", "pack", "--help"],
                         capture_output=True, text=True, cwd=ROOT)
    return out.stdout


def available_configs() -> list[str]:
    """The configurations this tinyelf understands (``--every-byte`` is new)."""
    helptext = tinyelf_options()
    return [c for c, opts in CONFIGS.items() if not opts or opts[0] in helptext]


def _run(cmd, **kw) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed:\n{proc.stdout}{proc.stderr}")


def _undefined(obj: Path) -> set[str]:
    out = subprocess.run(["nm", "-u", str(obj)], capture_output=True, text=True, check=True)
    return {line.split()[-1] for line in out.stdout.splitlines() if line.strip()}


def build(name: str, workdir: Path) -> list[str]:
    """Compile program ``name`` into ``workdir``; its link inputs (the same
    files for every linker)."""
    src = PROGS / PROGRAMS[name]
    obj = workdir / f"{name}.o"
    if src.suffix == ".rs":
        _run(["rustc", *RUST_FLAGS, "-o", str(obj), str(src)])
    else:
        _run(["gcc", *CC_FLAGS, "-o", str(obj), str(src)])
    inputs = [str(obj)]
    if _undefined(obj) & {"memcpy", "memmove", "memset", "memcmp", "bcmp"}:
        mem = workdir / "mem.o"
        if not mem.exists():
            _run(["gcc", *MEM_FLAGS, "-o", str(mem),
                  str(ROOT / "tests" / "corpus" / "support" / "mem.c")])
        inputs.append(str(mem))
    if src.suffix == ".rs":
        inputs += toolchain.rust_core_rlibs()
    return inputs


def link(config: str, inputs: list[str], out: Path) -> int:
    """Link ``inputs`` to ``out`` the way ``config`` says; the output's size."""
    opts = CONFIGS[config]
    if opts is None:
        _run([*LD, "-o", str(out), *inputs])
    else:
        _run([sys.executable, "-m", "tinyelf", "pack", *inputs, "-o", str(out), *opts], cwd=ROOT)
    return out.stat().st_size


def run_once(exe: Path, cpu: int | None) -> tuple[float, bytes, int]:
    """(CPU seconds, stdout, exit status) of one run of ``exe``."""
    cmd = [str(exe)]
    if cpu is not None and shutil.which("taskset"):
        cmd = ["taskset", "-c", str(cpu), *cmd]
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL, env={})
        _pid, status, ru = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        return ru.ru_utime + ru.ru_stime, out.read(), proc.returncode


def measure(exes: dict, rounds: int, cpu: int | None) -> dict:
    """config -> list of CPU times, one per round, configs interleaved in an
    order that rotates each round."""
    names = list(exes)
    times = {c: [] for c in names}
    for r in range(rounds):
        k = r % len(names)
        for c in names[k:] + names[:k]:
            t, _out, _status = run_once(exes[c], cpu)
            times[c].append(t)
    return times


def bench_program(name: str, configs: list[str], rounds: int, workdir: Path,
                  cpu: int | None, log=None) -> dict:
    """Build, link every way, check, time.  Returns {config: {"size", "median",
    "ratio"}} (ratio: median of paired ratios to GNU ld's time)."""
    pdir = workdir / name
    pdir.mkdir(parents=True, exist_ok=True)
    inputs = build(name, pdir)
    exes, sizes = {}, {}
    for c in configs:
        exe = pdir / f"{name}.{c.strip('-')}"
        sizes[c] = link(c, inputs, exe)
        exes[c] = exe
    _t, want_out, want_status = run_once(exes["ld"], cpu)
    if want_status != 0 or not want_out:
        raise RuntimeError(f"{name}: GNU ld's output exits {want_status} printing {want_out!r}")
    for c, exe in exes.items():
        _t, out, status = run_once(exe, cpu)
        if (out, status) != (want_out, want_status):
            raise RuntimeError(f"{name}: {c}'s output prints {out!r} and exits {status}; "
                               f"GNU ld's prints {want_out!r} and exits {want_status}")
    times = measure(exes, rounds, cpu)
    base = times["ld"]
    res = {}
    for c in configs:
        ratios = [t / b for t, b in zip(times[c], base)]
        res[c] = {"size": sizes[c], "median": statistics.median(times[c]),
                  "ratio": statistics.median(ratios), "min": min(times[c])}
    if log:
        log(f"{name}: " + ", ".join(f"{c} {res[c]['ratio']:.3f} ({res[c]['size']} B)"
                                    for c in configs))
    return res


def table(results: dict, configs: list[str], rounds: int) -> str:
    """Markdown: one row per program, time ratio and size per configuration."""
    head = ["program", "GNU ld: size, median CPU s"] + [f"{c}: size, time/ld" for c in configs
                                                         if c != "ld"]
    lines = ["| " + " | ".join(head) + " |", "| --- |" + " ---: |" * (len(head) - 1)]
    for name, res in results.items():
        ld = res["ld"]
        row = [name, f"{ld['size']:,} B, {ld['median']:.3f} s"]
        for c in configs:
            if c != "ld":
                row.append(f"{res[c]['size']:,} B, {res[c]['ratio']:.3f}")
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines.append(f"time/ld: median over {rounds} rounds of (this output's CPU time / GNU ld's "
                 "output's CPU time in the same round); sizes in bytes.")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15, help="runs of each output (default 15)")
    ap.add_argument("--programs", default=",".join(PROGRAMS),
                    help=f"comma-separated subset of {','.join(PROGRAMS)}")
    ap.add_argument("--configs", default=None,
                    help=f"comma-separated subset of {','.join(CONFIGS)} (ld is always run)")
    ap.add_argument("--cpu", type=int, default=os.cpu_count() - 1 if os.cpu_count() else None,
                    help="pin the runs to this CPU (default: the last one; -1: no pinning)")
    ap.add_argument("--keep", default=None, help="build in this directory and keep it")
    ap.add_argument("--table", default=None, help="also write the markdown table to this file")
    args = ap.parse_args(argv)
    avail = available_configs()
    configs = avail if args.configs is None else \
        ["ld"] + [c for c in args.configs.split(",") if c != "ld"]
    unknown = [c for c in configs if c not in avail]
    if unknown:
        ap.error(f"unknown or unsupported configuration(s): {', '.join(unknown)}")
    cpu = None if args.cpu is not None and args.cpu < 0 else args.cpu
    log = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.keep) if args.keep else Path(tmp)
        for name in args.programs.split(","):
            results[name] = bench_program(name, configs, args.rounds, work, cpu, log)
    text = table(results, configs, args.rounds)
    print(text, end="")
    if args.table:
        Path(args.table).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
