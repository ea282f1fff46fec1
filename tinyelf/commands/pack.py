"""``tinyelf pack IN.o [IN2.o ...] -o OUT``: link objects into a tiny executable."""
from __future__ import annotations

import argparse


def parse_address(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an address: {text!r} (use e.g. 0x400000)") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"negative address: {text}")
    return value


def add_link_options(p: argparse.ArgumentParser) -> None:
    """Options shared by every command that links."""
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="the executable to write")
    p.add_argument("-e", "--entry", default="_start", metavar="SYM",
                   help="entry symbol (default: _start)")
    p.add_argument("--arch", default=None, choices=("x86_64", "i386", "aarch64", "riscv64"),
                   help="the machine (default: the inputs'; tinyelf build: x86_64); "
                   "build compiles with that machine's cross compiler")
    p.add_argument("--base", type=parse_address, default=None, metavar="ADDR",
                   help="load address (default: 0x400000)")
    p.add_argument("--no-gc-sections", dest="gc_sections", action="store_false",
                   help="keep every loadable section, reachable or not")
    p.add_argument("-u", "--undefined", action="append", default=[], metavar="SYM",
                   help="start from SYM as well as the entry: pull it from an archive and "
                   "keep it and what it refers to (repeatable)")
    p.add_argument("--require-defined", action="append", default=[], metavar="SYM",
                   help="like -u, and fail when nothing defines SYM (repeatable)")
    p.add_argument("--time", action="store_true",
                   help="print each pass's wall time to stderr (and tinyelf's start-up)")
    p.add_argument("--verify", dest="lief", action="store_true", default=False,
                   help="also parse every object with lief and check that lief reads each "
                   "section header and symbol as tinyelf's own validating reader did (same "
                   "output; costs lief's import, 0.5-1.2 s with lief 1.x)")
    p.add_argument("--no-lief", dest="lief", action="store_false",
                   help="the default (no lief); accepted so that old command lines still work")
    # --- seeing inside (issue 5): link map and debug sidecar -------------
    p.add_argument("--map", metavar="FILE", default=None,
                   help="write the link map: kept sections, symbol addresses, dropped sections")
    p.add_argument("--debug-sidecar", metavar="FILE", default=None,
                   help="write a separate ELF with section headers, symbols and the inputs' "
                   "DWARF for gdb's symbol-file")
    add_trust_options(p)
    add_squeeze_options(p)


def add_trust_options(p: argparse.ArgumentParser) -> None:
    """Checking tinyelf against GNU ld (issue 6)."""
    g = p.add_argument_group("checking against GNU ld")
    g.add_argument("--emit-ld-script", metavar="FILE", default=None,
                   help="also write a GNU ld script that places every section where tinyelf "
                        "did (link the same inputs with ld -N -T FILE to compare); "
                        "riscv64: links without relaxation, as the script's ld command does")


