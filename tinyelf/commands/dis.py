"""``tinyelf dis FILE``: the annotated disassembly of an executable's code."""
from __future__ import annotations

import sys

from .inspect import add_symbol_options, symbol_sources, use_color


def register(sub):
    p = sub.add_parser("dis", help="disassemble an executable's code with symbol names",
                       description="Disassemble the code of FILE (capstone), naming addresses "
                       "from a link map or debug sidecar when one is available.")
    add_symbol_options(p)
    return p


def run(args) -> int:
    from ..tools.inspect import inspect_file, render_disassembly
    rep = inspect_file(args.file, symbol_sources(args))
    sys.stdout.write(render_disassembly(rep, use_color(args)))
    return 0
