"""`tinyelf build`: one command from a source file to a running executable."""
from __future__ import annotations

import shutil

import pytest

from conftest import SAMPLES, requires_rustc, run_exe, run_tinyelf

requires_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")
requires_as = pytest.mark.skipif(shutil.which("as") is None, reason="GNU as not installed")


def build(tmp_path, src, *args):
    out = tmp_path / "prog"
    proc = run_tinyelf("build", src, "-o", out, *args)
    return proc, out


@requires_rustc
@pytest.mark.parametrize("lto", [True, False], ids=["lto", "no-lto"])
def test_rust(tmp_path, build_dir, lto):
    out = build_dir / f"hello-{lto}"
    proc = run_tinyelf("build", SAMPLES / "hello.rs", "-o", out, *([] if lto else ["--no-lto"]))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert run_exe(out, as_nobody=True) == (b"Hello, world!\n", 0)


@requires_gcc
def test_c(build_dir):
    out = build_dir / "hello-c"
    proc = run_tinyelf("build", SAMPLES / "hello.c", "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert run_exe(out, as_nobody=True)[1] == 0
    assert run_exe(out)[0] == b"Hello, world!\n"


GAS = """
    .globl _start
_start:
    mov $60, %eax
    mov $CODE, %edi
    syscall
"""


@requires_as
def test_gas(tmp_path):
    src = tmp_path / "prog.s"
    src.write_text(GAS.replace("CODE", "33"))
    proc, out = build(tmp_path, src)
    assert proc.returncode == 0, proc.stderr
    assert run_exe(out, as_nobody=True) == (b"", 33)


@requires_gcc
def test_preprocessed_asm_and_extra_flags(tmp_path):
    src = tmp_path / "prog.S"
    src.write_text("#ifndef CODE\n#define CODE 3\n#endif\n" + GAS)
    proc, out = build(tmp_path, src)
    assert proc.returncode == 0, proc.stderr
    assert run_exe(out)[1] == 3
    proc, out = build(tmp_path, src, "--", "-DCODE=44")
    assert proc.returncode == 0, proc.stderr
    assert run_exe(out)[1] == 44


@requires_gcc
def test_c_extra_flags_and_entry(tmp_path):
    src = tmp_path / "prog.c"
    src.write_text("""
        static void ex(long c) { __asm__ volatile ("syscall" :: "a"(60L), "D"(c)); }
        void _start(void) { ex(1); }
        void go(void) { ex(VALUE); }
    """)
    proc, out = build(tmp_path, src, "--entry", "go", "--base", "0x20000000", "--", "-DVALUE=55")
    assert proc.returncode == 0, proc.stderr
    assert run_exe(out, as_nobody=True)[1] == 55


@requires_rustc
def test_rust_extra_flags(tmp_path):
    src = tmp_path / "prog.rs"
    src.write_text("""#![no_std]
#![no_main]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! { loop {} }
#[no_mangle]
pub extern "C" fn _start() -> ! {
    let code: usize = if cfg!(special) { 77 } else { 7 };
    unsafe { core::arch::asm!("syscall", in("rax") 60usize, in("rdi") code, options(noreturn)); }
}
""")
    proc, out = build(tmp_path, src, "--", "--cfg", "special")
    assert proc.returncode == 0, proc.stderr
    assert run_exe(out)[1] == 77


@requires_rustc
def test_rust_compile_error_shown_verbatim(tmp_path):
    src = tmp_path / "bad.rs"
    src.write_text("#![no_std]\n#![no_main]\nfn f() -> u32 { \"text\" }\n")
    proc, out = build(tmp_path, src)
    assert proc.returncode == 1
    assert "error[E0308]: mismatched types" in proc.stderr
    assert f"--> {src}:3:" in proc.stderr
    last = proc.stderr.splitlines()[-1]
    assert last == f"tinyelf: error: rustc {src} failed (exit status 1)"
    assert not out.exists()


@requires_gcc
def test_c_compile_error_shown_verbatim(tmp_path):
    src = tmp_path / "bad.c"
    src.write_text("int f( {\n")
    proc, out = build(tmp_path, src)
    assert proc.returncode == 1
    assert f"{src}:1:8: error:" in proc.stderr
    assert proc.stderr.splitlines()[-1] == f"tinyelf: error: gcc {src} failed (exit status 1)"
    assert not out.exists()


@requires_gcc
def test_link_error_after_compiling(tmp_path):
    src = tmp_path / "prog.c"
    src.write_text("void missing(void); void _start(void) { missing(); }\n")
    proc, out = build(tmp_path, src)
    assert proc.returncode == 1
    assert proc.stderr.startswith("tinyelf: error: undefined symbol: missing, referenced from ")
    assert not out.exists()


def test_unknown_extension_and_missing_file(tmp_path):
    src = tmp_path / "prog.f90"
    src.write_text("end\n")
    proc, _ = build(tmp_path, src)
    assert proc.returncode == 1
    assert proc.stderr == (f"tinyelf: error: {src}: don't know how to build '.f90' files "
                           "(known: .S, .asm, .c, .rs, .s)\n")
    proc, _ = build(tmp_path, tmp_path / "nope.c")
    assert proc.stderr == f"tinyelf: error: {tmp_path / 'nope.c'}: no such file\n"


def test_refuses_to_overwrite_source(tmp_path):
    src = tmp_path / "prog.c"
    src.write_text("void _start(void) {}\n")
    proc = run_tinyelf("build", src, "-o", src)
    assert proc.returncode == 1 and "also an input" in proc.stderr
    assert src.read_text() == "void _start(void) {}\n"


# ---- static or position-independent: the smaller one wins (--layout auto) ----

def _size_and_report(tmp_path, name, src, *args):
    out = tmp_path / name
    proc = run_tinyelf("build", src, "-o", out, "--report", *args)
    assert proc.returncode == 0, proc.stderr
    return out, out.stat().st_size, proc.stdout


PIC_CASES = [
    pytest.param("hello.rs", ("-C", "relocation-model=static"), ("-C", "relocation-model=pie"),
                 marks=requires_rustc, id="rust"),
    pytest.param("hello.c", ("-fno-pie",), ("-fPIE",), marks=requires_gcc, id="c"),
]


@pytest.mark.parametrize("sample, static, pic", PIC_CASES)
def test_auto_keeps_the_smaller_relocation_model(tmp_path, sample, static, pic):
    """Flags that choose the model make one compile; the default compiles
    both and keeps the smaller output, which runs (root and nobody)."""
    src = SAMPLES / sample
    exe, size, rep = _size_and_report(tmp_path, "auto", src)
    _s, s_size, s_rep = _size_and_report(tmp_path, "static", src, "--", *static)
    _p, p_size, p_rep = _size_and_report(tmp_path, "pic", src, "--", *pic)
    assert "compiled" not in s_rep and "compiled" not in p_rep     # the user chose
    assert size == min(s_size, p_size), (size, s_size, p_size)
    # hello: only PIC code reaches overlap80 (no absolute 32-bit relocations)
    assert p_size < s_size and "layout overlap80" in rep
    assert f"compiled position-independent (layout overlap80, {size} bytes; static: " in rep
    assert f"{s_size} bytes)" in rep
    assert run_exe(exe) == (b"Hello, world!\n", 0)
    assert run_exe(exe, as_nobody=True) == (b"Hello, world!\n", 0)


@requires_rustc
def test_auto_keeps_static_when_pic_is_larger(tmp_path):
    """prodfactors: PIC reaches overlap80 but its code grows by more than the
    header bytes saved; the static build is kept."""
    src = SAMPLES / "prodfactors.rs"
    exe, size, rep = _size_and_report(tmp_path, "auto", src)
    _p, p_size, _r = _size_and_report(tmp_path, "pic", src, "--", "-C", "relocation-model=pie")
    _s, s_size, _r = _size_and_report(tmp_path, "st", src, "--", "-C", "relocation-model=static")
    assert size == min(s_size, p_size)
    assert ("compiled static" in rep) == (s_size <= p_size), rep
    from test_rust_samples import check_prodfactors
    check_prodfactors(exe)


@requires_rustc
@pytest.mark.parametrize("layout, model", [("overlap80", "position-independent"),
                                           ("overlap104", "static")])
def test_explicit_layout_compiles_what_it_needs(tmp_path, layout, model):
    exe, _size, rep = _size_and_report(tmp_path, layout, SAMPLES / "hello.rs",
                                       "--layout", layout)
    assert f"layout {layout}" in rep and f"compiled {model} (layout {layout})" in rep, rep
    assert run_exe(exe, as_nobody=True) == (b"Hello, world!\n", 0)