# --- squeeze (issue 4): layouts, holes, size passes, report, W^X -------------
def add_squeeze_options(p: argparse.ArgumentParser) -> None:
    """Layout choice, size passes (each with an off switch), report, --wx."""
    from ..linker.layouts import every
    layouts = every()
    NAMES = tuple(layouts)
    LAYOUTS = tuple(layouts.values())
    g = p.add_argument_group("size and layout")
    g.add_argument("--layout", default="auto", choices=("auto",) + NAMES, metavar="NAME",
                   help="header layout: auto (default: the smallest that this program meets "
                   "and that runs as an ordinary user; never "
                   + ", ".join(l.name for l in LAYOUTS if not l.auto) + ", which needs 4 GiB "
                   "of committable memory and is always W+X: ask for it), " + ", ".join(NAMES))
    g.add_argument("--wx", action="store_true",
                   help="code R+X and data R+W in two segments mapped from the same file page "
                   "(no page both writable and executable)")
    g.add_argument("--report", action="store_true",
                   help="print where every byte of the output goes (to stdout)")
    g.add_argument("--json", action="store_true", help="print the report as JSON (implies --report)")
    g.add_argument("--compress", nargs="?", const="auto", default="none",
                   choices=("none", "auto", "lz", "cm"), metavar="CODEC",
                   help="compressed executable: the program is decompressed in memory at start "
                   "by a tiny stub (no file, no other program); auto (the default with a bare "
                   "--compress) keeps the smallest of lz, cm and none; see docs/compress.md")
    g.add_argument("--no-holes", dest="holes", action="store_false",
                   help="leave the header bytes the kernel ignores empty")
    g.add_argument("--no-split-code", dest="split_code", action="store_false",
                   help="never split code across header holes")
    g.add_argument("--no-merge-strings", dest="merge_strings", action="store_false",
                   help="keep SHF_MERGE|SHF_STRINGS sections as they are")
    g.add_argument("--no-fold-functions", dest="fold_functions", action="store_false",
                   help="keep identical functions apart")
    g.add_argument("--no-squeeze-align", dest="squeeze_align", action="store_false",
                   help="keep code sections' alignment padding")
    g.add_argument("--every-byte", action="store_true",
                   help="every byte regardless of run time: drop the alignment of loops and "
                   "split code that runs in loops too (by default a program compiled for "
                   "speed keeps its loops aligned and unsplit; see docs/runtime.md)")
    g.add_argument("--no-relax", dest="relax", action="store_false",
                   help="no linker relaxation (riscv64: calls and lui/auipc pairs stay as "
                   "compiled; see docs/risc.md)")
    g.add_argument("--no-trim-zeros", dest="trim_zeros", action="store_false",
                   help="keep trailing zero bytes in the file instead of turning them into bss")


SQUEEZE_FIELDS = ("layout", "wx", "holes", "split_code", "merge_strings", "fold_functions",
                  "squeeze_align", "every_byte", "trim_zeros", "compress", "relax")


def register(sub):
    p = sub.add_parser("pack", help="link relocatable objects into a minimal executable",
                       description="Link x86-64 relocatable objects (and archives) into a "
                       "minimal static executable.")
    p.add_argument("inputs", nargs="+", metavar="IN", help="object files (.o) and archives (.a, .rlib)")
    add_link_options(p)
    return p


#: the layout --debug-sidecar picks under --layout auto: gdb (BFD) and
#: readelf refuse executables whose headers overlap
SIDECAR_LAYOUT = "strict"


def options_from(args):
    """LinkOptions from the parsed command line.  ``--debug-sidecar`` with
    ``--layout auto`` (the default) links with the smallest layout that gdb
    can load (``SIDECAR_LAYOUT``); see :func:`layout_notes`."""
    from ..linker.model import LinkOptions
    squeeze = {f: getattr(args, f) for f in SQUEEZE_FIELDS if hasattr(args, f)}
    if getattr(args, "debug_sidecar", None) and squeeze.get("layout", "auto") == "auto":
        squeeze["layout"] = SIDECAR_LAYOUT
    if getattr(args, "emit_ld_script", None):
        # the script places the input sections as they are: GNU ld (--no-relax)
        # must find them at the sizes tinyelf gave them
        squeeze["relax"] = False
    return LinkOptions(entry=args.entry, base=args.base, gc_sections=args.gc_sections,
                       arch=getattr(args, "arch", None),
                       lief=getattr(args, "lief", False),
                       undefined=tuple(getattr(args, "undefined", ())),
                       require_defined=tuple(getattr(args, "require_defined", ())), **squeeze)


def layout_notes(args) -> list:
    """Report lines on a layout chosen for the command line's sake."""
    if getattr(args, "debug_sidecar", None) and getattr(args, "layout", "auto") == "auto":
        return [f"layout {SIDECAR_LAYOUT}: chosen for --debug-sidecar (gdb cannot load an "
                "executable whose headers overlap; give --layout to override)"]
    return []


