"""Size passes: string merging with tail merging, identical code folding,
alignment squeezing, trailing zeros; each with its off switch."""
from __future__ import annotations

import json

import pytest

from asmutil import assemble, requires_as
from conftest import run_exe, run_tinyelf

MAIN = r"""
static long sys3(long n, long a, long b, long c)
{ long ret; __asm__ volatile ("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c)
                              : "rcx", "r11", "memory"); return ret; }
static unsigned long len(const char *s) { unsigned long n = 0; while (s[n]) n++; return n; }
void say(const char *s) { sys3(1, 1, (long)s, len(s)); }
__attribute__((noinline)) int twice_a(int x) { return x * 2 + 1; }
__attribute__((noinline)) int twice_b(int x) { return x * 2 + 1; }
void other(void);
void _start(void)
{
    say("hello world\n");
    say("world\n");
    say("hello world\n");
    say("ld\n");
    other();
    sys3(60, twice_a(3) + twice_b(4), 0, 0);
    __builtin_unreachable();
}
"""
OTHER = r"""
void say(const char *s);
void other(void) { say("world\n"); say("hello world\n"); say("unique\n"); }
"""
EXPECTED = (b"hello world\nworld\nhello world\nld\nworld\nhello world\nunique\n", 16)


@pytest.fixture(scope="module", params=["-fno-pie", "-fPIE"])
def objs(request, tmp_path_factory):
    from tinyelf.tools import toolchain
    d = tmp_path_factory.mktemp("squeeze")
    out = []
    for name, text in (("main", MAIN), ("other", OTHER)):
        (d / f"{name}.c").write_text(text)
        out.append(toolchain.compile_c(d / f"{name}.c", d / f"{name}.o", [request.param]))
    return out


def pack(objs, out, *opts):
    proc = run_tinyelf("pack", *objs, "-o", out, "--report", "--json", *opts)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_passes_shrink_and_keep_behaviour(objs, build_dir, request):
    tag = request.node.callspec.id
    on = pack(objs, build_dir / f"sq_on_{tag}")
    off = pack(objs, build_dir / f"sq_off_{tag}", "--no-merge-strings", "--no-fold-functions")
    assert run_exe(build_dir / f"sq_on_{tag}", as_nobody=True) == EXPECTED
    assert run_exe(build_dir / f"sq_off_{tag}", as_nobody=True) == EXPECTED
    # "hello world\n\0" (13) holds "world\n\0" and "ld\n\0"; plus "unique\n\0" (8)
    assert on["passes"]["merge_strings"].endswith("-> 21 bytes")
    assert on["passes"]["fold_functions"].startswith("1 identical")
    assert "passes" in off and off["passes"] == {}
    assert on["file"] < off["file"]
    for layout in ("strict", "overlap104"):
        exe = build_dir / f"sq_{layout}_{tag}"
        pack(objs, exe, "--layout", layout)
        assert run_exe(exe) == EXPECTED


ADDRESS_TAKEN = """
    .globl _start
    .section .text._start,"ax",@progbits
_start:
    call f
    mov %eax, %ebx
    call g
    add %eax, %ebx
    lea f(%rip), %rax
    lea g(%rip), %rcx
    mov $60, %eax
    mov $7, %edi
    cmp %rax, %rcx
    jne 1f
    mov $9, %edi
1:  add %ebx, %edi
    syscall
    .section .text.f,"ax",@progbits
f:  mov $1, %eax
    ret
    .section .text.g,"ax",@progbits
g:  mov $1, %eax
    ret
    .section .text.h,"ax",@progbits
h:  mov $1, %eax
    ret
"""


@requires_as
def test_functions_whose_address_is_taken_are_not_folded(build_dir, tmp_path):
    obj = assemble(ADDRESS_TAKEN, tmp_path / "taken.o")
    exe = build_dir / "taken"
    rep = pack([obj], exe)
    assert "fold_functions" not in rep["passes"]
    assert run_exe(exe) == (b"", 9)      # f and g stay two functions: 7 + 1 + 1


