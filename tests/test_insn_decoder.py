"""tinyelf's x86-64 length decoder (tinyelf/arch/x86_64/insn.py) against capstone.

The code splitter decodes code sections with the opcode tables and asks
capstone only for what they do not cover.  Whatever the tables accept must
read exactly as capstone reads it: the same instruction boundaries, the same
relative targets, and never a terminator capstone does not see (a missed one
only costs a jmp; an invented one would run into the next piece's bytes).
"""
from __future__ import annotations

import glob
import os
import random
import subprocess
import sys

import pytest

from conftest import SAMPLES, requires_rustc, run_exe

from tinyelf import arch as archmod
from tinyelf.arch.x86_64.insn import decode
from tinyelf.elf.defs import SHF_EXECINSTR

X86 = archmod.get("x86_64")
MASK = (1 << 64) - 1


def _norm(insns):
    return [(s, e, m if m in X86.terminators else "", [t & MASK for t in ts]) for s, e, m, ts in insns]


def _agree(ours, theirs) -> bool:
    """Same boundaries and targets; ours names a terminator only where
    capstone names the same one."""
    a, b = _norm(ours), _norm(theirs)
    if [(s, e, t) for s, e, _m, t in a] != [(s, e, t) for s, e, _m, t in b]:
        return False
    return all(not x[2] or x[2] == y[2] for x, y in zip(a, b))


def _code_sections(paths):
    from tinyelf.elf.reader import read_object
    for path in paths:
        obj = read_object(path, open(path, "rb").read(), cross_check=False)
        for sec in obj.sections:
            if sec is not None and sec.flags & SHF_EXECINSTR and not sec.is_nobits and sec.data:
                yield f"{os.path.basename(path)}:{sec.name}", bytes(sec.data)


def _check_sections(paths):
    accepted = total = 0
    for where, data in _code_sections(paths):
        total += 1
        ours = decode(data)
        if ours is None:
            continue
        accepted += 1
        theirs = X86.capstone_insns(data)
        assert theirs is not None and _agree(ours, theirs), where
    return accepted, total


@requires_rustc
def test_agrees_with_capstone_on_libcore_and_compiler_builtins(tmp_path):
    """1,080 code sections of real compiler output; the tables must cover
    nearly all of them, or the fast path is not doing its job."""
    sysroot = subprocess.run(["rustc", "--print", "sysroot"], stdout=subprocess.PIPE,
                             text=True, check=True).stdout.strip()
    libdir = os.path.join(sysroot, "lib/rustlib/x86_64-unknown-linux-gnu/lib")
    paths = []
    for pattern in ("libcore-*.rlib", "libcompiler_builtins-*.rlib"):
        rlib = glob.glob(os.path.join(libdir, pattern))[0]
        dest = tmp_path / pattern.split("-")[0]
        dest.mkdir()
        subprocess.run(["ar", "x", rlib], cwd=dest, check=True)
        paths += sorted(str(p) for p in dest.glob("*.o"))
    accepted, total = _check_sections(paths)
    assert total > 500
    assert accepted >= 0.98 * total, (accepted, total)


FLAGS = ["-O2", "-O3 -mavx2", "-O3 -mavx512f -mavx512bw", "-Os -fPIC", "-O2 -mcmodel=large", "-O0"]


