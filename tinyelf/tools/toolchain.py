"""External compilers and linkers: the one place their flags live.

tinyelf links; these helpers compile samples and tests and make the GNU ld
baseline it is compared with.  The flags below are the ones documented in
docs/build.md: change them here only.
"""
from __future__ import annotations

import os
import shutil
import subprocess

from ..errors import TinyElfError, ToolchainError

#: no_std Rust, common to both ways of building: smallest code, no
#: unwinding, static addresses (tinyelf resolves everything at link time)
RUSTC_FLAGS = ("--edition", "2021", "--crate-type", "bin",
               "-C", "panic=abort", "-C", "opt-level=z", "-C", "codegen-units=1",
               "-C", "relocation-model=static", "-C", "debuginfo=0",
               "-C", "force-unwind-tables=no")

#: no_std Rust to a relocatable object; calls into core stay undefined and
#: are linked from the sysroot's libcore and compiler_builtins rlibs
RUSTC_OBJ_FLAGS = RUSTC_FLAGS + ("--emit=obj",)

#: no_std Rust with LTO: rustc drives the link and hands its linker one
#: object with core inside plus libcompiler_builtins.rlib (``--emit=obj``
#: with LTO would internalise the panic handler: that object cannot link)
RUSTC_LTO_FLAGS = RUSTC_FLAGS + ("-C", "lto")

#: position-independent variants (what ``tinyelf build`` compiles when that
#: unlocks a smaller layout: overlap80 loads above 4 GiB, where absolute
#: 32-bit relocations cannot hold addresses, dyn68 wherever the kernel puts it)
RUSTC_PIC_FLAGS = tuple("relocation-model=pie" if f == "relocation-model=static" else f
                        for f in RUSTC_FLAGS)
RUSTC_PIC_OBJ_FLAGS = RUSTC_PIC_FLAGS + ("--emit=obj",)
RUSTC_PIC_LTO_FLAGS = RUSTC_PIC_FLAGS + ("-C", "lto")

#: GNU-syntax assembly (.s): the system assembler; .S goes through gcc for
#: the C preprocessor
AS_FLAGS = ("--64",)

#: freestanding C: smallest code, no unwind tables, one section per function
#: and object so that garbage collection can drop what is unused
CC_OBJ_FLAGS = ("-c", "-Os", "-ffreestanding", "-fno-pie", "-fno-stack-protector",
                "-fno-asynchronous-unwind-tables", "-fno-unwind-tables",
                "-ffunction-sections", "-fdata-sections", "-fno-plt")

CC_PIC_OBJ_FLAGS = tuple("-fPIE" if f == "-fno-pie" else f for f in CC_OBJ_FLAGS)

#: per machine (``--arch``), the flags that make each compiler target it, by
#: source extension; x86_64 is every compiler's default here
ARCH_FLAGS = {
    "i386": {".c": ("-m32",), ".S": ("-m32",), ".s": ("--32",), ".rs": ()},
}

#: the GNU ld baseline every size is compared with
LD_BASELINE_FLAGS = ("-static", "-nostdlib", "-n", "-N", "-s", "--gc-sections",
                     "--build-id=none")


#: arch -> the prefix of Debian's cross toolchain (gcc-aarch64-linux-gnu,
#: gcc-riscv64-linux-gnu, binutils-...); x86-64 uses the host's tools
CROSS_PREFIX = {"x86_64": "", "i386": "", "aarch64": "aarch64-linux-gnu-", "riscv64": "riscv64-linux-gnu-"}
#: the Debian packages that hold each cross toolchain (for messages)
CROSS_PACKAGES = {"aarch64": "gcc-aarch64-linux-gnu", "riscv64": "gcc-riscv64-linux-gnu"}


def cross_tool(tool: str, arch) -> str:
    """``gcc``/``as``/``ld`` for ``arch`` (None: the host's)."""
    prefix = CROSS_PREFIX.get(arch or "x86_64")
    if prefix is None:
        raise ToolchainError(f"no toolchain known for {arch}")
    if prefix and shutil.which(prefix + tool) is None:
        raise ToolchainError(f"{prefix}{tool} not found on PATH; install Debian's "
                             f"{CROSS_PACKAGES[arch]} to build for {arch}")
    return prefix + tool


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise ToolchainError(f"{tool} not found on PATH; install it to build this input")
    return path


