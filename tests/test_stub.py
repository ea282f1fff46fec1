"""The start stub: programs that define main and no _start get one."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from conftest import run_exe, run_tinyelf

ENV_MAIN = r"""
static long sys3(long n, long a, long b, long c)
{
    long ret;
    __asm__ volatile ("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return ret;
}
static unsigned long len(const char *s) { unsigned long n = 0; while (s[n]) n++; return n; }
int main(int argc, char **argv, char **envp)
{
    /* argv[argc] is NULL, envp follows it: print argv[1] and the first
       variable, and check that the stack is 16-byte aligned as the ABI says */
    long aligned = ((unsigned long)__builtin_frame_address(0) & 15) == 0;
    if (argv[argc] != 0) return 99;
    sys3(1, 1, (long)argv[1], len(argv[1]));
    sys3(1, 1, (long)"|", 1);
    sys3(1, 1, (long)envp[0], len(envp[0]));
    return 40 + argc + (aligned ? 0 : 50);
}
"""


@pytest.mark.parametrize("as_nobody", [False, True], ids=["user", "nobody"])
def test_main_sample_gets_a_start_stub_and_runs(sample_obj, build_dir, as_nobody):
    exe = build_dir / "main_c"
    proc = run_tinyelf("pack", sample_obj("main.c"), "-o", exe)
    assert proc.returncode == 0, proc.stderr
    assert run_exe(exe, "a", "b", "c", as_nobody=as_nobody) == (b"3\n", 3)
    assert run_exe(exe, as_nobody=as_nobody) == (b"0\n", 3)


def test_argv_and_envp_reach_main(build_dir):
    import subprocess

    from tinyelf.tools import toolchain
    src = build_dir / "envmain.c"
    src.write_text(ENV_MAIN)
    obj = toolchain.compile_c(src, build_dir / "envmain.o")
    exe = build_dir / "envmain"
    assert run_tinyelf("pack", obj, "-o", exe).returncode == 0
    proc = subprocess.run([str(exe), "first", "second"], env={"ONLY": "var"},
                          stdout=subprocess.PIPE)
    assert (proc.stdout, proc.returncode) == (b"first|ONLY=var", 43)


def test_own_start_wins_and_is_unchanged(sample_obj):
    from tinyelf.linker.driver import run
    from tinyelf.linker.model import LinkOptions
    lk = run([sample_obj("hello.c")], LinkOptions())
    assert all(o.name != "<start stub>" for o in lk.objects)


def test_no_main_no_start_still_says_what_to_do(build_dir):
    src = build_dir / "nothing.asm"
    src.write_text("global f\nf:\n    ret\n")
    proc = run_tinyelf("pack", src, "-o", build_dir / "nothing")
    assert proc.returncode == 1
    assert "entry symbol _start is not defined" in proc.stderr


@pytest.mark.parametrize("arch_name", __import__("tinyelf.arch").arch.names())
def test_every_arch_stub_defines_start_and_calls_main(arch_name):
    """The stub pass adds the arch's own stub: an object defining _start
    that refers to main (every registered arch that declares a stub)."""
    from tinyelf import arch
    from tinyelf.elf.defs import STB_GLOBAL, STT_FUNC
    from tinyelf.elf.synth import TEXT, make_object
    from tinyelf.linker.model import Link, LinkOptions
    from tinyelf.linker.stub import STUB_NAME, add_start_stub
    a = arch.get(arch_name)
    if not getattr(a, "start_stub", None):
        pytest.skip(f"{arch_name} declares no start stub")
    main = make_object("m.o", [{"name": ".text.main", "flags": TEXT, "data": b"\0" * 4}],
                       [("main", ".text.main", 0, STB_GLOBAL, STT_FUNC, 4)])
    lk = add_start_stub(Link(options=LinkOptions(arch=arch_name), arch=a, objects=[main]))
    (stub,) = [o for o in lk.objects if o.name == STUB_NAME]
    defined = {s.name for s in stub.symbols if not s.is_undefined and not s.is_local}
    undefined = {s.name for s in stub.symbols if s.is_undefined and s.name}
    assert "_start" in defined and "main" in undefined


EXIT_77_STUB = """
section .text._start
global _start
extern main
_start:
    mov edi, dword [rsp]
    lea rsi, [rsp + 8]
    and rsp, -16
    call main
    mov edi, 77
    mov eax, 60
    syscall
"""


def test_the_stub_comes_from_the_arch_object(sample_obj, build_dir, monkeypatch):
    """Give the registered x86-64 arch object another stub (one that exits
    with 77 whatever main returns): the linked program runs it."""
    from tinyelf import arch
    from tinyelf.linker.driver import run
    from tinyelf.linker.model import LinkOptions
    from tinyelf.tools.output import write_atomic
    monkeypatch.setattr(arch.get("x86_64"), "start_stub", EXIT_77_STUB)
    lk = run([sample_obj("main.c")], LinkOptions())
    exe = build_dir / "main_stub77"
    write_atomic(exe, lk.output)
    assert run_exe(exe, "a") == (b"1\n", 77)
    monkeypatch.undo()
    lk = run([sample_obj("main.c")], LinkOptions())
    exe = build_dir / "main_stub_default"
    write_atomic(exe, lk.output)
    assert run_exe(exe, "a") == (b"1\n", 3)


requires_ar = pytest.mark.skipif(shutil.which("ar") is None, reason="ar (binutils) not installed")


@requires_ar
def test_main_from_an_archive_gets_the_stub(sample_obj, build_dir):
    lib = build_dir / "libmainonly.a"
    subprocess.run(["ar", "rcs", str(lib), str(sample_obj("main.c"))], check=True)
    exe = build_dir / "main_from_ar"
    proc = run_tinyelf("pack", lib, "-o", exe)
    assert proc.returncode == 0, proc.stderr
    assert run_exe(exe, "x") == (b"1\n", 3)


@requires_ar
def test_start_in_an_archive_means_no_stub(sample_obj, build_dir):
    """The stub must not pull (or shadow) an archive's _start."""
    from tinyelf.linker.driver import run
    from tinyelf.linker.model import LinkOptions
    lib = build_dir / "libstart.a"
    subprocess.run(["ar", "rcs", str(lib), str(sample_obj("hello.c"))], check=True)
    lk = run([sample_obj("main.c"), lib], LinkOptions())
    assert all(o.name != "<start stub>" for o in lk.objects)
    assert lk.globals["_start"].obj.from_archive
