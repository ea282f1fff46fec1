"""``tinyelf inspect FILE``: headers, shared bytes, segments, hex dump, disassembly."""
from __future__ import annotations

import os
import sys


def add_symbol_options(p) -> None:
    p.add_argument("file", metavar="FILE", help="an executable (tinyelf's or any ELF)")
    p.add_argument("--map", dest="map", metavar="MAP", default=None,
                   help="tinyelf link map naming the addresses (default: FILE.map if present)")
    p.add_argument("--symbols", metavar="ELF", default=None,
                   help="debug sidecar or any ELF with a symbol table (default: FILE.debug if present)")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                   help="colour the output (default: on a terminal)")


def symbol_sources(args):
    """The files that name addresses: given ones, or None to auto-detect."""
    given = [f for f in (args.map, args.symbols) if f]
    return given or None


def use_color(args) -> bool:
    if args.color == "always":
        return True
    if args.color == "never" or os.environ.get("NO_COLOR"):
        return False
    return sys.stdout.isatty()


def compressed_note(found) -> str:
    v = found["fields"]
    return (f"compressed by tinyelf (codec {found['codec']}{', --wx' if found['wx'] else ''}): "
            f"the stub at the entry decompresses the program to {v['__dest']:#x} and jumps to "
            f"{v['__entry']:#x}; `tinyelf inspect --unpacked` shows the program")


def register(sub):
    p = sub.add_parser("inspect", help="show an executable's headers, bytes and code",
                       description="Decode the ELF header and program headers field by field "
                       "(also when they overlap), show which bytes are shared and which carry "
                       "code or data, the segments, an annotated hex dump and the disassembly.")
    add_symbol_options(p)
    p.add_argument("--json", action="store_true", help="print the analysis as JSON")
    p.add_argument("--html", metavar="OUT.html", default=None,
                   help="write a self-contained page: hex dump and disassembly coloured by origin")
    p.add_argument("--unpacked", action="store_true",
                   help="a compressed executable (--compress): decompress it and inspect the "
                   "program inside (as an ELF with the strict layout it was linked with)")
    p.add_argument("--lief", action="store_true",
                   help="also read the file with lief: does it parse, do its entry and segments "
                   "agree, and (for executables tinyelf did not make) interpreter and libraries")
    return p


def unpacked_file(path: str) -> str:
    """Decompress ``path`` into a temporary ELF file and return its name."""
    import tempfile

    from ..compress.unpack import inner_elf, unpack
    from ..errors import InputError
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        info = unpack(data)
    except (ValueError, IndexError) as exc:
        raise InputError(f"{path}: the compressed program is damaged: {exc}") from None
    if info is None:
        raise InputError(f"{path}: not a compressed executable tinyelf made (--unpacked is for "
                         "files linked with --compress)")
    fd, name = tempfile.mkstemp(prefix="tinyelf-unpacked-")
    with os.fdopen(fd, "wb") as f:
        f.write(inner_elf(info))
    return name


def run(args) -> int:
    from ..tools.inspect import inspect_file, render_text, to_json
    if args.unpacked:
        name = unpacked_file(args.file)
        try:
            rep = inspect_file(name, symbol_sources(args) or [])
        finally:
            os.unlink(name)
        rep["notes"].insert(0, f"the program inside {args.file}, decompressed (tinyelf inspect "
                            "--unpacked): its headers are rebuilt, one RWX segment")
        rep["file"] = f"{args.file} (unpacked)"
    else:
        rep = inspect_file(args.file, symbol_sources(args))
        from ..compress.unpack import recognise
        with open(args.file, "rb") as f:
            found = recognise(f.read())
        if found:
            rep["notes"].insert(0, compressed_note(found))
    if args.lief:
        from ..elf.lief_check import second_opinion
        rep["lief"] = second_opinion(rep["_bytes"], rep)
    if args.html:
        from ..tools.inspect_html import render_html
        from ..tools.output import check_not_input, write_atomic
        check_not_input(args.html, [args.file])
        write_atomic(args.html, render_html(rep).encode("utf-8"), mode=0o644)
    if args.json:
        import json
        print(json.dumps(to_json(rep), indent=1))
    elif not args.html:
        sys.stdout.write(render_text(rep, use_color(args)))
        if args.lief:
            sys.stdout.write("\n\nlief's reading\n" + "\n".join(rep["lief"]) + "\n")
    return 0
