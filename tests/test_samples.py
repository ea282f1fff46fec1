"""Each sample compiled, packed by tinyelf, executed: stdout and exit status."""
from __future__ import annotations

import pytest

from conftest import requires_rustc, run_exe, run_tinyelf

SAMPLES = [
    # (source, stdout, exit status)
    pytest.param("hello.rs", b"Hello, world!\n", 0, marks=requires_rustc, id="hello.rs"),
    pytest.param("exit.rs", b"", 42, marks=requires_rustc, id="exit.rs"),
    pytest.param("hello.c", b"Hello, world!\n", 0, id="hello.c"),
]


@pytest.mark.parametrize("source,stdout,status", SAMPLES)
@pytest.mark.parametrize("as_nobody", [False, True], ids=["user", "nobody"])
def test_sample_runs(sample_obj, build_dir, source, stdout, status, as_nobody):
    obj = sample_obj(source)
    exe = build_dir / (source.replace(".", "_") + ".exe")
    proc = run_tinyelf("pack", obj, "-o", exe)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert run_exe(exe, as_nobody=as_nobody) == (stdout, status)


@requires_rustc
def test_rust_hello_is_tiny(sample_obj, build_dir):
    exe = build_dir / "hello_tiny"
    assert run_tinyelf("pack", sample_obj("hello.rs"), "-o", exe).returncode == 0
    assert exe.stat().st_size <= 200
    assert exe.stat().st_mode & 0o777 == 0o755
    assert run_exe(exe) == (b"Hello, world!\n", 0)


def test_output_is_deterministic(sample_obj, build_dir):
    a, b = build_dir / "det_a", build_dir / "det_b"
    obj = sample_obj("hello.c")
    assert run_tinyelf("pack", obj, "-o", a).returncode == 0
    assert run_tinyelf("pack", obj, "-o", b).returncode == 0
    assert a.read_bytes() == b.read_bytes()


def test_library_api_returns_bytes(sample_obj):
    import tinyelf
    data = tinyelf.link([sample_obj("hello.c")])
    assert data[:4] == b"\x7fELF"
    # the same call with (name, bytes) inputs gives the same file
    obj = sample_obj("hello.c")
    assert tinyelf.link([("hello.o", obj.read_bytes())]) == data


def test_base_address_is_honoured(sample_obj, build_dir):
    exe = build_dir / "based"
    assert run_tinyelf("pack", sample_obj("hello.c"), "--base", "0x10000000", "-o", exe).returncode == 0
    data = exe.read_bytes()
    assert int.from_bytes(data[24:32], "little") >> 12 == 0x10000
    assert run_exe(exe, as_nobody=True) == (b"Hello, world!\n", 0)


def test_gc_drops_unreferenced_functions(build_dir, tmp_path):
    from tinyelf.tools import toolchain
    src = tmp_path / "gc.c"
    src.write_text(
        "static long sys(long n,long a){long r;__asm__ volatile(\"syscall\":\"=a\"(r):\"a\"(n),\"D\"(a):\"rcx\",\"r11\",\"memory\");return r;}\n"
        "char big_unused[1000] = {1};\n"
        "void unused(void){ for(int i=0;i<1000;i++) big_unused[i]++; sys(60, 9); }\n"
        "void _start(void){ sys(60, 7); }\n")
    obj = toolchain.compile_c(src, tmp_path / "gc.o")
    exe = build_dir / "gc"
    assert run_tinyelf("pack", obj, "-o", exe).returncode == 0
    assert exe.stat().st_size < 300
    assert run_exe(exe) == (b"", 7)
    exe2 = build_dir / "nogc"
    # big_unused is mostly zeros: keep them in the file to see that it was kept
    assert run_tinyelf("pack", obj, "--no-gc-sections", "--no-trim-zeros", "-o", exe2).returncode == 0
    assert exe2.stat().st_size > 1000
    assert run_exe(exe2) == (b"", 7)
