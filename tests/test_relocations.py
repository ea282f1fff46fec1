"""Every supported relocation type, applied by tinyelf and checked at run time.

Each program holds a field relocated against a symbol and code that computes
what the psABI formula says the field must hold; it exits 0 when they agree
and 1 when they do not, so the test runs the produced binary.
"""
from __future__ import annotations

import pytest

from asmutil import EXIT_FAIL, EXIT_OK, assemble, requires_as
from conftest import run_exe, run_tinyelf

pytestmark = requires_as

# loads that widen a field of each size the way the check needs
LOAD = {
    (8, False): "movq {f}(%rip), %rax", (8, True): "movq {f}(%rip), %rax",
    (4, False): "movl {f}(%rip), %eax", (4, True): "movslq {f}(%rip), %rax",
    (2, False): "movzwq {f}(%rip), %rax", (2, True): "movswq {f}(%rip), %rax",
    (1, False): "movzbq {f}(%rip), %rax", (1, True): "movsbq {f}(%rip), %rax",
}
DIRECTIVE = {8: ".quad 0", 4: ".long 0", 2: ".short 0", 1: ".byte 0"}


def absolute_program(rtype, size, signed, target, addend, target_def=""):
    """Field = S + A; code checks field == &target + A (or the absolute value)."""
    expect = f"mov ${target}+{addend}, %rbx" if target_def.startswith(".set") else \
        f"lea {target}+{addend}(%rip), %rbx"
    return f"""
    .globl _start
    .section .text._start,"ax",@progbits
_start:
    {LOAD[(size, signed)].format(f="field")}
    {expect}
    cmp %rax, %rbx
    jne fail
{EXIT_OK}
{EXIT_FAIL}
    .section .data.field,"aw",@progbits
field:
    .reloc ., {rtype}, {target}+{addend}
    {DIRECTIVE[size]}
    {target_def}
"""


def pc_program(rtype, size, addend, far=True):
    """Field = S + A - P; code checks field + &field == &target + A."""
    place = "" if far else "target: .byte 0x90"
    return f"""
    .globl _start
    .section .text._start,"ax",@progbits
_start:
    {LOAD[(size, True)].format(f="field")}
    lea field(%rip), %rcx
    add %rcx, %rax
    lea target+{addend}(%rip), %rbx
    cmp %rax, %rbx
    jne fail
{EXIT_OK}
{EXIT_FAIL}
    .section .data.field,"aw",@progbits
    {place}
field:
    .reloc ., {rtype}, target+{addend}
    {DIRECTIVE[size]}
    {"" if not far else '.section .rodata.target,"a",@progbits'}
    {"target: .byte 0x90" if far else ""}
"""


