"""The VM harness (tests/vm/harness.py) on real kernels: one boot per guest architecture.

Each guest runs tests/vm/probe.c built for its machine with gcc / the Debian cross gcc and GNU
ld (x86-64 also runs the i386 build through IA32 emulation), as root and as nobody. Missing
qemu, kernels or cross compilers fail these tests with the command that installs them;
TINYELF_SKIP_VM=1 turns that into a skip.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from vm import harness
from vm.harness import run_in_vm, available, VMError

pytestmark = pytest.mark.vm

PROBE = Path(__file__).resolve().parent / "vm" / "probe.c"
CFLAGS = ["-O2", "-ffreestanding", "-fno-pic", "-no-pie", "-fno-stack-protector",
          "-fno-asynchronous-unwind-tables", "-nostdlib", "-static", "-Wl,--build-id=none",
          "-Wl,-z,max-page-size=0x1000"]
# machine: (compiler, extra flags); the VM each one runs on
MACHINES = {
    "x86_64": (["gcc"], "x86_64"),
    "i386": (["gcc", "-m32"], "x86_64"),
    "aarch64": (["aarch64-linux-gnu-gcc"], "aarch64"),
    "riscv64": (["riscv64-linux-gnu-gcc"], "riscv64"),
}
# name: (argv, stdin, expected stdout as root, as nobody, exit status)
CASES = {
    "hello": (["hello"], b"", b"hello\n", b"hello\n", 0),
    "exit42": (["exit", "42"], b"", b"", b"", 42),
    "cat": (["cat"], b"line one\n\x00\xff binary\n", b"line one\n\x00\xff binary\n",
            b"line one\n\x00\xff binary\n", 0),
    "args": (["args", "a b", "'quoted' $HOME", ""], b"", b"a b\n'quoted' $HOME\n\n",
             b"a b\n'quoted' $HOME\n\n", 0),
    "uid": (["uid"], b"", b"uid=0\n", b"uid=65534\n", 0),
    "segv": (["segv"], b"", b"", b"", 139),  # the shell's 128 + SIGSEGV
}
# the probe linked with its first PT_LOAD (the ELF header) at these addresses
LOW_ADDRESSES = (0x1000, 0)


def _unavailable(reason: str):
    if os.environ.get("TINYELF_SKIP_VM") == "1":
        pytest.skip(f"TINYELF_SKIP_VM=1: {reason}")
    pytest.fail(f"{reason} (or set TINYELF_SKIP_VM=1 to skip the VM tests)", pytrace=False)


def _compile(machine: str, out: Path, extra=()) -> Path:
    cc, _arch = MACHINES[machine]
    if shutil.which(cc[0]) is None:
        _unavailable(f"{cc[0]} is not installed: {harness.INSTALL_HINT}")
    proc = subprocess.run([*cc, *CFLAGS, *extra, str(PROBE), "-o", str(out)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.returncode == 0, proc.stdout
    return out


@pytest.fixture(scope="session")
def vm(tmp_path_factory):
    """vm(arch) -> the VMResult of the one boot of that guest, which ran every probe for it."""
    results = {}

    def get(arch):
        if arch not in results:
            reason = available(arch)
            if reason:
                _unavailable(reason)
            d = tmp_path_factory.mktemp(f"vm-{arch}")
            programs = []
            for machine, (_cc, vm_arch) in MACHINES.items():
                if vm_arch != arch:
                    continue
                exe = _compile(machine, d / f"probe-{machine}")
                for name, (argv, stdin, *_rest) in CASES.items():
                    programs.append((f"{machine}/{name}", exe, argv, stdin))
            for addr in LOW_ADDRESSES:
                exe = _compile(arch, d / f"probe-{arch}-at-{addr:#x}",
                               [f"-Wl,-Ttext-segment={addr:#x}"])
                programs.append((f"{arch}/at-{addr:#x}", exe, ["hello"], b""))
            try:
                results[arch] = run_in_vm(arch, programs)
            except VMError as e:
                results[arch] = e
        if isinstance(results[arch], VMError):
            pytest.fail(str(results[arch]), pytrace=False)
        return results[arch]
    return get


@pytest.mark.parametrize("machine", list(MACHINES))
def test_probe_as_root_and_nobody(vm, machine):
    res = vm(MACHINES[machine][1])
    for name, (_argv, _stdin, root_out, nobody_out, status) in CASES.items():
        got = res[f"{machine}/{name}"]
        assert got["root"] == (root_out, status), (name, "root")
        assert got["nobody"] == (nobody_out, status), (name, "nobody")


@pytest.mark.parametrize("arch", harness.ARCHES)
def test_low_address_needs_privilege(vm, arch):
    """An ELF loaded below the guest's mmap_min_addr runs as root (CAP_SYS_RAWIO) and dies as
    nobody; at or above it, both run. Debian's x86-64 kernel has 65536, arm64's and riscv64's
    4096, so 0x1000 is refused to nobody on x86-64 only, address 0 everywhere."""
    res = vm(arch)
    assert res.mmap_min_addr > 0
    for addr in LOW_ADDRESSES:
        got = res[f"{arch}/at-{addr:#x}"]
        assert got["root"] == (b"hello\n", 0), hex(addr)
        if addr < res.mmap_min_addr:
            # execve fails past its point of no return: SIGSEGV, status 128 + 11
            assert got["nobody"] == (b"", 139), hex(addr)
        else:
            assert got["nobody"] == (b"hello\n", 0), hex(addr)
    if arch == "x86_64":
        assert res.mmap_min_addr > 0x1000


@pytest.mark.parametrize("arch", harness.ARCHES)
def test_guest_facts(vm, arch):
    res = vm(arch)
    assert res.kernel and res.kernel[0].isdigit()
    assert "@@TE DONE" in res.console
    print(f"{arch}: kernel {res.kernel}, {res.seconds:.1f} s ({res.cpu_seconds:.1f} s CPU)")


def test_vm_that_does_not_boot_raises_with_console(tmp_path, monkeypatch):
    arch = "x86_64"
    if shutil.which("qemu-system-x86_64") is None:
        _unavailable(f"qemu-system-x86_64 is not installed: {harness.INSTALL_HINT}")
    (tmp_path / arch).mkdir()
    (tmp_path / arch / "vmlinuz").write_bytes(b"not a kernel")
    (tmp_path / arch / "busybox").write_bytes(b"")
    monkeypatch.setenv("TINYELF_VM_CACHE", str(tmp_path))
    assert available(arch) is None
    with pytest.raises(VMError, match="did not come up"):
        run_in_vm(arch, [("x", b"", [], b"")], timeout=60)


def test_available_names_the_install_script(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYELF_VM_CACHE", str(tmp_path))
    reason = available("riscv64")
    assert reason and "tests/deps/install.sh" in reason
    assert "known" in available("sparc")


def test_initramfs_is_newc(tmp_path, monkeypatch):
    (tmp_path / "aarch64").mkdir()
    (tmp_path / "aarch64" / "busybox").write_bytes(b"BB")
    monkeypatch.setenv("TINYELF_VM_CACHE", str(tmp_path))
    data = harness.build_initramfs("aarch64", [("p", b"\x7fELF", ["x"], b"in")])
    assert data.startswith(b"070701") and len(data) % 4 == 0
    if shutil.which("cpio"):
        names = subprocess.run(["cpio", "-it", "--quiet"], input=data, stdout=subprocess.PIPE,
                               check=True).stdout.decode().split()
        assert {"init", "bin/busybox", "dev/console", "etc/passwd", "t/0/exe", "t/0/in"} <= set(names)
