"""tinyelf-ld: the command line rustc gives its linker."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tinyelf.tools import ld_driver
from tinyelf.errors import TinyElfError, UsageError

from asmutil import EXIT_OK, assemble, requires_as
from conftest import run_exe


def run_ld(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "tinyelf.tools.ld_driver", *map(str, args)], cwd=cwd,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


# What rustc 1.95 passes for a no_std bin (non-LTO; see samples/cargo-hello/linker-argv.txt)
SYSROOT_LIB = "/sysroot/lib/rustlib/x86_64-unknown-linux-gnu/lib"
RUSTC_ARGV = [
    "-m64", "/tmp/rustcAbc/symbols.o", "prog.prog.1234-cgu.0.rcgu.o",
    "-Wl,--as-needed", "-Wl,-Bstatic",
    f"{SYSROOT_LIB}/libcore-120cbae4e86ec454.rlib",
    f"{SYSROOT_LIB}/libcompiler_builtins-27cfc16bdf3bb694.rlib",
    "-L", "/tmp/rustcAbc/raw-dylibs", "-Wl,-Bdynamic",
    "-B/sysroot/lib/rustlib/x86_64-unknown-linux-gnu/bin/gcc-ld", "-fuse-ld=lld",
    "-Wl,--eh-frame-hdr", "-Wl,-z,noexecstack", "-L", SYSROOT_LIB, "-o", "prog",
    "-Wl,--gc-sections", "-pie", "-Wl,-z,relro,-z,now", "-Wl,--strip-debug", "-nodefaultlibs",
    "-nostartfiles", "-static", "-nostdlib", "-no-pie", "-Wl,-O1",
    "-Wl,--version-script=/tmp/rustcAbc/list", "-Wl,--no-undefined-version",
    "-Wl,--strip-all", "-Wl,--build-id=none", "-Wl,-n", "-Wl,-N",
]


def test_rustc_command_line():
    plan = ld_driver.parse(RUSTC_ARGV)
    assert plan.inputs == RUSTC_ARGV[1:3] + RUSTC_ARGV[5:7]
    assert plan.output == "prog"
    assert plan.options.entry == "_start" and plan.options.gc_sections
    assert plan.options.base is None
    assert plan.lib_dirs == ["/tmp/rustcAbc/raw-dylibs", SYSROOT_LIB]


@pytest.mark.parametrize("args, entry, base", [
    (["-Wl,-e,main2"], "main2", None),
    (["-Wl,--entry=main2"], "main2", None),
    (["-Wl,--entry,main2"], "main2", None),
    (["-e", "main2"], "main2", None),
    (["-Xlinker", "--entry", "-Xlinker", "main2"], "main2", None),
    (["-Wl,-Ttext=0x10000000"], "_start", 0x10000000),
    (["-Wl,-Ttext,20000000"], "_start", 0x20000000),    # GNU ld reads it as hex
    (["-Wl,--image-base=0x30000000"], "_start", 0x30000000),
    (["-Wl,--no-gc-sections"], "_start", None),
])
def test_entry_and_base(args, entry, base):
    plan = ld_driver.parse(["a.o", *args])
    assert plan.options.entry == entry and plan.options.base == base
    assert plan.options.gc_sections == ("-Wl,--no-gc-sections" not in args)


@pytest.mark.parametrize("arg", ["-lc", "-lgcc_s", "-l:libc.a", "-shared", "-Wl,-shared",
                                 "-Wl,-dynamic-linker,/lib64/ld-linux-x86-64.so.2",
                                 "-rdynamic", "-Wl,--export-dynamic", "/usr/lib/libfoo.so",
                                 "-lpthread"])
def test_static_only(arg):
    with pytest.raises(TinyElfError) as info:
        ld_driver.parse(["a.o", arg])
    assert "static syscall-only" in str(info.value)


@pytest.mark.parametrize("arg, words", [
    ("-Wl,--frobnicate", "unsupported linker option '--frobnicate'"),
    ("-Wl,-z,frob", "unsupported linker option '-z frob'"),
    ("-Wl,-T,link.ld", "linker scripts"),
    ("-Wl,-r", "not relocatable objects"),
    ("-mx32", "x32 ABI"),
    ("-Wl,-z,execstack", "never executable"),
    ("-Wl,--whole-archive", "not supported"),
])
def test_refused(arg, words):
    with pytest.raises(TinyElfError) as info:
        ld_driver.parse(["a.o", arg])
    assert words in str(info.value)


def test_all_problems_reported_together():
    with pytest.raises(UsageError) as info:
        ld_driver.parse(["a.o", "-lc", "-Wl,--frob", "-lm"])
    # the C runtime libraries are one problem, answered once
    assert len(info.value.messages) == 2
    assert sum("-lc -lm: tinyelf makes static syscall-only" in m
               for m in info.value.messages) == 1


def test_no_inputs():
    with pytest.raises(UsageError, match="no input files"):
        ld_driver.parse(["-o", "x"])


def test_response_files(tmp_path):
    (tmp_path / "inner").write_text("-Wl,--gc-sections\n")
    rsp = tmp_path / "args"
    rsp.write_text(f'"my file.o" -o \'out put\' b\\ c.o -Wl,-e,go @{tmp_path / "inner"}\n')
    plan = ld_driver.parse([f"@{rsp}"])
    assert plan.inputs == ["my file.o", "b c.o"]
    assert plan.output == "out put" and plan.options.entry == "go"
    with pytest.raises(UsageError, match="cannot read response file"):
        ld_driver.parse([f"@{tmp_path / 'missing'}"])


def test_library_search(tmp_path):
    (tmp_path / "libfoo.a").write_bytes(b"!<arch>\n")
    plan = ld_driver.parse(["a.o", "-L", str(tmp_path), "-lfoo", f"-L{tmp_path}", "-l:libfoo.a"])
    assert plan.inputs == ["a.o", str(tmp_path / "libfoo.a"), str(tmp_path / "libfoo.a")]
    with pytest.raises(UsageError, match="no libbar.a in the library path"):
        ld_driver.parse(["a.o", "-L", str(tmp_path), "-lbar"])


# ---- running what tinyelf-ld links ----------------------------------------

ADDR_PROG = """
    .globl _start, main2
