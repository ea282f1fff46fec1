"""Archives: member selection, index formats, malformed archives."""
from __future__ import annotations

import struct
import subprocess

import pytest

from tinyelf.linker import driver
from tinyelf.elf.archive import read_archive
from tinyelf.errors import InputError
from tinyelf.linker.model import LinkOptions

from asmutil import assemble, requires_as
from conftest import run_exe, run_tinyelf

pytestmark = requires_as

MAIN = """
    .globl _start
_start:
    call used
    mov %eax, %edi
    mov $60, %eax
    syscall
"""
USED = """
    .globl used
    .section .text.used,"ax"
used:
    call helper_with_a_long_name
    add $2, %eax
    ret
"""
HELPER = """
    .globl helper_with_a_long_name
    .section .text.helper,"ax"
helper_with_a_long_name:
    mov $40, %eax
    ret
"""
UNUSED = """
    .globl unused
    .section .text.unused,"ax"
unused:
    call never_defined_anywhere
    ret
"""


@pytest.fixture
def objs(tmp_path):
    return {
        "main": assemble(MAIN, tmp_path / "main.o"),
        "used": assemble(USED, tmp_path / "used.o"),
        "helper": assemble(HELPER, tmp_path / "helper_member_with_a_long_file_name.o"),
        "unused": assemble(UNUSED, tmp_path / "unused.o"),
    }


def ar(path, *members, flags="rcs"):
    subprocess.run(["ar", flags, str(path), *map(str, members)], check=True)
    return path


def link_and_run(tmp_path, inputs):
    lk = driver.run(inputs, LinkOptions())
    exe = tmp_path / "prog"
    exe.write_bytes(lk.output)
    exe.chmod(0o755)
    return lk, run_exe(exe)[1]


def names(lk):
    return sorted(o.name for o in lk.objects)


@pytest.mark.parametrize("flags", ["rcs", "rcS"], ids=["index", "no-index"])
def test_only_needed_members_are_pulled(tmp_path, objs, flags):
    lib = ar(tmp_path / "libx.a", objs["unused"], objs["used"], objs["helper"], flags=flags)
    assert read_archive(str(lib), lib.read_bytes()).has_index == (flags == "rcs")
    lk, status = link_and_run(tmp_path, [objs["main"], lib])
    assert status == 42
    assert names(lk) == sorted([str(objs["main"]), "libx.a(used.o)",
                                "libx.a(helper_member_with_a_long_file_name.o)"])


def test_archive_before_objects_and_across_archives(tmp_path, objs):
    """Order does not matter: archives are searched to a fixed point."""
    liba = ar(tmp_path / "liba.a", objs["used"])
    libb = ar(tmp_path / "libb.a", objs["helper"], objs["unused"])
    _lk, status = link_and_run(tmp_path, [libb, liba, objs["main"]])
    assert status == 42


def test_unused_members_undefined_refs_not_reported(tmp_path, objs):
    lib = ar(tmp_path / "libx.a", objs["unused"], objs["used"], objs["helper"])
    proc = run_tinyelf("pack", objs["main"], lib, "-o", tmp_path / "prog")
    assert proc.returncode == 0, proc.stderr
    assert "never_defined_anywhere" not in proc.stderr


def test_pulled_member_undefined_refs_are_reported(tmp_path, objs):
    lib = ar(tmp_path / "libx.a", objs["used"])
    proc = run_tinyelf("pack", objs["main"], lib, "-o", tmp_path / "prog")
    assert proc.returncode == 1
    assert proc.stderr.startswith("tinyelf: error: undefined symbol: helper_with_a_long_name, "
                                  "referenced from libx.a(used.o):.text.used")
    assert not (tmp_path / "prog").exists()


def test_member_returned_once(tmp_path, objs):
    lib = ar(tmp_path / "libx.a", objs["used"], objs["helper"])
    a = read_archive(str(lib), lib.read_bytes())
    first = a.lookup("used")
    assert first is not None and first.name == "libx.a(used.o)" and first.from_archive
    assert a.lookup("used") is None
    assert a.lookup("no_such_symbol") is None


