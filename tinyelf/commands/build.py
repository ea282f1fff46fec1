"""``tinyelf build SOURCE -o OUT [-- FLAGS]``: from source to tiny executable.

The compiling lives in :mod:`tinyelf.tools.toolchain` (``BUILDERS``, one entry per
source extension); this command picks a temporary directory, links what the
builder returns and writes the output.
"""
from __future__ import annotations

import tempfile

from .pack import add_link_options


def register(sub):
    p = sub.add_parser(
        "build", help="compile a .rs, .c, .s, .S or .asm file and link it into a tiny executable",
        description="Compile SOURCE with the flags that give the smallest code (see docs/build.md) "
        "and link it with tinyelf.  Rust: no_std, panic=abort, opt-level=z, "
        "LTO with rustc driving the link (core included); C: -Os, freestanding; with the "
        "default --layout auto both are compiled static and position-independent and the "
        "smaller output is kept; assembly: "
        "as (.s) or gcc (.S); Intel-syntax .asm is assembled by tinyelf itself (keystone).  "
        "Compiler flags go after '--', e.g. "
        "'tinyelf build prog.rs -o prog -- -C target-cpu=native'.")
    p.add_argument("source", help="the program's source file (.rs, .c, .s, .S, .asm)")
    add_link_options(p)
    p.add_argument("--no-lto", dest="lto", action="store_false",
                   help="Rust: compile to an object and link the sysroot's libcore and "
                   "compiler_builtins rlibs instead of letting rustc run LTO")
    p.set_defaults(extra=[])
    return p


def run(args) -> int:
    from ..tools import toolchain
    from ..tools.output import check_not_input, write_atomic
    from .pack import (layout_notes, options_from, print_report, print_times, warn_sidecar,
                       write_extras)
    check_not_input(args.output, [args.source])
    with tempfile.TemporaryDirectory(prefix="tinyelf-build-") as tmp:
        lk, inputs, how = toolchain.build_and_link(args.source, tmp, options_from(args),
                                                   args.extra, lto=args.lto)
        write_extras(args, lk)
        write_atomic(args.output, lk.output)
        warn_sidecar(args)
        print_report(args, lk, inputs, notes=layout_notes(args) + how)
        print_times(args, lk)
    return 0
