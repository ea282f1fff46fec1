"""The dyn68 layout: ET_DYN, program header at 0xc, execution entering at file
byte 0 (7f 45 = jg, taken) and continuing at 0x47; loaded wherever the
kernel puts it.  Everything here runs what tinyelf wrote, as root and as
nobody, several times (a new load address each time)."""
from __future__ import annotations

import json
import struct

import pytest

from asmutil import assemble, requires_as
from conftest import requires_rustc, run_exe, run_tinyelf

HELLO = b"Hello, world!\n"


def report(*args):
    proc = run_tinyelf("pack", *args, "--report", "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def refused(obj, out, *args):
    """Link with --layout dyn68, expect the one-line refusal; return it."""
    proc = run_tinyelf("pack", obj, "--layout", "dyn68", "-o", out, *args)
    assert proc.returncode == 1 and not out.exists(), proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("tinyelf: error: layout dyn68"), lines
    return lines[0]


@requires_rustc
def test_exit_rs_is_73_bytes_and_runs_as_anyone(sample_obj, build_dir):
    """exit.rs (no relocations at all) packs to 73 bytes with --layout dyn68
    (80 with overlap80, which auto keeps choosing: dyn68 is opt-in), the size
    of the known hand-written ET_DYN exit(42)."""
    auto = report(sample_obj("exit.rs"), "-o", build_dir / "dyn_exit_auto")
    assert auto["layout"] == "overlap80" and auto["file"] == 80
    assert "dyn68" not in {c["layout"] for c in auto["considered"]}
    exe = build_dir / "dyn_exit"
    rep = report(sample_obj("exit.rs"), "-o", exe, "--layout", "dyn68")
    assert rep["layout"] == "dyn68" and rep["file"] == 73 == exe.stat().st_size
    h = rep["header"]
    assert (h["end"], h["overlap"], h["skipped"]) == (0x47, 64 + 56 - 0x44, 3)
    assert sum(rep["bytes"].values()) == 73
    data = exe.read_bytes()
    e_type, e_machine, e_version, e_entry, e_phoff = struct.unpack_from("<HHIQQ", data, 16)
    assert (e_type, e_machine, e_version, e_entry, e_phoff) == (3, 62, 0xc, 0xc << 32, 0xc)
    p_type, p_flags, p_offset, p_vaddr, _paddr, p_filesz, p_memsz, _align = \
        struct.unpack_from("<IIQQQQQQ", data, 0xc)
    assert (p_type, p_flags, p_offset, p_vaddr) == (1, 0x3e0003, 0xc, (0xc << 32) + 0xc)
    assert p_filesz == 73 - 0xc and p_memsz == 0x100380000
    assert data[:2] == b"\x7f\x45"        # jg .+0x47
    for _ in range(4):
        assert run_exe(exe) == (b"", 42)
        assert run_exe(exe, as_nobody=True) == (b"", 42)


@requires_rustc
@pytest.mark.parametrize("source,extra", [("hello.rs", ("-C", "relocation-model=pie")),
                                          ("hello.c", ("-fPIE",))])
def test_pic_hello_runs(sample_obj, build_dir, source, extra):
    exe = build_dir / f"dyn_{source}"
    rep = report(sample_obj(source, extra), "--layout", "dyn68", "-o", exe)
    assert rep["layout"] == "dyn68" and rep["entry"] == 0xc << 32
    assert rep["segments"][0]["perm"] == "-WX"
    assert any("layout dyn68 forces it" in w for w in rep["warnings"])
    for _ in range(4):
        assert run_exe(exe) == (HELLO, 0)
        assert run_exe(exe, as_nobody=True) == (HELLO, 0)


WHERE_PROG = """
    .globl _start
    .section .text._start,"ax",@progbits
_start:
    lea _start(%rip), %rdi
    shr $21, %rdi           # the kernel aligns a 4 GiB mapping to 2 MiB
    lea msg(%rip), %rsi
    mov $1, %eax
    push %rdi
    mov $1, %edi
    mov $3, %edx
    syscall
    pop %rdi
    mov $60, %eax
    syscall
    .section .rodata.msg,"a",@progbits
msg: .ascii "ok\\n"
"""


@requires_as
def test_every_run_loads_somewhere_else(build_dir, tmp_path):
    """ET_DYN without PT_INTERP lands in the randomised mmap area: the
    program (reading its own address PC-relatively) exits with bits 21-28 of
    it, and runs correctly wherever it is."""
    obj = assemble(WHERE_PROG, tmp_path / "where.o")
    exe = build_dir / "dyn_where"
    rep = report(obj, "--layout", "dyn68", "-o", exe)
    assert rep["layout"] == "dyn68"
    statuses = set()
    for nobody in (False, True) * 4:
        out, status = run_exe(exe, as_nobody=nobody)
        assert out == b"ok\n"
        statuses.add(status)
    try:
        with open("/proc/sys/kernel/randomize_va_space") as f:
            aslr = int(f.read()) > 0
    except OSError:
        aslr = False
    if aslr:
        assert len(statuses) > 1, statuses


# every program below writes "ab\n" from msg (%rsi) and exits with status 4
WRITE_AB_EXIT4 = """
    mov $1, %eax
    mov $1, %edi
    mov $3, %edx
    syscall
    mov $60, %eax
    mov $4, %edi
    syscall
    .section .rodata.msg,"a",@progbits
msg: .ascii "ab\\n"
"""
START = """
    .globl _start
    .section .text._start,"ax",@progbits
_start:
"""

ABS64_PROG = START + """
    mov ptr(%rip), %rsi
    .pushsection .data.ptr,"aw",@progbits
ptr: .quad msg
    .popsection
""" + WRITE_AB_EXIT4

GOT_PROG = START + """
    xor %esi, %esi
    add msg@GOTPCREL(%rip), %rsi   # not relaxable: a GOT slot with msg's address
""" + WRITE_AB_EXIT4

WEAK_PROG = """
    .globl _start
    .weak maybe
    .section .text._start,"ax",@progbits
_start:
    mov maybe@GOTPCREL(%rip), %rax   # relaxed to lea maybe(%rip): 0 only at the link address
    test %rax, %rax
    jnz 1f
    lea msg(%rip), %rsi
    mov $1, %eax
    mov $1, %edi
    mov $3, %edx
    syscall
1:  mov $60, %eax
    mov $4, %edi
    syscall
    .section .rodata.msg,"a",@progbits
msg: .ascii "ab\\n"
"""

END_PROG = START + """
    movabs $_end, %rax
    lea msg(%rip), %rsi
""" + WRITE_AB_EXIT4


@requires_as
@pytest.mark.parametrize("prog,why", [
    (ABS64_PROG, "absolute address: R_X86_64_64 at "),
    (GOT_PROG, "GOT slot holding the absolute address of msg"),
    (WEAK_PROG, "PC-relative reference to something outside the image (undefined weak"),
    (END_PROG, "absolute address: R_X86_64_64 at "),
], ids=["abs64-pointer", "got-slot", "undefined-weak", "linker-defined-_end"])
def test_load_address_dependent_programs_are_refused(build_dir, tmp_path, prog, why):
    """What would be wrong at another load address is refused with the
    reason; the default links another layout, whose output runs."""
    obj = assemble(prog, tmp_path / "p.o")
    line = refused(obj, tmp_path / "bad")
    assert "kernel chooses" in line and why in line, line
    assert "relocation-model=pie" in line
    exe = build_dir / f"dyn_refused_{abs(hash(prog))}"
    rep = report(obj, "-o", exe)
    assert rep["layout"] != "dyn68"
    assert run_exe(exe) == (b"ab\n", 4)
    assert run_exe(exe, as_nobody=True) == (b"ab\n", 4)


PALIGN_PROG = """
    .globl _start
    .section .text._start,"ax",@progbits
_start:
    push $60
    pop %rax
    movzbl k+10(%rip), %edi
    syscall
    .section .rodata.k,"a",@progbits
k:  .quad {value}           # 11 bytes: only dyn68's hole at 0x3c (p_align...) holds them
    .byte 0, 0, 9
"""


@requires_as
def test_content_that_reads_as_a_big_p_align_is_refused(build_dir, tmp_path):
    """For ET_DYN the kernel honours p_align (a power of two aligns the load
    address, 2**47 and above kill the process): content whose bytes in
    p_align read as a power of two above the page size is refused there, and
    the default (which never takes dyn68) links it elsewhere."""
    good = assemble(PALIGN_PROG.format(value="0x123456"), tmp_path / "good.o")
    exe = build_dir / "dyn_palign_ok"
    rep = report(good, "-o", exe, "--layout", "dyn68")
    assert rep["layout"] == "dyn68"
    assert any(c["offset"] == 0x3c and "rodata.k" in c["what"]
               for h in rep["holes"] for c in h["contents"])
    for nobody in (False, True, False, True):
        assert run_exe(exe, as_nobody=nobody) == (b"", 9)
    obj = assemble(PALIGN_PROG.format(value="0x100000"), tmp_path / "pa.o")
    line = refused(obj, tmp_path / "bad")
    assert "p_align" in line and "0x100000" in line
    exe = build_dir / "dyn_palign"
    rep = report(obj, "-o", exe)
    assert rep["layout"] != "dyn68"
    assert run_exe(exe, as_nobody=True) == (b"", 9)


def test_check_content_rule():
    from tinyelf.linker.layouts import get
    from tinyelf.linker.model import Layout
    spec = get("dyn68")
    lay = Layout(base=0, header_size=0x47, segments=[], entry=0, file_size=0x49, mem_end=0)

    def image(v):
        b = bytearray(0x49)
        b[0x3c:0x44] = v.to_bytes(8, "little")
        return b
    for ok in (0, 1, 0x1000, 0x1001, 0x0123456789ABCDEF, (1 << 64) - 1):
        assert spec.check_content(lay, image(ok)) is None
    for bad in (0x2000, 1 << 20, 1 << 47, 1 << 63):
        assert "power of two" in spec.check_content(lay, image(bad))
    # the layout's own patches (jumps) count too
    lay.patches = [(0x3f, b"\x10", "jmp")]
    assert spec.check_content(lay, image(0)) is not None      # 0x10 << 24


@requires_rustc
def test_wx_is_never_dyn68(sample_obj, tmp_path):
    """dyn68's p_flags is e_type | e_machine << 16 = W+X: with --wx it is
    refused, even for a program without writable data."""
    obj = sample_obj("exit.rs")
    line = refused(obj, tmp_path / "bad", "--wx")
    assert "--wx cannot be honoured" in line
    exe = tmp_path / "wx"
    rep = report(obj, "--wx", "-o", exe)
    assert rep["layout"] != "dyn68" and rep["warnings"] == []
    assert all(not (s["flags"] & 2 and s["flags"] & 1) for s in rep["segments"])


@requires_rustc
def test_base_is_refused(sample_obj, tmp_path):
    line = refused(sample_obj("exit.rs"), tmp_path / "bad", "--base", "0x10000000")
    assert "--base 0x10000000 cannot be honoured" in line


@requires_rustc
def test_no_holes_still_works(sample_obj, build_dir):
    """Without holes the entry section simply starts at 0x47."""
    exe = build_dir / "dyn_noholes"
    rep = report(sample_obj("exit.rs"), "--layout", "dyn68", "--no-holes", "-o", exe)
    assert rep["header"]["content_in_header"] == 0
    # no jump: the entry section itself is where the header's jg lands
    assert rep["bytes"]["jumps"] == 0 and rep["file"] == 0x47 + rep["bytes"]["code"]
    assert [s["offset"] for s in rep["sections"] if "_start" in s["name"]] == [0x47]
    for nobody in (False, True, False, True):
        assert run_exe(exe, as_nobody=nobody) == (b"", 42)


@requires_rustc
def test_size_and_inspect_describe_it(sample_obj, build_dir):
    exe = build_dir / "dyn_inspect"
    assert run_tinyelf("pack", sample_obj("hello.rs", ("-C", "relocation-model=pie")),
                       "--layout", "dyn68", "-o", exe).returncode == 0
    rep = json.loads(run_tinyelf("size", exe, "--json").stdout)
    assert rep["layout"] == "dyn68" and rep["segments"][0]["perm"] == "-WX"
    assert rep["bss_memory"] >= 1 << 32
    assert any("dyn68 forces it" in w for w in rep["warnings"])
    proc = run_tinyelf("inspect", exe, "--json")
    assert proc.returncode == 0, proc.stderr
    ins = json.loads(proc.stdout)
    assert "shared object or PIE" in ins["kind"] and ins["entry_offset"] == 0
    rows = {r["field"]: r for r in ins["elf_header"]}
    assert "load address the kernel chooses" in rows["e_entry"]["meaning"]
    ph = {r["field"]: r for r in ins["program_headers"][0]}
    assert ph["p_offset"]["offset"] == 0x14 and ph["p_align"]["kernel_ignores"] is False
    first = ins["disassembly"][0]
    assert first["address"] == 0xc << 32 and first["mnemonic"] == "jg"
    # the jg is taken at process start: its fall-through is not traced as code
    assert all(d["address"] != (0xc << 32) + 2 for d in ins["disassembly"])
    text = run_tinyelf("dis", exe).stdout
    assert "syscall" in text
