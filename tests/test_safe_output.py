"""Safe outputs: never over an input, never half-written, always 0755."""
from __future__ import annotations

import errno
import io
import os
from contextlib import redirect_stderr

import pytest

from conftest import run_exe, run_tinyelf
from tinyelf import cli
from tinyelf.tools import output
from tinyelf.errors import OutputError


@pytest.fixture
def hello(tmp_path, sample_obj):
    obj = tmp_path / "hello.o"
    obj.write_bytes(sample_obj("hello.c").read_bytes())
    return obj


def no_temporaries(d):
    return not [p for p in os.listdir(d) if p.startswith(".tinyelf-")]


def one_error(proc, *needles):
    assert proc.returncode == 1, proc
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("tinyelf: error: "), proc.stderr
    for n in needles:
        assert n in lines[0], lines[0]


def test_output_in_missing_directory(tmp_path, hello):
    out = tmp_path / "no" / "such" / "dir" / "prog"
    proc = run_tinyelf("pack", hello, "-o", out)
    one_error(proc, str(out), "does not exist", str(tmp_path / "no" / "such" / "dir"))
    assert not (tmp_path / "no").exists()


def test_output_is_a_directory(tmp_path, hello):
    d = tmp_path / "outdir"
    d.mkdir()
    one_error(run_tinyelf("pack", hello, "-o", d), "is a directory")
    assert list(d.iterdir()) == [] and no_temporaries(tmp_path)


def test_output_symlink_to_input_refused(tmp_path, hello):
    before = hello.read_bytes()
    link = tmp_path / "prog"
    link.symlink_to(hello)
    one_error(run_tinyelf("pack", hello, "-o", link), "also an input")
    assert link.is_symlink() and hello.read_bytes() == before


def test_output_hardlink_and_other_spelling_of_input_refused(tmp_path, hello):
    before = hello.read_bytes()
    hard = tmp_path / "hard.o"
    os.link(hello, hard)
    one_error(run_tinyelf("pack", hello, "-o", hard), "also an input")
    sub = tmp_path / "sub"
    sub.mkdir()
    one_error(run_tinyelf("pack", hello, "-o", sub / ".." / "hello.o"), "also an input")
    assert hello.read_bytes() == before


def test_output_symlink_to_other_file_is_replaced_not_followed(tmp_path, hello):
    """The link itself is replaced (rename), the file it pointed to is untouched."""
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    link = tmp_path / "prog"
    link.symlink_to(victim)
    assert run_tinyelf("pack", hello, "-o", link).returncode == 0
    assert victim.read_bytes() == b"precious"
    assert not link.is_symlink()
    assert run_exe(link) == (b"Hello, world!\n", 0)


class _FailingFile(io.RawIOBase):
    """Writes a few bytes, then fails like a full disk (or raises ``exc``)."""

    def __init__(self, real, exc):
        self.real, self.exc = real, exc

    def write(self, data):
        self.real.write(bytes(data[:7]))
        raise self.exc

    def close(self):
        self.real.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


@pytest.mark.parametrize("exc", [OSError(errno.ENOSPC, "No space left on device"),
                                 KeyboardInterrupt()], ids=["ENOSPC", "interrupt"])
def test_interrupted_write_leaves_no_partial_file(tmp_path, hello, monkeypatch, exc):
    out = tmp_path / "prog"
    out.write_bytes(b"old contents")
    real_fdopen = os.fdopen
    monkeypatch.setattr(output.os, "fdopen", lambda fd, mode: _FailingFile(real_fdopen(fd, mode), exc))
    err = io.StringIO()
    with redirect_stderr(err):
        rc = cli.main(["pack", str(hello), "-o", str(out)])
    if isinstance(exc, OSError):
        assert rc == 1
        assert err.getvalue().startswith("tinyelf: error: cannot write ")
        assert "No space left" in err.getvalue()
    else:
        assert rc == 130
    assert out.read_bytes() == b"old contents"      # the old file, whole
    assert no_temporaries(tmp_path)


def test_failed_link_leaves_previous_output_alone(tmp_path, hello):
    out = tmp_path / "prog"
    out.write_bytes(b"old")
    bad = tmp_path / "bad.o"
    bad.write_bytes(hello.read_bytes()[:100])
    assert run_tinyelf("pack", bad, "-o", out).returncode == 1
    assert out.read_bytes() == b"old" and no_temporaries(tmp_path)


def test_output_mode_0755_whatever_the_umask(tmp_path, hello):
    out = tmp_path / "prog"
    old = os.umask(0o077)
    try:
        assert cli.main(["pack", str(hello), "-o", str(out)]) == 0
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o7777 == 0o755
    # replacing a file with other permissions gives 0755 too
    out.chmod(0o600)
    assert cli.main(["pack", str(hello), "-o", str(out)]) == 0
    assert out.stat().st_mode & 0o7777 == 0o755
    assert run_exe(out, as_nobody=True) == (b"Hello, world!\n", 0)


def test_write_atomic_library_errors(tmp_path):
    with pytest.raises(OutputError, match="does not exist"):
        output.write_atomic(tmp_path / "missing" / "x", b"data")
    output.write_atomic(tmp_path / "x", b"data")
    assert (tmp_path / "x").read_bytes() == b"data"
