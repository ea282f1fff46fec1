"""no_std Rust for i386, aarch64 and riscv64: ``tinyelf build --arch A hello.rs``.

The rustup rustc here has only x86-64's libcore; ``tests/deps/install.sh`` unpacks Debian 12's
rustc 1.63 with the i686 and aarch64 libcores (libstd-rust-dev:i386/:arm64) into
~/.cache/tinyelf-rust and builds riscv64's from Debian's rust-src, where
``toolchain.rustc_for`` finds them.  Without it these tests fail with the toolchain's message
(what to install), never skip.  The i386 programs run natively (IA32 emulation), the aarch64
and riscv64 ones under qemu-user with a layout its loader accepts, all as root and as nobody;
every layout of each runs under the booted kernels in tests/test_kernel_layouts.py.  About 10 s.
"""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from conftest import ROOT, nobody_prefix, run_exe, run_tinyelf
from tinyelf.errors import ToolchainError
from tinyelf.tools import toolchain

HELLO = b"Hello, world!\n"
SAMPLES = {arch: ROOT / "samples" / arch / "hello.rs" for arch in ("i386", "aarch64", "riscv64")}
QEMU = {"aarch64": "qemu-aarch64", "riscv64": "qemu-riscv64"}
QEMU_OK = ("--layout", "strict", "--no-trim-zeros")


def _rustc(arch):
    try:
        return toolchain.rustc_for(arch)
    except ToolchainError as exc:
        pytest.fail(f"{exc} (bash tests/deps/install.sh)", pytrace=False)


def _run(arch, exe, as_nobody):
    if arch == "i386":
        return run_exe(exe, as_nobody=as_nobody)
    qemu = shutil.which(QEMU[arch])
    if qemu is None:
        pytest.fail(f"{QEMU[arch]} missing: bash tests/deps/install.sh (qemu-user)", pytrace=False)
    cmd = [*(nobody_prefix() if as_nobody else []), qemu, str(exe)]
    p = subprocess.run(cmd, capture_output=True, timeout=30)
    return p.stdout, p.returncode


@pytest.fixture(scope="module")
def built(build_dir):
    """{(arch, variant): path}: the default build, --no-lto, every layout (i386) or the
    layout qemu-user accepts (aarch64, riscv64)."""
    out = {}
    for arch, src in SAMPLES.items():
        _rustc(arch)
        variants = {"auto": (), "no-lto": ("--no-lto",)}
        if arch == "i386":
            variants.update({l: ("--layout", l) for l in ("strict", "overlap76", "overlap64")})
        else:   # the overlapped layouts run under the kernel (test_kernel_layouts), not qemu
            variants = {"auto": (), "qemu": QEMU_OK, "qemu-no-lto": QEMU_OK + ("--no-lto",)}
        for name, flags in variants.items():
            exe = build_dir / f"rust-{arch}-{name}"
            r = run_tinyelf("build", "--arch", arch, src, "-o", exe, *flags)
            assert r.returncode == 0, r.stderr
            out[(arch, name)] = exe
    return out


@pytest.mark.parametrize("arch, elf_class, machine", (("i386", 1, 3), ("aarch64", 2, 183),
                                                     ("riscv64", 2, 243)))
def test_rustc_targets_the_machine(tmp_path, arch, elf_class, machine):
    """The rustc found has the target's libcore and makes objects of that machine."""
    _rustc_path, target = _rustc(arch)
    assert target == ("--target", toolchain.RUST_TARGETS[arch])
    libs = toolchain.rust_core_rlibs(arch)
    assert [os.path.basename(p).split("-")[0] for p in libs] == ["libcore",
                                                                "libcompiler_builtins"]
    obj = open(toolchain.compile_rust(SAMPLES[arch], tmp_path / "o.o", arch=arch), "rb").read()
    assert obj[4] == elf_class and int.from_bytes(obj[18:20], "little") == machine


@pytest.mark.parametrize("variant", ("auto", "no-lto", "strict", "overlap76", "overlap64"))
@pytest.mark.parametrize("as_nobody", (False, True), ids=("root", "nobody"))
def test_i386_hello_runs(built, variant, as_nobody):
    exe = built[("i386", variant)]
    data = exe.read_bytes()
    assert data[18] == 3 and (variant != "strict" or data[4] == 1)   # EM_386, ELFCLASS32
    assert run_exe(exe, as_nobody=as_nobody) == (HELLO, 0)


@pytest.mark.parametrize("arch, machine", (("aarch64", 183), ("riscv64", 243)))
@pytest.mark.parametrize("variant", ("qemu", "qemu-no-lto"))
@pytest.mark.parametrize("as_nobody", (False, True), ids=("root", "nobody"))
def test_risc_hello_runs_under_qemu(built, arch, machine, variant, as_nobody):
    exe = built[(arch, variant)]
    data = exe.read_bytes()
    assert data[4] == 2 and int.from_bytes(data[18:20], "little") == machine   # ELFCLASS64
    assert _run(arch, exe, as_nobody) == (HELLO, 0)


def test_default_is_the_smallest(built):
    """``auto`` takes a smaller layout than the others built here."""
    sizes = {v: os.path.getsize(built[("i386", v)]) for v in ("strict", "overlap76", "overlap64")}
    assert os.path.getsize(built[("i386", "auto")]) < min(sizes.values())
    for arch in QEMU:
        assert os.path.getsize(built[(arch, "auto")]) < os.path.getsize(built[(arch, "qemu")])


def test_missing_rustc_says_what_to_install(tmp_path, monkeypatch, capsys):
    """No candidate rustc with the target's libcore: one error line naming the package."""
    from tinyelf import cli
    fake = tmp_path / "rustc"
    fake.write_text(f"#!/bin/sh\necho {tmp_path}\n")     # a sysroot without libcore
    fake.chmod(0o755)
    monkeypatch.setattr(toolchain, "rustc_candidates", lambda: [str(fake)])
    monkeypatch.setattr(toolchain, "_RUSTC_FOR", {})
    out = tmp_path / "hello"
    assert cli.main(["build", "--arch", "aarch64", str(SAMPLES["aarch64"]), "-o", str(out)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("tinyelf: error: no rustc with "
                                               "aarch64-unknown-linux-gnu's libcore")
    assert "libstd-rust-dev:arm64" in err[0] and "tests/deps/install.sh" in err[0]
    assert not out.exists()
    with pytest.raises(ToolchainError, match="Debian 12 has no libstd-rust-dev:riscv64"):
        toolchain.rustc_for("riscv64")


def test_rustc_links_i686_with_tinyelf_ld(tmp_path):
    """rustc 1.63 for i686 with ``-C linker=tinyelf-ld``: its ``-m32`` is accepted (the
    machine comes from the objects) and the program runs as nobody."""
    from test_rust_samples import tinyelf_ld
    rustc, target = _rustc("i386")
    out = tmp_path / "hello"
    r = subprocess.run([rustc, *toolchain.RUSTC_LTO_FLAGS, *target, "-C",
                        f"linker={tinyelf_ld(tmp_path)}", "-o", str(out), str(SAMPLES["i386"])],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    tmp_path.chmod(0o755)
    assert run_exe(out, as_nobody=True) == (HELLO, 0)
