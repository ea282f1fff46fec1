"""Differential corpus for aarch64 and riscv64 (tests/corpus/cross.py):
each variant compiled once with Debian's cross gcc, linked by the cross GNU
ld and by tinyelf, both run under qemu-user; stdout and exit status must be
equal (tinyelf's also as nobody), and the must-reject programs (constructors,
TLS) are refused with one ``tinyelf: error:`` line per problem.

riscv64: both linkers relax (support/start.c sets gp as crt1.o does); the
-mno-relax flag sets compile without it, and the Os-medlow set is linked by
tinyelf with --no-relax too (same behaviour, never smaller).

tinyelf links with ``--layout strict --no-trim-zeros`` here: qemu-user's
loader refuses overlapped headers, and it zero-fills bss inside a read-only
segment by writing to it (a SIGSEGV in qemu; the kernel does not mind).
The header layouts are proven under the booted kernels (tests/vm) instead.

About 2 minutes on 2 cores: 7 + 8 flag sets x 13 programs, compiled in threads.
"""
from __future__ import annotations

import concurrent.futures
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "corpus"))
sys.path.insert(0, str(HERE))

import cross  # noqa: E402
from conftest import nobody_prefix  # noqa: E402

QEMU_OK = ("--layout", "strict", "--no-trim-zeros")
#: variants also linked with --no-relax: riscv64's Os-medlow set (compiled with relaxation)
UNRELAXED_TOO = (".Os-medlow",)
REJECT = {"ctor": "constructors", "cxx_ctors": "constructors", "tls": "thread-local storage"}
ALL = [cv for arch in cross.ARCHES for cv in cross.variants(arch)]


def _need_tools(arch):
    prefix, qemu, pkgs = cross.ARCHES[arch]
    missing = [t for t in (prefix + "gcc", prefix + "ld", qemu) if shutil.which(t) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: run tests/deps/install.sh "
                    f"(apt packages {', '.join(pkgs)})")


@pytest.fixture(scope="session")
def cross_built(build_dir):
    """Every cross variant compiled (in threads), GNU ld-linked and run once."""
    root = build_dir / "cross"
    for arch in cross.ARCHES:
        _need_tools(arch)

    def one(cv):
        d = root / cv.name
        try:
            objs, ars = cross.build_objects(cv, str(d), str(root))
        except RuntimeError as exc:
            return cv.name, ("build", str(exc))
        if cv.variant.reject:
            return cv.name, (objs, ars, None)
        try:
            exe = cross.link_with_ld(cv.arch, objs, ars, str(d / "ld.out"))
        except RuntimeError as exc:      # e.g. -mcmodel=tiny with a 1 MiB bss
            return cv.name, (objs, ars, ("ld failed", str(exc)))
        return cv.name, (objs, ars, cross.run(cv.arch, exe, cv.variant))

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        return dict(pool.map(one, ALL))


def tinyelf(args):
    return subprocess.run([sys.executable, "-m", "tinyelf", *args], capture_output=True, text=True)


@pytest.mark.parametrize("cv", ALL, ids=lambda cv: cv.name)
def test_cross_variant(cv, cross_built, build_dir):
    got = cross_built[cv.name]
    assert got[0] != "build", f"{cv.name} did not compile: {got[1]}"
    objs, ars, ld_result = got
    out = build_dir / "cross" / cv.name / "tinyelf.out"   # build_dir: nobody can reach it
    r = tinyelf(["pack", *objs, *ars, "-o", str(out), *QEMU_OK])
    if cv.variant.reject:
        assert r.returncode == 1 and not out.exists(), r.stderr
        lines = r.stderr.strip().splitlines()
        assert lines and all(l.startswith("tinyelf: error:") for l in lines), r.stderr
        assert REJECT[cv.variant.program] in r.stderr
        return
    if ld_result[0] == "ld failed":
        # GNU ld said "relocation truncated to fit": tinyelf must refuse too
        assert "truncated to fit" in ld_result[1], ld_result[1]
        assert r.returncode == 1 and not out.exists(), r.stderr
        assert "out of range" in r.stderr and r.stderr.startswith("tinyelf: error:"), r.stderr
        return
    assert r.returncode == 0, r.stderr
    ld_out, ld_rc = ld_result
    assert ld_rc == cv.variant.expect_status, f"GNU ld's link exits {ld_rc}"
    for prefix in ((), tuple(nobody_prefix())):
        t_out, t_rc, t_err = cross.run_full(cv.arch, str(out), cv.variant, prefix=prefix)
        assert (t_out, t_rc) == (ld_out, ld_rc), \
            f"as {'nobody' if prefix else 'root'}; stderr: {t_err[:300]!r}"
    if cv.name.endswith(UNRELAXED_TOO):
        # the same objects without relaxation: the same behaviour, never smaller
        plain = out.with_name("tinyelf-norelax.out")
        r = tinyelf(["pack", *objs, *ars, "-o", str(plain), *QEMU_OK, "--no-relax"])
        assert r.returncode == 0, r.stderr
        assert cross.run(cv.arch, str(plain), cv.variant) == (ld_out, ld_rc)
        assert out.stat().st_size <= plain.stat().st_size
