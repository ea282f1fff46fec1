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
:func:`main` runs the link and prints errors.  Every option is one row of
``CC_OPTIONS`` (compiler-driver options) or ``LD_OPTIONS`` (linker options,
bare or unwrapped from ``-Wl,`` / ``-Xlinker``): its spellings, whether it
takes a value, and its handler; :class:`OptionTable` knows the spelling
rules (``-e SYM``, ``--entry=SYM``, ``-eSYM``).  An unknown option is an
error that names the nearest real spelling.

The size report for cargo users: ``-C link-arg=--report`` (or
``TINYELF_REPORT=1``) prints it on stderr, which rustc shows on success only
with ``-W linker-messages`` (``[lints.rust] linker_messages = "warn"`` in
Cargo.toml); ``--report=FILE`` / ``TINYELF_REPORT=FILE`` writes it to FILE
(JSON for a ``.json`` name or with ``--json``).  A report never fails the
build: a problem writing it is one ``tinyelf: warning:`` line.

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
  default, accepted for old command lines; ``--every-byte``: the size passes
  spare no hot code (docs/runtime.md); with ``TINYELF_LD_COMPARE=DIR``
  (set by ``tinyelf cargo``) the inputs are also linked with GNU ld and a
  size record is left in DIR;
- ignored because tinyelf already does what they ask or they cannot change
  a static syscall-only program: ``-m64``, ``-m32`` (the machine comes from
  the objects: rustc passes ``-m32`` for i686), ``-B...``, ``-fuse-ld=...``,
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
  objects, ``--export-dynamic``, ``-r``, linker scripts, ``-mx32``, and every
  option tinyelf-ld does not know.
