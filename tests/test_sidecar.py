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
    proc = run_tinyelf("pack", sample_obj("hello.c"), "-o", exe, "--debug-sidecar", debug)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
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
    proc = run_tinyelf("pack", obj, "-o", exe, "--debug-sidecar", debug)
    assert proc.returncode == 0, proc.stderr
    assert run_exe(exe) == (b"Hello, world!\n", 0)
    out = _gdb(exe, f"symbol-file {debug}", "break _start", "run", "bt")
    assert "hello::_start () at " in out and "hello.rs:" in out, out


# ---- the layout --debug-sidecar picks, and the warning when told otherwise ----

def _layout_of(exe):
    from conftest import run_tinyelf
    proc = run_tinyelf("size", exe)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split("layout ", 1)[1].split(",")[0]


@requires_gdb
def test_default_layout_with_sidecar_loads_in_gdb(build_dir):
    """No --layout: the smallest layout gdb reads (strict), said in the
    report; gdb breaks on a function by name and the backtrace names it."""
    from conftest import run_exe, run_tinyelf
    from test_linkmap import GREET
    src = build_dir / "greet2.c"
    src.write_text(GREET)
    exe, debug = build_dir / "greet2", build_dir / "greet2.debug"
    proc = run_tinyelf("build", src, "-o", exe, "--debug-sidecar", debug, "--report")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert "layout strict: chosen for --debug-sidecar" in proc.stdout, proc.stdout
    assert _layout_of(exe) == "strict"
    assert run_exe(exe, "x", as_nobody=True) == (b"greetings\ngreetings\ngreetings\n", 5)
    out = _gdb(exe, f"symbol-file {debug}", "break greet", "run", "bt")
    assert "Breakpoint 1, " in out and "greet" in out[out.index("#0"):].splitlines()[0], out
    assert "twice" in out[out.index("#0"):], out
    # without the sidecar the same build is squeezed (the choice is the sidecar's)
    small = build_dir / "greet2-small"
    assert run_tinyelf("build", src, "-o", small).returncode == 0
    assert _layout_of(small) != "strict" and small.stat().st_size < exe.stat().st_size


@requires_gdb
def test_explicit_overlapping_layout_with_sidecar_warns(build_dir, sample_obj):
    from conftest import run_exe, run_tinyelf
    exe, debug = build_dir / "hello_o104", build_dir / "hello_o104.debug"
    proc = run_tinyelf("pack", sample_obj("hello.c"), "-o", exe, "--layout", "overlap104",
                       "--debug-sidecar", debug)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("tinyelf: warning: "), proc.stderr
    assert "gdb will not load" in lines[0] and str(exe) in lines[0]
    assert _layout_of(exe) == "overlap104" and debug.exists()
    assert run_exe(exe, as_nobody=True) == (b"Hello, world!\n", 0)
    # the warning tells the truth: gdb does not get to the breakpoint
    out = _gdb(exe, f"symbol-file {debug}", "break _start", "run", "bt")
    assert "Breakpoint 1, " not in out, out
    # strict, asked for explicitly: no warning
    proc = run_tinyelf("pack", sample_obj("hello.c"), "-o", exe, "--layout", "strict",
                       "--debug-sidecar", debug)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
