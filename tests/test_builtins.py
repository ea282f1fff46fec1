"""tinyelf's own memcpy & co.: checked against Python's semantics by running
a linked program, linked only when needed, never over an input's definition."""
from __future__ import annotations

import random
import struct
import subprocess
import sys

import pytest

import tinyelf
from tinyelf import arch as archmod
from tinyelf.arch import prebuilt
from tinyelf.linker import driver
from tinyelf.tools import toolchain
from tinyelf.linker.model import LinkOptions

from asmutil import EXIT_OK, assemble, requires_as
from conftest import ROOT, run_exe

BUF = 512
HARNESS = ROOT / "tests" / "data" / "memharness.c"


X86 = archmod.get("x86_64")
NAMES = tuple(X86.builtins)


@pytest.mark.parametrize("name", archmod.names())
def test_prebuilt_table_matches_the_sources(name):
    """Every arch's prebuilt builtins and start stub are exactly what its
    assembler makes of the current sources (regenerate with
    ``python -m tinyelf.arch.prebuilt NAME > tinyelf/arch/NAME/prebuilt.py``)."""
    arch = archmod.get(name)
    assert arch._prebuilt() == prebuilt.table(arch), \
        f"run python -m tinyelf.arch.prebuilt {name} > tinyelf/arch/{name}/prebuilt.py"


def test_sizes_are_small():
    sizes = {f: len(X86.builtin_code(f)) for f in NAMES}
    assert all(0 < s <= 32 for s in sizes.values()), sizes


@pytest.fixture(scope="module")
def harness(build_dir):
    obj = toolchain.compile_c(HARNESS, build_dir / "memharness.o", extra=("-O1", "-fno-builtin"))
    lk = driver.run([obj], LinkOptions())
    pulled = sorted(o.name for o in lk.objects if o.name.startswith("<tinyelf builtin"))
    assert pulled == sorted(f"<tinyelf builtin {f}>" for f in NAMES)
    exe = build_dir / "memharness"
    exe.write_bytes(lk.output)
    exe.chmod(0o755)
    return exe


def expected(op, c, dst, src, n, buf):
    b = bytearray(buf)
    if op == "c" or op == "m":
        b[dst:dst + n] = buf[src:src + n]   # memmove semantics (memcpy cases never overlap)
        return dst, b
    if op == "s":
        b[dst:dst + n] = bytes([c]) * n
        return dst, b
    if op in "pb":
        x, y = buf[dst:dst + n], buf[src:src + n]
        r = (x > y) - (x < y)
        return (r if op == "p" else int(r != 0)), b
    if op == "l":
        return buf.index(0, dst) - dst, b
    raise AssertionError(op)


