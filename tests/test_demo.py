"""`tinyelf demo`: every sample builds (as `tinyelf build` does), runs, and is
compared with GNU ld on the same inputs, or the demo says in one line why not."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from conftest import SAMPLES, requires_rustc, run_exe

requires_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")

# sample, arguments, stdin, expected stdout, expected exit status
CASES = [
    pytest.param("hello.rs", (), b"", b"Hello, world!\n", 0, marks=requires_rustc),
    pytest.param("exit.rs", (), b"", b"", 42, marks=requires_rustc),
    pytest.param("hello.c", (), b"", b"Hello, world!\n", 0, marks=requires_gcc),
    pytest.param("prodfactors.rs", ("12", "600851475143"), b"",
                 b"12: 2 2 3\n600851475143: 71 839 1471 6857\n", 0, marks=requires_rustc),
    pytest.param("echo.rs", ("tiny", "elf"), b"", b"tiny elf\n", 0, marks=requires_rustc),
    pytest.param("rot13.rs", (), b"Hello\n", b"Uryyb\n", 0, marks=requires_rustc),
    pytest.param("wc.c", (), b"one two\nthree\n", None, 0, marks=requires_gcc),
    pytest.param("main.c", ("a", "b", "c"), b"", None, None, marks=requires_gcc),
    pytest.param("hello.asm", (), b"", b"Hello from asm!\n", 0),
]


def demo(*args, stdin=b""):
    return subprocess.run([sys.executable, "-m", "tinyelf", "demo", *map(str, args)],
                          input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.parametrize("sample, args, stdin, expected, status", CASES)
def test_every_sample(build_dir, sample, args, stdin, expected, status):
    keep = build_dir / f"demo-{sample.replace('.', '_')}"
    proc = demo("-o", keep, SAMPLES / sample, *args, stdin=stdin)
    assert proc.returncode == 0, proc.stderr.decode()
    text = proc.stdout.decode()
    # the program really ran: what the demo shows is what the kept file does
    got = run_exe(keep, *args, stdin=stdin, as_nobody=True)
    if expected is not None:
        assert got[0] == expected
    if status is not None:
        assert got[1] == status
    assert got[0].decode() in text and f"[exit status {got[1]}]" in text, text
    # the sizes printed are the sizes measured
    m = re.search(r"^tinyelf: +(\d+) bytes, ", text, re.M)
    assert m and int(m.group(1)) == keep.stat().st_size, text
    ld = [l for l in text.splitlines() if l.startswith("GNU ld")]
    assert len(ld) == 1, text
    ld = ld[0]
    if sample.endswith(".asm"):
        assert "no comparison" in ld and "GNU ld links only object files" in ld
    elif sample in ("prodfactors.rs", "echo.rs"):
        # rustc's LTO object calls strlen (and bcmp), which tinyelf links itself
        assert "cannot link the same inputs: undefined reference to " in ld and "strlen" in ld
    else:
        m = re.search(r": +(\d+) bytes \((\d+\.\d)x larger\)", ld)
        assert m, ld
        assert f"{int(m.group(1)) / keep.stat().st_size:.1f}" == m.group(2)
        if sample == "main.c":      # no _start: tinyelf adds a start stub, GNU ld does not
            assert "cannot find entry symbol _start" in ld and "does not run" in ld, ld
        else:
            assert ld.endswith("runs the same"), ld


@requires_rustc
def test_readme_first_command_output():
    """The README's fresh-machine command: its numbers come from this run."""
    proc = demo(SAMPLES / "hello.rs")
    assert proc.returncode == 0, proc.stderr.decode()
    text = proc.stdout.decode()
    assert "Hello, world!\n[exit status 0]\n" in text
    size = int(re.search(r"^tinyelf: +(\d+) bytes", text, re.M).group(1))
    assert size <= 97 and "GNU ld (" in text and "runs the same" in text, text


def test_bad_source():
    proc = demo(SAMPLES / "nope.rs")
    assert proc.returncode == 1
    assert proc.stderr.decode().startswith("tinyelf: error: ") and b"nope.rs" in proc.stderr
    assert len(proc.stderr.decode().splitlines()) == 1
