"""Every header layout of every machine, on a real kernel.

qemu-user is no judge of header layouts (its loader refuses files whose
EI_CLASS, EI_DATA, EI_VERSION or e_ehsize are not the standard values, which
the kernel never reads), so each machine's samples are built with every layout
its arch registers, with and without ``--wx`` (i386 on the x86-64 guest, whose
Debian kernel has IA32 emulation), and run in one boot of a Debian
kernel under qemu-system (tests/vm/harness.py), as root and as nobody.  The
layouts come from the registry (``layouts.for_arch``); opt-in layouts
(``auto = False``: dyn68 needs 4 GiB of committable memory, more than the
guest has) are left out, saying so.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tinyelf import arch as archmod
from tinyelf.linker import layouts

from vm.harness import VMError, available, run_in_vm

ROOT = Path(__file__).resolve().parent.parent

#: machine -> (guest, [(sample source, argv, stdout or None, exit status)])
#: stdout None: only the status is compared (main.c prints argv[0], a guest path)
MACHINES = {
    "x86_64": ("x86_64", [("samples/hello.c", [], b"Hello, world!\n", 0),
                          ("samples/exit.rs", [], b"", 42),
                          ("samples/main.c", ["x", "yz"], b"2\n", 3)]),
    "i386": ("x86_64", [("samples/i386/hello.c", [], b"Hello, world!\n", 0),
                        ("samples/i386/exit42.c", [], b"", 42),
                        ("samples/i386/hello.rs", [], b"Hello, world!\n", 0)]),
    "aarch64": ("aarch64", [("samples/aarch64/hello.c", [], b"Hello, world!\n", 0),
                            ("samples/aarch64/hello.rs", [], b"Hello, world!\n", 0),
                            ("samples/aarch64/exit.c", [], b"", 42),
                            ("samples/aarch64/main.c", ["x", "yz"], None, 43)]),
    "riscv64": ("riscv64", [("samples/riscv64/hello.c", [], b"Hello, world!\n", 0),
                            ("samples/riscv64/hello.rs", [], b"Hello, world!\n", 0),
                            ("samples/riscv64/exit.c", [], b"", 42),
                            ("samples/riscv64/main.c", ["x", "yz"], None, 43)]),
}


def _build(machine, src, layout, wx, out):
    cmd = [sys.executable, "-m", "tinyelf", "build", str(ROOT / src), "-o", str(out),
           "--layout", layout, "--arch", machine]
    if wx:
        cmd.append("--wx")
    return subprocess.run(cmd, capture_output=True, text=True)


@pytest.fixture(scope="module")
def booted(tmp_path_factory):
    """guest -> (VMResult or VMError, {program name: (expected stdout, status)})."""
    out = {}

    def get(machine):
        if machine in out:
            return out[machine]
        guest, samples = MACHINES[machine]
        reason = available(guest)
        if reason:
            pytest.fail(reason, pytrace=False)
        d = tmp_path_factory.mktemp(f"layouts-{machine}")
        programs, expect, refused = [], {}, []
        for spec in layouts.for_arch(archmod.get(machine)):
            if not spec.auto:
                continue
            for src, argv, stdout, status in samples:
                for wx in (False, True):
                    name = f"{Path(src).name.replace('.', '_')}-{spec.name}{'-wx' if wx else ''}"
                    exe = d / name
                    r = _build(machine, src, spec.name, wx, exe)
                    if r.returncode != 0:
                        # a layout may refuse a program (one header only, a base
                        # above 4 GiB ...): that is the error line, never a crash
                        assert r.stderr.startswith("tinyelf: error: "), r.stderr
                        refused.append(name)
                        continue
                    programs.append((name, exe, argv, b""))
                    expect[name] = (stdout, status)
        try:
            res = run_in_vm(guest, programs)
        except VMError as e:
            res = e
        out[machine] = (res, expect, refused)
        return out[machine]
    return get


@pytest.mark.parametrize("machine", list(MACHINES))
def test_every_layout_runs_on_a_real_kernel(booted, machine):
    res, expect, refused = booted(machine)
    if isinstance(res, VMError):
        pytest.fail(str(res), pytrace=False)
    assert expect, f"{machine}: no layout built any sample (refused: {refused})"
    names = {spec.name for spec in layouts.for_arch(archmod.get(machine)) if spec.auto}
    ran = {n.split("-", 1)[1].removesuffix("-wx") for n in expect}
    assert ran == names, f"layouts that built no sample: {names - ran}"
    for name, (stdout, status) in expect.items():
        for who in ("root", "nobody"):
            got_out, got_status = res[name][who]
            assert got_status == status, (name, who, got_out)
            if stdout is not None:
                assert got_out == stdout, (name, who)
            else:
                assert got_out.endswith(b"\nx\nyz\n"), (name, who, got_out)