def _run(cmd, what: str) -> str:
    """Run a compiler; on failure raise ToolchainError whose ``detail`` is
    what the compiler printed, unchanged (the CLI shows it before the
    one-line error)."""
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    except OSError as exc:
        raise ToolchainError(f"cannot run {cmd[0]}: {exc.strerror or exc}") from None
    if proc.returncode != 0:
        detail = proc.stdout + proc.stderr
        raise ToolchainError(f"{what} failed (exit status {proc.returncode})", detail=detail)
    return proc.stderr


def compile_rust(src, out, extra=(), pic: bool = False, arch=None) -> str:
    """``rustc`` a no_std source file to a relocatable object (``pic``:
    ``-C relocation-model=pie`` instead of ``static``; ``arch``: the rustc
    and ``--target`` of :func:`rustc_for`)."""
    flags = RUSTC_PIC_OBJ_FLAGS if pic else RUSTC_OBJ_FLAGS
    rustc, target = rustc_for(arch)
    _run([rustc, *flags, *target, *extra, "-o", os.fspath(out), os.fspath(src)],
         f"rustc {src}")
    return os.fspath(out)


def compile_c(src, out, extra=(), cc: str = "gcc", pic: bool = False) -> str:
    """Compile a freestanding C source file to a relocatable object (``pic``:
    ``-fPIE`` instead of ``-fno-pie``)."""
    flags = CC_PIC_OBJ_FLAGS if pic else CC_OBJ_FLAGS
    _run([_need(cc), *flags, *extra, "-o", os.fspath(out), os.fspath(src)],
         f"{cc} {src}")
    return os.fspath(out)


def assemble_gas(src, out, extra=(), arch=None) -> str:
    """Assemble a GNU-syntax ``.s`` file with ``as`` (``.S``: through gcc, for
    the C preprocessor); ``arch``: the cross tools."""
    s = os.fspath(src)
    if s.endswith(".S"):
        gcc = cross_tool("gcc", arch)
        _run([_need(gcc), "-c", *extra, "-o", os.fspath(out), s], f"{gcc} {src}")
    else:
        as_ = cross_tool("as", arch)
        flags = AS_FLAGS if as_ == "as" and "--32" not in extra else ()
        _run([_need(as_), *flags, *extra, "-o", os.fspath(out), s], f"{as_} {src}")
    return os.fspath(out)


def compile_source(src, out, extra=()) -> str:
    """Compile ``src`` by its extension (.rs, .c, .s, .S) to one object."""
    s = os.fspath(src)
    if s.endswith(".rs"):
        return compile_rust(src, out, extra)
    if s.endswith(".c"):
        return compile_c(src, out, extra)
    if s.endswith((".s", ".S")):
        return assemble_gas(src, out, extra)
    raise ToolchainError(f"{s}: don't know how to compile this (expected .rs, .c, .s or .S)")


# ---- Rust: which rustc, its sysroot, and rustc as the driver of an LTO link ----

#: machine -> rustc target triple (None: the host rustc's own, x86-64)
RUST_TARGETS = {"x86_64": None, "i386": "i686-unknown-linux-gnu",
                "aarch64": "aarch64-unknown-linux-gnu",
                "riscv64": "riscv64gc-unknown-linux-gnu"}
#: machine -> how to get a rustc with that target's libcore (for messages)
RUST_HINTS = {
    "i386": "install Debian's rustc and libstd-rust-dev:i386 (after dpkg --add-architecture "
            "i386), or run tests/deps/install.sh",
    "aarch64": "install Debian's rustc and libstd-rust-dev:arm64 (after dpkg "
               "--add-architecture arm64), or run tests/deps/install.sh",
    "riscv64": "Debian 12 has no libstd-rust-dev:riscv64; run tests/deps/install.sh, which "
               "compiles libcore for it from Debian's rust-src",
}


