"""Assembly input: keystone per instruction, relocations found by diffing,
checked against capstone; assembled programs linked and RUN."""
from __future__ import annotations

import pytest

from conftest import SAMPLES, run_exe, run_tinyelf

# (instruction, what capstone must print back)
ROUND_TRIP = [
    ("mov eax, 60", "mov eax, 0x3c"),
    ("mov edi, 42", "mov edi, 0x2a"),
    ("xor edi, edi", "xor edi, edi"),
    ("syscall", "syscall"),
    ("lea rsi, [rsp + 8]", "lea rsi, [rsp + 8]"),
    ("lea rdx, [rsi + rdi*8 + 8]", "lea rdx, [rsi + rdi*8 + 8]"),
    ("and rsp, -16", "and rsp, 0xfffffffffffffff0"),
    ("mov dword ptr [rax + 4], 7", "mov dword ptr [rax + 4], 7"),
    ("mov byte [rbx - 1], 10", "mov byte ptr [rbx - 1], 0xa"),
    ("push 100", "push 0x64"),
    ("movzx eax, byte ptr [rdi]", "movzx eax, byte ptr [rdi]"),
    ("imul rax, rbx, 1000", "imul rax, rbx, 0x3e8"),
    ("ret", "ret"),
]


@pytest.mark.parametrize("text,expect", ROUND_TRIP, ids=[t for t, _ in ROUND_TRIP])
def test_keystone_bytes_round_trip_through_capstone(text, expect):
    import capstone

    from tinyelf.asm import assemble_source
    obj = assemble_source(f"_start:\n    {text}\n", "<t>")
    code = bytes(obj.sections[1].data)
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    insns = list(md.disasm(code, 0))
    assert len(insns) == 1 and insns[0].size == len(code)
    assert f"{insns[0].mnemonic} {insns[0].op_str}".strip() == expect


def _relocs(obj):
    out = {}
    for sec in obj.sections:
        if sec is None:
            continue
        for off, rtype, symidx, addend in sec.relocs:
            out[(sec.name, off)] = (rtype, obj.symbols[symidx].name, addend)
    return out


def test_relocations_have_the_right_field_type_and_addend():
    from tinyelf.asm import assemble_source
    src = """
    section .text
    global _start
    _start:
        call ext_func            ; e8 rel32 -> PC32 at 1, addend -4
        lea rsi, [rel msg + 2]   ; 48 8d 35 disp32 -> PC32 at 8, addend 2-4
        mov eax, msg             ; b8 imm32 -> R_X86_64_32 at 13
        mov rax, msg + 1         ; 48 c7 c0 imm32 (sign-extended) -> 32S at 20
        mov dword ptr [rip + ext_data], 5   ; disp32 followed by imm32: addend -8
        jmp _start               ; inside the section: no relocation
    section .rodata
    msg: db "abc", 0
    ptrs: dq msg, ext_data + 8
    """
    obj = assemble_source(src, "<t>")
    r = _relocs(obj)
    assert r[(".text", 1)] == (2, "ext_func", -4)
    assert r[(".text", 8)] == (2, ".rodata", 2 - 4)
    assert r[(".text", 13)] == (10, ".rodata", 0)
    assert r[(".text", 20)] == (11, ".rodata", 1)
    assert r[(".text", 26)] == (2, "ext_data", -8)
    assert r[(".rodata", 4)] == (1, ".rodata", 0)
    assert r[(".rodata", 12)] == (1, "ext_data", 8)
    assert len(r) == 7
    text = bytes(obj.sections[1].data)
    assert text[-2:] == bytes([0xEB, 0x100 - len(text)])        # jmp _start, short, final


MULTI = """
; two sections, equ, strings, absolute and rip-relative references,
; NASM local labels, a table of pointers, .bss, a call into another file
default rel
global _start
extern helper
section .rodata
msg:    db "Hi ", 'there', 10
len     equ $ - msg
tbl:    dq msg, msg + 3
section .bss
buf:    resb 64
section .text
_start:
    mov rsi, [tbl + 8]       ; pointer to "there\\n"
    mov edx, len - 3
    call print
    mov ecx, 3
.loop:
    mov byte [buf + rcx - 1], 'x'
    dec ecx
    jnz .loop
    mov esi, buf
    mov edx, 3
    call print
    call helper
    mov edi, eax
    mov eax, 60
    syscall
print:
    mov eax, 1
    mov edi, 1
    syscall
    ret
"""
HELPER = """
.intel_syntax noprefix
.globl helper
.text
helper:
    mov eax, 7      # GAS-style comment
    ret
"""


@pytest.mark.parametrize("as_nobody", [False, True], ids=["user", "nobody"])
def test_multi_section_program_links_and_runs(build_dir, as_nobody):
    a = build_dir / "multi.asm"
    b = build_dir / "helper.s"
    a.write_text(MULTI)
    b.write_text(HELPER)          # not .asm: recognised by its content
    exe = build_dir / "multi"
    proc = run_tinyelf("pack", a, b, "-o", exe)
    assert proc.returncode == 0, proc.stderr
    assert run_exe(exe, as_nobody=as_nobody) == (b"there\nxxx", 7)


@pytest.mark.parametrize("as_nobody", [False, True], ids=["user", "nobody"])
def test_hello_asm_sample_packs_and_runs(build_dir, as_nobody):
    exe = build_dir / "hello_asm"
    proc = run_tinyelf("pack", SAMPLES / "hello.asm", "-o", exe)
    assert proc.returncode == 0, proc.stderr
    assert run_exe(exe, as_nobody=as_nobody) == (b"Hello from asm!\n", 0)
    assert exe.stat().st_size < 200


