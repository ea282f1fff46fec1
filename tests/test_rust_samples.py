"""The Rust samples that need core (and tinyelf's builtins): built every way
tinyelf supports, run, and checked against Python."""
from __future__ import annotations

import math
import os
import random
import shutil
import stat
import subprocess
import sys

import pytest

import tinyelf
from tinyelf.tools import toolchain

from conftest import SAMPLES, requires_rustc, run_exe, run_tinyelf

pytestmark = requires_rustc


# ---- Python's own factorization (Miller-Rabin + Pollard's rho) -------------

def is_prime(n: int) -> bool:
    if n < 2:
        return False
    for p in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for a in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):   # exact below 3.3e24
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def rho(n: int) -> int:
    if n % 2 == 0:
        return 2
    c = 1
    while True:
        x = y = 2
        d = 1
        while d == 1:
            x = (x * x + c) % n
            y = (y * y + c) % n
            y = (y * y + c) % n
            d = math.gcd(abs(x - y), n)
        if d != n:
            return d
        c += 1


def factorize(n: int) -> list:
    if n < 2:
        return []
    if is_prime(n):
        return [n]
    d = rho(n)
    return sorted(factorize(d) + factorize(n // d))


def test_python_factorization_itself():
    assert factorize(600851475143) == [71, 839, 1471, 6857]
    assert factorize(2 ** 64 - 1) == [3, 5, 17, 257, 641, 65537, 6700417]
    for n in range(2, 2000):
        assert math.prod(factorize(n)) == n and all(is_prime(p) for p in factorize(n))


def expected_line(n: int) -> str:
    return f"{n}:" + "".join(f" {p}" for p in factorize(n)) + "\n"


SMALL_PRIMES = [p for p in range(2, 10_000) if all(p % q for q in range(2, int(p ** 0.5) + 1))]


def quick(n: int) -> bool:
    """True when trial division (what prodfactors does) finishes n fast: with
    the factors below 10,000 removed, at most 9e12 is left, so the loop ends
    below 3e6."""
    for p in SMALL_PRIMES:
        while n % p == 0:
            n //= p
    return n <= 9 * 10 ** 12


def inputs(seed=20261126, count=30):
    """Edge cases, seeded random 64-bit numbers (those prodfactors finishes
    quickly), and products of random primes spanning the 64-bit range."""
    rng = random.Random(seed)
    out = [0, 1, 2, 3, 4, 97, 600851475143, 2 ** 64 - 1, 2 ** 63, 999999999989]
    while len(out) < count:
        n = rng.getrandbits(64)
        if quick(n):
            out.append(n)
    while len(out) < count + 15:
        n = 1
        while True:
            p = rng.choice((2, 3, 5, 7, 11, 13, 65537, 999983, 1000003, 2999999))
            if n * p >= 2 ** 64:
                break
            n *= p
        out.append(n)
    return out


def check_prodfactors(exe):
    nums = inputs()
    out, status = run_exe(exe, *nums, as_nobody=True, timeout=60)
    assert status == 0
    assert out.decode() == "".join(expected_line(n) for n in nums)
    # the example from the issue, and errors
    assert run_exe(exe, 600851475143) == (b"600851475143: 71 839 1471 6857\n", 0)
    assert run_exe(exe, "12", "x7") == (b"12: 2 2 3\n", 1)
    assert run_exe(exe, str(2 ** 64)) == (b"", 1)


@pytest.fixture(scope="module")
def prodfactors_lto(build_dir):
    exe = build_dir / "prodfactors-lto"
    proc = run_tinyelf("build", SAMPLES / "prodfactors.rs", "-o", exe)
    assert proc.returncode == 0, proc.stderr
    return exe


def test_prodfactors_lto(prodfactors_lto):
    check_prodfactors(prodfactors_lto)


def test_prodfactors_non_lto(build_dir):
    """The crate's object + the sysroot's libcore and compiler_builtins rlibs."""
    obj = toolchain.compile_rust(SAMPLES / "prodfactors.rs", build_dir / "prodfactors.o")
    rlibs = toolchain.rust_core_rlibs()
    assert [os.path.basename(r).split("-")[0] for r in rlibs] == ["libcore", "libcompiler_builtins"]
    exe = build_dir / "prodfactors-nolto"
    exe.write_bytes(tinyelf.link([obj, *rlibs]))
    exe.chmod(0o755)
    check_prodfactors(exe)


def tinyelf_ld(directory):
    """The tinyelf-ld console script of this environment (or a stand-in
    running the same module, when the package is not installed)."""
    script = shutil.which("tinyelf-ld", path=os.path.dirname(sys.executable))
    if script:
        return script
    p = directory / "tinyelf-ld"
    p.write_text(f"#!/bin/sh\nexec {sys.executable} -m tinyelf.tools.ld_driver \"$@\"\n")
    p.chmod(p.stat().st_mode | stat.S_IEXEC)
    return str(p)


@pytest.mark.parametrize("flags", [
    ("-C", "lto"),
    ("-C", "lto", "-C", "relocation-model=static"),
    (),                           # non-LTO: symbols.o + crate object + libcore rlib
], ids=["lto-pie", "lto-static", "no-lto-pie"])
def test_rustc_with_tinyelf_ld(build_dir, tmp_path, flags):
    """rustc driving the link with `-C linker=tinyelf-ld` (rustc passes
    -pie unless the relocation model is static)."""
    exe = tmp_path / "prodfactors"
    proc = subprocess.run(["rustc", "--edition", "2021", "--crate-type", "bin",
                           "-C", "panic=abort", "-C", "opt-level=z", "-C", "codegen-units=1",
                           *flags, "-C", f"linker={tinyelf_ld(tmp_path)}", "-o", str(exe),
                           str(SAMPLES / "prodfactors.rs")],
                          cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    tmp_path.chmod(0o755)
    out = build_dir / f"prodfactors-rustc-{len(flags)}"
    shutil.copy(exe, out)
    assert run_exe(out, 600851475143, 2 ** 64 - 1, as_nobody=True) == (
        b"600851475143: 71 839 1471 6857\n18446744073709551615: 3 5 17 257 641 65537 6700417\n", 0)


# ---- echo, rot13 (Rust) and wc (C) --------------------------------------

@pytest.fixture(scope="module")
def built(build_dir):
    cache = {}

    def get(name):
        if name not in cache:
            exe = build_dir / ("built-" + name.replace(".", "_"))
            proc = run_tinyelf("build", SAMPLES / name, "-o", exe)
            assert proc.returncode == 0, proc.stderr
            cache[name] = exe
        return cache[name]
    return get


def test_echo(built):
    exe = built("echo.rs")
    assert run_exe(exe, "a", "b c", "", "d", as_nobody=True) == (b"a b c  d\n", 0)
    assert run_exe(exe) == (b"\n", 0)
    long_args = [f"arg{i}" * 7 for i in range(100)]      # more than the 256-byte buffer
    assert run_exe(exe, *long_args)[0] == (" ".join(long_args) + "\n").encode()
    proc = subprocess.run([str(exe), "$GREETING", "x", "$UNSET_VAR_X"], capture_output=True,
                          env={"GREETING": "hi there", "OTHER": "1"})
    assert (proc.stdout, proc.returncode) == (b"hi there x \n", 0)


def rot13(data: bytes) -> bytes:
    table = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
                            b"NOPQRSTUVWXYZABCDEFGHIJKLMnopqrstuvwxyzabcdefghijklm")
    return data.translate(table)


def test_rot13(built):
    exe = built("rot13.rs")
    assert run_exe(exe, stdin=b"Hello, World!\n", as_nobody=True) == (b"Uryyb, Jbeyq!\n", 0)
    data = random.Random(13).randbytes(50_000)           # several 4 KiB buffers, all bytes
    assert run_exe(exe, stdin=data) == (rot13(data), 0)
    assert run_exe(exe, stdin=b"") == (b"", 0)


def wc(data: bytes) -> bytes:
    lines = data.count(b"\n")
    return f"{lines} {len(data.split())} {len(data)}\n".encode()


def test_wc(built):
    exe = built("wc.c")
    assert run_exe(exe, stdin=b"one two\nthree\n", as_nobody=True) == (b"2 3 14\n", 0)
    rng = random.Random(7)
    data = bytes(rng.choice(b"ab \n\t\r\v\fxyz") for _ in range(150_000))
    assert run_exe(exe, stdin=data) == (wc(data), 0)
    assert run_exe(exe, stdin=b"") == (b"0 0 0\n", 0)
