"""tinyelf's own reader and lief agree; --no-lief links the same bytes without lief."""
from __future__ import annotations

import glob
import os
import subprocess
import sys

import pytest

from asmutil import requires_as
from conftest import requires_rustc, run_exe, run_tinyelf


def _model(obj):
    secs = [(s.index, s.name, s.type, s.flags, s.size, s.align, bytes(s.data), s.relocs)
            for s in obj.sections if s is not None]
    syms = [(y.name, y.bind, y.type, y.shndx, y.value, y.size) for y in obj.symbols]
    return secs, syms, [(g.signature, g.members) for g in obj.groups], obj.ignored


@pytest.mark.parametrize("source", ["hello.c", pytest.param("hello.rs", marks=requires_rustc)])
def test_both_readers_give_the_same_model(sample_obj, source):
    from tinyelf.elf.reader import read_object
    data = sample_obj(source).read_bytes()
    assert _model(read_object("x.o", data)) == _model(read_object("x.o", data, cross_check=False))


@requires_rustc
def test_both_readers_agree_on_libcore():
    from tinyelf.elf import archive
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
    from tinyelf.tools.ld_driver import parse
    assert parse(["x.o", "-o", "y"]).options.lief is True
    assert parse(["x.o", "-Wl,--no-lief", "-o", "y"]).options.lief is False
    env = dict(os.environ, TINYELF_NO_LIEF="1")
    out = build_dir / "ld_nolief"
    proc = subprocess.run([sys.executable, "-m", "tinyelf.tools.ld_driver", str(sample_obj("hello.c")),
                           "-nostartfiles", "-o", str(out)], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.returncode == 0, proc.stderr
    assert run_exe(out) == (b"Hello, world!\n", 0)


def _many_sections_source(n=70000, first=65260, last=65545):
    """An object with more than 65,279 sections (extended section numbering:
    the counts live in section 0, symbols index SHT_SYMTAB_SHNDX).  _start
    calls a chain of global functions whose sections are numbered
    first..last, across 0xff00-0xffff where plain indices mean SHN_ABS,
    SHN_COMMON ...; each adds 1 on the way back."""
    lines = [".globl _start", '.section .text._start,"ax",@progbits', "_start:",
             f"  call f{first}", "  mov %eax, %edi", "  mov $60, %eax", "  syscall"]
    for i in range(n):
        lines += [f'.section .text.f{i},"ax",@progbits', f".globl f{i}", f"f{i}:"]
        if first <= i < last:
            lines += [f"  call f{i + 1}", "  add $1, %eax", "  ret"]
        elif i == last:
            lines += ["  xor %eax, %eax", "  ret"]
        else:
            lines += ["  ret"]
    return "\n".join(lines) + "\n", (last - first) % 256


@requires_as
def test_extended_section_numbering(tmp_path):
    from asmutil import assemble
    src, status = _many_sections_source()
    obj = assemble(src, tmp_path / "many.o")
    head = subprocess.run(["readelf", "-h", str(obj)], stdout=subprocess.PIPE, text=True,
                          check=True).stdout
    assert "Number of section headers:         0 (70" in head     # really extended
    out = tmp_path / "many"
    r = run_tinyelf("pack", obj, "-o", out)
    assert r.returncode == 0, r.stderr
    assert run_exe(out, as_nobody=True) == (b"", status)
    r = run_tinyelf("pack", "--no-lief", obj, "-o", tmp_path / "many2")
    assert r.returncode == 0 and (tmp_path / "many2").read_bytes() == out.read_bytes()


def test_extended_index_without_its_table_is_corrupt(sample_obj):
    """A symbol with st_shndx = SHN_XINDEX in an object without an
    SHT_SYMTAB_SHNDX table: one error line."""
    import struct
    from tinyelf.elf.defs import SHDR64, SYM64, SHT_SYMTAB
    from tinyelf.elf.reader import read_object
    from tinyelf.errors import InputError
    data = bytearray(sample_obj("hello.c").read_bytes())
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shnum, = struct.unpack_from("<H", data, 0x3c)
    for i in range(shnum):
        h = SHDR64.unpack_from(data, shoff + i * SHDR64.size)
        if h[1] == SHT_SYMTAB:
            off = h[4] + SYM64.size * (h[5] // SYM64.size - 1)     # the last symbol
            struct.pack_into("<H", data, off + 6, 0xFFFF)
    with pytest.raises(InputError) as info:
        read_object("x.o", bytes(data), cross_check=False)
    assert "no SHT_SYMTAB_SHNDX table" in str(info.value)
