"""Linking several objects: calls both ways, data in both, COMMON, weak, COMDAT."""
from __future__ import annotations

from conftest import run_exe, run_tinyelf

SYS_H = r"""
static inline long sys3(long n, long a, long b, long c) {
    long r;
    __asm__ volatile ("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return r;
}
"""

A_C = SYS_H + r"""
extern int b_counter;
extern const char b_greeting[];
int b_add(int x);
int a_table[4] = {10, 20, 30, 40};
int shared_common;            /* COMMON with -fcommon, also declared in b.c */
int a_double(int x) { return 2 * x + a_table[1]; }
__attribute__((weak)) int overridable(void) { return 1; }
void _start(void) {
    int v = b_add(5);                    /* b.c calls back into a_double */
    sys3(1, 1, (long)b_greeting, 6);
    shared_common += 3;
    sys3(60, v + b_counter + overridable() + shared_common, 0, 0);
}
"""

B_C = r"""
extern int a_table[];
int a_double(int x);
int shared_common;
int b_counter = 100;
const char b_greeting[] = "multi\n";
int overridable(void) { return 50; }  /* strong definition beats a.c's weak one */
int b_add(int x) { b_counter += a_table[3]; return a_double(x) + shared_common; }
"""


def test_two_objects_call_each_other(build_dir, tmp_path):
    from tinyelf.tools import toolchain
    (tmp_path / "a.c").write_text(A_C)
    (tmp_path / "b.c").write_text(B_C)
    a = toolchain.compile_c(tmp_path / "a.c", tmp_path / "a.o", ["-fcommon"])
    b = toolchain.compile_c(tmp_path / "b.c", tmp_path / "b.o", ["-fcommon"])
    exe = build_dir / "multi"
    proc = run_tinyelf("pack", a, b, "-o", exe)
    assert proc.returncode == 0, proc.stderr
    # v = 2*5+20 + 0 = 30; b_counter = 140; overridable = 50; shared_common = 3
    assert run_exe(exe) == (b"multi\n", (30 + 140 + 50 + 3) & 0xFF)
    # object order does not change behaviour
    exe2 = build_dir / "multi_rev"
    assert run_tinyelf("pack", b, a, "-o", exe2).returncode == 0
    assert run_exe(exe2) == (b"multi\n", (30 + 140 + 50 + 3) & 0xFF)


def test_comdat_groups_are_deduplicated(build_dir, tmp_path):
    from asmutil import assemble
    common = """
    .section .text.helper,"axG",@progbits,helper,comdat
    .globl helper
helper:
    mov ${val}, %eax
    ret
"""
    a = assemble(common.format(val=5) + """
    .globl _start
    .section .text._start,"ax",@progbits
_start:
    call helper
    call other
    mov %eax, %edi
    mov $60, %eax
    syscall
""", tmp_path / "ca.o")
    b = assemble(common.format(val=9) + """
    .globl other
    .section .text.other,"ax",@progbits
other:
    call helper
    add $1, %eax
    ret
""", tmp_path / "cb.o")
    exe = build_dir / "comdat"
    proc = run_tinyelf("pack", a, b, "-o", exe)
    assert proc.returncode == 0, proc.stderr
    assert run_exe(exe) == (b"", 6)   # the first object's copy of helper wins
