"""Shared helpers for the link benchmarks (test_link.py) and the size table
(sizes.py): where the peer linkers are, how each is called, how the bench
inputs are built, and how one link is timed and its peak memory read.

Nothing here is part of tinyelf; it only drives tinyelf, GNU ld, gold and
rust-lld from the outside, the way a build would.
"""
from __future__ import annotations

import glob
import importlib.util
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
BENCHES = ROOT / "benches"
sys.path.insert(0, str(ROOT))

from tinyelf.tools import toolchain  # noqa: E402  (flags live in one place)

# An installed tinyelf runs from compiled bytecode; with PYTHONDONTWRITEBYTECODE
# every tinyelf child would recompile its modules (about 40 ms) on every link.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

#: the flags every peer gets: tinyelf's GNU ld baseline
LD_FLAGS = list(toolchain.LD_BASELINE_FLAGS)
#: gold stops with "internal error in set_offset" on -N (binutils 2.40), so it gets -n only
GOLD_FLAGS = [f for f in LD_FLAGS if f != "-N"]
#: libcore's .eh_frame refers to rust_eh_personality, which a no_std program never
#: defines; GNU ld drops the reference with .eh_frame, gold and lld do not
EH_PERSONALITY = ["--defsym=rust_eh_personality=0"]


# --------------------------------------------------------------------------- tools

def rustc_sysroot() -> Path | None:
    if shutil.which("rustc") is None:
        return None
    out = subprocess.run(["rustc", "--print", "sysroot"], capture_output=True, text=True)
    return Path(out.stdout.strip()) if out.returncode == 0 else None


def rust_lld() -> str | None:
    root = rustc_sysroot()
    if root is None:
        return None
    p = root / "lib/rustlib/x86_64-unknown-linux-gnu/bin/rust-lld"
    return str(p) if p.exists() else None


def rust_libs() -> tuple[str, str] | None:
    """libcore's and compiler_builtins' rlibs of the installed toolchain."""
    root = rustc_sysroot()
    if root is None:
        return None
    lib = root / "lib/rustlib/x86_64-unknown-linux-gnu/lib"
    core = sorted(glob.glob(str(lib / "libcore-*.rlib")))
    cb = sorted(glob.glob(str(lib / "libcompiler_builtins-*.rlib")))
    if not core or not cb:
        return None
    return core[0], cb[0]


def linkers() -> dict[str, list[str] | None]:
    """name -> command prefix (None when the linker is not installed).

    tinyelf runs as ``python -m tinyelf pack``: interpreter start-up and
    imports are part of what a build pays for every link."""
    lld = rust_lld()
    return {
        "tinyelf": [sys.executable, "-m", "tinyelf", "pack"],
        "tinyelf --verify": [sys.executable, "-m", "tinyelf", "pack", "--verify"],
        "ld": ["ld", *LD_FLAGS] if shutil.which("ld") else None,
        "gold": ["ld.gold", *GOLD_FLAGS] if shutil.which("ld.gold") else None,
        "rust-lld": [lld, "-flavor", "gnu", *LD_FLAGS] if lld else None,
    }


def tinyelf_help() -> str:
    out = subprocess.run([sys.executable, "-m", "tinyelf", "pack", "--help"],
                         capture_output=True, text=True, cwd=ROOT)
    return out.stdout


def tinyelf_has_archives() -> bool:
    """True once tinyelf reads ar archives (.a/.rlib) itself (branch ``rust``)."""
    return importlib.util.find_spec("tinyelf.elf.archive") is not None


def tinyelf_has_layout_option() -> bool:
    """True once ``tinyelf pack --layout`` exists (branch ``squeeze``)."""
    return "--layout" in tinyelf_help()


# --------------------------------------------------------------------------- timing

INPUT_ORDER = ("hello", "core", "gen1x", "gen2x", "gen4x", "gen8x")
LINKER_ORDER = ("tinyelf", "tinyelf --verify", "ld", "gold", "rust-lld")
#: (input, linker) -> {"median": wall s, "cpu": CPU s, "maxrss": KiB, "rounds": n}
RESULTS: dict[tuple[str, str], dict] = {}


def record(input_name: str, linker: str, times: list[float], cpu: list[float],
           maxrss: int) -> None:
    RESULTS[(input_name, linker)] = {"median": statistics.median(times),
                                     "cpu": statistics.median(cpu), "maxrss": maxrss,
                                     "rounds": len(times)}


