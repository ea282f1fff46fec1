"""Run-time benchmark under ``python -m pytest benches``: every program of
benches/runtime.py linked by GNU ld and by tinyelf each way, checked to print
and exit alike, timed in interleaved rounds (``--runtime-rounds``, default 5;
the script's default of 15 is what docs/runtime.md reports).  The summary
table is printed at the end; nothing here asserts a speed (a shared machine
is too noisy for that: the numbers go to docs/runtime.md)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("runtime_bench",
                                               Path(__file__).with_name("runtime.py"))
runtime = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(runtime)

RUNTIME_RESULTS: dict = {}


@pytest.mark.parametrize("name", list(runtime.PROGRAMS))
def test_runtime(name, bench_dir, request):
    rounds = request.config.getoption("--runtime-rounds")
    configs = runtime.available_configs()
    RUNTIME_RESULTS[name] = runtime.bench_program(name, configs, rounds, bench_dir / "runtime",
                                                  runtime.os.cpu_count() - 1)
    RUNTIME_RESULTS["_meta"] = (configs, rounds)
