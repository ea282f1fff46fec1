"""riscv64 linker relaxation (tinyelf/arch/riscv64/relax.py): a program that
uses every rewrite runs the same relaxed, with ``--no-relax`` and linked by
GNU ld (under qemu-user, as root and as nobody), the relaxed file is smaller
and holds the short forms; R_RISCV_ALIGN padding reaches its boundary; a
relaxation that would break an ALIGN is one error; the samples shrink.
The corpus against GNU ld with relaxation is tests/test_cross.py.
"""
from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest

from tinyelf.tools import ld_driver

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import nobody_prefix  # noqa: E402
from test_arch_risc import need, tinyelf  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
AS, LD, GCC = ("riscv64-linux-gnu-" + t for t in ("as", "ld", "gcc"))
QEMU_OK = ("--layout", "strict", "--no-trim-zeros")

#: every rewrite: call -> jal, tail -> c.j, lui pairs -> gp-relative (ld, sd,
#: addi), auipc pair -> gp-relative, an ALIGN after deleted bytes (the exit
#: status adds the aligned label's address mod 8), code reached through
#: pointers in data (they move with the deleted bytes); exit status 42
PROG = r"""
    .text
    .globl _start
    .type _start, @function
_start:
    .option push
    .option norelax
    lla gp, __global_pointer$
    .option pop
    call print_hello
    lui a0, %hi(counter)
    ld a1, %lo(counter)(a0)
    addi a1, a1, 37
    sd a1, %lo(counter)(a0)
    lla a2, table
    ld a3, 0(a2)
    jalr a3
    ld a3, 8(a2)
    jalr a3
    lla t0, aligned
    andi t0, t0, 7
    c.nop
    .p2align 3
aligned:
    add s1, s1, t0
    tail finish
    .size _start, .-_start

    .type print_hello, @function
print_hello:
    li a0, 1
    lui a1, %hi(msg)
    addi a1, a1, %lo(msg)
    li a2, 6
    li a7, 64
    ecall
    ret
    .size print_hello, .-print_hello

bump:
    addi s1, s1, 2
    ret
.Lbump3:
    addi s1, s1, 3
    ret

    .type finish, @function
finish:
    lui a0, %hi(counter)
    ld a0, %lo(counter)(a0)
    add a0, a0, s1
    li a7, 93
    ecall
    .size finish, .-finish

    .section .rodata
msg: .ascii "hello\n"
    .data
    .p2align 3
counter: .dword 0
table: .dword bump, .Lbump3
"""

#: lui -> c.lui deletes 2 bytes before an ALIGN whose 4 bytes of nops
#: (8-byte boundary) then cannot reach it: 6 would be needed
BREAKS_ALIGN = r"""
    .option push
    .option norelax
    .balign 8
    .option pop
    .text
    .globl _start
_start:
    lui a0, %hi(msg)
    addi a0, a0, %lo(msg)
    c.li a1, 1
    c.li a2, 2
    .option push
    .option norelax
    .reloc ., R_RISCV_ALIGN, 4
    .4byte 0x00000013
    .option pop
    li a0, 0
    li a7, 93
    ecall
    .section .rodata
msg: .ascii "x"
"""


def _assemble(tmp, name, source):
    src = tmp / f"{name}.s"
    src.write_text(source)
    obj = tmp / f"{name}.o"
    subprocess.run([need(AS), "-march=rv64gc", "-o", obj, src], check=True)
    return obj


def _run(exe):
    """(stdout, status) under qemu-riscv64, as root and as nobody: equal."""
    got = []
    for prefix in ([], nobody_prefix()):
        p = subprocess.run([*prefix, need("qemu-riscv64"), str(exe)], capture_output=True,
                           timeout=30)
        got.append((p.stdout, p.returncode))
    assert got[0] == got[1], got
    return got[0]


def _code(exe):
    """capstone's reading of the file from e_entry on: [(mnemonic, operands)]."""
    import capstone
    data = exe.read_bytes()
    entry = struct.unpack_from("<Q", data, 24)[0]
    phoff = struct.unpack_from("<Q", data, 32)[0]
    p_offset, p_vaddr = struct.unpack_from("<QQ", data, phoff + 8)
    md = capstone.Cs(capstone.CS_ARCH_RISCV, capstone.CS_MODE_RISCV64 | capstone.CS_MODE_RISCVC)
    start = entry - p_vaddr + p_offset
    return [(i.mnemonic, i.op_str) for i in md.disasm(data[start:], entry)]


