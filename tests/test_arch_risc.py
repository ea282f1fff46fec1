"""aarch64 and riscv64: the stubs' and builtins' bytes are what their
sources assemble to, the samples built from C run under qemu-user (as root
and as nobody), the field writers put values where GNU's assembler would,
and bad inputs give one ``tinyelf: error:`` line and no output.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tinyelf import arch as archmod

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import nobody_prefix  # noqa: E402

RISC = ("aarch64", "riscv64")
PREFIX = {"aarch64": "aarch64-linux-gnu-", "riscv64": "riscv64-linux-gnu-"}
QEMU = {"aarch64": "qemu-aarch64", "riscv64": "qemu-riscv64"}
QEMU_OK = ("--layout", "strict", "--no-trim-zeros")


def need(tool):
    if shutil.which(tool) is None:
        pytest.fail(f"{tool} missing: run tests/deps/install.sh (gcc-aarch64-linux-gnu, "
                    "gcc-riscv64-linux-gnu, qemu-user)")
    return tool


@pytest.mark.parametrize("arch", RISC)
def test_stub_object_calls_main(arch):
    """The prebuilt stub: ``_start`` at its section's start, one call to main
    (the table itself is held to the source by tests/test_builtins.py)."""
    a = archmod.get(arch)
    obj = a.start_stub_object("<start stub>")
    start = next(s for s in obj.symbols if s.name == "_start")
    assert start.value == 0 and start.section.size >= 16
    relocs = [(a.relocs[t].name, obj.symbols[i].name) for _o, t, i, _a in start.section.relocs]
    call = {"aarch64": "R_AARCH64_CALL26", "riscv64": "R_RISCV_CALL_PLT"}[arch]
    assert [r for r in relocs if r[1] == "main"] == [(call, "main")]
    if arch == "riscv64":
        # the gp setup (deleted again when no gp-relative code is made), a relaxable call
        assert relocs == [("R_RISCV_PCREL_HI20", "__global_pointer$"),
                          ("R_RISCV_PCREL_LO12_I", relocs[1][1]), (call, "main"),
                          ("R_RISCV_RELAX", "")]
    assert set(a.builtins) >= {"memcpy", "memmove", "memset", "memcmp", "bcmp", "strlen"}


def test_aarch64_keystone_agrees():
    """keystone and GNU as read the aarch64 builtins alike."""
    import keystone
    a = archmod.get("aarch64")
    ks = keystone.Ks(keystone.KS_ARCH_ARM64, keystone.KS_MODE_LITTLE_ENDIAN)
    for name, src in a.builtins.items():
        assert bytes(ks.asm(src)[0]) == a.builtin_code(name), name


def tinyelf(*args):
    return subprocess.run([sys.executable, "-m", "tinyelf", *map(str, args)],
                          capture_output=True, text=True)


def run_qemu(arch, exe, *args, nobody=False):
    cmd = [*(nobody_prefix() if nobody else []), need(QEMU[arch]), str(exe), *args]
    p = subprocess.run(cmd, capture_output=True, timeout=30)
    return p.stdout, p.returncode


SAMPLES = {"hello": ((), b"Hello, world!\n", 0), "exit": ((), b"", 42),
           "main": (("x", "yz"), None, 43)}


@pytest.mark.parametrize("arch", RISC)
@pytest.mark.parametrize("sample", sorted(SAMPLES))
def test_samples_run_under_qemu(arch, sample, build_dir):
    need(PREFIX[arch] + "gcc")
    out = build_dir / f"{arch}-{sample}"
    r = tinyelf("build", "--arch", arch, ROOT / "samples" / arch / f"{sample}.c", "-o", out,
                *QEMU_OK)
    assert r.returncode == 0, r.stderr
    args, stdout, status = SAMPLES[sample]
    for nobody in (False, True):
        got_out, got_status = run_qemu(arch, out, *args, nobody=nobody)
        assert got_status == status
        if stdout is not None:
            assert got_out == stdout
        else:
            assert got_out == f"{out}\nx\nyz\n".encode()


@pytest.mark.parametrize("arch", RISC)
def test_output_machine_and_flags(arch, build_dir):
    out = build_dir / f"{arch}-hello-flags"
    r = tinyelf("build", "--arch", arch, ROOT / "samples" / arch / "hello.c", "-o", out,
                "--layout", "strict")
    assert r.returncode == 0, r.stderr
    data = out.read_bytes()
    assert int.from_bytes(data[18:20], "little") == archmod.get(arch).e_machine
    flags = int.from_bytes(data[0x30:0x34], "little")
    # Debian's riscv64 gcc: rv64gc, lp64d -> RVC | double-float ABI
    assert flags == (0x5 if arch == "riscv64" else 0)


# ---- field writers: the bytes GNU as/ld would make -------------------------
def _put(arch, rtype, insn_hex, value):
    a = archmod.get(arch)
    spec = a.relocs[rtype]
    buf = bytearray.fromhex(insn_hex)
    assert a.field_problem(spec, value) is None
    a.write_field(buf, 0, spec, value)
    return buf.hex()


def _dis(arch, hexbytes):
    """capstone's reading of one instruction at address 0 (an independent decoder)."""
    import capstone
    mode = capstone.CS_MODE_ARM if arch == "aarch64" else \
        capstone.CS_MODE_RISCV64 | capstone.CS_MODE_RISCVC
    md = capstone.Cs(capstone.CS_ARCH_ARM64 if arch == "aarch64" else capstone.CS_ARCH_RISCV, mode)
    i = next(md.disasm(bytes.fromhex(hexbytes), 0))
    return f"{i.mnemonic} {i.op_str}".strip()