def rust_cache_rustc() -> str:
    """The rustc that ``tests/deps/install.sh`` unpacks, without installing
    it: Debian 12's rustc 1.63 with the i686 and aarch64 libcores and a
    riscv64 one built from rust-src, under ``$TINYELF_RUST_CACHE`` (default
    ``~/.cache/tinyelf-rust``)."""
    cache = os.environ.get("TINYELF_RUST_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "tinyelf-rust")
    return os.path.join(cache, "bin", "rustc")


def rustc_candidates() -> list:
    """Where a foreign target's rustc is looked for, in order: ``$TINYELF_RUSTC``,
    ``rustc`` on the PATH, Debian's ``/usr/bin/rustc``, install.sh's cache."""
    return [c for c in (os.environ.get("TINYELF_RUSTC"), "rustc", "/usr/bin/rustc",
                        rust_cache_rustc()) if c]


def _target_libdir(rustc: str, triple) -> str:
    cmd = [rustc, "--print", "target-libdir"] + (["--target", triple] if triple else [])
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    except OSError:
        return ""
    return proc.stdout.strip() if proc.returncode == 0 else ""


def _has_libcore(libdir: str) -> bool:
    import glob
    return bool(libdir) and bool(glob.glob(os.path.join(libdir, "libcore-*.rlib")))


_RUSTC_FOR = {}


def rustc_for(arch=None) -> tuple:
    """``(rustc, target flags)`` for ``arch``: the host's rustc for x86-64;
    for another machine the first of :func:`rustc_candidates` whose sysroot
    has that target's libcore (rlibs are tied to the rustc that made them),
    with ``--target TRIPLE``."""
    arch = arch or "x86_64"
    if arch not in RUST_TARGETS:
        raise ToolchainError(f"tinyelf build has no Rust target for {arch} (it knows: "
                             f"{', '.join(sorted(RUST_TARGETS))})")
    triple = RUST_TARGETS[arch]
    if triple is None:
        return _need("rustc"), ()
    if arch not in _RUSTC_FOR:
        found = [shutil.which(c) for c in rustc_candidates()]
        hit = next((c for c in found if c and _has_libcore(_target_libdir(c, triple))), None)
        if hit is None:
            raise ToolchainError(
                f"no rustc with {triple}'s libcore (tried {', '.join(rustc_candidates())}); "
                f"{RUST_HINTS[arch]} (it puts one in "
                f"{os.path.dirname(os.path.dirname(rust_cache_rustc()))} without installing "
                "anything), or set TINYELF_RUSTC to a rustc that has it")
        _RUSTC_FOR[arch] = hit
    return _RUSTC_FOR[arch], ("--target", triple)


def rust_target_libdir(arch=None) -> str:
    """Where the sysroot's rlibs for ``arch`` are
    (``$(rustc --print sysroot)/lib/rustlib/TRIPLE/lib``)."""
    rustc, target = rustc_for(arch)
    libdir = _target_libdir(rustc, target[1] if target else None)
    if not libdir:
        raise ToolchainError(f"{rustc} --print target-libdir failed")
    return libdir


def rust_core_rlibs(arch=None) -> list:
    """The sysroot's libcore and libcompiler_builtins rlibs (what a non-LTO
    no_std object links against)."""
    import glob
    libdir = rust_target_libdir(arch)
    found = []
    for crate in ("core", "compiler_builtins"):
        hits = sorted(glob.glob(os.path.join(libdir, f"lib{crate}-*.rlib")))
        if not hits:
            raise ToolchainError(f"no lib{crate}-*.rlib in {libdir}; install the "
                                 f"{RUST_TARGETS.get(arch or 'x86_64') or 'x86_64-unknown-linux-gnu'} "
                                 "target (rustup target add)")
        found.append(hits[0])
    return found


_CAPTURE_LINKER = """#!{python}
# Written by tinyelf build: stands in for the linker when rustc drives an LTO
# build, keeps the command line and copies the objects rustc will delete.
import os, shutil, sys
sys.path.insert(0, {pkgroot!r})
from tinyelf.tools.ld_driver import expand_response_files
import json
work = {work!r}
args = expand_response_files(sys.argv[1:])
kept = []
for i, a in enumerate(args):
    if not a.startswith("-") and a.endswith(".o") and os.path.isfile(a):
        dst = os.path.join(work, "in%d-%s" % (i, os.path.basename(a)))
        shutil.copyfile(a, dst)
        a = dst
    kept.append(a)
with open(os.path.join(work, "linker-args.json"), "w") as f:
    json.dump(kept, f)
if "-o" in args:
    open(args[args.index("-o") + 1], "wb").close()
"""


def rustc_link_args(src, workdir, extra=(), pic: bool = False, arch=None) -> list:
    """Build a no_std Rust program with LTO, rustc driving the link; return
    the command line rustc gave its linker, with the objects copied into
    ``workdir`` (hand it to :func:`tinyelf.tools.ld_driver.parse`)."""
    import json
    import sys
    workdir = os.path.abspath(os.fspath(workdir))
    capture = os.path.join(workdir, "capture-linker")
    pkgroot = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(capture, "w") as f:
        f.write(_CAPTURE_LINKER.format(python=sys.executable, pkgroot=pkgroot, work=workdir))
    os.chmod(capture, 0o755)
    flags = RUSTC_PIC_LTO_FLAGS if pic else RUSTC_LTO_FLAGS
    rustc, target = rustc_for(arch)
    _run([rustc, *flags, *target, "-C", f"linker={capture}", *extra,
          "-o", os.path.join(workdir, "rustc-output"), os.fspath(src)], f"rustc {src}")
    try:
        with open(os.path.join(workdir, "linker-args.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        raise ToolchainError(f"rustc {src} did not run its linker (is it a bin crate?)") from None


# ---- from a source file to link inputs -------------------------------------

def _inputs_rust(src, workdir, extra, lto=True, pic=False, arch=None) -> list:
    if not lto:
        obj = compile_rust(src, os.path.join(workdir, "prog.o"), extra, pic=pic, arch=arch)
        return [obj, *rust_core_rlibs(arch)]
    from .ld_driver import parse
    return parse(rustc_link_args(src, workdir, extra, pic=pic, arch=arch)).inputs


def _inputs_c(src, workdir, extra, lto=True, pic=False, arch=None) -> list:
    return [compile_c(src, os.path.join(workdir, "prog.o"), extra, cc=cross_tool("gcc", arch),
                      pic=pic)]


def _inputs_gas(src, workdir, extra, lto=True, pic=False, arch=None) -> list:
    return [assemble_gas(src, os.path.join(workdir, "prog.o"), extra, arch=arch)]


def _inputs_direct(src, workdir, extra, lto=True, pic=False, arch=None) -> list:
    """Sources tinyelf reads itself (Intel-syntax ``.asm``, assembled with
    keystone by the read pass): linked as they are."""
    return [os.fspath(src)]


#: source extension -> builder(src, workdir, extra, lto, pic) -> link inputs
#: (paths, or ObjectFiles tinyelf made itself); add a language with one line
BUILDERS = {
    ".rs": _inputs_rust,
    ".c": _inputs_c,
    ".s": _inputs_gas,
    ".S": _inputs_gas,
    ".asm": _inputs_direct,
}

#: source extension -> compiler flags (any one of them in the user's extra
#: flags) that choose the relocation model; only these languages have a
#: static and a position-independent way to compile
RELOCATION_MODEL_FLAGS = {
    ".rs": ("relocation-model",),
    ".c": ("-fpie", "-fPIE", "-fpic", "-fPIC", "-fno-pie", "-fno-pic", "-fno-PIE", "-fno-PIC"),
}


def _builder(src):
    s = os.fspath(src)
    if not os.path.isfile(s):
        raise ToolchainError(f"{s}: no such file")
    ext = os.path.splitext(s)[1]
    builder = BUILDERS.get(ext)
    if builder is None:
        raise ToolchainError(f"{s}: don't know how to build '{ext or s}' files "
                             f"(known: {', '.join(sorted(BUILDERS))})")
    return ext, builder


def build_inputs(src, workdir, extra=(), lto: bool = True, pic: bool = False,
                 arch=None) -> list:
    """Compile ``src`` (chosen by its extension, see ``BUILDERS``) in
    ``workdir``; return what to link.  ``pic``: position-independent code
    (Rust and C; assembly is linked as written)."""
    _ext, builder = _builder(src)
    return builder(src, workdir, tuple(extra), lto, pic, arch=arch)


def has_pic_choice(src, extra=()) -> bool:
    """Whether ``src`` can be compiled both static and position-independent
    by tinyelf: a Rust or C source whose extra flags do not already choose
    the relocation model."""
    ext = os.path.splitext(os.fspath(src))[1]
    chooser = RELOCATION_MODEL_FLAGS.get(ext)
    if chooser is None:
        return False
    return not any(any(c in f for c in chooser) for f in extra)


def named_inputs(inputs, workdir, src) -> list:
    """The link inputs with the objects compiled into ``workdir`` named after
    the user's source (``samples/hello.rs``, or ``samples/hello.rs (object
    2)`` when there are several), so that reports, maps and errors never show
    tinyelf's temporary files; other inputs (the sysroot's rlibs) keep their
    paths."""
    tmp = os.path.join(os.path.abspath(os.fspath(workdir)), "")
    own = [i for i in inputs if isinstance(i, (str, os.PathLike))
           and os.path.abspath(os.fspath(i)).startswith(tmp)]
    named = []
    for i in inputs:
        if i not in own:
            named.append(i)
            continue
        name = os.fspath(src) if len(own) == 1 else f"{os.fspath(src)} (object {own.index(i) + 1})"
        with open(i, "rb") as f:
            named.append((name, f.read()))
    return named


def build_and_link(src, workdir, options, extra=(), lto: bool = True):
    """Compile ``src`` and link it with ``options``; return ``(link, inputs,
    how)``, ``how`` a list of one-line notes on the relocation model chosen.

    With ``options.layout`` "auto" and a source that has the choice
    (:func:`has_pic_choice`), compile it both static and position-independent
    (at the same time, in two directories), link both and keep the smaller
    output (the static one on a tie): PIC code can be larger, but only it can
    use overlap80 and dyn68 (:func:`tinyelf.linker.layouts.wants_pic`).  With an explicit
    layout, compile what that layout needs: PIC when it refuses absolute
    32-bit relocations, else static."""
    from .. import arch as archmod
    from ..linker import layouts
    from ..linker.driver import run as driver_run

    def run_link(inputs, options):
        return driver_run(named_inputs(inputs, workdir, src), options)
    layout = getattr(options, "layout", "auto") or "auto"
    arch = getattr(options, "arch", None)
    arch_obj = archmod.get(arch or "x86_64")
    ext = os.path.splitext(os.fspath(src))[1]
    if arch_obj.name in ARCH_FLAGS:
        per_ext = ARCH_FLAGS[arch_obj.name]
        if ext not in per_ext and ext != ".asm":
            raise ToolchainError(f"{src}: tinyelf build cannot compile '{ext}' files for "
                                 f"{arch_obj.name} (it can: {', '.join(sorted(per_ext))}, .asm)")
        extra = (*per_ext.get(ext, ()), *extra)
    if not has_pic_choice(src, extra):
        inputs = build_inputs(src, workdir, extra, lto, arch=arch)
        return run_link(inputs, options), inputs, []
    if layout != "auto":
        pic = not layouts.get(layout, arch_obj).abs32_ok
        inputs = build_inputs(src, workdir, extra, lto, pic=pic, arch=arch)
        model = "position-independent" if pic else "static"
        return run_link(inputs, options), inputs, [f"compiled {model} (layout {layout})"]
    if not layouts.wants_pic(arch_obj):
        inputs = build_inputs(src, workdir, extra, lto, arch=arch)
        return run_link(inputs, options), inputs, []
    from concurrent.futures import ThreadPoolExecutor
    dirs = {}
    for pic in (False, True):
        dirs[pic] = os.path.join(os.fspath(workdir), "pic" if pic else "static")
        os.makedirs(dirs[pic], exist_ok=True)
    with ThreadPoolExecutor(max_workers=2) as pool:   # the compilers run as subprocesses
        futures = {pic: pool.submit(build_inputs, src, dirs[pic], extra, lto, pic, arch)
                   for pic in (False, True)}
        built = {pic: f.result() for pic, f in futures.items()}
    links, errors = {}, {}
    for pic in (False, True):
        try:
            links[pic] = run_link(built[pic], options)
        except TinyElfError as exc:     # the other model may still link
            errors[pic] = exc
    if not links:
        raise errors[False]
    if len(links) == 1:
        pic = next(iter(links))
        return links[pic], built[pic], [f"compiled {'position-independent' if pic else 'static'}"
                                        f" (the other model failed to link: "
                                        f"{errors[not pic].messages[0]})"]
    sizes = {pic: len(lk.output) for pic, lk in links.items()}
    pic = sizes[True] < sizes[False]
    other = "static" if pic else "position-independent"
    return links[pic], built[pic], [
        f"compiled {'position-independent' if pic else 'static'} "
        f"(layout {links[pic].layout.name}, {sizes[pic]} bytes; {other}: "
        f"{links[not pic].layout.name}, {sizes[not pic]} bytes)"]


#: arch -> what GNU ld needs beside the baseline flags: i386's emulation on
#: an x86-64 host; riscv64 without relaxation (GNU ld would address data
#: through gp, which nothing sets without a C runtime: the output would crash)
LD_ARCH_FLAGS = {"i386": ("-m", "elf_i386"), "riscv64": ("--no-relax",)}


def ld_command(arch=None) -> list:
    """GNU ld for ``arch`` (an arch name; None: the host's) with the flags
    that make it link for that machine (ToolchainError when it is missing)."""
    return [_need(cross_tool("ld", arch)), *LD_ARCH_FLAGS.get(arch, ())]


def ld_baseline(objects, out, extra=(), warnings=None, arch=None) -> int:
    """Link with GNU ld (``arch``'s) the usual minimal way; return the
    output's size (``warnings``: a list that gets the lines ld printed on success)."""
    err = _run([*ld_command(arch), *LD_BASELINE_FLAGS, *extra, "-o", os.fspath(out),
                *map(os.fspath, objects)], "GNU ld")
    if warnings is not None:
        warnings.extend(line for line in err.splitlines() if line.strip())
    return os.path.getsize(out)
