"""``tinyelf pack IN.o [IN2.o ...] -o OUT``: link objects into a tiny executable."""
from __future__ import annotations

import argparse

from ..errors import UsageError


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
    p.add_argument("--base", type=parse_address, default=None, metavar="ADDR",
                   help="load address (default: 0x400000)")
    p.add_argument("--no-gc-sections", dest="gc_sections", action="store_false",
                   help="keep every loadable section, reachable or not")
    # --- seeing inside (issue 5): link map and debug sidecar -------------
    p.add_argument("--map", metavar="FILE", default=None,
                   help="write the link map: kept sections, symbol addresses, dropped sections")
    p.add_argument("--debug-sidecar", metavar="FILE", default=None,
                   help="write a separate ELF with section headers, symbols and the inputs' "
                   "DWARF for gdb's symbol-file")


def register(sub):
    p = sub.add_parser("pack", help="link relocatable objects into a minimal executable",
                       description="Link x86-64 relocatable objects (and archives) into a "
                       "minimal static executable.")
    p.add_argument("inputs", nargs="+", metavar="IN", help="object files (.o) and archives (.a, .rlib)")
    add_link_options(p)
    return p


def options_from(args):
    from ..model import LinkOptions
    return LinkOptions(entry=args.entry, base=args.base, gc_sections=args.gc_sections)


def run(args) -> int:
    from ..driver import run as run_link
    from ..output import check_not_input, write_atomic
    check_not_input(args.output, args.inputs)
    lk = run_link(args.inputs, options_from(args))
    write_extras(args, lk)
    write_atomic(args.output, lk.output)
    return 0


def write_extras(args, lk) -> None:
    """The optional side outputs of a link (--map, --debug-sidecar), for
    every command that links (pack, build): never over an input or OUT."""
    from ..output import check_not_input, write_atomic
    inputs = list(getattr(args, "inputs", None) or [getattr(args, "source", None)])
    inputs = [i for i in inputs if i is not None]
    if getattr(args, "map", None):
        from ..linkmap import format_map
        check_not_input(args.map, inputs + [args.output])
        write_atomic(args.map, format_map(lk, args.output).encode("utf-8"), mode=0o644)
    if getattr(args, "debug_sidecar", None):
        from ..sidecar import build_sidecar
        check_not_input(args.debug_sidecar, inputs + [args.output])
        write_atomic(args.debug_sidecar, build_sidecar(lk), mode=0o644)