def timed_run(cmd, cwd=None) -> tuple[float, float, int, str]:
    """Run ``cmd`` as a child process; return (wall seconds, CPU seconds
    (user + system, from os.wait4), exit status, stderr).  On a shared,
    loaded machine the CPU time is the steadier of the two."""
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, cwd=cwd)
        _pid, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped
        err.seek(0)
        return wall, ru.ru_utime + ru.ru_stime, proc.returncode, err.read().decode(errors="replace")


def peak_rss_kib(cmd, cwd=None) -> int:
    """Peak RSS of one run of ``cmd``, in KiB: the ru_maxrss that os.wait4
    reports for it.

    Linux carries the parent's high-water mark over fork/vfork and exec into
    the child's ru_maxrss, so a child of pytest would report at least
    pytest's own ~37 MiB.  The command is therefore started from a small
    process (GNU time, which reads the same wait4 rusage) when installed."""
    gnu_time = shutil.which("time") or ("/usr/bin/time" if os.path.exists("/usr/bin/time") else None)
    if gnu_time:
        with tempfile.NamedTemporaryFile("r") as out:
            subprocess.run([gnu_time, "-f", "%M", "-o", out.name, *cmd], cwd=cwd,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            return int(out.read().split()[-1])
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd)
    _pid, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped
    return ru.ru_maxrss   # an upper bound: includes the parent's high-water mark


def run_exe(path, *args, stdin: bytes = b"", env=None) -> tuple[bytes, int]:
    proc = subprocess.run([str(path), *map(str, args)], input=stdin, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=20, env=env)
    return proc.stdout, proc.returncode


# --------------------------------------------------------------------------- ELF

def loaded_end(path) -> int:
    """Where sstrip would cut the file: the end of the last byte any program
    header refers to (and at least the end of the program header table)."""
    data = Path(path).read_bytes()
    e_phoff, = struct.unpack_from("<Q", data, 0x20)
    e_phentsize, e_phnum = struct.unpack_from("<HH", data, 0x36)
    end = max(64, e_phoff + e_phentsize * e_phnum)
    for i in range(e_phnum):
        p_type, _flags, p_offset, _va, _pa, p_filesz = struct.unpack_from(
            "<IIQQQQ", data, e_phoff + i * e_phentsize)
        if p_type != 0 and p_filesz:
            end = max(end, p_offset + p_filesz)
    return end


def sstrip_copy(src, dst) -> int:
    """Write ``src`` truncated after its last segment to ``dst``; return the size."""
    n = loaded_end(src)
    Path(dst).write_bytes(Path(src).read_bytes()[:n])
    os.chmod(dst, 0o755)
    return n


# --------------------------------------------------------------------------- inputs

def undefined_symbols(obj) -> set[str]:
    out = subprocess.run(["nm", "-u", str(obj)], capture_output=True, text=True, check=True)
    return {line.split()[-1] for line in out.stdout.splitlines() if line.strip()}


MEM_FUNCS = {"memcpy", "memmove", "memset", "memcmp", "bcmp", "strlen"}


def build_mem_object(build_dir: Path) -> Path:
    """memcpy & co. for the peers: tests/corpus/support/mem.c, the file the
    corpus links into its GNU ld baselines (compiler_builtins defines none of
    them on this target; tinyelf brings its own once branch ``rust`` has
    landed)."""
    out = build_dir / "bench_mem.o"
    if not out.exists():
        toolchain.compile_c(ROOT / "tests" / "corpus" / "support" / "mem.c", out,
                            extra=("-fno-builtin", "-fno-tree-loop-distribute-patterns"))
    return out


def extract_core_object(build_dir: Path) -> Path:
    """libcore's rlib holds one object: take it out with ``ar x`` (used while
    tinyelf cannot read archives itself)."""
    libs = rust_libs()
    dest = build_dir / "libcore-x"
    dest.mkdir(exist_ok=True)
    objs = sorted(dest.glob("*.o"))
    if not objs:
        subprocess.run(["ar", "x", libs[0]], cwd=dest, check=True)
        objs = sorted(dest.glob("*.o"))
    assert len(objs) == 1, objs
    return objs[0]


