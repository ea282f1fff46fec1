"""Differential-test corpus: program variants to link with GNU ld and tinyelf.

A *variant* is one program (its sources) built with one flag set.  This module
only describes the corpus and builds/links/runs it with GNU ld; it never needs
tinyelf.  Everything is deterministic: fixed argv, stdin and an empty (or
fixed) environment.

    python3 tests/corpus/corpus.py [-j N] [--keep DIR] [NAME_SUBSTRING ...]

builds every variant, links non-rejected ones with GNU ld (baseline.ld), runs
each twice, checks status, determinism and that all variants of one program
print the same thing, and prints a summary table.

Layout of a built variant in OUTDIR:
    *.o             the variant's own objects (sources, plus start.o for C)
    libsupport.a    io.o + mem.o (C), or mem.o alone (Rust), same flags
    lib<prog>.a     the variant's own archive, if it has archive members
Rust variants also link the sysroot's libcore and libcompiler_builtins rlibs
(returned in the archive list, after libsupport.a; link inside a group).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import functools
import glob
import hashlib
import os
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PROGS = os.path.join(HERE, "progs")
SUPPORT = os.path.join(HERE, "support")
SAMPLES = os.path.join(ROOT, "samples")
BASELINE_LD = os.path.join(ROOT, "linker_scripts", "baseline.ld")
KEEPINIT_LD = os.path.join(ROOT, "linker_scripts", "baseline-keepinit.ld")

# Always passed to gcc.
C_COMMON = ("-ffreestanding", "-fno-stack-protector", "-fno-asynchronous-unwind-tables",
            "-nostdlib", "-fno-builtin-main")
# mem.c must not be turned back into calls to itself.
MEM_EXTRA = ("-fno-builtin", "-fno-tree-loop-distribute-patterns")
LD_FLAGS = ("-static", "-nostdlib", "-n", "-N", "-s", "--gc-sections", "--build-id=none",
            "--no-warn-rwx-segments")

# C flag sets: (short name, flags).  -mcmodel=large only with -fno-pie/-fPIC.
C_FLAGSETS = [
    ("O0", ("-O0", "-fno-pie")),
    ("O2", ("-O2", "-fno-pie")),
    ("Os", ("-Os", "-fno-pie")),
    ("O2-pie", ("-O2", "-fPIE")),
    ("Os-pic", ("-Os", "-fPIC")),
    ("O0-pic", ("-O0", "-fPIC")),
    ("O2-fs", ("-O2", "-fno-pie", "-ffunction-sections", "-fdata-sections")),
    ("Os-pie-fs", ("-Os", "-fPIE", "-ffunction-sections", "-fdata-sections")),
    ("O2-large", ("-O2", "-fno-pie", "-mcmodel=large")),
    ("O0-large-pic", ("-O0", "-fPIC", "-mcmodel=large")),
    ("Os-large-pic-fs", ("-Os", "-fPIC", "-mcmodel=large", "-ffunction-sections", "-fdata-sections")),
]

#: i386 (gcc -m32, ld -m elf_i386): every optimisation level, static / PIE /
#: PIC, -fno-plt (GOT32X calls), -mregparm=3, function sections
I386_COMMON = C_COMMON + ("-m32",)
I386_FLAGSETS = [
    ("m32-O0", ("-O0", "-fno-pie")),
    ("m32-O2", ("-O2", "-fno-pie")),
    ("m32-Os", ("-Os", "-fno-pie")),
    ("m32-O2-pie", ("-O2", "-fPIE")),
    ("m32-Os-pic", ("-Os", "-fPIC")),
    ("m32-O2-pic-noplt", ("-O2", "-fPIC", "-fno-plt")),
    ("m32-Os-regparm", ("-Os", "-fno-pie", "-mregparm=3")),
    ("m32-O2-fs", ("-O2", "-fno-pie", "-ffunction-sections", "-fdata-sections")),
    ("m32-Os-pie-fs-noplt", ("-Os", "-fPIE", "-fno-plt", "-ffunction-sections", "-fdata-sections")),
]
#: i386 programs linked with every flag set; the others with I386_FEW
I386_ALL_SETS = ("switch", "fptr", "archive", "args")
I386_FEW = ("m32-O2", "m32-Os-pic")
#: not built for i386: arith64 needs libgcc's 64-bit division (__udivdi3),
#: bigbss computes i * i in a 32-bit long (it overflows: both links crash
#: alike), cxx_ctors is covered by ctor
I386_SKIP = ("arith64", "bigbss", "cxx_ctors")
#: exit statuses that differ from x86-64's (archive hashes with 32-bit longs);
#: the others are the same on both machines
I386_STATUS = {"archive": 73}

RUST_COMMON = ("--edition", "2021", "--emit=obj", "-C", "panic=abort", "-C", "codegen-units=1",
               "--crate-type", "bin")
RUST_FLAGSETS = [
    ("z", ("-C", "opt-level=z", "-C", "relocation-model=static")),
    ("3", ("-C", "opt-level=3", "-C", "relocation-model=static")),
    ("0", ("-C", "opt-level=0", "-C", "relocation-model=static")),
    ("z-pic", ("-C", "opt-level=z", "-C", "relocation-model=pic")),
]


@dataclass(frozen=True)
class Variant:
    name: str                       # unique, e.g. "switch.O2-pie"
    program: str                    # variants of one program must print the same
    sources: tuple                  # paths, each compiled to one object linked directly
    compiler: str                   # "gcc" or "rustc"
    flags: tuple                    # full flag list for this variant (without -c/-o)
    archive_members: tuple = ()     # sources compiled into the variant's own lib<program>.a
    start_stub: bool = True         # C: link support/start.c (program defines main, not _start)
    reject: bool = False            # tinyelf must refuse to link this variant
    argv: tuple = ()                # arguments after argv[0]
    stdin: bytes = b""
    env: tuple = ()                 # (("NAME", "value"), ...); environment is otherwise empty
    expect_status: int | None = None
    expect_stdout: bytes | None = None   # checked when given
    arch: str = "x86_64"            # "i386": gcc -m32, ld -m elf_i386


@dataclass(frozen=True)
class Program:
    name: str
    sources: tuple
    compiler: str = "gcc"
    archive_members: tuple = ()
    extra_flags: tuple = ()
    start_stub: bool = True
    reject: bool = False
    argv: tuple = ()
    stdin: bytes = b""
    env: tuple = ()
    expect_status: int | None = None
    expect_stdout: bytes | None = None
    flagsets: tuple = field(default=None)   # subset of flag-set names, None = all


def _p(*names):
    return tuple(os.path.join(PROGS, n) for n in names)


def _s(*names):
    return tuple(os.path.join(SAMPLES, n) for n in names)


WC_INPUT = b"one two three\nfour  five\n\n\tsix seven\neight"

C_PROGRAMS = [
    Program("switch", _p("switch.c"), expect_status=7),
    Program("fptr", _p("fptr.c"), expect_status=112),
    Program("bigbss", _p("bigbss.c"), expect_status=10),
    Program("common", _p("common_a.c", "common_b.c"), extra_flags=("-fcommon",), expect_status=42),
    Program("weak", _p("weak.c", "weak_strong.c"), expect_status=64),
    Program("strings", _p("strings_a.c", "strings_b.c"), extra_flags=("-fmerge-constants",),
            expect_status=81),
    Program("archive", _p("ar_main.c", "ar_util.c"),
            archive_members=_p("ar_vec.c", "ar_hash.c", "ar_opt.c", "ar_unused.c"), expect_status=9),
    Program("recursion", _p("recursion.c"), expect_status=109),
    Program("arith64", _p("arith64.c"), expect_status=32),
    Program("structs", _p("structs.c"), expect_status=75),
    Program("statics", _p("statics.c"), expect_status=15),
    Program("rodata", _p("rodata.c"), expect_status=57),
    Program("args", _p("args.c"), argv=("hello", "42", "-7", "x y", ""), expect_status=41),
    # samples
    Program("hello_c", _s("hello.c"), start_stub=False, expect_status=0,
            expect_stdout=b"Hello, world!\n", flagsets=("O0", "Os", "Os-pic", "O2-large")),
    Program("main_c", _s("main.c"), argv=("a", "b", "c"), expect_status=3, expect_stdout=b"3\n",
            flagsets=("O0", "O2-pie", "Os-large-pic-fs")),
    Program("wc_c", _s("wc.c"), start_stub=False, stdin=WC_INPUT, expect_status=0,
            expect_stdout=b"4 8 42\n", flagsets=("O0", "Os", "O2-fs", "O0-large-pic")),
    # must be rejected
    Program("ctor", _p("ctor.c"), reject=True, flagsets=("O2", "Os-pic")),
    Program("tls", _p("tls.c"), reject=True, flagsets=("O2", "Os-pic")),
    Program("cxx_ctors", _p("cxx_ctors.c"), reject=True, flagsets=("O0",)),
]

RUST_PROGRAMS = [
    # not opt-level=0: ld then keeps libcore's .data.DW.ref.rust_eh_personality
    # and fails on the undefined rust_eh_personality.
    Program("prodfactors_rs", _s("prodfactors.rs"), compiler="rustc", flagsets=("z", "3", "z-pic"),
            argv=("600851475143", "12", "1", "97", "18446744073709551615"), expect_status=0,
            expect_stdout=b"600851475143: 71 839 1471 6857\n12: 2 2 3\n1:\n97: 97\n"
                          b"18446744073709551615: 3 5 17 257 641 65537 6700417\n"),
    Program("prodfactors_bad_rs", _s("prodfactors.rs"), compiler="rustc", argv=("10", "ten"),
            expect_status=1, expect_stdout=b"10: 2 5\n", flagsets=("z",)),
    Program("echo_rs", _s("echo.rs"), compiler="rustc", argv=("a", "b c", "$GREETING", "$NOPE", "d"),
            env=(("GREETING", "hi there"),), expect_status=0, expect_stdout=b"a b c hi there  d\n",
            flagsets=("z", "3", "z-pic")),
    Program("rot13_rs", _s("rot13.rs"), compiler="rustc", stdin=b"Hello, World! 123\n" * 300,
            expect_status=0, expect_stdout=b"Uryyb, Jbeyq! 123\n" * 300, flagsets=("z", "3", "z-pic")),
    Program("hello_rs", _s("hello.rs"), compiler="rustc", expect_status=0,
            expect_stdout=b"Hello, world!\n", flagsets=("z", "0")),
    Program("exit_rs", _s("exit.rs"), compiler="rustc", expect_status=42, expect_stdout=b"",
            flagsets=("z",)),
]


def _variants():
    out = []
    for prog in C_PROGRAMS + RUST_PROGRAMS:
        sets = C_FLAGSETS if prog.compiler == "gcc" else RUST_FLAGSETS
        for set_name, set_flags in sets:
            if prog.flagsets is not None and set_name not in prog.flagsets:
                continue
            base = C_COMMON if prog.compiler == "gcc" else RUST_COMMON
            out.append(Variant(
                name=f"{prog.name}.{set_name}", program=prog.name, sources=prog.sources,
                compiler=prog.compiler, flags=base + set_flags + prog.extra_flags,
                archive_members=prog.archive_members,
                start_stub=prog.start_stub and prog.compiler == "gcc",
                reject=prog.reject, argv=prog.argv, stdin=prog.stdin, env=prog.env,
                expect_status=prog.expect_status, expect_stdout=prog.expect_stdout))
    out += _i386_variants()
    return out


def _i386_variants():
    """The C programs again, 32-bit, compared with GNU ld's i386 link (their
    longs are 32 bits: stdout is not compared with x86-64's, and the exit
    status only where it is the same, see I386_STATUS)."""
    out = []
    for prog in C_PROGRAMS:
        if prog.sources[0].startswith(SAMPLES) or prog.name in I386_SKIP:
            continue            # the samples' syscalls are x86-64 only
        sets = [fs for fs in I386_FLAGSETS
                if prog.name in I386_ALL_SETS or fs[0] in I386_FEW]
        for set_name, set_flags in sets:
            out.append(Variant(
                name=f"{prog.name}.{set_name}", program=prog.name,
                sources=prog.sources, compiler="gcc",
                flags=I386_COMMON + set_flags + prog.extra_flags,
                archive_members=prog.archive_members, start_stub=prog.start_stub,
                reject=prog.reject, argv=prog.argv, stdin=prog.stdin, env=prog.env,
                expect_status=I386_STATUS.get(prog.name, prog.expect_status), arch="i386"))
    return out


VARIANTS = _variants()


def _obj_name(src):
    return os.path.splitext(os.path.basename(src))[0] + ".o"


def _run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"command failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr}")
    return r


def _gcc(src, flags, out):
    _run(["gcc", "-c", *flags, "-o", out, src])
    return out


def _ar(out, members):
    if os.path.exists(out):
        os.remove(out)
    _run(["ar", "rcsD", out, *members])
    return out


@functools.lru_cache(maxsize=None)
def rust_rlibs():
    """libcore and libcompiler_builtins rlibs of the active toolchain."""
    sysroot = _run(["rustc", "--print", "sysroot"]).stdout.strip()
    libdir = os.path.join(sysroot, "lib", "rustlib", "x86_64-unknown-linux-gnu", "lib")
    core = glob.glob(os.path.join(libdir, "libcore-*.rlib"))
    cb = glob.glob(os.path.join(libdir, "libcompiler_builtins-*.rlib"))
    if len(core) != 1 or len(cb) != 1:
        raise RuntimeError(f"expected one libcore and one libcompiler_builtins in {libdir}")
    return (core[0], cb[0])


_support_lock = threading.Lock()
_support_locks = {}


def _support_archive(flags, with_io, cache):
    """libsupport.a (io.o + mem.o, or mem.o alone) built with `flags`.  With a
    shared cache dir it is built once per flag set (in a subdir named by a hash
    of the flags) and reused by every variant with those flags."""
    key = hashlib.sha1(repr((flags, with_io)).encode()).hexdigest()[:12]
    d = os.path.join(cache, "support-" + key)
    with _support_lock:
        lock = _support_locks.setdefault(d, threading.Lock())
    with lock:
        lib = os.path.join(d, "libsupport.a")
        if os.path.exists(lib):
            return lib
        os.makedirs(d, exist_ok=True)
        members = [_gcc(os.path.join(SUPPORT, "mem.c"), flags + MEM_EXTRA, os.path.join(d, "mem.o"))]
        if with_io:
            members.insert(0, _gcc(os.path.join(SUPPORT, "io.c"), flags, os.path.join(d, "io.o")))
        return _ar(lib, members)


_built_lock = threading.Lock()
_built = {}          # variant name -> (lock, [(objs, archives)] once built)


def build_objects(variant, outdir, support_cache=None):
    """Compile `variant` into outdir.  Returns (object paths, archive paths).

    Objects come first on a link line; archives must be searched as a group
    (Rust: libsupport.a provides memcpy & co. to libcore).  support_cache: a
    directory where libsupport.a is shared between variants with the same
    flags (default: built inside outdir).

    A variant is compiled once per process: later calls (the GNU ld side,
    the differential test and the layout test all build the corpus) get the
    paths of the first build while its files exist."""
    os.makedirs(outdir, exist_ok=True)      # the caller writes its links there
    with _built_lock:
        lock, done = _built.setdefault(variant.name, (threading.Lock(), []))
    with lock:
        if done and all(os.path.exists(p) for p in done[0][0] + done[0][1]):
            return list(done[0][0]), list(done[0][1])
        built = _build_objects(variant, outdir, support_cache)
        done[:] = [built]
        return list(built[0]), list(built[1])


def _build_objects(variant, outdir, support_cache=None):
    os.makedirs(outdir, exist_ok=True)
    objs, archives = [], []
    if variant.compiler == "gcc":
        for src in variant.sources:
            objs.append(_gcc(src, variant.flags, os.path.join(outdir, _obj_name(src))))
        if variant.start_stub:
            objs.append(_gcc(os.path.join(SUPPORT, "start.c"), variant.flags,
                             os.path.join(outdir, "start.o")))
        if variant.archive_members:
            members = [_gcc(src, variant.flags, os.path.join(outdir, _obj_name(src)))
                       for src in variant.archive_members]
            archives.append(_ar(os.path.join(outdir, f"lib{variant.program}.a"), members))
        archives.append(_support_archive(variant.flags, True, support_cache or outdir))
    elif variant.compiler == "rustc":
        for src in variant.sources:
            out = os.path.join(outdir, _obj_name(src))
            _run(["rustc", *variant.flags, "-o", out, src])
            objs.append(out)
        archives.append(_support_archive(C_COMMON + ("-O2", "-fno-pie"), False,
                                         support_cache or outdir))
        archives.extend(rust_rlibs())
    else:
        raise ValueError(variant.compiler)
    return objs, archives


def _i386_script(script):
    """The baseline script for elf32-i386 (the same rules, the output format
    and architecture changed), written once next to the objects' cache."""
    out = os.path.join(tempfile.gettempdir(), f"tinyelf-corpus-{os.getuid()}-"
                       + os.path.basename(script).replace(".ld", "-i386.ld"))
    with open(script) as f:
        text = f.read().replace('OUTPUT_FORMAT("elf64-x86-64")', 'OUTPUT_FORMAT("elf32-i386")') \
            .replace("OUTPUT_ARCH(i386:x86-64)", "OUTPUT_ARCH(i386)")
    tmp = f"{out}.{os.getpid()}.{threading.get_ident()}"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, out)
    return out