CALLS_ONLY = ADDRESS_TAKEN.replace("    lea f(%rip), %rax\n    lea g(%rip), %rcx\n",
                                   "    mov $1, %eax\n    mov $2, %ecx\n")


@requires_as
def test_functions_only_called_are_folded(build_dir, tmp_path):
    obj = assemble(CALLS_ONLY, tmp_path / "calls.o")
    exe = build_dir / "calls"
    rep = pack([obj], exe)
    assert rep["passes"]["fold_functions"].startswith("1 identical")
    assert run_exe(exe, as_nobody=True) == (b"", 9)
    names = [s["name"] for s in rep["sections"]]
    assert any(".text.f" in n for n in names) and not any(".text.g" in n for n in names)


ZEROS = """
    .globl _start
    .section .text._start,"ax",@progbits
    .p2align 4
_start:
    lea table(%rip), %rsi
    movzbl 1000(%rsi), %edi
    add counter(%rip), %edi
    mov $60, %eax
    syscall
    .section .data.table,"aw",@progbits
    .p2align 3
table: .byte 5
    .zero 1000
    .byte 0
    .section .data.counter,"aw",@progbits
counter: .long 4
"""


@requires_as
def test_trailing_zeros_become_bss_and_code_padding_goes(build_dir, tmp_path):
    obj = assemble(ZEROS, tmp_path / "zeros.o")
    exe = build_dir / "zeros"
    rep = pack([obj], exe)
    assert run_exe(exe, as_nobody=True) == (b"", 4)
    assert rep["file"] < 200 and rep["trimmed_zeros"] >= 1000
    full = build_dir / "zeros_full"
    rep2 = pack([obj], full, "--no-trim-zeros", "--no-squeeze-align")
    assert rep2["file"] > 1000 and rep2["trimmed_zeros"] == 0
    assert run_exe(full) == (b"", 4)
    # data keeps its alignment: table is 8-aligned in both
    for r in (rep, rep2):
        table = next(s for s in r["sections"] if s["name"].endswith(".data.table"))
        assert table["addr"] % 8 == 0


ALIGNED_STRINGS = {
    "a.c": """
static long w(const char *s)
{
    long n = 0, r;
    while (s[n]) n++;
    __asm__ volatile("syscall" : "=a"(r) : "a"(1), "D"(1), "S"(s), "d"(n) : "rcx", "r11", "memory");
    return r;
}
void f(void) { w("the first long string that is here a"); }
void _start(void)
{
    extern void g(void);
    f();
    g();
    __asm__ volatile("mov $60, %eax; xor %edi, %edi; syscall");
}
""",
    "b.c": """
static long w(const char *s)
{
    long n = 0, r;
    while (s[n]) n++;
    __asm__ volatile("syscall" : "=a"(r) : "a"(1), "D"(1), "S"(s), "d"(n) : "rcx", "r11", "memory");
    return r;
}
void g(void) { w("another long string of bytes here b"); }
""",
}


def test_merge_strings_never_grows_aligned_strings(build_dir, tmp_path):
    """gcc -O2 puts long strings into .rodata.str1.8: merged, every string
    keeps 8-byte alignment, and the padding outweighs what nothing was
    deduplicated (73 -> 77 bytes before the fix).  The pass must leave such a
    group alone: the output is never larger than without the pass."""
    import subprocess
    objs = []
    for name, text in ALIGNED_STRINGS.items():
        src = tmp_path / name
        src.write_text(text)
        obj = tmp_path / (name[:-2] + ".o")
        subprocess.run(["gcc", "-O2", "-c", "-ffreestanding", "-fno-pie",
                        "-fno-asynchronous-unwind-tables", "-o", str(obj), str(src)], check=True)
        objs.append(obj)
    on, off = build_dir / "aligned_strings", build_dir / "aligned_strings_off"
    rep = pack(objs, on)
    pack(objs, off, "--no-merge-strings")
    assert on.stat().st_size <= off.stat().st_size
    assert "merge_strings" not in json.dumps(rep.get("squeezed", {}))
    want = b"the first long string that is here aanother long string of bytes here b"
    assert run_exe(on) == (want, 0)
    assert run_exe(on, as_nobody=True) == (want, 0)