_start:
    mov $60, %eax
    mov $1, %edi
    syscall
main2:
    lea main2(%rip), %rdi
    shr $24, %rdi
    mov $60, %eax
    syscall
"""


@requires_as
def test_links_and_runs_with_rustc_style_flags(tmp_path):
    obj = assemble(ADDR_PROG, tmp_path / "prog.o")
    out = tmp_path / "prog"
    flags = [a for a in RUSTC_ARGV if a.startswith("-") and a not in ("-L", "-o")]
    proc = run_ld("-m64", obj, *flags, "-Wl,-e,main2", "-Wl,-Ttext=0x23000000", "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert run_exe(out, as_nobody=True) == (b"", 0x23)


@requires_as
def test_library_flag_links_archive(tmp_path):
    lib_obj = assemble(".globl _start\n_start:\n" + EXIT_OK, tmp_path / "start.o")
    subprocess.run(["ar", "rcs", str(tmp_path / "libstart.a"), str(lib_obj)], check=True)
    main = assemble(".globl other\nother: ret\n", tmp_path / "main.o")
    out = tmp_path / "prog"
    proc = run_ld(main, "-L", tmp_path, "-lstart", "-static", "-o", out)
    assert proc.returncode == 0, proc.stderr
    # _start is only referenced as the entry: archives are searched for it too
    assert run_exe(out)[1] == 0


def test_cli_errors_one_line_each(tmp_path):
    proc = run_ld("a.o", "-lc", "-shared", "-o", tmp_path / "x")
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert len(lines) == 2 and all(l.startswith("tinyelf: error: ") for l in lines)
    assert not (tmp_path / "x").exists()


def test_missing_input(tmp_path):
    proc = run_ld(tmp_path / "nope.o", "-o", tmp_path / "x")
    assert proc.returncode == 1
    assert proc.stderr == f"tinyelf: error: {tmp_path / 'nope.o'}: no such file\n"


def test_version():
    proc = run_ld("--version")
    assert proc.returncode == 0 and "tinyelf" in proc.stdout


# a program that calls `hook` only when something defines it (a weak
# reference never pulls an archive member; -u does)
WEAK_HOOK_PROG = """
.globl _start
.weak hook
_start:
    movabs $hook, %rax
    test %rax, %rax
    jz 1f
    call *%rax
    jmp 2f
