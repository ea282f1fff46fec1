"""No machine knowledge outside the machine's folder (issue 11).

Everything that knows x86-64 lives in tinyelf/arch/x86_64/ (each other
machine in its own folder under tinyelf/arch/); the generic modules ask the
arch object.  This test reads every other module of the package with
Python's tokenizer and lists, as file:line, each:

* ``R_X86_64`` anywhere (code, strings, comments): relocation names;
* ``capstone.x86`` / ``from capstone import x86``: capstone's x86 operands;
* a name starting ``X86_`` (capstone's X86_OP_*, X86_REG_*, the arch class);
* an x86 opcode as a number or a byte in a bytes literal: 0xEB (jmp rel8),
  0xE9 (jmp rel32), 0xE8 (call rel32), 0x90 (nop), 0xCC (int3);
* an x86-64 Linux syscall number (60 exit, 231 exit_group) on a line that
  speaks of a syscall or exit.
"""
from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path


PACKAGE = Path(__file__).resolve().parent.parent / "tinyelf"
#: every folder under tinyelf/arch/ is one machine's: it may know that machine
ARCH_ROOT = PACKAGE / "arch"

OPCODES = {0xEB: "jmp rel8", 0xE9: "jmp rel32", 0xE8: "call rel32", 0x90: "nop",
           0xCC: "int3"}
SYSCALLS = {60: "exit", 231: "exit_group"}
_BYTE_ESCAPE = re.compile(r"\\x(eb|e9|e8|90|cc)", re.I)
_SYSCALL_CONTEXT = re.compile(r"sys|exit", re.I)


def generic_modules() -> list[Path]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if ARCH_ROOT in path.parents and path.parent != ARCH_ROOT:
            continue              # inside a machine's folder
        out.append(path)
    return out


def hits_in(source: str) -> list[tuple[int, str]]:
    """(line, what) for each piece of x86-64 knowledge in ``source``."""
    found = []
    lines = source.splitlines()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        kind, text, (row, _col) = tok.type, tok.string, tok.start
        for m in re.finditer("R_X86_64", text):       # a docstring spans lines
            found.append((row + text.count("\n", 0, m.start()), "relocation name R_X86_64..."))
        if kind == tokenize.NAME and text.startswith("X86_"):
            found.append((row, f"x86 name {text}"))
        if kind == tokenize.NUMBER:
            try:
                value = int(text, 0)
            except ValueError:
                continue
            if text.lower().startswith("0x") and value in OPCODES:
                found.append((row, f"opcode {text} ({OPCODES[value]})"))
            if value in SYSCALLS and _SYSCALL_CONTEXT.search(lines[row - 1]):
                found.append((row, f"syscall number {value} ({SYSCALLS[value]})"))
        if kind == tokenize.STRING and text.lstrip("rRuU")[:1] in "bB" or \
                (kind == tokenize.STRING and text[:2].lower() in ("rb", "br")):
            for m in _BYTE_ESCAPE.finditer(text):
                found.append((row + text.count("\n", 0, m.start()), f"opcode byte \\x{m.group(1)} "
                                   f"({OPCODES[int(m.group(1), 16)]})"))
    for row, line in enumerate(lines, 1):
        if re.search(r"capstone\.x86|from capstone import .*\bx86\b", line):
            found.append((row, "capstone's x86 module"))
    return sorted(set(found))


def test_the_detector_sees_each_kind():
    sample = '''
import capstone.x86
from capstone import x86
R = 2  # R_X86_64_PC32
t = X86_OP_IMM
jmp = bytes([0xEB, 0])
far = b"\\xe9" + bytes(4)
mov_eax = 60      # exit syscall
size = 60         # an ordinary number
'''
    kinds = [what for _row, what in hits_in(sample)]
    assert sum("capstone" in k for k in kinds) == 2
    assert any("R_X86_64" in k for k in kinds) and any("X86_OP_IMM" in k for k in kinds)
    assert any("0xEB" in k for k in kinds) and any("\\xe9" in k for k in kinds)
    assert [k for k in kinds if "syscall" in k] == ["syscall number 60 (exit)"]


def test_no_x86_64_knowledge_outside_the_arch_folders():
    problems = []
    for path in generic_modules():
        for row, what in hits_in(path.read_text()):
            problems.append(f"{path.relative_to(PACKAGE.parent)}:{row}: {what}")
    assert not problems, (
        f"{len(problems)} place(s) in generic modules know x86-64; move them into "
        "tinyelf/arch/x86_64/ and ask the arch object:\n" + "\n".join(problems))


#: the other machines' relocation names, capstone modules and syscall
#: instructions (inspect's trace hints live in tinyelf/arch/<name>/trace.py)
OTHER_MACHINES = re.compile(r"R_386_|R_AARCH64_|R_RISCV_|capstone\.(arm64|riscv)\b|"
                            r"from capstone import .*\b(arm64|riscv)\b|"
                            r"[\"'](ecall|svc #0|int 0x80)[\"']")


def other_machines_in(source: str) -> list[tuple[int, str]]:
    return [(row, m.group(0)) for row, line in enumerate(source.splitlines(), 1)
            for m in OTHER_MACHINES.finditer(line)]


def test_the_other_machines_detector():
    sample = 'a = "R_386_PC32"\nb = R_AARCH64_CALL26\nimport capstone.riscv\nc = "ecall"\n' \
             'd = ("int 0x80",)\ne = "svc #0"\nf = "a syscall instruction"\n'
    assert [row for row, _w in other_machines_in(sample)] == [1, 2, 3, 4, 5, 6]


def test_no_other_machine_knowledge_outside_the_arch_folders():
    problems = [f"{path.relative_to(PACKAGE.parent)}:{row}: {what}"
                for path in generic_modules() for row, what in other_machines_in(path.read_text())]
    assert not problems, (
        f"{len(problems)} place(s) in generic modules know i386, aarch64 or riscv64; move them "
        "into that machine's folder under tinyelf/arch/ and ask the arch object:\n"
        + "\n".join(problems))
