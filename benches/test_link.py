"""Link speed and peak memory: tinyelf against GNU ld, gold and rust-lld on
the same inputs in the same run.

Every link is a child process (tinyelf as ``python -m tinyelf pack``, so
interpreter start-up and imports count, as they do inside cargo); its peak
RSS is the ru_maxrss of one more run (see benchlib.peak_rss_kib).  Each output is run once and must print and exit as
expected, so a fast wrong link cannot look good.
"""
from __future__ import annotations

import statistics

import pytest

import benchlib
from benchlib import INPUT_ORDER, LINKER_ORDER, record

LINKERS = benchlib.linkers()
ROUNDS = {"hello": 7, "core": 7, "gen1x": 5, "gen2x": 5, "gen4x": 3, "gen8x": 3}


@pytest.mark.parametrize("linker", LINKER_ORDER)
@pytest.mark.parametrize("input_name", INPUT_ORDER)
def test_link(benchmark, inputs, bench_dir, input_name, linker):
    if input_name not in inputs:
        pytest.skip("rustc is not installed")
    cmd = LINKERS[linker]
    if cmd is None:
        pytest.skip(f"{linker} is not installed")
    spec = inputs[input_name]
    out = bench_dir / f"{input_name}-{linker}"
    files = spec["tinyelf"] if linker.startswith("tinyelf") else spec["peers"]
    extra = benchlib.EH_PERSONALITY if spec["core"] and linker in ("gold", "rust-lld") else []
    full = [*cmd, *extra, "-o", str(out), *files]

    _wall, _cpu, status, err = benchlib.timed_run(full)
    assert status == 0, f"{linker} failed on {input_name}:\n{err}"
    got = benchlib.run_exe(out, *spec["args"])
    assert got == spec["expect"], f"{linker}'s output of {input_name} misbehaves: {got}"
    peak = benchlib.peak_rss_kib(full)

    times, cpu = [], []

    def one_link():
        w, c, s, e = benchlib.timed_run(full)
        assert s == 0, e
        times.append(w)
        cpu.append(c)

    benchmark.group = input_name
    benchmark.name = f"{input_name}[{linker}]"
    benchmark.pedantic(one_link, rounds=ROUNDS[input_name], iterations=1)
    benchmark.extra_info["peak_rss_kib"] = peak
    benchmark.extra_info["output_bytes"] = out.stat().st_size
    benchmark.extra_info["cpu_median_s"] = statistics.median(cpu)
    record(input_name, linker, times, cpu, peak)