@pytest.mark.parametrize("src,message", [
    ("_start:\n    mov eax, nosuchreg + \n", "t.asm:2: "),
    ("_start:\n    frobnicate eax\n", "t.asm:2: "),
    ("_start:\n    call missing\n", "undefined symbol: missing"),
    ("x:\nx:\n    ret\n", "t.asm:2: label x is defined twice"),
    ("global nothere\n_start: ret\n", "declared global but not defined: nothere"),
    ("_start:\n    .frob 1\n", "t.asm:2: unknown directive .frob"),
    # keystone alone would truncate these silently
    ("_start:\n    mov eax, 0x123456789\n", "t.asm:2: value 0x123456789 does not fit"),
    ("_start:\n    add al, 300\n", "t.asm:2: value 0x12c does not fit"),
    ("_start:\n    times -1 db 0\n", "t.asm:2: times -1"),
])
def test_bad_assembly_is_one_error_line(tmp_path, src, message):
    f = tmp_path / "t.asm"
    f.write_text(src)
    out = tmp_path / "out"
    proc = run_tinyelf("pack", f, "-o", out)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert lines and all(line.startswith("tinyelf: error: ") for line in lines), proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()


FORMS = """
; prefixes, indirect calls through data, default rel, .bss, times, dq $,
; short jumps, movabs, push/pop memory
default rel
global _start
section .data
fptr: dq target
val:  dd 5
buf:  times 4 db 0x90
here: dq $
section .bss
big: resq 4
section .text
_start:
    jmp short .s
.s: call [fptr]
    call qword ptr [rip + fptr]
    lea rdi, [big]
    mov al, [buf]
    movabs rax, 0x1122334455667788
    push qword [val]
    pop rcx
    lea rsi, [buf]
    mov ecx, 4
    rep movsb                 ; big[0..4] = 90 90 90 90, rdi = big + 4
    lock xadd [rdi], eax
    mov rax, [here]
    lea rbx, [rel here]
    cmp rax, rbx
    jne .bad
    mov edi, [val]
    add edi, [big]            ; 5 + 0x90909090: exit status 0x95
    mov eax, 60
    syscall
.bad:
    mov edi, 99
    mov eax, 60
    syscall
target:
    ret
"""


def test_more_instruction_forms_run(build_dir):
    src = build_dir / "forms.asm"
    src.write_text(FORMS)
    exe = build_dir / "forms"
    proc = run_tinyelf("pack", src, "-o", exe)
    assert proc.returncode == 0, proc.stderr
    assert run_exe(exe, as_nobody=True) == (b"", 0x95)


def test_build_takes_assembly_and_writes_the_map(build_dir):
    exe = build_dir / "built_hello_asm"
    proc = run_tinyelf("build", SAMPLES / "hello.asm", "-o", exe, "--map", f"{exe}.map")
    assert proc.returncode == 0, proc.stderr
    assert run_exe(exe, as_nobody=True) == (b"Hello from asm!\n", 0)
    from tinyelf.tools.linkmap import parse_map
    syms = {n: a for a, _s, _t, n in parse_map(open(f"{exe}.map").read())["symbols"]}
    assert "_start" in syms and "msg" in syms


def test_a_machine_without_assembler_syntax_is_one_clear_error():
    """An arch with no ``asm_syntax`` refuses assembly sources by name,
    before parsing anything, listing the machines that have one."""
    from tinyelf.arch import Arch
    from tinyelf.asm import assemble_source
    from tinyelf.errors import InputError

    class Bare(Arch):
        name = "bare"

    with pytest.raises(InputError) as exc:
        assemble_source("_start:\n    ret\n", "t.asm", Bare())
    assert str(exc.value).startswith("t.asm: tinyelf's assembler has no bare syntax; "
                                     "assembly sources are supported for i386, x86_64")


def _syntax_arches():
    from tinyelf import arch as archmod
    return [n for n in archmod.names() if archmod.get(n).asm_syntax is not None]


@pytest.mark.parametrize("name", _syntax_arches())
def test_syntax_relocation_types_fit_their_fields(name):
    """Each (kind, size) the assembler can ask for names a relocation of
    that field size, PC-relative exactly for "pc" (a wrong name in the
    arch's table would relocate the wrong bytes)."""
    from tinyelf import arch as archmod
    from tinyelf.arch import F_ABS, F_PC
    arch = archmod.get(name)
    syntax = arch.asm_syntax
    assert syntax.reloc_types
    for (kind, size), rtype in syntax.reloc_types.items():
        spec = arch.relocs[rtype]
        assert spec.size == size, (kind, size, spec.name)
        assert spec.formula == (F_PC if kind == "pc" else F_ABS), (kind, size, spec.name)


def test_generic_assembler_holds_no_x86_knowledge():
    """Registers, prefixes, relocation numbers, the nop fill and capstone's
    x86 operand types live in tinyelf/arch/x86_64/asm_syntax.py."""
    import re
    from pathlib import Path

    import tinyelf.asm
    from tinyelf.arch.x86_64.asm_syntax import PREFIXES, REGS_64
    words = "|".join(sorted(REGS_64 | PREFIXES, key=len, reverse=True))
    banned = re.compile(rf"R_X86_64|R_386|capstone\.x86|X86_|0x90\b|\b(?:1|2|4|8): ?(?:1|2|10|11|12|13|14|15|24)\b"
                        rf"|[\"'](?:{words})[\"']|\brip\b")
    found = []
    for path in sorted(Path(tinyelf.asm.__file__).parent.glob("*.py")):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if banned.search(line):
                found.append(f"{path.name}:{n}: {line.strip()}")
    assert not found, "\n".join(found)