"""
from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field

from ..errors import TinyElfError, UnsupportedError, UsageError
from ..linker.advice import STD_RUST, std_rlib
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
    "--allow-multiple-definition", "-nostdlib", "--color-diagnostics",
    "--discard-all", "-x", "--discard-locals", "-X", "-v", "--verbose",
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
_IGNORED_CC = {"-m64", "-m32", "-static", "-no-pie", "-nostartfiles", "-nodefaultlibs", "-nostdlib",
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
    #: the size report: None, "-" (stderr) or a file (``--report[=FILE]``,
    #: ``TINYELF_REPORT=1|FILE``); JSON with ``--json`` or a ``.json`` file
    report: str | None = None
    report_json: bool = False


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


# ---- the option table --------------------------------------------------------

@dataclass(frozen=True)
class Opt:
    """One row of the option table: every spelling of one option.

    ``names``: exact spellings (``-e``, ``--entry``); with ``value`` True the
    value follows as the next argument or after ``=`` (``--entry=SYM``);
    with ``value`` "optional" only after ``=``.  ``joined``: a short spelling
    the value may be glued to (``-eSYM``).  ``prefixes``: spellings matched by
    their start (``--build-id=...``).  ``handler(state, value, spelling)``
    does what the option asks; None ignores it."""
    names: tuple = ()
    handler: object = None
    value: object = False
    joined: str = ""
    prefixes: tuple = ()


@dataclass
class _State:
    """What parsing has gathered so far."""
    plan: LdPlan
    #: (position in inputs, -l spec), resolved once every -L is known
    libs: list = field(default_factory=list)


def _set(attr):
    """A handler that stores the value in ``plan.options.<attr>``."""
    def handler(st, value, _a):
        setattr(st.plan.options, attr, value)
    return handler


def _flag(attr, value):
    """A handler that sets ``plan.options.<attr>`` to ``value``."""
    def handler(st, _value, _a):
        setattr(st.plan.options, attr, value)
    return handler


def _add(attr):
    """A handler that appends the value to the tuple ``plan.options.<attr>``."""
    def handler(st, value, _a):
        setattr(st.plan.options, attr, getattr(st.plan.options, attr) + (value,))
    return handler


def _base(st, value, a):
    st.plan.options.base = _address(value, a.split("=", 1)[0])


def _output(st, value, _a):
    st.plan.output = value


def _map_file(st, value, _a):
    st.plan.map_file = value


def _print_map(st, _value, _a):
    st.plan.print_map = True


def _lib_dir(st, value, _a):
    st.plan.lib_dirs.append(value)


def _library(st, value, _a):
    st.libs.append((len(st.plan.inputs), value))
    st.plan.inputs.append(None)


def _report(st, value, _a):
    st.plan.report = value or "-"


def _json(st, _value, _a):
    st.plan.report_json = True
    st.plan.report = st.plan.report or "-"


def _compress(st, value, a):
    from ..compress import CHOICES
    codec = value or "auto"
    if codec not in CHOICES:
        raise UsageError(f"{a}: unknown codec (choose from {', '.join(CHOICES)})")
    st.plan.options.compress = codec


def _refuse(reason):
    def handler(_st, _value, a):
        raise UnsupportedError(f"{a}: {reason}")
    return handler


def _usage(reason):
    def handler(_st, _value, a):
        raise UsageError(f"{a}: {reason}")
    return handler


def _emulation(_st, value, a):
    if value != "elf_x86_64":
        raise UnsupportedError(f"-m {value}: tinyelf links x86-64 programs (elf_x86_64)")


def _z(_st, kw, _a):
    if kw in _IGNORED_Z or kw.startswith(_IGNORED_Z_PREFIX):
        return
    if kw == "execstack":
        raise UnsupportedError("-z execstack: tinyelf's programs have no PT_GNU_STACK, "
                               "so the x86-64 stack is never executable")
    raise UsageError(f"unsupported linker option '-z {kw}'")


_SHARED = (f"{STATIC_ONLY}; it cannot make shared libraries, dynamically linked programs "
           "or export dynamic symbols")

#: linker options: bare, or unwrapped from -Wl,... and -Xlinker
LD_OPTIONS = (
    Opt(names=tuple(_IGNORED_LD), prefixes=_IGNORED_LD_PREFIX),
    Opt(names=tuple(_IGNORED_LD_WITH_VALUE), value=True),
    Opt(("-z",), _z, value=True, joined="-z"),
    Opt(("-e", "--entry"), _set("entry"), value=True, joined="-e"),
    Opt(("-Ttext", "--Ttext", "-Ttext-segment", "--Ttext-segment", "--image-base",
         "-image-base"), _base, value=True),
    Opt(("--gc-sections",), _flag("gc_sections", True)),
    Opt(("--no-gc-sections",), _flag("gc_sections", False)),
    Opt(("--relax",), _flag("relax", True)),        # riscv linker relaxation (the default)
    Opt(("--no-relax",), _flag("relax", False)),
    Opt(("-u", "--undefined"), _add("undefined"), value=True, joined="-u"),
    Opt(("--require-defined",), _add("require_defined"), value=True),
    Opt(("-Map", "--Map"), _map_file, value=True),
    Opt(("-M", "--print-map"), _print_map),
    # tinyelf's own (-C link-arg=...): read without lief; the size report
    Opt(("--no-lief",), _flag("lief", False)),     # the default now; kept for old command lines
    Opt(("--verify",), _flag("lief", True)),       # lief cross-check of every object
    Opt(("--every-byte",), _flag("every_byte", True)),   # size passes spare no hot code
    Opt(("--report",), _report, value="optional"),
    Opt(("--json",), _json),
    Opt(("--compress",), _compress, value="optional"),   # -C link-arg=--compress=cm
    Opt(("--wx",), _flag("wx", True)),
    Opt(("-o", "--output"), _output, value=True, joined="-o"),
    Opt(("-L", "--library-path"), _lib_dir, value=True, joined="-L"),
    Opt(("-l", "--library"), _library, value=True, joined="-l"),
    Opt(("-shared", "--shared", "-Bshareable", "-dynamic-linker", "--dynamic-linker", "-I",
         "--export-dynamic", "-E", "-soname", "-h"), _refuse(_SHARED),
        prefixes=("--dynamic-linker=", "-dynamic-linker=", "-soname=", "--soname=",
                  "--export-dynamic-symbol")),
    Opt(("-r", "--relocatable", "-i", "--emit-relocs", "-q"),
        _refuse("tinyelf makes executables, not relocatable objects")),
    Opt(("-T", "--script"), _refuse("tinyelf does not read linker scripts; it lays out the "
                                    "program itself (use -Wl,-Ttext=ADDR for the load address)"),
        value=True, joined="-T"),
    Opt(("--whole-archive", "--no-whole-archive"),
        _refuse("not supported; pass the archive's objects instead")),
    Opt(("-m",), _emulation, value=True, joined="-m"),
)

#: compiler-driver options, looked at before LD_OPTIONS (-Wl, and -Xlinker
#: are handled by the loop in :func:`parse`)
CC_OPTIONS = (
    Opt(("-mx32",), _refuse("tinyelf does not link the x32 ABI (x86-64 code with 32-bit "
                            "pointers)")),
    Opt(names=tuple(_IGNORED_CC)),
    Opt(("-o",), _output, value=True, joined="-o"),
    Opt(("-shared", "-rdynamic", "-dynamic"),
        _refuse(f"{STATIC_ONLY}; it cannot make shared libraries or export dynamic symbols")),
    Opt(("-c", "-S", "-E"), _usage("tinyelf-ld only links; compile with your compiler")),
    Opt(("-x",), _usage("tinyelf-ld takes objects and archives, not source files")),
    Opt(prefixes=tuple(p for p in _IGNORED_CC_PREFIX)),
)


class OptionTable:
    """Look an argument up in a table of :class:`Opt` rows: exact spelling,
    ``NAME=VALUE``, a value glued to a short spelling, then prefixes."""

    def __init__(self, rows):
        self.rows = rows
        self.exact = {}
        for row in rows:
            for n in row.names:
                self.exact.setdefault(n, row)
        self.joined = [r for r in rows if r.joined]
        self.prefixed = [r for r in rows if r.prefixes]

    def match(self, a: str):
        """``(row, value, takes_next)`` for argument ``a``, or None."""
        row = self.exact.get(a)
        if row is not None:
            return row, None, row.value is True
        if "=" in a:
            name, value = a.split("=", 1)
            row = self.exact.get(name)
            if row is not None and row.value and name != row.joined:
                return row, value, False
        for row in self.joined:
            j = row.joined
            if a.startswith(j) and len(a) > len(j) and not a.startswith("--"):
                return row, a[len(j):], False
        for row in self.prefixed:
            if a.startswith(row.prefixes):
                return row, None, False
        return None

    def spellings(self):
        return [n for r in self.rows for n in r.names if r.handler is not None]


_LD = OptionTable(LD_OPTIONS)
_CC = OptionTable(CC_OPTIONS)
_O_LEVEL = re.compile(r"-O\d+$")


def _apply(table, st, a, rest) -> bool:
    """Handle ``a`` (``rest`` yields a following value) if ``table`` knows it."""
    hit = table.match(a)
    if hit is None:
        return False
    row, value, takes_next = hit
    if takes_next:
        value = next_value(rest, a)
    if row.handler is not None:
        row.handler(st, value, a)
    return True


def ld_option(st, a, rest) -> None:
    """One linker option (bare, or from -Wl/-Xlinker)."""
    if _O_LEVEL.match(a) or _apply(_LD, st, a, rest):
        return
    from ..cli import did_you_mean
    near = did_you_mean(a.split("=", 1)[0], _LD.spellings() + _CC.spellings())
    raise UsageError(f"unsupported linker option {a!r}{near} (see '{PROG} --help'); if it is "
                     "harmless for a static syscall-only program, please report it")


def _cc_argument(st, a, it, nargs) -> None:
    """One argument of the compiler-driver command line."""
    if not a.startswith("-") or a == "-":
        st.plan.inputs.append(a)
    elif a.startswith("-Wl,"):
        parts = iter(a[4:].split(","))
        for p in parts:
            if p:
                ld_option(st, p, parts)
    elif a == "-Xlinker":
        ld_option(st, next_value(it, a), it_xlinker(it))
    elif a in ("-v", "--version", "-V", "--help") and nargs == 1:
        st.plan.version = True
    elif a.startswith("-L") or not _apply(_CC, st, a, it):
        ld_option(st, a, it)


def parse(argv) -> LdPlan:
    """Turn a cc-style linker command line into an :class:`LdPlan`; every
    problem is reported at once."""
    args = expand_response_files(list(argv))
    st = _State(LdPlan())
    if os.environ.get("TINYELF_VERIFY"):
        st.plan.options.lief = True
    if os.environ.get("TINYELF_NO_LIEF"):     # the default now; kept for old build scripts
        st.plan.options.lief = False
    _report_from_env(st.plan)
    problems = []
    it = iter(args)
    for a in it:
        try:
            _cc_argument(st, a, it, len(args))
        except TinyElfError as exc:
            problems.extend(exc.messages)
    problems += _resolve_libraries(st)
    plan = st.plan
    plan.inputs = [i for i in plan.inputs if i is not None]
    std = _std_evidence(plan.inputs, st.libs)
    if std is not None:       # rustc's link line for a std program: one answer
        raise UnsupportedError(STD_RUST.format(what=f"rustc passed {std}"))
    problems += [f"{i}: a shared library; {STATIC_ONLY}" for i in plan.inputs
                 if i.endswith(".so") or ".so." in os.path.basename(i)]
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
        yield next_value(it, a)
        return


def next_value(it, opt):
    try:
        return next(it)
    except StopIteration:
        raise UsageError(f"{opt} needs a value") from None


#: TINYELF_REPORT: "1" (or "yes", "true", "-") prints the report on stderr;
#: anything else is a file to write it to (JSON when it ends in .json)
REPORT_ENV = "TINYELF_REPORT"


def _report_from_env(plan) -> None:
    value = os.environ.get(REPORT_ENV, "").strip()
    if not value or value.lower() in ("0", "no", "false", "off"):
        return
    plan.report = "-" if value.lower() in ("1", "yes", "true", "on", "-") else value


def _std_evidence(inputs, libs) -> str | None:
    """What shows that rustc is linking a program that uses std: its
    ``libstd-*.rlib``, or (with LTO, std inside the crate's object) the C
    runtime libraries std needs on a rustc command line; else None."""
    rlib = std_rlib(inputs)
    if rlib is not None:
        return os.path.basename(rlib)
    from_rustc = any(os.path.basename(i).endswith(".rcgu.o") for i in inputs if i)
    runtime = [f"-l{spec}" for _pos, spec in libs if _runtime_lib(spec)]
    if from_rustc and runtime:
        return " ".join(runtime)
    return None


def _runtime_lib(spec: str) -> bool:
    name = spec[1:] if spec.startswith(":") else spec
    base = name[3:].split(".")[0] if name.startswith("lib") and spec.startswith(":") else name
    return base in RUNTIME_LIBS


def _resolve_libraries(st) -> list:
    """Put each -l's static archive in its place among the inputs; the
    problems: C runtime libraries (one message for all), libraries not found."""
    problems, runtime = [], []
    for pos, spec in st.libs:
        if _runtime_lib(spec):
            runtime.append(f"-l{spec}")
            continue
        path = _find_library(spec, st.plan.lib_dirs)
        if path is None:
            want = spec[1:] if spec.startswith(":") else f"lib{spec}.a"
            problems.append(f"-l{spec}: no {want} in the library path "
                            f"({', '.join(st.plan.lib_dirs) or 'no -L given'}); {STATIC_ONLY}, "
                            "so only static archives can be linked")
            continue
        st.plan.inputs[pos] = path
    if runtime:
        problems.insert(0, f"{' '.join(runtime)}: {STATIC_ONLY}; remove "
                        f"{'them' if len(runtime) > 1 else 'it'} (a Rust program must be "
                        "#![no_std], a C program freestanding)")
    return problems


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


USAGE = f"""usage: {PROG} [cc-style options] OBJECTS... [-o OUT]
A cc-style front end to tinyelf for rustc and cargo: in .cargo/config.toml,
  [target.x86_64-unknown-linux-gnu]
  linker = "tinyelf-ld"
tinyelf's own options (-C link-arg=OPTION, or the environment):
  --report[=FILE]   the size report (where every byte goes) on stderr, or in FILE;
                    also TINYELF_REPORT=1 or TINYELF_REPORT=FILE (JSON if FILE ends
                    in .json).  rustc shows a linker's stderr when the link fails,
                    or always with -W linker-messages (RUSTFLAGS or [lints.rust]).
  --json            the report as JSON
  --verify          cross-check every object's reading with lief (TINYELF_VERIFY=1)
  --no-lief         the default (no lief); accepted for old command lines
  --every-byte      every byte regardless of run time (docs/runtime.md)
  --compress[=CODEC]  a compressed executable: auto (default), lz, cm (docs/compress.md)
  --wx              no page both writable and executable
honoured: objects, .a and .rlib archives, -o, -e/--entry, -u/--undefined,
  --require-defined, -Map=FILE, -M, -Ttext=ADDR/--image-base=ADDR,
  --(no-)gc-sections, --(no-)relax, -L/-l (static archives), @FILE, -Wl,..., -Xlinker;
  docs/cargo.md says what is ignored and refused."""


def write_report(plan: LdPlan, lk) -> str | None:
    """The size report a plan asks for, on stderr or in a file.  A report
    never fails the link: a problem with it is returned as a warning."""
    from .output import write_atomic
    from .report import link_report, render
    as_json = plan.report_json or plan.report.endswith(".json")
    try:
        text = render(link_report(lk, inputs=plan.inputs), as_json=as_json)
        if plan.report == "-":
            prefix = "" if as_json else "tinyelf: report: "
            sys.stderr.write("".join(f"{prefix}{line}\n" for line in text.splitlines()))
        else:
            write_atomic(plan.report, (text + "\n").encode("utf-8"), mode=0o644)
    except (TinyElfError, OSError) as exc:
        return f"warning: no report written ({exc}); the link itself succeeded"
    return None


def main(argv=None) -> int:
    from ..cli import guarded
    argv = sys.argv[1:] if argv is None else argv

    def action():
        plan = parse(argv)
        if plan.version:
            from ..cli import version_text
            print(f"{PROG} ({version_text()})\n{USAGE}")
            return 0
        lk = link(plan)
        compare = os.environ.get("TINYELF_LD_COMPARE")
        if compare:     # tinyelf cargo: GNU ld on the same inputs, while they exist
            from .cargo import record_link
            record_link(plan, len(lk.output), compare)
        if plan.report:
            warning = write_report(plan, lk)
            if warning:
                print(f"tinyelf: {warning}", file=sys.stderr)
        return 0
    return guarded(action)


def entry() -> None:  # console script
    from ..cli import exit_now
    exit_now(main())


if __name__ == "__main__":  # pragma: no cover
    entry()
