"""samples/cargo-hello: `cargo build` with tinyelf-ld as the linker."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from conftest import SAMPLES, run_exe
from test_rust_samples import tinyelf_ld

pytestmark = pytest.mark.skipif(shutil.which("cargo") is None, reason="cargo not installed")


def cargo_build(project, tmp_path, build_dir, profile, crate, env=None, stderr=None):
    """`cargo build` in ``project`` with this environment's tinyelf-ld first on
    PATH (cargo finds the linker named in .cargo/config.toml there); return a
    copy of the binary that the unprivileged user can run (``stderr``: a
    list that gets cargo's stderr)."""
    ld_dir = os.path.dirname(tinyelf_ld(tmp_path))
    env = dict(os.environ, PATH=ld_dir + os.pathsep + os.environ.get("PATH", ""),
               CARGO_TARGET_DIR=str(tmp_path / "target"), **(env or {}))
    env.pop("RUSTFLAGS", None)
    args = ["cargo", "build", "--offline", "--quiet"] + (["--release"] if profile == "release" else [])
    proc = subprocess.run(args, cwd=project, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    if stderr is not None:
        stderr.append(proc.stderr)
    exe = tmp_path / "target" / ("release" if profile == "release" else "debug") / crate
    out = build_dir / f"cargo-{crate}-{profile}"
    shutil.copy(exe, out)
    return out


@pytest.mark.parametrize("profile", ["release", "dev"])
def test_cargo_build(tmp_path, build_dir, profile):
    project = tmp_path / "cargo-hello"
    shutil.copytree(SAMPLES / "cargo-hello", project)
    out = cargo_build(project, tmp_path, build_dir, profile, "cargo-hello")
    assert run_exe(out, as_nobody=True) == (b"Hello, world!\n", 0)
    assert run_exe(out, "Ada", "Linus", as_nobody=True) == (b"Hello, Ada!\nHello, Linus!\n", 2)
    if profile == "release":     # the size the README's quick start shows
        from test_readme import readme_cargo_size
        assert out.stat().st_size == readme_cargo_size()


def test_cargo_report(tmp_path, build_dir):
    """TINYELF_REPORT=1: the size report on tinyelf-ld's stderr, which rustc
    passes on as a warning (the quick start's Cargo.toml sets the
    linker_messages lint to warn); TINYELF_REPORT=FILE.json writes JSON."""
    import json
    project = tmp_path / "cargo-hello"
    shutil.copytree(SAMPLES / "cargo-hello", project)
    rep = tmp_path / "report.json"
    err = []
    out = cargo_build(project, tmp_path, build_dir, "release", "cargo-hello",
                      env={"TINYELF_REPORT": "1"}, stderr=err)
    size = out.stat().st_size
    assert f"tinyelf: report: {size} bytes, layout" in err[0]
    assert "kernel maps" in err[0]
    (project / "src" / "main.rs").touch()
    cargo_build(project, tmp_path, build_dir, "release", "cargo-hello",
                env={"TINYELF_REPORT": str(rep)})
    assert json.loads(rep.read_text())["file"] == size


UTIL_LIB = """#![no_std]
pub fn digits(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = 20;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}
pub fn never_called() -> u64 { unsafe { not_defined_anywhere() } }
extern "C" { fn not_defined_anywhere() -> u64; }
"""

APP_MAIN = """#![no_std]
#![no_main]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! { loop {} }
core::arch::global_asm!(".globl _start", "_start:", "and rsp, -16", "call {m}", "ud2", m = sym main);
extern "C" fn main() -> ! {
    let mut b = [0u8; 20];
    let s = util::digits(9876543210, &mut b);
    unsafe {
        core::arch::asm!("syscall", inlateout("rax") 1usize => _, in("rdi") 1usize,
            in("rsi") s.as_ptr(), in("rdx") s.len(), lateout("rcx") _, lateout("r11") _);
        core::arch::asm!("syscall", in("rax") 60usize, in("rdi") 0usize, options(noreturn));
    }
}
"""


@pytest.mark.parametrize("profile", ["release", "dev"])
def test_cargo_path_dependency(tmp_path, build_dir, profile):
    """A dependency crate comes to the linker as an rlib of its own (PIC code,
    rustc passes -pie); its unused function's undefined reference is never
    reported."""
    (tmp_path / "util" / "src").mkdir(parents=True)
    (tmp_path / "util" / "Cargo.toml").write_text(
        '[package]\nname = "util"\nversion = "0.1.0"\nedition = "2021"\n')
    (tmp_path / "util" / "src" / "lib.rs").write_text(UTIL_LIB)
    app = tmp_path / "app"
    (app / "src").mkdir(parents=True)
    (app / ".cargo").mkdir()
    (app / "Cargo.toml").write_text(
        '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n'
        '[dependencies]\nutil = { path = "../util" }\n'
        '[profile.dev]\npanic = "abort"\n[profile.release]\npanic = "abort"\nopt-level = "z"\n')
    (app / ".cargo" / "config.toml").write_text(
        '[target.x86_64-unknown-linux-gnu]\nlinker = "tinyelf-ld"\n')
    (app / "src" / "main.rs").write_text(APP_MAIN)
    out = cargo_build(app, tmp_path, build_dir, profile, "app")
    assert run_exe(out, as_nobody=True) == (b"9876543210", 0)