def test_aarch64_fields():
    a = "aarch64"
    assert _dis(a, _put(a, 283, "00000094", 0x1000)) == "bl #0x1000"
    assert _dis(a, _put(a, 282, "00000014", -8)) == "b #0xfffffffffffffff8"
    assert _dis(a, _put(a, 275, "01000090", 0x3000)) == "adrp x1, #0x3000"
    assert _dis(a, _put(a, 274, "01000010", 0x11)) == "adr x1, #0x11"
    assert _dis(a, _put(a, 277, "21000091", 0x4000a4)) == "add x1, x1, #0xa4"
    assert _dis(a, _put(a, 286, "000040f9", 0x4010)) == "ldr x0, [x0, #0x10]"
    assert _dis(a, _put(a, 280, "00000054", 0x40)) == "b.eq #0x40"
    assert _dis(a, _put(a, 279, "00000036", -0x20)) == "tbz w0, #0, #0xffffffffffffffe0"
    assert _dis(a, _put(a, 287, "000080d2", -2)) == "mov x0, #-2"           # MOVN
    assert _dis(a, _put(a, 287, "00008092", 5)) == "mov x0, #5"             # MOVZ
    assert _dis(a, _put(a, 265, "0000a0f2", 0x12345678)) == "movk x0, #0x1234, lsl #16"


def test_aarch64_checks():
    a = archmod.get("aarch64")
    assert "outside" in a.field_problem(a.relocs[283], 1 << 27)            # CALL26: 128 MiB
    assert "multiple of 4" in a.field_problem(a.relocs[283], 6)
    assert "multiple of 8" in a.field_problem(a.relocs[286], 0x404)        # LDST64 alignment
    assert a.field_problem(a.relocs[280], (1 << 20) - 4) is None          # CONDBR19: 1 MiB


def test_riscv_fields():
    r = "riscv64"
    assert _dis(r, _put(r, 17, "ef000000", 0x800)) == "jal 0x800"
    assert _dis(r, _put(r, 16, "63000000", -4)) == "beqz zero, -4"
    assert _dis(r, _put(r, 23, "97050000", 0x12345fff)) == "auipc a1, 0x12346"
    assert _dis(r, _put(r, 27, "93850500", 0xfff)) == "addi a1, a1, -1"
    assert _dis(r, _put(r, 28, "23b0a500", 0x7f8)) == "sd a0, 0x7f8(a1)"
    assert _dis(r, _put(r, 45, "01a0", 0x10)) == "c.j 0x10"
    assert _dis(r, _put(r, 44, "01c1", -6)) == "c.beqz a0, -6"
    buf = _put(r, 18, "97000000e7800000", 0x12345678)
    assert _dis(r, buf[:8]) == "auipc ra, 0x12345" and _dis(r, buf[8:]) == "jalr ra, ra, 0x678"
    assert _put(r, 35, "05000000", 3) == "08000000"                        # ADD32
    assert _put(r, 39, "05000000", 7) == "feffffff"                        # SUB32
    assert _put(r, 53, "c5", 0x7f) == "ff"                                 # SET6 keeps bits 6-7
    assert _put(r, 61, "8501", 2) == "8301"                                # SUB_ULEB128, 2 bytes


def test_riscv_relaxed_fields():
    """The relaxation's own types (tinyelf/arch/riscv64/relax.py): low parts
    on gp/x0, c.lui; out of their range they are errors; an object naming
    them is refused."""
    from tinyelf.arch.riscv64 import relax as rx
    r, a = "riscv64", archmod.get("riscv64")
    assert _dis(r, _put(r, rx.R_GPREL_I, "93810100", -0x7f0)) == "addi gp, gp, -0x7f0"
    assert _dis(r, _put(r, rx.R_GPREL_S, "23b0a100", 0x7f8)) == "sd a0, 0x7f8(gp)"
    assert _dis(r, _put(r, rx.R_ABS12_I, "03350000", 0x10)) == "ld a0, 0x10(zero)"
    assert _dis(r, _put(r, rx.R_RVC_LUI, "0165", 0x11800)) == "c.lui a0, 0x12"
    assert _dis(r, _put(r, rx.R_RVC_LUI, "0165", -0x1000)) == "c.lui a0, 0xfffff"
    for t, bad in ((rx.R_GPREL_I, 0x800), (rx.R_GPREL_S, -0x801), (rx.R_RVC_LUI, 0x1f800),
                   (rx.R_RVC_LUI, 0x7ff)):
        assert a.field_problem(a.relocs[t], bad), (t, bad)
    assert rx.INTERNAL <= set(a.internal_relocs)
    from tinyelf.elf.defs import STB_GLOBAL, STT_FUNC
    from tinyelf.elf.synth import TEXT, make_object
    from tinyelf.errors import RelocationError
    from tinyelf.linker.driver import run
    from tinyelf.linker.model import LinkOptions
    obj = make_object("x.o", [{"name": ".text", "flags": TEXT, "data": b"\x13\0\0\0" * 2,
                               "relocs": [(4, rx.R_GPREL_I, "_start", 0)]}],
                      [("_start", ".text", 0, STB_GLOBAL, STT_FUNC, 8)])
    with pytest.raises(RelocationError, match="unsupported relocation unknown relocation type"):
        run([obj], LinkOptions(arch="riscv64"))


