"""Mergeable sections (SHF_MERGE): only the strings and constants a kept
section refers to reach the output, each once, and every reference into them
still finds its bytes (checked by running the programs)."""
from __future__ import annotations

import glob
import shutil
import subprocess

import pytest

from asmutil import assemble, requires_as
from conftest import SAMPLES, requires_rustc, run_exe, run_tinyelf

# strings reached three ways: a PC-relative load of a named local symbol
# (hello), an absolute pointer through the section symbol + offset (world),
# and a label gas turns into section symbol + offset (again, a duplicate of
# hello); a constant pool with one constant in use
MERGE_ASM = """
    .section .rodata.str1.1,"aMS",@progbits,1
    .ascii "UNUSED-ONE\\0"
hello:
    .ascii "hello\\n\\0"
    .ascii "UNUSED-TWO\\0"
    .ascii "world\\n\\0"
again:
    .ascii "hello\\n\\0"
    .section .rodata.cst8,"aM",@progbits,8
    .quad 0x1111111111111111
seven:
    .quad 7
    .quad 0x2222222222222222
    .section .data.table,"aw"
table:
    .quad .rodata.str1.1+29
    .quad again
    .text
    .globl _start
_start:
    mov $1, %eax
    mov $1, %edi
    lea hello(%rip), %rsi
    mov $6, %edx
    syscall
    mov $1, %eax
    mov $1, %edi
    mov table(%rip), %rsi
    mov $6, %edx
    syscall
    mov $1, %eax
    mov $1, %edi
    mov table+8(%rip), %rsi
    mov $6, %edx
    syscall
    mov $60, %eax
    mov seven(%rip), %rdi
    syscall
"""


@requires_as
def test_unreferenced_strings_and_constants_are_dropped(build_dir):
    obj = assemble(MERGE_ASM, build_dir / "merge.o")
    exe = build_dir / "merge"
    r = run_tinyelf("pack", obj, "-o", exe)
    assert r.returncode == 0, r.stderr
    assert run_exe(exe, as_nobody=True) == (b"hello\nworld\nhello\n", 7)
    data = exe.read_bytes()
    assert b"UNUSED" not in data
    assert data.count(b"hello\n\0") == 1          # the duplicate shares one copy
    assert b"\x11" * 8 not in data and b"\x22" * 8 not in data


@requires_as
def test_no_gc_sections_keeps_every_piece(build_dir):
    obj = assemble(MERGE_ASM, build_dir / "merge_nogc.o")
    exe = build_dir / "merge_nogc"
    r = run_tinyelf("pack", "--no-gc-sections", obj, "-o", exe)
    assert r.returncode == 0, r.stderr
    assert run_exe(exe, as_nobody=True) == (b"hello\nworld\nhello\n", 7)
    assert exe.read_bytes().count(b"UNUSED") == 2


C_STRINGS = r"""
typedef unsigned long size_t;
static long sys3(long n, long a, long b, long c)
{
    long ret;
    __asm__ volatile ("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return ret;
}
static size_t len(const char *s) { size_t n = 0; while (s[n]) n++; return n; }
static void say(const char *s) { sys3(1, 1, (long)s, len(s)); }
void never_called(void) { say("NEVER-PRINTED, a string nobody needs\n"); }
const char *const greetings[] = { "first\n", "second\n" };
void _start(void)
{
    say("merged strings: ");
    say(greetings[1]);
    say(greetings[0]);
    sys3(60, 0, 0, 0);
    __builtin_unreachable();
}
"""


def test_c_string_literals(build_dir):
    from tinyelf.tools import toolchain
    src = build_dir / "cstrings.c"
    src.write_text(C_STRINGS)
    obj = toolchain.compile_c(src, build_dir / "cstrings.o")
    sections = subprocess.run(["readelf", "-SW", obj], capture_output=True, text=True).stdout
    assert ".str1.1" in sections                  # the literals are mergeable
    exe = build_dir / "cstrings"
    r = run_tinyelf("pack", obj, "-o", exe)
    assert r.returncode == 0, r.stderr
    assert run_exe(exe, as_nobody=True) == (b"merged strings: second\nfirst\n", 0)
    assert b"NEVER-PRINTED" not in exe.read_bytes()


