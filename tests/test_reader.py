"""tinyelf's own reader and lief agree (lief reads every object of the
samples and of libcore into the same model); links never import lief unless
asked (--verify), and give the same bytes either way."""
from __future__ import annotations

import glob
import os
import subprocess
import sys
from pathlib import Path

import pytest

from asmutil import requires_as
from conftest import requires_rustc, run_exe, run_tinyelf

STT_SECTION = 3


def _ours(obj):
    """tinyelf's model in lief_model's shape (kept sections only)."""
    secs = {s.index: (s.name, s.type, s.flags, s.size, s.align, bytes(s.data))
            for s in obj.sections if s is not None}
    relocs = {s.index: [tuple(r) for r in s.relocs] for s in obj.sections
              if s is not None and s.relocs}
    syms = [(y.name if y.type != STT_SECTION else "", y.bind, y.type, y.shndx, y.value, y.size)
            for y in obj.symbols]
    return secs, relocs, syms


def _lief_view(name, data, kept):
    from tinyelf.elf.lief_check import lief_model
    m = lief_model(name, data)
    secs = {i: m["sections"][i] for i in kept}
    relocs = {i: m["relocs"][i] for i in kept if m["relocs"].get(i)}
    syms = [(n if t != STT_SECTION else "", b, t, x, v, z) for n, b, t, x, v, z in m["symbols"]]
    return secs, relocs, syms


def _assert_same(name, data, obj):
    secs, relocs, syms = _ours(obj)
    l_secs, l_relocs, l_syms = _lief_view(name, data, secs)
    assert secs == l_secs
    assert relocs == l_relocs
    assert syms == l_syms


@pytest.mark.parametrize("source", ["hello.c", "wc.c",
                                    pytest.param("hello.rs", marks=requires_rustc),
                                    pytest.param("prodfactors.rs", marks=requires_rustc)])
def test_lief_reads_the_same_model(sample_obj, source):
    from tinyelf.elf.reader import read_object
    data = sample_obj(source).read_bytes()
    obj = read_object("x.o", data)
    _assert_same("x.o", data, obj)
    # --verify's cross-check passes, and changes nothing in the model
    assert _ours(read_object("x.o", data, cross_check=True)) == _ours(obj)


@requires_rustc
def test_lief_reads_libcore_the_same():
    from tinyelf.elf import archive
    sysroot = subprocess.run(["rustc", "--print", "sysroot"], stdout=subprocess.PIPE,
                             text=True, check=True).stdout.strip()
    rlib = glob.glob(os.path.join(sysroot, "lib/rustlib/x86_64-unknown-linux-gnu/lib/libcore-*.rlib"))[0]
    data = open(rlib, "rb").read()
    a = archive.read_archive(rlib, data, cross_check=True)
    checked = 0
    for m in a.members:
        obj = a._load(m)
        if obj is None:
            continue
        _assert_same(obj.name, bytes(a.member_data(m)), obj)
        checked += 1
    assert checked


def test_cross_check_names_the_field_that_differs(sample_obj, monkeypatch):
    from tinyelf.elf import lief_check
    from tinyelf.elf.reader import read_object
    from tinyelf.errors import InputError
    data = sample_obj("hello.c").read_bytes()
    real = lief_check._lief_view

    def tampered(binary):
        secs, syms = real(binary)
        syms[-1] = syms[-1][:2] + (syms[-1][2] + 1,) + syms[-1][3:]
        return secs, syms
    monkeypatch.setattr(lief_check, "_lief_view", tampered)
    with pytest.raises(InputError) as info:
        read_object("x.o", data, cross_check=True)
    msg = str(info.value)
    assert msg.startswith("x.o: symbol ") and "reads differently in lief" in msg and "size" in msg


def test_default_link_never_imports_lief(sample_obj, build_dir):
    """pack, the library and tinyelf-ld: no lief (its import is 0.5-1.2 s from
    0.16 on); --verify imports it and links the same bytes; --no-lief is the
    default, kept for old command lines."""
    obj = sample_obj("hello.c")
    outs = {flag: build_dir / f"verify{flag}" for flag in ("", "--verify", "--no-lief")}
    code = ("import sys; from tinyelf import cli; "
            "s = cli.main(sys.argv[1:]); print('lief' in sys.modules, s)")
    for flag, out in outs.items():
        argv = ["pack", str(obj), "-o", str(out)] + ([flag] if flag else [])
        r = subprocess.run([sys.executable, "-c", code, *argv], stdout=subprocess.PIPE,
                           text=True, check=True)
        assert r.stdout.split() == [str(flag == "--verify"), "0"], flag
    assert len({o.read_bytes() for o in outs.values()}) == 1
    assert run_exe(outs[""], as_nobody=True) == (b"Hello, world!\n", 0)
    code = ("import sys, tinyelf, tinyelf.tools.ld_driver as d; tinyelf.link([%r]); "
            "d.link(d.parse([%r, '-o', %r])); print('lief' in sys.modules)"
            % (str(obj), str(obj), str(build_dir / "verify-ld")))
    out = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_verify_still_validates(tmp_path, sample_obj):
    data = bytearray(sample_obj("hello.c").read_bytes())
    f = tmp_path / "trunc.o"
    f.write_bytes(bytes(data[:200]))
    for flag in ("--verify", "--no-lief"):
        proc = run_tinyelf("pack", f, flag, "-o", tmp_path / "out")
        assert proc.returncode == 1
        assert proc.stderr.startswith("tinyelf: error: ") and len(proc.stderr.splitlines()) == 1
        assert not (tmp_path / "out").exists()