1:  mov $7, %edi
2:  mov $60, %eax
    syscall
"""
HOOK_MEMBER = ".globl hook\nhook:\n    mov $42, %edi\n    ret\n"


def _hook_inputs(tmp_path):
    prog = assemble(WEAK_HOOK_PROG, tmp_path / "prog.o")
    hook = assemble(HOOK_MEMBER, tmp_path / "hook.o")
    subprocess.run(["ar", "rcs", str(tmp_path / "libhook.a"), str(hook)], check=True)
    return prog, tmp_path / "libhook.a"


@pytest.mark.parametrize("args, map_arg", [
    (["-Wl,-u,hook"], "-Wl,-Map={map}"),
    (["-u", "hook"], "-Wl,-Map,{map}"),
    (["-Wl,--undefined=hook"], "-Xlinker -Map -Xlinker {map}"),
    (["-Wl,--require-defined=hook"], "-Wl,--Map={map}"),
])
@requires_as
def test_undefined_pulls_an_archive_member_and_map_is_written(tmp_path, args, map_arg):
    prog, lib = _hook_inputs(tmp_path)
    out, mapfile = tmp_path / "prog", tmp_path / "prog.map"
    proc = run_ld(prog, lib, "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert run_exe(out, as_nobody=True) == (b"", 7)       # weak: the member stays out
    proc = run_ld(prog, lib, *args, *map_arg.format(map=mapfile).split(), "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert run_exe(out, as_nobody=True) == (b"", 42)      # pulled in, kept, called
    text = mapfile.read_text()
    assert "hook" in text and "libhook.a" in text


@requires_as
def test_require_defined_fails_when_nothing_defines_it(tmp_path):
    prog, lib = _hook_inputs(tmp_path)
    out = tmp_path / "prog"
    proc = run_ld(prog, lib, "-Wl,--require-defined=nothere", "-Wl,--require-defined,hook",
                  "-o", out)
    assert proc.returncode == 1
    assert proc.stderr == ("tinyelf: error: required symbol nothere is not defined "
                           "(--require-defined); no input or archive member defines it\n")
    assert not out.exists()
    # -u of a name nothing defines is not an error (as with GNU ld)
    proc = run_ld(prog, lib, "-Wl,-u,nothere", "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert run_exe(out)[1] == 7


@requires_as
def test_print_map_and_map_never_over_an_input(tmp_path):
    prog, lib = _hook_inputs(tmp_path)
    out = tmp_path / "prog"
    proc = run_ld(prog, lib, "-Wl,-u,hook", "-Wl,-M", "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert "hook" in proc.stdout
    proc = run_ld(prog, lib, f"-Wl,-Map={prog}", "-o", out)
    assert proc.returncode == 1 and "refusing to overwrite" in proc.stderr
    assert prog.read_bytes()[:4] == b"\x7fELF"


@requires_as
def test_pack_undefined_and_require_defined(tmp_path):
    from conftest import run_tinyelf
    prog, lib = _hook_inputs(tmp_path)
    out = tmp_path / "prog"
    r = run_tinyelf("pack", prog, lib, "-u", "hook", "-o", out)
    assert r.returncode == 0, r.stderr
    assert run_exe(out, as_nobody=True) == (b"", 42)
    r = run_tinyelf("pack", prog, lib, "--require-defined", "hook", "-o", out)
    assert r.returncode == 0 and run_exe(out)[1] == 42
    r = run_tinyelf("pack", prog, lib, "--require-defined", "nothere", "-o", tmp_path / "x")
    assert r.returncode == 1 and "required symbol nothere" in r.stderr
    import tinyelf
    data = tinyelf.link([prog, lib], undefined=("hook",))
    assert data == out.read_bytes()


@pytest.mark.parametrize("arg", ["-Wl,--compress=lz", "--compress=lz", "-Wl,--compress"])
def test_compress_as_a_link_arg(tmp_path, arg):
    """cargo passes tinyelf's --compress as -C link-arg=...: the output is compressed and runs."""
    from tinyelf.compress.unpack import recognise
    obj = assemble(ADDR_PROG, tmp_path / "prog.o")
    out = tmp_path / "prog"
    proc = run_ld(obj, arg, "-Wl,-e,main2", "-Wl,-Ttext=0x23000000", "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert recognise(out.read_bytes()) is not None or arg == "-Wl,--compress"
    assert run_exe(out, as_nobody=True) == (b"", 0x23)
    assert "unknown codec" in run_ld(obj, "--compress=zip", "-o", out).stderr


# ---- the option table, std link lines, the report for cargo users ----------

def test_std_link_line_is_answered_once(tmp_path):
    """What rustc 1.95 passes for a program that uses std (cargo new)."""
    std = [f"{SYSROOT_LIB}/lib{c}-0123456789abcdef.rlib" for c in ("std", "core", "alloc")]
    argv = ["/tmp/rustcX/symbols.o", "main.rcgu.o", "--as-needed", "-Bstatic", *std,
            "-Bdynamic", "-lgcc_s", "-lutil", "-lrt", "-lpthread", "-lm", "-ldl", "-lc",
            "-L", SYSROOT_LIB, "-o", tmp_path / "x", "--gc-sections", "-pie"]
    proc = run_ld(*argv)
    assert proc.returncode == 1 and not (tmp_path / "x").exists()
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert "uses Rust's std (rustc passed libstd-0123456789abcdef.rlib)" in lines[0]
    assert "#![no_std] #![no_main]" in lines[0]


@pytest.mark.parametrize("arg, near", [("--reprot", "--report"), ("-Wl,--gc-section", "--gc-sections"),
                                       ("-Wl,--requiredefined=x", "--require-defined")])
def test_unknown_option_suggests_the_nearest(tmp_path, arg, near):
    proc = run_ld("a.o", arg, "-o", tmp_path / "x")
    assert proc.returncode == 1
    assert proc.stderr.count("tinyelf: error:") == 1
    assert f"did you mean {near}? (see 'tinyelf-ld --help')" in proc.stderr


def test_help_lists_tinyelf_options():
    proc = run_ld("--help")
    assert proc.returncode == 0
    for word in ("--report[=FILE]", "TINYELF_REPORT", "-W linker-messages", "--json"):
        assert word in proc.stdout


def run_ld_env(*args, env=None):
    import os
    return subprocess.run([sys.executable, "-m", "tinyelf.tools.ld_driver", *map(str, args)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=dict(os.environ, **(env or {})))


@requires_as
@pytest.mark.parametrize("how", ["flag", "env"])
def test_report_on_stderr(tmp_path, how):
    obj = assemble(".globl _start\n_start:\n" + EXIT_OK, tmp_path / "prog.o")
    out = tmp_path / "prog"
    if how == "flag":
        proc = run_ld_env(obj, "-Wl,--report", "-o", out)
    else:
        proc = run_ld_env(obj, "-o", out, env={"TINYELF_REPORT": "1"})
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert lines and all(l.startswith("tinyelf: report: ") for l in lines)
    assert f"{out.stat().st_size} bytes, layout" in lines[0]
    assert run_exe(out, as_nobody=True) == (b"", 0)


@requires_as
@pytest.mark.parametrize("how", ["flag", "env"])
def test_report_to_a_json_file(tmp_path, how):
    import json
    obj = assemble(".globl _start\n_start:\n" + EXIT_OK, tmp_path / "prog.o")
    out, rep = tmp_path / "prog", tmp_path / "report.json"
    if how == "flag":
        proc = run_ld_env(obj, f"--report={rep}", "-o", out)
    else:
        proc = run_ld_env(obj, "-o", out, env={"TINYELF_REPORT": str(rep)})
    assert proc.returncode == 0 and proc.stderr == ""
    data = json.loads(rep.read_text())
    assert data["file"] == out.stat().st_size and data["segments"]


@requires_as
def test_report_never_fails_the_link(tmp_path):
    obj = assemble(".globl _start\n_start:\n" + EXIT_OK, tmp_path / "prog.o")
    out = tmp_path / "prog"
    proc = run_ld_env(obj, "-o", out, env={"TINYELF_REPORT": str(tmp_path / "no" / "dir.txt")})
    assert proc.returncode == 0
    assert proc.stderr.startswith("tinyelf: warning: no report written (")
    assert run_exe(out)[1] == 0