def test_riscv_checks():
    a = archmod.get("riscv64")
    assert "outside" in a.field_problem(a.relocs[16], 4096)                # BRANCH: +-4 KiB
    assert "outside" in a.field_problem(a.relocs[44], 256)                 # RVC_BRANCH
    assert "multiple of 2" in a.field_problem(a.relocs[17], 3)


# ---- bad input --------------------------------------------------------------
def _obj(arch, tmp_path, source, name="x.o", flags=()):
    src = tmp_path / (name[:-2] + ".c")
    src.write_text(source)
    out = tmp_path / name
    subprocess.run([need(PREFIX[arch] + "gcc"), "-c", "-Os", "-ffreestanding", *flags,
                    "-o", str(out), str(src)], check=True)
    return out


def _one_error(r, out, contains):
    assert r.returncode == 1 and not out.exists(), r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tinyelf: error:"), r.stderr
    assert contains in lines[0], lines[0]


def test_mixed_machines(tmp_path):
    a = _obj("aarch64", tmp_path, "void _start(void){ for(;;); }", "a.o")
    b = _obj("riscv64", tmp_path, "int f(void){ return 1; }", "b.o")
    out = tmp_path / "out"
    _one_error(tinyelf("pack", a, b, "-o", out), out, "different machines")


def test_arch_option_must_match(tmp_path):
    a = _obj("aarch64", tmp_path, "void _start(void){ for(;;); }", "a.o")
    out = tmp_path / "out"
    _one_error(tinyelf("pack", "--arch", "riscv64", a, "-o", out), out, "different machines")


def _patch_reloc_type(path, old, new):
    """Rewrite the first RELA entry of type ``old`` to ``new`` (ELF64 LE)."""
    import struct
    data = bytearray(path.read_bytes())
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shnum, = struct.unpack_from("<H", data, 0x3c)
    for i in range(shnum):
        sh = struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * 64)
        if sh[1] == 4:     # SHT_RELA
            for off in range(sh[4], sh[4] + sh[5], 24):
                info, = struct.unpack_from("<Q", data, off + 8)
                if info & 0xFFFFFFFF == old:
                    struct.pack_into("<Q", data, off + 8, (info >> 32) << 32 | new)
                    path.write_bytes(bytes(data))
                    return
    raise AssertionError(f"no relocation of type {old}")


SRC_GLOBAL = "int v = 3; int _start(void){ return v; }"


def test_unknown_relocation_type(tmp_path):
    o = _obj("aarch64", tmp_path, SRC_GLOBAL, flags=("-fno-pie",))
    _patch_reloc_type(o, 275, 900)       # ADR_PREL_PG_HI21 -> nothing
    out = tmp_path / "out"
    _one_error(tinyelf("pack", o, "-o", out), out, "unknown relocation type 900")


def test_pcrel_lo12_without_hi20(tmp_path):
    o = _obj("riscv64", tmp_path, SRC_GLOBAL, flags=("-fno-pie", "-mcmodel=medany"))
    _patch_reloc_type(o, 23, 0)          # the auipc's PCREL_HI20 -> NONE
    out = tmp_path / "out"
    _one_error(tinyelf("pack", o, "-o", out), out, "no R_RISCV_PCREL_HI20")


def test_float_abi_mismatch(tmp_path):
    a = _obj("riscv64", tmp_path, "void _start(void){ for(;;); }", "a.o")
    b = _obj("riscv64", tmp_path, "int f(void){ return 1; }", "b.o",
             flags=("-march=rv64imac", "-mabi=lp64"))
    out = tmp_path / "out"
    _one_error(tinyelf("pack", a, b, "-o", out), out, "float ABI")


def test_call26_out_of_range(tmp_path):
    """A call 512 MiB away: CALL26 reaches +-128 MiB and tinyelf makes no veneers."""
    o = _obj("aarch64", tmp_path, "void far(void); void _start(void){ far(); for(;;); }")
    abs_s = tmp_path / "abs.s"
    abs_s.write_text(".globl far\n.set far, 0x20000000\n")
    abs_o = tmp_path / "abs.o"
    subprocess.run([PREFIX["aarch64"] + "as", "-o", str(abs_o), str(abs_s)], check=True)
    out = tmp_path / "out"
    _one_error(tinyelf("pack", o, abs_o, "-o", out), out, "R_AARCH64_CALL26 out of range")