def test_tinyelf_ld_verify(sample_obj, build_dir, monkeypatch):
    from tinyelf.tools.ld_driver import parse
    monkeypatch.delenv("TINYELF_VERIFY", raising=False)
    monkeypatch.delenv("TINYELF_NO_LIEF", raising=False)
    assert parse(["x.o", "-o", "y"]).options.lief is False
    assert parse(["x.o", "-Wl,--verify", "-o", "y"]).options.lief is True
    assert parse(["x.o", "-Wl,--no-lief", "-o", "y"]).options.lief is False
    monkeypatch.setenv("TINYELF_VERIFY", "1")
    assert parse(["x.o", "-o", "y"]).options.lief is True
    monkeypatch.setenv("TINYELF_NO_LIEF", "1")
    assert parse(["x.o", "-o", "y"]).options.lief is False
    env = dict(os.environ, TINYELF_VERIFY="1")
    env.pop("TINYELF_NO_LIEF")
    out = build_dir / "ld_verify"
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
    r = run_tinyelf("pack", "--verify", obj, "-o", tmp_path / "many2")
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


# ---- ELF32 (i386): REL and RELA ------------------------------------------------------------

I386_SEEDS = Path(__file__).resolve().parent / "fuzz" / "seeds"
I386_OBJECTS = sorted(p for p in I386_SEEDS.glob("i386_*/*.o"))


def _rel_to_rela(data: bytes) -> bytes:
    """The ELF32 object with every SHT_REL table turned into SHT_RELA: the
    implicit addend moves into the entry (appended at the end of the file)
    and the field it came from is zeroed, so only a reader of the RELA
    addend links it right."""
    import struct
    from tinyelf import arch as archmod
    i386 = archmod.get("i386")
    buf = bytearray(data)
    shoff, = struct.unpack_from("<I", buf, 32)
    shnum, = struct.unpack_from("<H", buf, 48)
    shdr = struct.Struct("<IIIIIIIIII")
    headers = [list(shdr.unpack_from(buf, shoff + 40 * i)) for i in range(shnum)]
    for i, h in enumerate(headers):
        if h[1] != 9:                                      # SHT_REL
            continue
        target = headers[h[7]]
        table = bytearray()
        for off, info in struct.iter_unpack("<II", bytes(buf[h[4]:h[4] + h[5]])):
            field = target[4] + off
            addend = i386.implicit_addend(buf[target[4]:target[4] + target[5]], off, info & 0xFF)
            size = i386.relocs[info & 0xFF].size
            buf[field:field + size] = bytes(size)
            table += struct.pack("<IIi", off, info, addend)
        buf += bytes(-len(buf) % 4)
        h[1], h[4], h[5], h[9] = 4, len(buf), len(table), 12  # SHT_RELA, offset, size, entsize
        buf += table
    for i, h in enumerate(headers):
        shdr.pack_into(buf, shoff + 40 * i, *h)
    return bytes(buf)


@pytest.mark.parametrize("path", I386_OBJECTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_lief_reads_i386_objects_the_same(path):
    """ELF32 r_info (type in the low byte) and REL's implicit addends: lief and
    tinyelf read the same model, REL as compiled and turned into RELA."""
    from tinyelf.elf.reader import read_object
    data = path.read_bytes()
    obj = read_object("x.o", data)
    assert any(s.relocs for s in obj.sections if s is not None)
    _assert_same("x.o", data, obj)
    assert _ours(read_object("x.o", data, cross_check=True)) == _ours(obj)
    rela = _rel_to_rela(data)
    robj = read_object("r.o", rela, cross_check=True)
    _assert_same("r.o", rela, robj)
    rel_relocs, rela_relocs = _ours(obj)[1], _ours(robj)[1]
    assert list(rel_relocs.values()) == list(rela_relocs.values())


@pytest.mark.parametrize("seed", ("i386_c_multi_pic", "i386_asm_relocs", "i386_rs_hello"))
def test_verify_links_i386_rel_and_rela_the_same(seed, build_dir):
    """``pack --verify`` on i386 objects: the same bytes as without lief; the
    RELA form links too (not always to the same bytes: with the addends out
    of the fields, section contents differ and so may the layout chosen) and
    both programs behave the same, as nobody."""
    d = I386_SEEDS / seed
    objs = sorted(d.iterdir())
    rela_dir = build_dir / f"rela-{seed}"
    rela_dir.mkdir(exist_ok=True)
    rela_objs = []
    for o in objs:
        (rela_dir / o.name).write_bytes(_rel_to_rela(o.read_bytes()))
        rela_objs.append(rela_dir / o.name)
    outs = {}
    for name, inputs, flags in (("plain", objs, ()), ("verify", objs, ("--verify",)),
                                ("rela", rela_objs, ("--verify",))):
        outs[name] = build_dir / f"i386-{seed}-{name}"
        r = run_tinyelf("pack", *inputs, *flags, "-o", outs[name])
        assert r.returncode == 0, r.stderr
    assert outs["plain"].read_bytes() == outs["verify"].read_bytes()
    expect = {"i386_c_multi_pic": (b"multi\n", 222), "i386_asm_relocs": (b"", 0),
              "i386_rs_hello": (b"Hello, world!\n", 0)}[seed]
    assert run_exe(outs["plain"], as_nobody=True) == expect
    assert run_exe(outs["rela"], as_nobody=True) == expect
