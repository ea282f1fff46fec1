"""tinyelf's own reader and lief agree; --no-lief links the same bytes without lief."""
from __future__ import annotations

import glob
import os
import subprocess
import sys

import pytest

from conftest import requires_rustc, run_exe, run_tinyelf


def _model(obj):
    secs = [(s.index, s.name, s.type, s.flags, s.size, s.align, bytes(s.data), s.relocs)
            for s in obj.sections if s is not None]
    syms = [(y.name, y.bind, y.type, y.shndx, y.value, y.size) for y in obj.symbols]
    return secs, syms, [(g.signature, g.members) for g in obj.groups], obj.ignored


@pytest.mark.parametrize("source", ["hello.c", pytest.param("hello.rs", marks=requires_rustc)])
def test_both_readers_give_the_same_model(sample_obj, source):
    from tinyelf.lief_reader import read_object
    data = sample_obj(source).read_bytes()
    assert _model(read_object("x.o", data)) == _model(read_object("x.o", data, cross_check=False))


@requires_rustc
def test_both_readers_agree_on_libcore():
    from tinyelf import archive
    sysroot = subprocess.run(["rustc", "--print", "sysroot"], stdout=subprocess.PIPE,
                             text=True, check=True).stdout.strip()
    rlib = glob.glob(os.path.join(sysroot, "lib/rustlib/x86_64-unknown-linux-gnu/lib/libcore-*.rlib"))[0]
    data = open(rlib, "rb").read()
    a = archive.read_archive(rlib, data, cross_check=True)
    b = archive.read_archive(rlib, data, cross_check=False)
    for m in range(len(a.members)):
        oa, ob = a._load(a.members[m]), b._load(b.members[m])
        if oa is None:
            assert ob is None
            continue
        assert _model(oa) == _model(ob)


def test_no_lief_links_identical_bytes_without_importing_lief(sample_obj, build_dir):
    obj = sample_obj("hello.c")
    a, b = build_dir / "with_lief", build_dir / "without_lief"
    assert run_tinyelf("pack", obj, "-o", a).returncode == 0
    assert run_tinyelf("pack", obj, "--no-lief", "-o", b).returncode == 0
    assert a.read_bytes() == b.read_bytes()
    assert run_exe(b, as_nobody=True) == (b"Hello, world!\n", 0)
    # lief is really not imported on that path
    code = ("import sys, tinyelf; tinyelf.link([%r], lief=False); "
            "print('lief' in sys.modules)" % str(obj))
    out = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_no_lief_still_validates(tmp_path, sample_obj):
    data = bytearray(sample_obj("hello.c").read_bytes())
    f = tmp_path / "trunc.o"
    f.write_bytes(bytes(data[:200]))
    proc = run_tinyelf("pack", f, "--no-lief", "-o", tmp_path / "out")
    assert proc.returncode == 1
    assert proc.stderr.startswith("tinyelf: error: ") and len(proc.stderr.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_tinyelf_ld_no_lief(sample_obj, build_dir):
    from tinyelf.ld_driver import parse
    assert parse(["x.o", "-o", "y"]).options.lief is True
    assert parse(["x.o", "-Wl,--no-lief", "-o", "y"]).options.lief is False
    env = dict(os.environ, TINYELF_NO_LIEF="1")
    out = build_dir / "ld_nolief"
    proc = subprocess.run([sys.executable, "-m", "tinyelf.ld_driver", str(sample_obj("hello.c")),
                           "-nostartfiles", "-o", str(out)], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.returncode == 0, proc.stderr
    assert run_exe(out) == (b"Hello, world!\n", 0)
