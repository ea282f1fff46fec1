"""Messages for a newcomer's first mistakes (issue 15): each is one
`tinyelf: error:` line that says what to do, status 1, no output file."""
from __future__ import annotations

import os
import subprocess

import pytest

from conftest import SAMPLES, requires_rustc, run_tinyelf
from test_rust_samples import tinyelf_ld


def one_error(proc, out):
    """The single error line of a failed command (status 1, no output)."""
    assert proc.returncode == 1, proc
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("tinyelf: error: "), proc.stderr
    assert not os.path.exists(out)
    return lines[0]


def compile_c(tmp_path, text, name="prog"):
    src = tmp_path / f"{name}.c"
    src.write_text(text)
    obj = tmp_path / f"{name}.o"
    subprocess.run(["gcc", "-c", "-Os", "-fno-asynchronous-unwind-tables", "-o", obj, src],
                   check=True)
    return obj


@requires_rustc
def test_std_rust_object_is_named_once(tmp_path):
    src = tmp_path / "hello.rs"
    src.write_text('fn main() {\n    println!("hi {}", std::env::args().count());\n}\n')
    obj = tmp_path / "hello.o"
    subprocess.run(["rustc", "-C", "panic=abort", "--emit=obj", "-o", obj, src], check=True)
    out = tmp_path / "out"
    line = one_error(run_tinyelf("pack", obj, "-o", out), out)
    assert "uses Rust's std" in line and "#![no_std] #![no_main]" in line
    assert "hello.o" in line and "quick start" in line
    assert "_RNv" not in line and "_ZN" not in line      # no mangled names


@pytest.mark.parametrize("call, name, advice", [
    ('printf("%d\\n", argc)', "printf", "write system call"),
    ('puts("hi")', "puts", "write system call"),
    ("(long)malloc(16)", "malloc", "static arrays"),
    ('strcmp(argv[0], "x")', "strcmp", "your own strcmp"),
])
def test_libc_names_say_there_is_no_c_library(tmp_path, call, name, advice):
    obj = compile_c(tmp_path, "int printf(const char *, ...); int puts(const char *);\n"
                    "void *malloc(unsigned long); int strcmp(const char *, const char *);\n"
                    f"int main(int argc, char **argv) {{ return (int){call}; }}\n")
    out = tmp_path / "out"
    line = one_error(run_tinyelf("pack", obj, "-o", out), out)
    assert f"undefined symbol: {name}, referenced from" in line
    assert "no C library" in line and advice in line


@pytest.mark.parametrize("source", ["hello.c", "hello.rs"])
def test_source_given_to_pack_points_at_build(tmp_path, source):
    out = tmp_path / "out"
    line = one_error(run_tinyelf("pack", SAMPLES / source, "-o", out), out)
    stem = source.split(".")[0]
    assert f"`tinyelf build {SAMPLES / source} -o {stem}`" in line
    assert "not an ELF" not in line


@pytest.mark.parametrize("argv, wanted, help_of", [
    (["pack", "IN", "-o", "OUT", "--reprot"], "did you mean --report?", "tinyelf pack --help"),
    (["pack", "IN", "-o", "OUT", "--layout", "overlap81"], "did you mean overlap80?",
     "tinyelf pack --help"),
    (["build", "IN", "-o", "OUT", "--no-lt0"], "did you mean --no-lto?", "tinyelf build --help"),
    (["size", "OUT", "--jsn"], "did you mean --json?", "tinyelf size --help"),
    (["pak", "IN"], "did you mean pack?", "tinyelf --help"),
])
def test_unknown_option_suggests_the_nearest(tmp_path, argv, wanted, help_of):
    out = tmp_path / "OUT"
    argv = [str(tmp_path / a) if a in ("IN", "OUT") else a for a in argv]
    line = one_error(run_tinyelf(*argv), out)
    assert wanted in line and f"(see '{help_of}')" in line


def test_missing_start_mentions_main(tmp_path):
    obj = compile_c(tmp_path, "int helper(void) { return 1; }\n")
    out = tmp_path / "out"
    line = one_error(run_tinyelf("pack", obj, "-o", out), out)
    assert "entry symbol _start is not defined" in line
    assert "define main" in line and "--entry SYM" in line