@requires_rustc
@pytest.mark.skipif(shutil.which("ar") is None, reason="ar not installed")
def test_rust_with_libcore_strings(build_dir, sample_obj):
    """libcore's panic locations point into its .rodata.str1.1 through the
    section symbol; prodfactors formats with core::fmt and still works."""
    from tinyelf.tools import toolchain
    sysroot = subprocess.run(["rustc", "--print", "sysroot"], capture_output=True,
                             text=True).stdout.strip()
    rlibs = glob.glob(f"{sysroot}/lib/rustlib/x86_64-unknown-linux-gnu/lib/libcore-*.rlib")
    if not rlibs:
        pytest.skip("no libcore rlib for x86_64-unknown-linux-gnu")
    xdir = build_dir / "libcore-merge"
    xdir.mkdir(exist_ok=True)
    subprocess.run(["ar", "x", rlibs[0]], cwd=xdir, check=True)
    core = sorted(xdir.glob("*.o"))
    mem = toolchain.compile_c(SAMPLES.parent / "tests" / "corpus" / "support" / "mem.c",
                              build_dir / "merge_mem.o",
                              extra=("-fno-builtin", "-fno-tree-loop-distribute-patterns"))
    exe = build_dir / "prodfactors_merged"
    r = run_tinyelf("pack", sample_obj("prodfactors.rs"), mem, *core, "-o", exe)
    assert r.returncode == 0, r.stderr
    out, status = run_exe(exe, "600851475143", "12", as_nobody=True)
    assert (out, status) == (b"600851475143: 71 839 1471 6857\n12: 2 2 3\n", 0)
    assert run_exe(exe, "12", "x")[1] == 1
    full = build_dir / "prodfactors_unmerged"
    r = run_tinyelf("pack", "--no-gc-sections", sample_obj("prodfactors.rs"), mem, *core,
                    "-o", full)
    if r.returncode == 0:   # the whole of libcore may not link without gc
        assert exe.stat().st_size < full.stat().st_size


@requires_as
def test_pc_relative_section_reference_keeps_the_section_whole(build_dir):
    """``lea .rodata.str1.1+N(%rip)`` puts N-4 in the addend: which string it
    means depends on the instruction, so the section is left as it is."""
    src = MERGE_ASM.replace("    mov table(%rip), %rsi\n", "    lea .rodata.str1.1+29(%rip), %rsi\n")
    obj = assemble(src, build_dir / "merge_pcrel.o")
    relocs = subprocess.run(["readelf", "-rW", obj], capture_output=True, text=True).stdout
    assert "R_X86_64_PC32" in relocs and ".rodata.str1.1 + 19" in relocs
    exe = build_dir / "merge_pcrel"
    r = run_tinyelf("pack", obj, "-o", exe)
    assert r.returncode == 0, r.stderr
    assert run_exe(exe, as_nobody=True) == (b"hello\nworld\nhello\n", 7)
    assert exe.read_bytes().count(b"UNUSED") == 2          # strings kept whole
    assert b"\x11" * 8 not in exe.read_bytes()             # the constant pool is still collected


def _address_of_file_offset(data: bytes, off: int) -> int:
    """The address file offset ``off`` is mapped at: the kernel maps whole
    pages, so the PT_LOAD starting at or before it decides (tinyelf's
    overlapping layouts declare a tiny p_filesz)."""
    phoff = int.from_bytes(data[0x20:0x28], "little")
    phentsize = int.from_bytes(data[0x36:0x38], "little")
    phnum = int.from_bytes(data[0x38:0x3a], "little")
    best = None
    for i in range(phnum):
        ph = data[phoff + i * phentsize:phoff + (i + 1) * phentsize].ljust(56, b"\0")
        p_type = int.from_bytes(ph[0:4], "little")
        p_offset, p_vaddr = int.from_bytes(ph[8:16], "little"), int.from_bytes(ph[16:24], "little")
        if p_type == 1 and p_offset & -4096 <= off and (best is None or p_offset > best[0]):
            best = (p_offset, p_vaddr)
    assert best is not None, f"file offset {off:#x} is not loaded"
    return best[1] - best[0] + off


@requires_as
@pytest.mark.skipif(shutil.which("objcopy") is None, reason="objcopy not installed")
def test_debug_sidecar_follows_moved_strings(build_dir):
    """A DWARF reference to a string through the section symbol still gives
    the string's new address in the --debug-sidecar file."""
    src = MERGE_ASM + '    .section .debug_info,"",@progbits\n    .quad .rodata.str1.1+29\n'
    obj = assemble(src, build_dir / "merge_dwarf.o")
    exe, debug = build_dir / "merge_dwarf", build_dir / "merge_dwarf.debug"
    r = run_tinyelf("pack", obj, "-o", exe, "--debug-sidecar", debug)
    assert r.returncode == 0, r.stderr
    assert run_exe(exe, as_nobody=True) == (b"hello\nworld\nhello\n", 7)
    raw = build_dir / "merge_dwarf.debug_info"
    subprocess.run(["objcopy", f"--dump-section=.debug_info={raw}", debug, build_dir / "scratch"],
                   check=True)
    data = exe.read_bytes()
    assert b"UNUSED" not in data
    world = _address_of_file_offset(data, data.index(b"world\n\0"))
    assert int.from_bytes(raw.read_bytes()[:8], "little") == world
