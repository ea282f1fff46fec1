"""``tinyelf-ld``: tinyelf behind a cc-style linker command line.

rustc (and cargo) link by running a C compiler driver with a command line
like this one (rustc 1.95, a no_std bin, non-LTO build)::

    cc -m64 /tmp/rustcXXXX/symbols.o prog.prog.HASH-cgu.0.rcgu.o
       -Wl,--as-needed -Wl,-Bstatic libcore-HASH.rlib libcompiler_builtins-HASH.rlib
       -L /tmp/rustcXXXX/raw-dylibs -Wl,-Bdynamic -B.../gcc-ld -fuse-ld=lld
       -Wl,--eh-frame-hdr -Wl,-z,noexecstack -L .../lib -o prog
       -Wl,--gc-sections -pie -Wl,-z,relro,-z,now -nodefaultlibs

``tinyelf-ld`` takes such a command line (``-C linker=tinyelf-ld``, or
``linker = "tinyelf-ld"`` in ``.cargo/config.toml``) and makes tinyelf's
static executable.  :func:`parse` turns the arguments into a
:class:`LdPlan` (inputs, output, :class:`LinkOptions`) and raises
:class:`UsageError` / :class:`UnsupportedError` for what it cannot honour;
:func:`main` runs the link and prints errors.

What happens to each option:

- honoured: input objects and archives (``.o``, ``.a``, ``.rlib``), ``-o``,
  ``-e SYM`` / ``--entry`` (also through ``-Wl``), ``-u SYM`` /
  ``--undefined=SYM`` and ``--require-defined=SYM`` (more roots for archive
  members and garbage collection), ``-Map=FILE`` / ``-M`` (tinyelf's link map,
  not GNU ld's format), ``-Ttext=ADDR`` /
  ``-Ttext-segment=ADDR`` / ``--image-base=ADDR`` (the load address),
  ``--gc-sections`` / ``--no-gc-sections``, ``-L DIR`` with ``-lNAME`` /
  ``-l:FILE`` found as a static archive there, ``@FILE`` response files,
  ``-Wl,a,b,c`` and ``-Xlinker a`` (linker options also work bare);
- tinyelf's own: ``--verify`` (or ``TINYELF_VERIFY=1``): cross-check every
  object's reading with lief; ``--no-lief`` (or ``TINYELF_NO_LIEF=1``): the
  default, accepted for old command lines; with ``TINYELF_LD_COMPARE=DIR``
  (set by ``tinyelf cargo``) the inputs are also linked with GNU ld and a
  size record is left in DIR;
- ignored because tinyelf already does what they ask or they cannot change
  a static syscall-only program: ``-m64``, ``-B...``, ``-fuse-ld=...``,
  ``-static``, ``-no-pie``, ``-nostartfiles``, ``-nodefaultlibs``,
  ``-nostdlib``, ``-nolibc``, ``--as-needed``, ``-Bstatic``/``-Bdynamic``,
  ``--eh-frame-hdr``, ``-z relro/now/noexecstack/...``, ``-O1``,
  ``--strip-*``/``-s``/``-S``, ``--build-id``, ``--version-script=...``,
  ``--no-undefined-version``, ``--start-group``/``--end-group``, ``-rpath``,
  compiler flags (``-O2``, ``-g``, ``-f...``, ``-march=...``);
- ``-pie``/``-static-pie`` are accepted and give the same static, fixed-address
  executable: rustc asks for ``-pie`` whenever the code was compiled as PIC
  (its default), and PIC code runs unchanged at a fixed address (tinyelf
  relaxes its GOT loads);
- refused, with an error saying that tinyelf makes static syscall-only
  programs: ``-shared``, ``-dynamic-linker``, ``-lc``, ``-lgcc_s`` and the
  other C runtime libraries, any ``-l`` without a static archive, shared
  objects, ``--export-dynamic``, ``-r``, linker scripts, ``-m32``, and every
  option tinyelf-ld does not know.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

from ..errors import TinyElfError, UnsupportedError, UsageError
from ..linker.model import LinkOptions

PROG = "tinyelf-ld"
STATIC_ONLY = "tinyelf makes static syscall-only programs (no libc, no dynamic linking)"

#: libraries that mean "the C runtime": never searched, always refused
RUNTIME_LIBS = frozenset({"c", "gcc", "gcc_s", "gcc_eh", "m", "dl", "pthread", "rt", "util",
                          "unwind", "stdc++", "c++", "resolv", "execinfo"})

# linker options (after -Wl unwrapping) that tinyelf ignores; "=": with =VALUE
_IGNORED_LD = {
    "--as-needed", "--no-as-needed", "-Bstatic", "-Bdynamic", "-dn", "-dy", "-static",
    "-non_shared", "--eh-frame-hdr", "--no-eh-frame-hdr", "-O0", "-O1", "-O2", "-O3",
    "--strip-all", "--strip-debug", "-s", "-S", "--build-id", "--no-undefined-version",
    "--undefined-version", "--start-group", "--end-group", "-(", "-)", "--no-undefined",
    "--fatal-warnings", "--no-fatal-warnings", "--warn-common", "--no-pie", "-no-pie",
    "-pie", "--pie", "-static-pie", "--static-pie", "-n", "-N", "--nmagic", "--omagic",
    "--no-omagic", "--sort-common", "--enable-new-dtags", "--disable-new-dtags",
    "--allow-multiple-definition", "-nostdlib", "--color-diagnostics", "--relax",
    "--no-relax", "--discard-all", "-x", "--discard-locals", "-X", "-v", "--verbose",
    "--no-dynamic-linker", "-Bsymbolic", "--no-export-dynamic",
}
_IGNORED_LD_PREFIX = ("--build-id=", "--version-script=", "--hash-style=",
                      "--compress-debug-sections=", "--icf=", "--color-diagnostics=",
                      "--threads=", "-plugin-opt=mcpu", "--sort-section=", "-rpath=",
                      "--rpath=", "-rpath-link=", "--rpath-link=", "--exclude-libs=",
                      "--exclude-libs")
# linker options that take a separate value, ignored with it
_IGNORED_LD_WITH_VALUE = {"--version-script", "-rpath", "--rpath", "-rpath-link",
                          "--rpath-link", "--hash-style", "--build-id-style", "--exclude-libs"}
#: -z keywords that cannot change a static, single-segment-group program
_IGNORED_Z = {"relro", "norelro", "now", "lazy", "noexecstack", "nognustack", "separate-code",
              "noseparate-code", "text", "notext", "defs", "nodefs", "undefs", "origin",
              "noexecheap", "nodelete", "nodlopen", "combreloc", "nocombreloc", "ibt", "shstk",
              "noseparate-loadable-segments", "start-stop-gc", "nostart-stop-gc",
              "execstack-ok", "rel", "rela", "pack-relative-relocs",
              "nopack-relative-relocs", "cet-report=none"}
_IGNORED_Z_PREFIX = ("max-page-size=", "common-page-size=", "stack-size=")

# compiler-driver options ignored when linking
_IGNORED_CC = {"-m64", "-static", "-no-pie", "-nostartfiles", "-nodefaultlibs", "-nostdlib",
               "-nolibc", "-nostdlib++", "-pie", "-static-pie", "-pipe", "-g", "-s", "-w",
               "-pthread", "-static-libgcc", "-fuse-linker-plugin",
               "-pedantic"}
_IGNORED_CC_PREFIX = ("-B", "-fuse-ld=", "-O", "-g", "-f", "-march=", "-mtune=", "-mcpu=",
                      "-std=", "-W", "-D", "-U", "-I", "--sysroot=", "-flto", "--target=",
                      "-m64", "-mno-", "-mcmodel=")


@dataclass
class LdPlan:
    """What a tinyelf-ld command line asks for."""
    inputs: list = field(default_factory=list)
    output: str = "a.out"
    options: LinkOptions = field(default_factory=LinkOptions)
    lib_dirs: list = field(default_factory=list)
    #: print the version and exit (``-v`` / ``--version`` / ``--help`` alone)
    version: bool = False
    #: ``-Map FILE``: write tinyelf's link map there
    map_file: str | None = None
    #: ``-M`` / ``--print-map``: print the link map on stdout
    print_map: bool = False


def _address(text: str, what: str) -> int:
    """GNU ld reads -Ttext=400000 as hexadecimal; 0x... is accepted too."""
    t = text.strip()
    try:
        return int(t, 16)
    except ValueError:
        raise UsageError(f"{what}: not an address: {t!r} (use e.g. 0x400000)") from None


def expand_response_files(args, depth: int = 0) -> list:
    """Replace each ``@FILE`` with the arguments in FILE (GCC syntax:
    whitespace-separated, with '...', "..." and backslash escapes)."""
    if depth > 10:
        raise UsageError("response files nest more than 10 deep")
    out = []
    for a in args:
        if a.startswith("@") and len(a) > 1:
            path = a[1:]
            try:
                with open(path, encoding="utf-8", errors="surrogateescape") as f:
                    text = f.read()
            except OSError as exc:
                raise UsageError(f"cannot read response file {path}: {exc.strerror or exc}") from None
            out.extend(expand_response_files(split_response(text), depth + 1))
        else:
            out.append(a)
    return out


def split_response(text: str) -> list:
    args, cur, have, quote, i = [], [], False, None, 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            cur.append(text[i + 1])
            have = True
            i += 2
            continue
        if quote:
            if c == quote:
                quote = None
            else:
                cur.append(c)
        elif c in "'\"":
            quote, have = c, True
        elif c.isspace():
            if have:
                args.append("".join(cur))
                cur, have = [], False
        else:
            cur.append(c)
            have = True
        i += 1
    if have:
        args.append("".join(cur))
    return args


def _find_library(spec: str, dirs) -> str | None:
    names = [spec[1:]] if spec.startswith(":") else [f"lib{spec}.a"]
    for d in dirs:
        for n in names:
            p = os.path.join(d, n)
            if os.path.isfile(p):
                return p
    return None


def parse(argv) -> LdPlan:
    """Turn a cc-style linker command line into an :class:`LdPlan`."""
    args = expand_response_files(list(argv))
    plan = LdPlan()
    opts = plan.options
    if os.environ.get("TINYELF_VERIFY"):
        opts.lief = True
    if os.environ.get("TINYELF_NO_LIEF"):     # the default now; kept for old build scripts
        opts.lief = False
    libs = []          # (position in inputs, -l spec), resolved after every -L is known
    problems = []

    def ld_option(a, rest):
        """One linker option (bare, or from -Wl/-Xlinker); ``rest`` yields
        following values for options that take one."""
        def value(opt):
            try:
                return next(rest)
            except StopIteration:
                raise UsageError(f"{opt} needs a value") from None
        if a in _IGNORED_LD or a.startswith(_IGNORED_LD_PREFIX) or \
                (a.startswith("-O") and a[2:].isdigit()):
            return
        if a in _IGNORED_LD_WITH_VALUE:
            value(a)
            return
        if a == "-z":
            kw = value("-z")
            z_option(kw)
            return
        if a.startswith("-z") and len(a) > 2:
            z_option(a[2:])
            return
        if a in ("-e", "--entry"):
            opts.entry = value(a)
            return
        if a.startswith("--entry="):
            opts.entry = a.split("=", 1)[1]
            return
        if a.startswith("-e") and len(a) > 2 and not a.startswith("--"):
            opts.entry = a[2:]
            return
        for prefix in ("-Ttext=", "--Ttext=", "-Ttext-segment=", "--Ttext-segment=",
                       "--image-base=", "-image-base="):
            if a.startswith(prefix):
                opts.base = _address(a[len(prefix):], prefix.rstrip("="))
                return
        if a in ("-Ttext", "--Ttext", "-Ttext-segment", "--image-base"):
            opts.base = _address(value(a), a)
            return
        if a == "--gc-sections":
            opts.gc_sections = True
            return
        if a == "--no-gc-sections":
            opts.gc_sections = False
            return
        def option(names, joined=None):
            """The value of ``a`` when it is one of ``names`` (value next,
            or after '='), or ``joined`` glued on (``-uSYM``); else None."""
            if a in names:
                return value(a)
            for n in names:
                if n != joined and a.startswith(n + "="):   # -u=X means the symbol "=X"
                    return a[len(n) + 1:]
            if joined and a.startswith(joined) and len(a) > len(joined) and \
                    not a.startswith("--"):
                return a[len(joined):]
            return None
        sym = option(("-u", "--undefined"), joined="-u")
        if sym is not None:
            opts.undefined += (sym,)
            return
        sym = option(("--require-defined",))
        if sym is not None:
            opts.require_defined += (sym,)
            return
        path = option(("-Map", "--Map"))
        if path is not None:
            plan.map_file = path
            return
        if a in ("-M", "--print-map"):
            plan.print_map = True
            return
        if a == "--verify":        # tinyelf's own: -C link-arg=--verify (lief cross-check)
            opts.lief = True
            return
        if a == "--no-lief":       # the default now; accepted for old command lines
            opts.lief = False
            return
        if a == "--compress" or a.startswith("--compress="):   # -C link-arg=--compress=cm
            from ..compress import CHOICES
            codec = a.split("=", 1)[1] if "=" in a else "auto"
            if codec not in CHOICES:
                raise UsageError(f"{a}: unknown codec (choose from {', '.join(CHOICES)})")
            opts.compress = codec
            return
        if a == "--wx":            # tinyelf's own: -C link-arg=--wx
            opts.wx = True
            return
        if a == "-o" or a == "--output":
            plan.output = value(a)
            return
        if a.startswith("--output="):
            plan.output = a.split("=", 1)[1]
            return
        if a == "-L" or a == "--library-path":
            plan.lib_dirs.append(value(a))
            return
        if a.startswith("-L") or a.startswith("--library-path="):
            plan.lib_dirs.append(a.split("=", 1)[1] if a.startswith("--") else a[2:])
            return
        if a in ("-l", "--library"):
            libs.append((len(plan.inputs), value(a)))
            plan.inputs.append(None)
            return
        if a.startswith("-l") or a.startswith("--library="):
            libs.append((len(plan.inputs), a.split("=", 1)[1] if a.startswith("--") else a[2:]))
            plan.inputs.append(None)
            return
        if a in ("-shared", "--shared", "-Bshareable", "-dynamic-linker", "--dynamic-linker",
                 "-I", "--export-dynamic", "-E", "-soname", "-h") or \
                a.startswith(("--dynamic-linker=", "-dynamic-linker=", "-soname=",
                              "--soname=", "--export-dynamic-symbol")):
            raise UnsupportedError(f"{a}: {STATIC_ONLY}; it cannot make shared libraries, "
                                   "dynamically linked programs or export dynamic symbols")
        if a in ("-r", "--relocatable", "-i", "--emit-relocs", "-q"):
            raise UnsupportedError(f"{a}: tinyelf makes executables, not relocatable objects")
        if a in ("-T", "--script") or a.startswith(("-T", "--script=")):
            raise UnsupportedError(f"{a}: tinyelf does not read linker scripts; it lays out "
                                   "the program itself (use -Wl,-Ttext=ADDR for the load address)")
        if a in ("--whole-archive", "--no-whole-archive"):
            raise UnsupportedError(f"{a}: not supported; pass the archive's objects instead")
        if a.startswith("-m") and a[2:] in ("elf_x86_64",):
            return
        if a == "-m":
            emu = value(a)
            if emu != "elf_x86_64":
                raise UnsupportedError(f"-m {emu}: tinyelf links x86-64 programs (elf_x86_64)")
            return
        raise UsageError(f"unsupported linker option {a!r}; if it is harmless for a static "
                         "syscall-only program, please report it")

    def z_option(kw):
        if kw in _IGNORED_Z or kw.startswith(_IGNORED_Z_PREFIX):
            return
        if kw == "execstack":
            raise UnsupportedError("-z execstack: tinyelf's programs have no PT_GNU_STACK, "
                                   "so the x86-64 stack is never executable")
        raise UsageError(f"unsupported linker option '-z {kw}'")

    it = iter(args)
    for a in it:
        try:
            if not a.startswith("-") or a == "-":
                plan.inputs.append(a)
            elif a.startswith("-Wl,"):
                parts = iter(a[4:].split(","))
                for p in parts:
                    if p:
                        ld_option(p, parts)
            elif a == "-Xlinker":
                try:
                    first = next(it)
                except StopIteration:
                    raise UsageError("-Xlinker needs a value") from None
                ld_option(first, it_xlinker(it))
            elif a in ("-v", "--version", "-V", "--help") and len(args) == 1:
                plan.version = True
            elif a == "-m32" or a == "-mx32":
                raise UnsupportedError(f"{a}: tinyelf links 64-bit x86-64 programs")
            elif a in _IGNORED_CC:
                continue
            elif a == "-o":
                plan.output = next_value(it, a)
            elif a.startswith("-o") and len(a) > 2:
                plan.output = a[2:]
            elif a in ("-shared", "-rdynamic", "-dynamic"):
                raise UnsupportedError(f"{a}: {STATIC_ONLY}; it cannot make shared libraries "
                                       "or export dynamic symbols")
            elif a in ("-c", "-S", "-E"):
                raise UsageError(f"{a}: tinyelf-ld only links; compile with your compiler")
            elif a in ("-x",):
                raise UsageError("-x: tinyelf-ld takes objects and archives, not source files")
            elif a.startswith(_IGNORED_CC_PREFIX) and not a.startswith("-L"):
                continue
            else:
                ld_option(a, it)
        except TinyElfError as exc:
            problems.extend(exc.messages)

    for pos, spec in libs:
        name = spec[1:] if spec.startswith(":") else spec
        base = name[3:].split(".")[0] if name.startswith("lib") and spec.startswith(":") else name
        if base in RUNTIME_LIBS:
            problems.append(f"-l{spec}: {STATIC_ONLY}; remove the library (a Rust program must "
                            "be #![no_std], a C program freestanding)")
            continue
        path = _find_library(spec, plan.lib_dirs)
        if path is None:
            want = spec[1:] if spec.startswith(":") else f"lib{spec}.a"
            problems.append(f"-l{spec}: no {want} in the library path "
                            f"({', '.join(plan.lib_dirs) or 'no -L given'}); {STATIC_ONLY}, "
                            "so only static archives can be linked")
            continue
        plan.inputs[pos] = path
    plan.inputs = [i for i in plan.inputs if i is not None]
    for i in plan.inputs:
        if i.endswith(".so") or ".so." in os.path.basename(i):
            problems.append(f"{i}: a shared library; {STATIC_ONLY}")
    if problems:
        raise UsageError(*problems)
    if not plan.inputs and not plan.version:
        raise UsageError("no input files")
    return plan


def it_xlinker(it):
    """-Xlinker passes one argument; a following value comes with its own -Xlinker."""
    for a in it:
        if a != "-Xlinker":
            raise UsageError(f"-Xlinker: expected -Xlinker before the option's value, got {a!r}")
        try:
            yield next(it)
        except StopIteration:
            raise UsageError("-Xlinker needs a value") from None
        return


def next_value(it, opt):
    try:
        return next(it)
    except StopIteration:
        raise UsageError(f"{opt} needs a value") from None


def link(plan: LdPlan):
    """Run the link a plan describes and write its output."""
    from ..linker.driver import run as run_link
    from .output import check_not_input, write_atomic
    check_not_input(plan.output, plan.inputs)
    if plan.map_file:
        check_not_input(plan.map_file, plan.inputs + [plan.output])
    lk = run_link(plan.inputs, plan.options)
    write_atomic(plan.output, lk.output)
    if plan.map_file or plan.print_map:
        from .linkmap import format_map
        text = format_map(lk.inner or lk, plan.output)   # compressed: the program inside
        if plan.map_file:
            write_atomic(plan.map_file, text.encode("utf-8"), mode=0o644)
        if plan.print_map:
            sys.stdout.write(text)
    return lk


def main(argv=None) -> int:
    from ..cli import guarded
    argv = sys.argv[1:] if argv is None else argv

    def action():
        plan = parse(argv)
        if plan.version:
            from ..cli import version_text
            print(f"{PROG} ({version_text()}): a cc-style front end to tinyelf for rustc "
                  "and cargo\nusage: tinyelf-ld [cc-style options] OBJECTS... [-o OUT]  "
                  "(see the README, 'tinyelf as rustc's and cargo's linker')")
            return 0
        lk = link(plan)
        compare = os.environ.get("TINYELF_LD_COMPARE")
        if compare:     # tinyelf cargo: GNU ld on the same inputs, while they exist
            from .cargo import record_link
            record_link(plan, len(lk.output), compare)
        return 0
    return guarded(action)


def entry() -> None:  # console script
    from ..cli import exit_now
    exit_now(main())


if __name__ == "__main__":  # pragma: no cover
    entry()
