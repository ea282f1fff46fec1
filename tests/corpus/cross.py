"""The differential corpus for aarch64 and riscv64: the C programs of
corpus.py compiled with Debian's cross compilers at each machine's flag sets
(optimisation, -fno-pie/-fPIE/-fPIC, code models, function sections, riscv
with and without -mno-relax), linked by the cross GNU ld (its default script,
corpus.LD_FLAGS) and run under qemu-user.  tinyelf's side is in
tests/test_cross.py.

    python3 tests/corpus/cross.py [NAME_SUBSTRING ...]   # GNU ld side only, a table
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from dataclasses import dataclass, replace

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus  # noqa: E402

#: arch -> (tool prefix, qemu-user, Debian packages)
ARCHES = {
    "aarch64": ("aarch64-linux-gnu-", "qemu-aarch64", ("gcc-aarch64-linux-gnu", "qemu-user")),
    "riscv64": ("riscv64-linux-gnu-", "qemu-riscv64", ("gcc-riscv64-linux-gnu", "qemu-user")),
}

_FS = ("-ffunction-sections", "-fdata-sections")
FLAGSETS = {
    "aarch64": [
        ("O0", ("-O0", "-fno-pie")),
        ("O2", ("-O2", "-fno-pie")),
        ("Os-pic", ("-Os", "-fPIC")),
        ("O2-pie-fs", ("-O2", "-fPIE") + _FS),
        ("Os-tiny", ("-Os", "-fno-pie", "-mcmodel=tiny")),
        ("O2-large", ("-O2", "-fno-pie", "-mcmodel=large")),
        ("O0-large-fs", ("-O0", "-fno-pie", "-mcmodel=large") + _FS),
    ],
    "riscv64": [
        ("O0", ("-O0", "-fno-pie")),
        ("O2", ("-O2", "-fno-pie")),
        ("Os-pic", ("-Os", "-fPIC")),
        ("O2-pie-fs", ("-O2", "-fPIE") + _FS),
        ("Os-medlow", ("-Os", "-fno-pie", "-mcmodel=medlow")),
        ("O2-medany-norelax", ("-O2", "-fno-pie", "-mcmodel=medany", "-mno-relax")),
        ("Os-medany-fs", ("-Os", "-fno-pie", "-mcmodel=medany") + _FS),
        ("O0-pic-norelax-fs", ("-O0", "-fPIC", "-mno-relax") + _FS),
    ],
}

#: the corpus's own programs (the samples there are x86-64 code); recursion
#: is left out: its deep recursion takes over 30 s under qemu-user at -O0
PROGRAMS = [p for p in corpus.C_PROGRAMS
            if all("/progs/" in s for s in p.sources) and p.name != "recursion"]


@dataclass(frozen=True)
class CrossVariant:
    arch: str
    variant: corpus.Variant

    @property
    def name(self):
        return f"{self.arch}.{self.variant.name}"


def variants(arch):
    out = []
    for prog in PROGRAMS:
        for set_name, flags in FLAGSETS[arch]:
            if prog.reject and set_name not in ("O2", "Os-pic"):
                continue
            out.append(CrossVariant(arch, corpus.Variant(
                name=f"{prog.name}.{set_name}", program=prog.name, sources=prog.sources,
                compiler="gcc", flags=corpus.C_COMMON + flags + prog.extra_flags,
                archive_members=prog.archive_members, start_stub=prog.start_stub,
                reject=prog.reject, argv=prog.argv, stdin=prog.stdin, env=prog.env,
                expect_status=prog.expect_status, expect_stdout=prog.expect_stdout)))
    return out


def _run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"command failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr}")
    return r


def _gcc(arch, src, flags, out):
    _run([ARCHES[arch][0] + "gcc", "-c", *flags, "-o", out, src])
    return out


def _ar(arch, out, members):
    if os.path.exists(out):
        os.remove(out)
    _run([ARCHES[arch][0] + "ar", "rcsD", out, *members])
    return out


_lock = threading.Lock()
_support = {}


def _support_archive(arch, flags, cache):
    key = (arch, flags)
    with _lock:
        lock = _support.setdefault(key, threading.Lock())
    with lock:
        d = os.path.join(cache, f"support-{arch}-{abs(hash(flags)):x}")
        lib = os.path.join(d, "libsupport.a")
        if not os.path.exists(lib):
            os.makedirs(d, exist_ok=True)
            members = [_gcc(arch, os.path.join(corpus.SUPPORT, "io.c"), flags, os.path.join(d, "io.o")),
                       _gcc(arch, os.path.join(corpus.SUPPORT, "mem.c"), flags + corpus.MEM_EXTRA,
                            os.path.join(d, "mem.o"))]
            _ar(arch, lib, members)
        return lib


def build_objects(cv, outdir, cache):
    """Compile a cross variant: (objects, archives)."""
    v, arch = cv.variant, cv.arch
    os.makedirs(outdir, exist_ok=True)
    objs = [_gcc(arch, s, v.flags, os.path.join(outdir, corpus._obj_name(s))) for s in v.sources]
    if v.start_stub:
        objs.append(_gcc(arch, os.path.join(corpus.SUPPORT, "start.c"), v.flags,
                         os.path.join(outdir, "start.o")))
    archives = []
    if v.archive_members:
        members = [_gcc(arch, s, v.flags, os.path.join(outdir, corpus._obj_name(s)))
                   for s in v.archive_members]
        archives.append(_ar(arch, os.path.join(outdir, f"lib{v.program}.a"), members))
    archives.append(_support_archive(arch, v.flags, cache))
    archives.append(libgcc(arch))      # riscv64 without Zbb calls __clzdi2 & co.
    return objs, archives


def libgcc(arch):
    return _run([ARCHES[arch][0] + "gcc", "-print-libgcc-file-name"]).stdout.strip()


#: GNU ld relaxes riscv code (gp-relative forms too: support/start.c sets gp
#: from __global_pointer$ as crt1.o does), and so does tinyelf
LD_EXTRA = {"aarch64": (), "riscv64": ()}


def link_with_ld(arch, objs, archives, out):
    _run([ARCHES[arch][0] + "ld", *corpus.LD_FLAGS, *LD_EXTRA[arch], "-o", out, *objs,
          "--start-group", *archives, "--end-group"])
    return out


def run(arch, exe, variant, timeout=30, prefix=()):
    """(stdout, status) of ``exe`` under qemu-user (``prefix``: e.g. setpriv to nobody)."""
    return run_full(arch, exe, variant, timeout, prefix)[:2]


def run_full(arch, exe, variant, timeout=30, prefix=()):
    """(stdout, status, stderr)."""
    r = subprocess.run([*prefix, ARCHES[arch][1], exe, *variant.argv], input=variant.stdin,
                       capture_output=True, env=dict(variant.env), timeout=timeout)
    if r.returncode and r.stderr.startswith(ARCHES[arch][1].encode()):
        # qemu itself failed (could not open or load the file): not the program's status
        raise RuntimeError(f"{ARCHES[arch][1]} {exe}: {r.stderr.decode(errors='replace').strip()}")
    return r.stdout, r.returncode, r.stderr


def main(argv):
    import tempfile
    with tempfile.TemporaryDirectory(prefix="tinyelf-cross-") as tmp:
        for arch in ARCHES:
            for cv in variants(arch):
                if argv and not any(a in cv.name for a in argv):
                    continue
                d = os.path.join(tmp, cv.name)
                try:
                    objs, ars = build_objects(cv, d, tmp)
                    if cv.variant.reject:
                        print(f"{cv.name:40} built (must be rejected)")
                        continue
                    exe = link_with_ld(arch, objs, ars, os.path.join(d, "prog"))
                    out, rc = run(arch, exe, cv.variant)
                    print(f"{cv.name:40} {os.path.getsize(exe):6} {rc:4} {out[:30]!r}")
                except RuntimeError as e:
                    print(f"{cv.name:40} FAILED {str(e).splitlines()[0]}")


if __name__ == "__main__":
    main(sys.argv[1:])