def rust_link_inputs(obj: Path, build_dir: Path) -> dict[str, list[str]]:
    """Inputs per linker for a no_std Rust object that calls into libcore:
    the sysroot's libcore and compiler_builtins rlibs (what rustc would pass),
    plus memcpy & co. for the peers when the code asks for them.  While
    tinyelf cannot read archives, it gets libcore's object taken out of the
    rlib instead."""
    libs = rust_libs()
    undef = undefined_symbols(obj)
    peers = [str(obj)]
    if undef & MEM_FUNCS:
        peers.append(str(build_mem_object(build_dir)))
    peers += list(libs)
    if tinyelf_has_archives():
        tiny = [str(obj), *libs]
    else:
        tiny = [str(obj), str(extract_core_object(build_dir))]
        if undef & MEM_FUNCS:
            tiny.insert(1, str(build_mem_object(build_dir)))
    return {"tinyelf": tiny, "peers": peers}


# ----- generated inputs (c): units of BASE_FUNCS C functions calling each other

BASE_FUNCS = 2500


def unit_source(k: int, n: int = BASE_FUNCS) -> str:
    """C source of unit ``k``: ``n`` functions in a call chain, each reading
    its own data, the last handing over to the next unit through
    ``bench_next_<k+1>``, plus a table of function pointers (absolute
    relocations in data).  Deterministic: the same k gives the same text."""
    p = f"u{k}_"
    out = [f"/* generated by benches/benchlib.py: unit {k}, {n} functions */",
           f"extern long bench_next_{k + 1}(long);"]
    for j in range(n):
        out.append(f"long {p}f{j}(long);")
    for j in range(n):
        a, b = (j * 2654435761 + k) % 251, (j * 40503 + 7 * k) % 253
        out.append(f"const long {p}d{j}[2] = {{{a}, {b}}};")
        nxt = f"{p}f{j + 1}" if j + 1 < n else f"bench_next_{k + 1}"
        out.append(f"__attribute__((noinline)) long {p}f{j}(long x) "
                   f"{{ return ({nxt}(x + 1) ^ {p}d{j}[x & 1]) + {j % 7}; }}")
    out.append(f"long (*const {p}table[])(long) = {{")
    for j in range(0, n, 3):
        out.append(f"  {p}f{(j * 7919) % n},")
    out.append("};")
    return "\n".join(out) + "\n"


def main_source(scale: int) -> str:
    """``_start`` for ``scale`` units: runs the whole chain, exits with the
    low byte of the result (the same for every linker: a correctness check)."""
    out = ["/* generated by benches/benchlib.py */"]
    for k in range(scale):
        out.append(f"long u{k}_f0(long);")
    for k in range(1, scale):
        out.append(f"long bench_next_{k}(long x) {{ return u{k}_f0(x); }}")
    out.append(f"long bench_next_{scale}(long x) {{ return x; }}")
    out.append("void _start(void) {\n  long r = u0_f0(1);\n"
               "  __asm__ volatile (\"syscall\" :: \"a\"(60), \"D\"(r & 0xff));\n"
               "  __builtin_unreachable();\n}")
    return "\n".join(out) + "\n"


def expected_status(scale: int, n: int = BASE_FUNCS) -> int:
    """What the generated program computes, evaluated in Python."""
    funcs = []
    for k in range(scale):
        for j in range(n):
            funcs.append(((j * 2654435761 + k) % 251, (j * 40503 + 7 * k) % 253, j % 7))
    # f_i(x) = (f_{i+1}(x+1) ^ d_i[x&1]) + c_i ; past the end: identity
    total = len(funcs)
    r = 1 + total
    for i in range(total - 1, -1, -1):
        a, b, c = funcs[i]
        x = 1 + i
        r = (r ^ (a if x & 1 == 0 else b)) + c
    return r & 0xFF


def build_unit(build_dir: Path, k: int) -> Path:
    """Compile generated unit ``k`` (once)."""
    o = build_dir / f"gen_unit{k}.o"
    if not o.exists():
        src = build_dir / f"gen_unit{k}.c"
        src.write_text(unit_source(k))
        toolchain.compile_c(src, build_dir / f"gen_unit{k}.tmp.o")
        os.replace(build_dir / f"gen_unit{k}.tmp.o", o)
    return o


def build_generated(build_dir: Path, scale: int) -> list[Path]:
    """Objects for ``scale`` units and their ``_start`` (units compiled once
    and shared between scales)."""
    objs = [build_unit(build_dir, k) for k in range(scale)]
    m = build_dir / f"gen_main{scale}.o"
    if not m.exists():
        src = build_dir / f"gen_main{scale}.c"
        src.write_text(main_source(scale))
        toolchain.compile_c(src, m)
    return [m, *objs]