@pytest.mark.parametrize("flags", ["rcs", "rcS"], ids=["index", "no-index"])
def test_defines_pulls_nothing(tmp_path, objs, flags):
    """defines() answers from the index (or the members' symbol tables) and
    leaves the member for lookup(); the link still pulls it and runs."""
    lib = ar(tmp_path / "libx.a", objs["used"], objs["helper"], flags=flags)
    a = read_archive(str(lib), lib.read_bytes())
    assert a.defines("used") and a.defines("helper_with_a_long_name")
    assert not a.defines("no_such_symbol") and not a.defines("_start")
    assert a.pulled == [] and not any(m.loaded for m in a.members)
    assert a.lookup("used").name == "libx.a(used.o)"
    assert a.defines("used")         # still defined, even once pulled
    _lk, status = link_and_run(tmp_path, [objs["main"], lib])
    assert status == 42


def test_non_object_members_skipped(tmp_path, objs):
    """Like an rlib's lib.rmeta: text members are never loaded."""
    meta = tmp_path / "lib.rmeta"
    meta.write_bytes(b"rust metadata, not an object\n")
    lib = ar(tmp_path / "libx.rlib", meta, objs["used"], objs["helper"], flags="rcS")
    _lk, status = link_and_run(tmp_path, [objs["main"], lib])
    assert status == 42


def test_thin_archive_rejected(tmp_path, objs):
    lib = ar(tmp_path / "libthin.a", objs["used"], flags="rcT")
    proc = run_tinyelf("pack", objs["main"], lib, "-o", tmp_path / "prog")
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and "libthin.a: is a thin archive" in lines[0]


# ---- archives written by hand: /SYM64/, BSD, and broken ones ----------------

def _hdr(name: bytes, size: int) -> bytes:
    return b"%-16s%-12s%-6s%-6s%-8s%-10d`\n" % (name, b"0", b"0", b"0", b"644", size)


def _pad(b: bytes) -> bytes:
    return b + b"\n" * (len(b) & 1)


def gnu_archive(members, index_kind="/", syms=None):
    """members: [(name, bytes)]; syms: [(symbol, member position)]."""
    longnames = b"".join(n.encode() + b"/\n" for n, _ in members)
    body, offsets, lpos = [], [], 0
    for n, data in members:
        body.append((b"/%d" % lpos, data))
        lpos += len(n) + 2
    w = 4 if index_kind == "/" else 8
    syms = syms or []
    index_size = w + w * len(syms) + sum(len(s) + 1 for s, _ in syms)
    pos = 8 + 60 + index_size + (index_size & 1) + 60 + len(longnames) + (len(longnames) & 1)
    for nm, data in body:
        offsets.append(pos)
        pos += 60 + len(data) + (len(data) & 1)
    fmt = ">I" if w == 4 else ">Q"
    index = struct.pack(fmt, len(syms)) + b"".join(struct.pack(fmt, offsets[i]) for _, i in syms) \
        + b"".join(s.encode() + b"\0" for s, _ in syms)
    out = b"!<arch>\n" + _hdr(index_kind.encode(), len(index)) + _pad(index)
    out += _hdr(b"//", len(longnames)) + _pad(longnames)
    for nm, data in body:
        out += _hdr(nm, len(data)) + _pad(data)
    return out


