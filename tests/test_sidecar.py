"""--debug-sidecar: gdb finds function names (and, with -g, source lines)."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from conftest import requires_rustc
from test_linkmap import greet  # noqa: F401  (the shared fixture)

requires_gdb = pytest.mark.skipif(shutil.which("gdb") is None, reason="gdb not installed")


def _gdb(exe, *commands):
    cmd = ["gdb", "-batch", "-nx"]
    for c in commands:
        cmd += ["-ex", c]
    proc = subprocess.run(cmd + ["--args", str(exe), "a"], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=120)
    return proc.stdout


@requires_gdb
def test_gdb_breaks_on_a_function_by_name_and_backtraces(greet):  # noqa: F811
    _obj, exe, _map, debug = greet
    out = _gdb(exe, f"symbol-file {debug}", "break greet", "run", "bt")
    assert "Breakpoint 1, greet" in out, out
    bt = out[out.index("#0"):]
    assert "#0  greet" in bt and "twice" in bt, out
    # the DWARF came along, relocated: source file and line
    assert "greet.c:" in out, out


@requires_gdb
def test_sidecar_symbols_without_dwarf(build_dir, sample_obj):
    from conftest import run_tinyelf
    exe = build_dir / "hello_c_sym"
    debug = build_dir / "hello_c_sym.debug"
    args = ["pack", sample_obj("hello.c"), "-o", exe, "--debug-sidecar", debug]
    proc = run_tinyelf(*args, "--layout", "strict")     # gdb needs readable headers
    if proc.returncode != 0 and "--layout" in proc.stderr:
        proc = run_tinyelf(*args)
    assert proc.returncode == 0, proc.stderr
    out = _gdb(exe, f"symbol-file {debug}", "break _start", "run", "bt")
    assert "Breakpoint 1, " in out and "_start" in out[out.index("#0"):], out


def test_sidecar_is_an_ordinary_elf(greet):  # noqa: F811
    if shutil.which("readelf") is None:
        pytest.skip("readelf not installed")
    debug = greet[3]
    out = subprocess.run(["readelf", "-W", "-S", "-s", str(debug)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    assert out.returncode == 0 and not out.stderr, out.stderr
    for name in (".text", ".symtab", ".strtab", ".debug_info", ".debug_line", ".debug_abbrev",
                 ".debug_str"):
        assert f" {name} " in out.stdout
    assert " greet" in out.stdout and " twice" in out.stdout
    info = subprocess.run(["readelf", "--debug-dump=info", str(debug)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
    assert "greet.c" in info.stdout and "twice" in info.stdout


@requires_gdb
@requires_rustc
def test_rust_dwarf_in_the_sidecar(sample_obj, build_dir):
    from conftest import run_exe, run_tinyelf
    obj = sample_obj("hello.rs", extra=("-C", "debuginfo=2"))
    exe = build_dir / "hello_rs_g"
    debug = build_dir / "hello_rs_g.debug"
    args = ["pack", obj, "-o", exe, "--debug-sidecar", debug]
    proc = run_tinyelf(*args, "--layout", "strict")
    if proc.returncode != 0 and "--layout" in proc.stderr:
        proc = run_tinyelf(*args)
    assert proc.returncode == 0, proc.stderr
    assert run_exe(exe) == (b"Hello, world!\n", 0)
    out = _gdb(exe, f"symbol-file {debug}", "break _start", "run", "bt")
    assert "hello::_start () at " in out and "hello.rs:" in out, out
