"""Reports that tell the truth (issue 15 item 4): the GNU ld comparison only
for a GNU ld output that runs, the kernel's page-rounded view of every
segment, and `tinyelf build` naming the user's source, never its temporary
objects."""
from __future__ import annotations

import json
import os
import shutil

import pytest

from conftest import SAMPLES, requires_ld, requires_rustc, run_exe, run_tinyelf
from tinyelf.tools.kernelmap import describe, kernel_view

from test_messages import one_error


def test_kernel_view_numbers():
    # overlap80: one byte named, the whole 101-byte file in one page
    v = kernel_view(0x18, 0x500000018, 1, 1, 101)
    assert v == {"start": 0x500000000, "end": 0x500001000, "file_start": 0,
                 "file_end": 101, "zero_from": 0x500000065}
    assert describe(v, 101) == ("kernel maps 0x500000000-0x500001000 (whole pages): file "
                                "bytes 0x0-0x65 (the whole file), zeros after")
    # bss: the kernel zeroes the page after p_filesz, then maps zero pages
    v = kernel_view(0x78, 0x400078, 0x100, 0x3000, 0x200)
    assert (v["file_end"], v["zero_from"], v["end"]) == (0x178, 0x400178, 0x404000)
    # --wx data segment: memory only
    v = kernel_view(0x1a0, 0x5000011a0, 0, 0x10000, 0x189)
    assert v["file_end"] == v["file_start"] and v["end"] == 0x500012000
    assert "no file bytes" in describe(v, 0x189)


@requires_rustc
def test_overlap80_shows_what_the_kernel_maps(tmp_path):
    """A working 97-byte program whose header says filesz 0x1: every view
    says the kernel maps the whole file."""
    out, mapfile = tmp_path / "hello", tmp_path / "hello.map"
    proc = run_tinyelf("build", SAMPLES / "hello.rs", "-o", out, "--layout", "overlap80",
                       "--report", "--map", mapfile)
    assert proc.returncode == 0, proc.stderr
    assert run_exe(out, as_nobody=True) == (b"Hello, world!\n", 0)
    size = out.stat().st_size
    whole = f"file bytes 0x0-{size:#x} (the whole file)"
    assert "filesz 0x1 memsz 0x1" in proc.stdout and whole in proc.stdout
    assert whole in mapfile.read_text()
    sized = run_tinyelf("size", out)
    assert sized.returncode == 0 and whole in sized.stdout
    seg = json.loads(run_tinyelf("size", out, "--json").stdout)["segments"][0]
    assert seg["kernel"]["file_start"] == 0 and seg["kernel"]["file_end"] == size
    inspected = run_tinyelf("inspect", out, "--color", "never")
    assert inspected.returncode == 0 and whole in inspected.stdout
    assert f"entry {0x500000001:#x} (file offset 0x1)" in inspected.stdout


@requires_ld
def test_gnu_ld_comparison_only_when_its_output_runs(tmp_path, sample_obj):
    # hello.c defines _start: GNU ld's output runs, the report compares
    from tinyelf.tools import toolchain
    obj = sample_obj("hello.c")
    proc = run_tinyelf("pack", obj, "-o", tmp_path / "h", "--json")
    rep = json.loads(proc.stdout)
    ld_out = tmp_path / "h.ld"
    assert rep["gnu_ld"] == toolchain.ld_baseline([obj], ld_out, ["-e", "_start"])
    assert "gnu_ld_missing" not in rep
    assert run_exe(ld_out, as_nobody=True) == (b"Hello, world!\n", 0)
    # main.c defines main only: tinyelf adds its start stub, GNU ld finds no
    # entry symbol and its output does not run: no number, the reason instead
    obj = sample_obj("main.c")
    proc = run_tinyelf("pack", obj, "-o", tmp_path / "m", "--report")
    assert proc.returncode == 0, proc.stderr
    line = next(l for l in proc.stdout.splitlines() if "GNU ld" in l)
    assert line.split() [:3] == ["GNU", "ld", "-"]
    assert "no entry symbol _start" in line and "start stub" in line and "would not run" in line
    assert run_exe(tmp_path / "m", "a", "b", as_nobody=True) == (b"2\n", 3)


@requires_rustc
def test_build_names_the_source_not_its_temporary_objects(tmp_path):
    out, mapfile = tmp_path / "hello", tmp_path / "hello.map"
    src = SAMPLES / "hello.rs"
    proc = run_tinyelf("build", src, "-o", out, "--report", "--map", mapfile)
    assert proc.returncode == 0, proc.stderr
    for text in (proc.stdout, mapfile.read_text()):
        assert "tinyelf-build-" not in text and "rcgu.o" not in text
    assert f"{src}:.text._start" in proc.stdout
    assert f".text._start  {src}" in mapfile.read_text()


def test_build_errors_name_the_source(tmp_path):
    src = tmp_path / "greet.c"
    src.write_text('int puts(const char *);\nvoid _start(void) { puts("hi"); for (;;); }\n')
    out = tmp_path / "greet"
    line = one_error(run_tinyelf("build", src, "-o", out), out)
    assert f"referenced from {src}:.text._start" in line and "no C library" in line
    assert "tinyelf-build-" not in line


@requires_rustc
def test_build_of_a_std_program_says_std_once(tmp_path):
    src = tmp_path / "std.rs"
    src.write_text('fn main() {\n    println!("hi");\n}\n')
    out = tmp_path / "std"
    # without LTO (seconds instead of 40): rustc's link line names libstd-*.rlib
    line = one_error(run_tinyelf("build", src, "-o", out, "--", "-C", "lto=off",
                                 "-C", "relocation-model=static"), out)
    assert "uses Rust's std (rustc passed libstd-" in line and "#![no_std] #![no_main]" in line


def test_std_lto_link_line_is_recognised():
    """With LTO std is inside the crate's object: rustc's C runtime libraries
    on a line with .rcgu.o objects are the evidence."""
    from tinyelf.errors import UnsupportedError
    from tinyelf.tools import ld_driver
    with pytest.raises(UnsupportedError) as info:
        ld_driver.parse(["in1-std.std.abc-cgu.0.rcgu.o", "-lgcc_s", "-lutil", "-lc", "-o", "x"])
    assert info.value.messages == [
        ld_driver.STD_RUST.format(what="rustc passed -lgcc_s -lutil -lc")]
