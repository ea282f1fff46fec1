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


def test_stub_source_lives_in_the_arch_module():
    from tinyelf import arch
    a = arch.get("x86_64")
    assert "call main" in a.start_stub and "_start:" in a.start_stub


def _need_archives():
    import importlib.util
    if importlib.util.find_spec("tinyelf.elf.archive") is None:
        pytest.skip("this tinyelf does not read archives yet")
    if shutil.which("ar") is None:
        pytest.skip("ar not installed")


def test_main_from_an_archive_gets_the_stub(sample_obj, build_dir):
    _need_archives()
    lib = build_dir / "libmainonly.a"
    subprocess.run(["ar", "rcs", str(lib), str(sample_obj("main.c"))], check=True)
    exe = build_dir / "main_from_ar"
    proc = run_tinyelf("pack", lib, "-o", exe)
    assert proc.returncode == 0, proc.stderr
    assert run_exe(exe, "x") == (b"1\n", 3)


def test_start_in_an_archive_means_no_stub(sample_obj, build_dir):
    """The stub must not pull (or shadow) an archive's _start."""
    _need_archives()
    from tinyelf.linker.driver import run
    from tinyelf.linker.model import LinkOptions
    lib = build_dir / "libstart.a"
    subprocess.run(["ar", "rcs", str(lib), str(sample_obj("hello.c"))], check=True)
    lk = run([sample_obj("main.c"), lib], LinkOptions())
    assert all(o.name != "<start stub>" for o in lk.objects)
    assert lk.globals["_start"].obj.from_archive