def test_every_rewrite_runs_as_unrelaxed(build_dir):
    tmp = build_dir / "relax-prog"
    tmp.mkdir()
    obj = _assemble(tmp, "prog", PROG)
    exes = {}
    for name, extra in (("relaxed", ()), ("unrelaxed", ("--no-relax",))):
        exes[name] = tmp / name
        r = tinyelf("pack", obj, "-o", exes[name], *QEMU_OK, *extra, "--report")
        assert r.returncode == 0, r.stderr
        exes[name + "-report"] = r.stdout
    exes["ld"] = tmp / "ld"
    subprocess.run([need(LD), "-o", exes["ld"], obj], check=True)
    for name in ("relaxed", "unrelaxed", "ld"):
        assert _run(exes[name]) == (b"hello\n", 42), name
    relaxed, unrelaxed = (exes[n].stat().st_size for n in ("relaxed", "unrelaxed"))
    assert relaxed <= unrelaxed - 22, (relaxed, unrelaxed)
    report = exes["relaxed-report"]
    for what in ("1 jal", "1 c.j", "2 gp", "1 gp-pcrel"):
        assert what in report, report
    insns = _code(exes["relaxed"])[:40]
    names = [m for m, _o in insns]
    assert names[2] == "jal" and "c.j" in names and "jalr" not in names, insns
    assert any(m == "addi" and o.startswith("a2, gp,") for m, o in insns), insns  # lla table
    assert any(m in ("ld", "c.ld") and "(gp)" in o for m, o in insns), insns
    assert any(m == "sd" and "(gp)" in o for m, o in insns), insns
    assert any(m == "addi" and o.startswith("a1, gp,") for m, o in insns), insns   # msg


def test_align_broken_by_relaxation_is_one_error(build_dir):
    tmp = build_dir / "relax-align"
    tmp.mkdir()
    obj = _assemble(tmp, "brk", BREAKS_ALIGN)
    out = tmp / "out"
    r = tinyelf("pack", obj, "-o", out, *QEMU_OK)
    assert r.returncode == 1 and not out.exists(), r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tinyelf: error:"), r.stderr
    assert "R_RISCV_ALIGN" in lines[0] and "6 bytes" in lines[0] and "only 4" in lines[0]
    # nothing deleted: the padding fits, the program runs
    r = tinyelf("pack", obj, "-o", out, *QEMU_OK, "--no-relax")
    assert r.returncode == 0, r.stderr
    assert _run(out) == (b"", 0)


@pytest.mark.parametrize("sample, args, stdout, status, saves", [
    ("hello", (), b"Hello, world!\n", 0, 2),             # lui -> c.lui
    ("main", ("x", "yz"), None, 43, 8),                    # call main, call strlen -> jal
])
def test_samples_smaller_and_the_same(build_dir, sample, args, stdout, status, saves):
    need(GCC)
    sizes, runs = {}, {}
    for name, extra in (("relaxed", ()), ("unrelaxed", ("--no-relax",))):
        out = build_dir / f"riscv64-{sample}-{name}"
        r = tinyelf("build", "--arch", "riscv64", ROOT / "samples" / "riscv64" / f"{sample}.c",
                    "-o", out, *QEMU_OK, *extra)
        assert r.returncode == 0, r.stderr
        sizes[name] = out.stat().st_size
        p = subprocess.run([need("qemu-riscv64"), str(out), *args], capture_output=True, timeout=30)
        runs[name] = (p.stdout.replace(bytes(out), b"EXE"), p.returncode)   # argv[0]
    assert runs["relaxed"] == runs["unrelaxed"] and runs["relaxed"][1] == status
    if stdout is not None:
        assert runs["relaxed"][0] == stdout
    assert sizes["relaxed"] <= sizes["unrelaxed"] - saves, sizes


def test_ld_driver_relax_flags():
    assert ld_driver.parse(["a.o"]).options.relax
    assert not ld_driver.parse(["a.o", "-Wl,--no-relax"]).options.relax
    assert ld_driver.parse(["a.o", "-Wl,--no-relax", "-Wl,--relax"]).options.relax
