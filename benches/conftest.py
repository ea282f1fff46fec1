"""Fixtures for the link benchmarks: inputs built once per session, and a
summary printed at the end with each link's median time, peak memory and its
ratio to GNU ld's time in the same run.

Run with ``python -m pytest benches`` (not part of the default ``pytest``
run).  ``--link-table=FILE`` also writes the summary as a markdown table.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import benchlib

from benchlib import INPUT_ORDER, LINKER_ORDER, RESULTS


def pytest_addoption(parser):
    parser.addoption("--link-table", default=None, metavar="FILE",
                     help="write the link-time summary as a markdown table to FILE")
    parser.addoption("--runtime-rounds", type=int, default=5, metavar="N",
                     help="runs of each output in test_runtime.py (default 5)")


@pytest.fixture(scope="session")
def bench_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("bench")


@pytest.fixture(scope="session")
def inputs(bench_dir):
    """Build every bench input once: name -> {linker: [paths]}, plus an
    expected (stdout, status) used to check every linker's output."""
    from tinyelf.tools import toolchain
    built: dict[str, dict] = {}
    have_rustc = benchlib.rustc_sysroot() is not None
    if have_rustc:
        hello = toolchain.compile_rust(benchlib.SAMPLES / "hello.rs", bench_dir / "hello.o")
        built["hello"] = {"tinyelf": [hello], "peers": [hello], "core": False,
                          "expect": (b"Hello, world!\n", 0), "args": ()}
        obj = Path(toolchain.compile_rust(benchlib.SAMPLES / "prodfactors.rs",
                                          bench_dir / "prodfactors.o"))
        args = ("600851475143", "12")
        expect = (b"600851475143: 71 839 1471 6857\n12: 2 2 3\n", 0)
        ins = benchlib.rust_link_inputs(obj, bench_dir)
        built["core"] = {**ins, "core": True, "expect": expect, "args": args}
    gen = bench_dir / "gen"
    gen.mkdir(exist_ok=True)
    # compile the 8 units two at a time (2 cores), once
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda k: benchlib.build_unit(gen, k), range(8)))
    for scale in (1, 2, 4, 8):
        objs = [str(p) for p in benchlib.build_generated(gen, scale)]
        built[f"gen{scale}x"] = {"tinyelf": objs, "peers": objs, "core": False,
                                 "expect": (b"", benchlib.expected_status(scale)), "args": ()}
    return built


def startup_line(rounds: int = 9) -> str:
    """The floor under every tinyelf time: this interpreter doing nothing
    (``python -c pass``), and importing tinyelf's link modules and lief."""
    import statistics
    import sys

    def median(code):
        return statistics.median(benchlib.timed_run([sys.executable, "-c", code])[0]
                                 for _ in range(rounds))
    bare = median("pass")
    mods = median("import tinyelf.linker.driver, tinyelf.cli, tinyelf.commands.pack, "
                  "tinyelf.elf.reader, tinyelf.elf.archive")
    lief = median("import lief")
    return (f"interpreter start-up (`python -c pass`): {bare:.3f} s; with tinyelf's link "
            f"modules imported: {mods:.3f} s; with lief imported: {lief:.3f} s "
            f"(included in every tinyelf time above)")


def summary_lines() -> list[str]:
    if not RESULTS:
        return []
    names = {"hello": "(a) Rust hello", "core": "(b) Rust + libcore",
             "gen1x": "(c) generated 1x", "gen2x": "(c) generated 2x",
             "gen4x": "(c) generated 4x", "gen8x": "(c) generated 8x"}
    lines = ["| input | " + " | ".join(f"{l} wall / CPU s (peak MiB)" for l in LINKER_ORDER)
             + " | tinyelf/ld wall | tinyelf/ld CPU | tinyelf --verify/ld wall |",
             "| --- |" + " ---: |" * (len(LINKER_ORDER) + 3)]
    for inp in INPUT_ORDER:
        row = [names[inp]]
        for lk in LINKER_ORDER:
            r = RESULTS.get((inp, lk))
            row.append(f"{r['median']:.3f} / {r['cpu']:.3f} ({r['maxrss'] / 1024:.0f})"
                       if r else "-")
        t, l = RESULTS.get((inp, "tinyelf")), RESULTS.get((inp, "ld"))
        row.append(f"{t['median'] / l['median']:.0f}x" if t and l else "-")
        row.append(f"{t['cpu'] / max(l['cpu'], 1e-3):.0f}x" if t and l else "-")
        n = RESULTS.get((inp, "tinyelf --verify"))
        row.append(f"{n['median'] / l['median']:.0f}x" if n and l else "-")
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines.append(startup_line())
    one, eight = RESULTS.get(("gen1x", "tinyelf")), RESULTS.get(("gen8x", "tinyelf"))
    if one and eight:
        lines.append("")
        lines.append(f"tinyelf growth: the 8x input takes {eight['median'] / one['median']:.1f}x "
                     f"the wall time ({eight['cpu'] / one['cpu']:.1f}x the CPU time) of the 1x input")
        l1, l8 = RESULTS.get(("gen1x", "ld")), RESULTS.get(("gen8x", "ld"))
        if l1 and l8:
            lines.append(f"GNU ld growth: {l8['median'] / l1['median']:.1f}x wall, "
                         f"{l8['cpu'] / max(l1['cpu'], 1e-3):.1f}x CPU")
    return lines


def _runtime_summary(terminalreporter):
    import sys
    mod = sys.modules.get("test_runtime")
    results = dict(getattr(mod, "RUNTIME_RESULTS", {}) or {})
    meta = results.pop("_meta", None)
    if not results or meta is None:
        return
    terminalreporter.section("output run time (CPU time / GNU ld's, median of paired runs)")
    for line in mod.runtime.table(results, *meta).splitlines():
        terminalreporter.write_line(line)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    _runtime_summary(terminalreporter)
    lines = summary_lines()
    if not lines:
        return
    terminalreporter.section("link times (median wall, peak RSS) and tinyelf/ld")
    for line in lines:
        terminalreporter.write_line(line)
    out = config.getoption("--link-table")
    if out:
        Path(out).write_text("\n".join(lines) + "\n")