def link_with_ld(objs, archives, out, script=BASELINE_LD, arch="x86_64"):
    """Link with GNU ld and the baseline script.  Raises RuntimeError on failure."""
    emul = ()
    if arch == "i386":
        emul, script = ("-m", "elf_i386"), _i386_script(script)
    cmd = ["ld", *emul, *LD_FLAGS, "-T", script, "-o", out, *objs]
    if archives:
        cmd += ["--start-group", *archives, "--end-group"]
    _run(cmd)
    return out


def run(exe, variant, timeout=20):
    """Run exe as the variant says.  Returns (stdout bytes, returncode)."""
    r = subprocess.run([exe, *variant.argv], input=variant.stdin, capture_output=True,
                       env=dict(variant.env), timeout=timeout)
    return r.stdout, r.returncode


@dataclass
class Result:
    variant: Variant
    ok: bool
    size: int = 0
    status: int | None = None
    stdout: bytes = b""
    note: str = ""
    objs: tuple = ()


def check_variant(variant, workdir):
    """Build, link with ld (twice), run (twice); return a Result."""
    vdir = os.path.join(workdir, variant.name)
    try:
        objs, archives = build_objects(variant, vdir, os.path.join(workdir, "_support"))
    except RuntimeError as e:
        return Result(variant, False, note="build failed: " + str(e).splitlines()[0])
    if variant.reject:
        return Result(variant, True, objs=tuple(objs),
                      note="built; must be rejected (not linked)")
    exe = os.path.join(vdir, "prog")
    try:
        link_with_ld(objs, archives, exe, arch=variant.arch)
        link_with_ld(objs, archives, exe + ".again", arch=variant.arch)
    except RuntimeError as e:
        return Result(variant, False, note="ld failed: " + str(e))
    with open(exe, "rb") as f1, open(exe + ".again", "rb") as f2:
        if f1.read() != f2.read():
            return Result(variant, False, note="ld output not reproducible")
    size = os.path.getsize(exe)
    try:
        out1, rc1 = run(exe, variant)
        out2, rc2 = run(exe, variant)
    except subprocess.TimeoutExpired:
        return Result(variant, False, size, note="timeout")
    res = Result(variant, True, size, rc1, out1)
    if (out1, rc1) != (out2, rc2):
        res.ok, res.note = False, "nondeterministic"
    elif variant.expect_status is not None and rc1 != variant.expect_status:
        res.ok, res.note = False, f"status {rc1} != expected {variant.expect_status}"
    elif variant.expect_stdout is not None and out1 != variant.expect_stdout:
        res.ok, res.note = False, f"stdout {out1[:60]!r} != expected"
    return res