def cases(seed=1234):
    rng = random.Random(seed)
    out = []

    def rnd_buf():
        return bytes(rng.randrange(256) for _ in range(BUF))

    for n in (0, 1, 2, 7, 8, 9, 15, 16, 17, 63, 64, 65, 200):
        for _ in range(3):
            a, b = rng.randrange(0, 257 - n), rng.randrange(256, BUF - n + 1)
            if rng.random() < 0.5:
                a, b = b, a
            out.append(("c", 0, a, b, n, rnd_buf()))             # disjoint copy
            out.append(("s", rng.randrange(256), rng.randrange(0, BUF - n), 0, n, rnd_buf()))
    # memmove: overlapping both ways (distances 1..n), also dst == src
    for n in (0, 1, 3, 16, 33, 100, 255):
        for delta in (-n - 1, -n, -7, -1, 0, 1, 7, n, n + 1):
            src = 256 - n // 2 + (delta > 0)
            if 0 <= src + delta and src + delta + n <= BUF and src + n <= BUF:
                out.append(("m", 0, src + delta, src, n, rnd_buf()))
    # memcmp / bcmp: equal, differing at the start / middle / end, bytes >= 0x80
    for n in (0, 1, 5, 16, 31, 100):
        for where in (None, 0, n // 2, n - 1):
            base = rnd_buf()
            b = bytearray(base)
            b[300:300 + n] = base[10:10 + n]
            if where is not None and n:
                b[300 + where] = base[10 + where] ^ rng.choice((0x01, 0x80, 0xff))
            for op in "pb":
                out.append((op, 0, 10, 300, n, bytes(b)))
                out.append((op, 0, 300, 10, n, bytes(b)))
    # strlen: lengths 0.., unaligned starts
    for start in (0, 1, 3, 8, 13):
        for length in (0, 1, 2, 7, 8, 9, 40):
            b = bytearray(rng.randrange(1, 256) for _ in range(BUF))
            b[start + length] = 0
            out.append(("l", 0, start, 0, length, bytes(b)))
    return out


def test_against_python(harness):
    cs = cases()
    stdin = b"".join(struct.pack("<BBHIII", ord(op), c, 0, d, s, n) + buf
                     for op, c, d, s, n, buf in cs)
    out, status = run_exe(harness, stdin=stdin, as_nobody=True)
    assert status == 0
    assert len(out) == len(cs) * (8 + BUF)
    for i, (op, c, d, s, n, buf) in enumerate(cs):
        rec = out[i * (8 + BUF):(i + 1) * (8 + BUF)]
        got_r = struct.unpack_from("<q", rec)[0]
        exp_r, exp_buf = expected(op, c, d, s, n, buf)
        what = f"{op} dst={d} src={s} n={n}"
        assert rec[8:] == bytes(exp_buf), what
        if op == "p":
            assert (got_r > 0) - (got_r < 0) == exp_r, what
        elif op == "b":
            assert (got_r != 0) == bool(exp_r), what
        else:
            assert got_r == exp_r, what


@requires_as
def test_not_linked_when_unreferenced(tmp_path):
    obj = assemble(".globl _start\n_start:\n" + EXIT_OK, tmp_path / "a.o")
    lk = driver.run([obj], LinkOptions())
    assert [o for o in lk.objects if o.name.startswith("<tinyelf builtin")] == []


CALLER = """
    .globl _start
_start:
    lea buf(%rip), %rdi
    mov $65, %esi
    mov $3, %edx
    call memset
    mov $60, %eax
    movzbl buf(%rip), %edi
    syscall
    .bss
buf: .zero 8
"""

OWN_MEMSET = """
    .globl memset
    .section .text.memset,"ax"
memset:
    movb $7, (%rdi)
    mov %rdi, %rax
    ret
"""


@requires_as
def test_builtin_used_when_undefined(tmp_path):
    obj = assemble(CALLER, tmp_path / "caller.o")
    exe = tmp_path / "prog"
    exe.write_bytes(tinyelf.link([obj]))
    exe.chmod(0o755)
    assert run_exe(exe)[1] == 65


@requires_as
def test_input_definition_wins(tmp_path):
    caller = assemble(CALLER, tmp_path / "caller.o")
    own = assemble(OWN_MEMSET, tmp_path / "own.o")
    lk = driver.run([caller, own], LinkOptions())
    assert not any(o.name.startswith("<tinyelf builtin") for o in lk.objects)
    exe = tmp_path / "prog"
    exe.write_bytes(lk.output)
    exe.chmod(0o755)
    assert run_exe(exe)[1] == 7


@requires_as
def test_archive_definition_wins(tmp_path):
    caller = assemble(CALLER, tmp_path / "caller.o")
    own = assemble(OWN_MEMSET, tmp_path / "own.o")
    lib = tmp_path / "libmem.a"
    subprocess.run(["ar", "rcs", str(lib), str(own)], check=True)
    lk = driver.run([caller, lib], LinkOptions())
    assert not any(o.name.startswith("<tinyelf builtin") for o in lk.objects)
    assert any(o.name == "libmem.a(own.o)" for o in lk.objects)
    exe = tmp_path / "prog"
    exe.write_bytes(lk.output)
    exe.chmod(0o755)
    assert run_exe(exe)[1] == 7


@requires_as
def test_link_does_not_import_keystone(tmp_path):
    """The cached table spares the link keystone's import."""
    obj = assemble(CALLER, tmp_path / "caller.o")
    code = ("import sys, tinyelf\n"
            f"data = tinyelf.link([{str(obj)!r}])\n"
            "assert len(data) > 0\n"
            "print('keystone' in sys.modules)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "False"