CASES = {
    "R_X86_64_64": absolute_program("R_X86_64_64", 8, False, "target", 5, "target: .byte 1"),
    "R_X86_64_32": absolute_program("R_X86_64_32", 4, False, "target", 3, "target: .byte 1"),
    "R_X86_64_32S": absolute_program("R_X86_64_32S", 4, True, "target", 7, "target: .byte 1"),
    "R_X86_64_16": absolute_program("R_X86_64_16", 2, False, "small", 1,
                                    ".set small, 0x1234\n    .globl small"),
    "R_X86_64_8": absolute_program("R_X86_64_8", 1, False, "tiny", 2,
                                   ".set tiny, 0x70\n    .globl tiny"),
    "R_X86_64_PC32": pc_program("R_X86_64_PC32", 4, 9),
    "R_X86_64_PLT32": pc_program("R_X86_64_PLT32", 4, -4),
    "R_X86_64_PC64": pc_program("R_X86_64_PC64", 8, 11),
    "R_X86_64_PC16": pc_program("R_X86_64_PC16", 2, 1, far=False),
    "R_X86_64_PC8": pc_program("R_X86_64_PC8", 1, 1, far=False),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_relocation_formula(name, build_dir, tmp_path):
    obj = assemble(CASES[name], tmp_path / "r.o")
    exe = build_dir / f"reloc_{name}"
    proc = run_tinyelf("pack", obj, "-o", exe)
    assert proc.returncode == 0, proc.stderr
    assert run_exe(exe) == (b"", 0)


def test_check_program_can_fail(build_dir, tmp_path):
    """The checking programs do notice a wrong value (guards the tests above)."""
    src = CASES["R_X86_64_64"].replace("lea target+5(%rip)", "lea target+6(%rip)")
    obj = assemble(src, tmp_path / "r.o")
    exe = build_dir / "reloc_wrong"
    assert run_tinyelf("pack", obj, "-o", exe).returncode == 0
    assert run_exe(exe) == (b"", 1)


GOT_PROGRAM = """
    .globl _start
    .section .text._start,"ax",@progbits
_start:
    # R_X86_64_REX_GOTPCRELX: relaxed to lea
    movq target@GOTPCREL(%rip), %rax
    lea target(%rip), %rbx
    cmp %rax, %rbx
    jne fail
    # R_X86_64_GOTPCREL (no relaxation allowed): through a real GOT slot
    .reloc .+3, R_X86_64_GOTPCREL, other-4
    movq 0(%rip), %rax
    lea other(%rip), %rbx
    cmp %rax, %rbx
    jne fail
    # R_X86_64_GOTPC32 + R_X86_64_GOTOFF64: the GOT-relative data access pattern
    lea _GLOBAL_OFFSET_TABLE_(%rip), %rcx
    movabs $target@GOTOFF, %rdx
    add %rcx, %rdx
    lea target(%rip), %rbx
    cmp %rdx, %rbx
    jne fail
    # call/jmp through the GOT: relaxed to direct branches
    call *func@GOTPCREL(%rip)
    cmp $77, %eax
    jne fail
{exit_ok}
{exit_fail}
    .section .text.func,"ax",@progbits
func:
    mov $77, %eax
    ret
    .section .rodata.target,"a",@progbits
target: .byte 1
other: .byte 2
"""


def test_got_relocations_and_relaxation(build_dir, tmp_path):
    obj = assemble(GOT_PROGRAM.format(exit_ok=EXIT_OK, exit_fail=EXIT_FAIL), tmp_path / "g.o",
                   extra=["-mrelax-relocations=yes"])
    exe = build_dir / "got"
    proc = run_tinyelf("pack", obj, "-o", exe)
    assert proc.returncode == 0, proc.stderr
    assert run_exe(exe) == (b"", 0)


def test_gotpc64_and_gotpcrel64(build_dir, tmp_path):
    src = f"""
    .globl _start
    .section .text._start,"ax",@progbits
_start:
1:  lea 1b(%rip), %r11
    movabs $_GLOBAL_OFFSET_TABLE_-1b, %rcx    # R_X86_64_GOTPC64
    add %r11, %rcx
    movabs $target@GOT, %rdx                   # R_X86_64_GOT64: slot offset
    mov (%rcx,%rdx), %rax
    lea target(%rip), %rbx
    cmp %rax, %rbx
    jne fail
{EXIT_OK}
{EXIT_FAIL}
    .section .rodata.target,"a",@progbits
target: .byte 1
"""
    obj = assemble(src, tmp_path / "g64.o")
    exe = build_dir / "got64"
    proc = run_tinyelf("pack", obj, "-o", exe)
    assert proc.returncode == 0, proc.stderr
    assert run_exe(exe) == (b"", 0)


def test_undefined_weak_resolves_to_zero(build_dir, tmp_path):
    src = f"""
    .weak missing
    .globl _start
    .section .text._start,"ax",@progbits
_start:
    movabs $missing, %rax
    test %rax, %rax
    jne fail
{EXIT_OK}
{EXIT_FAIL}
"""
    obj = assemble(src, tmp_path / "w.o")
    exe = build_dir / "weak0"
    assert run_tinyelf("pack", obj, "-o", exe).returncode == 0
    assert run_exe(exe) == (b"", 0)


OVERFLOWS = {
    # type, field size, target definition, tinyelf options
    "R_X86_64_8": (1, "target: .byte 1", []),
    "R_X86_64_16": (2, "target: .byte 1", []),
    "R_X86_64_32": (4, "target: .byte 1", ["--base", "0x100000000"]),
    "R_X86_64_32S": (4, "target: .byte 1", ["--base", "0x80000000"]),
    # strict: the default layout may reorder sections so that these fit
    "R_X86_64_PC8": (1, ".section .rodata.t,\"a\",@progbits\ntarget: .byte 1\n    .space 300",
                     ["--layout", "strict"]),
    "R_X86_64_PC16": (2, ".section .rodata.t,\"a\",@progbits\ntarget: .byte 1\n    .space 70000",
                      ["--layout", "strict"]),
}


@pytest.mark.parametrize("rtype", sorted(OVERFLOWS))
def test_relocation_overflow_is_reported(rtype, build_dir, tmp_path):
    size, target_def, opts = OVERFLOWS[rtype]
    src = f"""
    .globl _start
    .section .text._start,"ax",@progbits
_start:
    lea field(%rip), %rax
{EXIT_OK}
    .section .data.field,"aw",@progbits
field:
    .reloc ., {rtype}, target
    {DIRECTIVE[size]}
    {target_def}
"""
    obj = assemble(src, tmp_path / "o.o")
    exe = build_dir / f"overflow_{rtype}"
    proc = run_tinyelf("pack", obj, *opts, "-o", exe)
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("tinyelf: error: relocation " + rtype + " out of range")
    assert "target" in lines[0] and "o.o:.data.field+0x0" in lines[0]
    assert not exe.exists()