def bsd_archive(members, syms):
    strs = b"".join(s.encode() + b"\0" for s, _ in syms)
    symdef_name = b"__.SYMDEF SORTED"
    rsize = 8 * len(syms)
    symdef_body = 4 + rsize + 4 + len(strs)
    symdef_total = len(symdef_name) + symdef_body
    pos = 8 + 60 + symdef_total + (symdef_total & 1)
    offsets = []
    for n, data in members:
        offsets.append(pos)
        total = len(n) + len(data)
        pos += 60 + total + (total & 1)
    ranlib, sofs = b"", 0
    for s, i in syms:
        ranlib += struct.pack("<II", sofs, offsets[i])
        sofs += len(s) + 1
    symdef = symdef_name + struct.pack("<I", rsize) + ranlib + struct.pack("<I", len(strs)) + strs
    out = b"!<arch>\n" + _hdr(b"#1/%d" % len(symdef_name), len(symdef)) + _pad(symdef)
    for n, data in members:
        nb = n.encode()
        out += _hdr(b"#1/%d" % len(nb), len(nb) + len(data)) + _pad(nb + data)
    return out


@pytest.mark.parametrize("kind", ["/", "/SYM64/", "bsd"])
def test_handwritten_index_formats(tmp_path, objs, kind):
    members = [("unused.o", objs["unused"].read_bytes()),
               ("used.o", objs["used"].read_bytes()),
               ("helper_member_with_a_long_file_name.o", objs["helper"].read_bytes())]
    syms = [("unused", 0), ("used", 1), ("helper_with_a_long_name", 2)]
    data = bsd_archive(members, syms) if kind == "bsd" else gnu_archive(members, kind, syms)
    a = read_archive("libh.a", data)
    assert a.has_index and [m.name for m in a.members] == [n for n, _ in members]
    lk, status = link_and_run(tmp_path, [objs["main"], ("libh.a", data)])
    assert status == 42
    assert "libh.a(unused.o)" not in names(lk)


def bad(data, tmp_path, objs):
    p = tmp_path / "libbad.a"
    p.write_bytes(data)
    proc = run_tinyelf("pack", objs["main"], p, "-o", tmp_path / "prog")
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("tinyelf: error: "), proc.stderr
    assert "libbad.a" in lines[0]
    assert not (tmp_path / "prog").exists()
    return lines[0]


def lib_error(data):
    with pytest.raises(InputError) as info:
        read_archive("libbad.a", data)
    assert len(info.value.messages) == 1
    msg = info.value.messages[0]
    assert msg.startswith("libbad.a: ") and "\n" not in msg
    return msg


def test_malformed_archive_cli(tmp_path, objs):
    good = gnu_archive([("used.o", objs["used"].read_bytes())], "/", [("used", 0)])
    assert "truncated" in bad(good[:-10], tmp_path, objs)


def test_malformed_archives(objs):
    good = gnu_archive([("used.o", objs["used"].read_bytes())], "/", [("used", 0)])
    assert read_archive("libgood.a", good).members[0].name == "used.o"
    assert "truncated archive" in lib_error(good[:-10])
    assert "truncated member header" in lib_error(good + b"x" * 30)
    broken_fmag = good[:8 + 58] + b"XX" + good[8 + 60:]
    assert "bad member header" in lib_error(broken_fmag)
    bad_size = good[:8 + 48] + b"12z4      " + good[8 + 58:]
    assert "bad size field" in lib_error(bad_size)
    # index entry pointing into the middle of nowhere
    wrong = bytearray(good)
    struct.pack_into(">I", wrong, 8 + 60 + 4, 12345)
    assert "not a member" in lib_error(bytes(wrong))
    # index count larger than the index
    wrong = bytearray(good)
    struct.pack_into(">I", wrong, 8 + 60, 1000)
    assert "symbol index" in lib_error(bytes(wrong))
    # long name outside the name table
    p = good.index(b"/0  ")
    assert "long name" in lib_error(good[:p] + b"/999" + good[p + 4:])


def test_malformed_member_named(tmp_path, objs):
    """A broken object inside an archive is named as archive(member)."""
    data = gnu_archive([("used.o", b"\x7fELF" + b"\2\1" + b"\0" * 10)], "/", [("used", 0)])
    msg = bad(data, tmp_path, objs)
    assert "libbad.a(used.o)" in msg


def test_read_archive_library_errors():
    with pytest.raises(InputError, match="not an ar archive"):
        read_archive("x.a", b"garbage")