def test_agrees_with_capstone_on_c_with_sse_avx_and_avx512(tmp_path):
    """VEX and EVEX encodings, the large code model, PIC: the corpus's C
    programs at six flag sets."""
    corpus = os.path.join(os.path.dirname(__file__), "corpus")
    sources = sorted(glob.glob(os.path.join(corpus, "progs", "*.c")) +
                     glob.glob(os.path.join(corpus, "support", "*.c")) +
                     [str(p) for p in SAMPLES.glob("*.c")])
    paths = []
    for src in sources:
        for i, fl in enumerate(FLAGS):
            out = tmp_path / f"{os.path.basename(src)}.{i}.o"
            r = subprocess.run(["gcc", "-c", "-ffreestanding", "-fno-stack-protector",
                                "-ffunction-sections", *fl.split(), src, "-o", str(out)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            if r.returncode == 0:
                paths.append(str(out))
    assert len(paths) > 100
    accepted, total = _check_sections(paths)
    assert accepted >= 0.95 * total, (accepted, total)


def test_agrees_with_capstone_on_random_instructions():
    """Random bytes behind common prefixes and escapes: every instruction
    capstone decodes that the tables also accept reads the same, alone and
    at the head of longer byte strings."""
    rng = random.Random(20261126)
    heads = [b"", b"\x66", b"\xf3", b"\xf2", b"\x48", b"\x41", b"\x66\x48", b"\xc5", b"\xc4",
             b"\x0f", b"\x0f\x38", b"\x0f\x3a", b"\x62", b"\x2e", b"\x3e", b"\xff", b"\xf7"]
    _cs, md = archmod.capstone_for(X86)
    checked = 0
    for _ in range(30000):
        data = rng.choice(heads) + rng.randbytes(rng.randint(1, 14))
        insn = next(md.disasm(data, 0), None)
        if insn is None:
            assert decode(data[:1]) is None or len(data) > 1
            continue
        one = data[:insn.size]
        ours = decode(one)
        if ours is None:
            continue
        theirs = X86.capstone_insns(one)
        assert theirs is not None and _agree(ours, theirs), one.hex()
        whole = decode(data)
        if whole is not None:
            assert whole[0][1] == insn.size, data.hex()
        checked += 1
    assert checked > 10000


@pytest.mark.parametrize("code,expect", [
    ("c3", [(0, 1, "ret", [])]),
    ("c21000", [(0, 3, "ret", [])]),
    ("f3c3", [(0, 2, "", [])]),                    # rep ret: treated as falling through
    ("0f0b", [(0, 2, "ud2", [])]),
    ("eb00", [(0, 2, "jmp", [2])]),
    ("e9fbffffff", [(0, 5, "jmp", [0])]),
    ("41ffe3", [(0, 3, "jmp", [])]),                # jmp r11
    ("3effe0", [(0, 3, "", [])]),                   # notrack jmp rax
    ("ff2500000000", [(0, 6, "jmp", [6])]),         # jmp [rip+0]
    ("7405", [(0, 2, "", [7])]),
    ("0f8400010000", [(0, 6, "", [0x106])]),
    ("e800000000", [(0, 5, "", [5])]),
    ("488d0d10000000", [(0, 7, "", [0x17])]),       # lea rcx, [rip+0x10]
    ("813d0800000001000000", [(0, 10, "", [0x12])]),  # cmp dword [rip+8], 1: after the imm
    ("48b88877665544332211", [(0, 10, "", [])]),    # movabs rax, imm64
    ("66b83412", [(0, 4, "", [])]),                 # mov ax, imm16
    ("c5fc77", [(0, 3, "", [])]),                   # vzeroall
    ("c4e37d18c101", [(0, 6, "", [])]),             # vinsertf128: map 0F3A takes an imm8
    ("66666666662e0f1f840000000000", [(0, 14, "", [])]),  # padding nop
])
def test_decodes_known_instructions(code, expect):
    assert decode(bytes.fromhex(code)) == expect


@pytest.mark.parametrize("code", [
    "67c3",            # address-size prefix
    "6648c21000",      # ret imm16 with 66: capstone reads a 4-byte immediate
    "66e800000000",    # 16-bit branches
    "c7f800000000",    # xbegin
    "0f2000",          # mov from a control register
    "e8000000",        # truncated
    "4866c3",          # REX before a legacy prefix
    "06",              # invalid in 64-bit mode
    "0f0f0000b4",      # 3DNow!
])
def test_gives_up_on_what_it_does_not_cover(code):
    assert decode(bytes.fromhex(code)) is None


def test_a_pack_does_not_import_capstone(sample_obj, tmp_path):
    """The point of the tables: a link that splits code never loads capstone
    (hello.c's code is split into the header holes)."""
    obj = sample_obj("hello.c")
    out = tmp_path / "hello"
    code = ("import sys, tinyelf; data = tinyelf.link([%r]); open(%r, 'wb').write(data); "
            "print('capstone' in sys.modules)" % (str(obj), str(out)))
    r = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, check=True)
    assert r.stdout.strip() == "False"
    os.chmod(out, 0o755)
    assert run_exe(out, as_nobody=True) == (b"Hello, world!\n", 0)


def _rust_libs():
    sysroot = subprocess.run(["rustc", "--print", "sysroot"], stdout=subprocess.PIPE,
                             text=True, check=True).stdout.strip()
    libdir = os.path.join(sysroot, "lib/rustlib/x86_64-unknown-linux-gnu/lib")
    return [glob.glob(os.path.join(libdir, p))[0]
            for p in ("libcore-*.rlib", "libcompiler_builtins-*.rlib")]


RUNS = {   # source -> (args, stdin, expected stdout, status)
    "hello.c": ((), b"", b"Hello, world!\n", 0),
    "main.c": (("a", "b", "c"), b"", b"3\n", 3),
    "wc.c": ((), b"one two\nthree\n", b"2 3 14\n", 0),
    "hello.rs": ((), b"", b"Hello, world!\n", 0),
    "prodfactors.rs": (("600851475143",), b"", b"600851475143: 71 839 1471 6857\n", 0),
}


@pytest.mark.parametrize("source", ["hello.c", "main.c", "wc.c",
                                    pytest.param("hello.rs", marks=requires_rustc),
                                    pytest.param("prodfactors.rs", marks=requires_rustc)])
def test_same_bytes_with_the_tables_and_with_capstone(sample_obj, source, monkeypatch, tmp_path):
    """Splitting decided from the tables and from capstone gives the same
    file, and it runs."""
    import tinyelf
    inputs = [sample_obj(source)]
    if source == "prodfactors.rs":    # non-LTO: libcore's code is split too
        inputs += _rust_libs()
    fast = tinyelf.link(inputs, lief=False)
    monkeypatch.setattr(type(X86), "decode_insns", lambda self, data: None)
    slow = tinyelf.link(inputs, lief=False)
    assert fast == slow
    out = tmp_path / "prog"
    out.write_bytes(fast)
    os.chmod(out, 0o755)
    args, stdin, expect, status = RUNS[source]
    assert run_exe(out, *args, stdin=stdin, as_nobody=True) == (expect, status)