def check_all(variants=VARIANTS, workdir=None, jobs=None):
    """check_variant for each variant in parallel, plus the cross-variant check
    that all variants of one program print the same stdout and status."""
    jobs = jobs or (os.cpu_count() or 2) + 1
    with concurrent.futures.ThreadPoolExecutor(jobs) as ex:
        results = list(ex.map(lambda v: check_variant(v, workdir), variants))
    first = {}
    for r in results:
        if not r.ok or r.variant.reject:
            continue
        ref = first.setdefault((r.variant.program, r.variant.arch), r)
        if (r.stdout, r.status) != (ref.stdout, ref.status):
            r.ok, r.note = False, f"differs from {ref.variant.name}"
    return results


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("filters", nargs="*", help="only variants whose name contains one of these")
    ap.add_argument("-j", "--jobs", type=int, default=None)
    ap.add_argument("--keep", metavar="DIR", help="build in DIR and keep it")
    args = ap.parse_args(argv)
    chosen = [v for v in VARIANTS if not args.filters or any(f in v.name for f in args.filters)]
    with tempfile.TemporaryDirectory(prefix="tinyelf-corpus-") as tmp:
        workdir = args.keep or tmp
        results = check_all(chosen, workdir, args.jobs)
    print(f"{'variant':32} {'ok':4} {'bytes':>8} {'status':>6}  note")
    for r in results:
        status = "" if r.status is None else str(r.status)
        size = str(r.size) if r.size else ""
        print(f"{r.variant.name:32} {'ok' if r.ok else 'FAIL':4} {size:>8} {status:>6}  {r.note}")
    bad = [r for r in results if not r.ok]
    nrej = sum(r.variant.reject for r in results)
    print(f"{len(results)} variants ({len(results) - nrej} linked and run, {nrej} must-reject): "
          f"{len(results) - len(bad)} ok, {len(bad)} failed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