def sidecar_warning(args):
    """The one-line warning for ``--debug-sidecar`` with an explicit layout
    that gdb cannot load, or None."""
    if not getattr(args, "debug_sidecar", None):
        return None
    name = getattr(args, "layout", "auto")
    if name == "auto":
        return None
    from ..linker.layouts import get
    if get(name).spec_valid:
        return None
    return (f"warning: layout {name} overlaps the ELF and program headers: gdb will not load "
            f"{args.output} (the sidecar still works with readelf/objdump; use --layout "
            f"{SIDECAR_LAYOUT} to debug)")


def run(args) -> int:
    from ..linker.driver import run as run_link
    from ..tools.output import check_not_input, write_atomic
    check_not_input(args.output, args.inputs)
    lk = run_link(args.inputs, options_from(args))
    write_extras(args, lk)
    write_atomic(args.output, lk.output)
    warn_sidecar(args)
    print_report(args, lk, args.inputs, notes=layout_notes(args))
    print_times(args, lk)
    return 0


def print_times(args, lk) -> None:
    """--time: one stderr line per pass, then the process's age (start-up,
    imports, passes and writes, as a build sees it; /proc gives it in clock
    ticks, 10 ms on most kernels)."""
    if not getattr(args, "time", False):
        return
    import os
    import sys
    for name, seconds in lk.timings:
        print(f"tinyelf: time: {name:9s} {seconds * 1000:7.1f} ms", file=sys.stderr)
    passes = sum(t for _n, t in lk.timings) * 1000
    try:
        with open("/proc/self/stat") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        hz = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        print(f"tinyelf: time: {'passes':9s} {passes:7.1f} ms", file=sys.stderr)
        return
    age = (uptime - start_ticks / hz) * 1000
    print(f"tinyelf: time: {'process':9s} {age:5.0f}   ms since it started (+-{1000 // hz} ms; "
          f"the passes {passes:.1f} ms)", file=sys.stderr)


def warn_sidecar(args) -> None:
    import sys
    w = sidecar_warning(args)
    if w:
        print(f"tinyelf: {w}", file=sys.stderr)


def write_extras(args, lk) -> None:
    """The optional side outputs of a link (--map, --debug-sidecar,
    --emit-ld-script), for every command that links (pack, build): never over
    an input or OUT."""
    from ..tools.output import check_not_input, write_atomic
    lk = lk.inner or lk          # a compressed file: describe the program inside
    inputs = list(getattr(args, "inputs", None) or [getattr(args, "source", None)])
    inputs = [i for i in inputs if i is not None]
    if getattr(args, "map", None):
        from ..tools.linkmap import format_map
        check_not_input(args.map, inputs + [args.output])
        write_atomic(args.map, format_map(lk, args.output).encode("utf-8"), mode=0o644)
    if getattr(args, "debug_sidecar", None):
        from ..tools.sidecar import build_sidecar
        check_not_input(args.debug_sidecar, inputs + [args.output])
        write_atomic(args.debug_sidecar, build_sidecar(lk), mode=0o644)
    if getattr(args, "emit_ld_script", None):
        from ..tools.ldscript import render
        check_not_input(args.emit_ld_script, inputs + [args.output])
        write_atomic(args.emit_ld_script, render(lk).encode(), mode=0o644)


def print_report(args, lk, inputs, notes=()) -> None:
    """--report / --json: where every byte of the output went (stdout);
    ``notes``: lines about how the inputs were made (``tinyelf build``)."""
    if getattr(args, "report", False) or getattr(args, "json", False):
        from ..tools.report import link_report, render
        rep = link_report(lk, inputs=inputs)
        if notes:
            rep["notes"] = list(notes)
        lines = []
        if lk.compression:
            from ..compress.report import compression_report, render_lines
            rep["compression"] = compression_report(lk)
            lines = render_lines(rep["compression"])
        print("\n".join([render(rep, as_json=args.json)] + ([] if args.json else lines)))
