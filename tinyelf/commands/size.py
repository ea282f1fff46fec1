"""``tinyelf size OUT``: where the bytes of an executable go (decoded headers)."""
from __future__ import annotations


def register(sub):
    p = sub.add_parser("size", help="show where an executable's bytes go",
                       description="Decode an executable's ELF and program headers: header "
                       "bytes, overlap, segments, bss; warn about writable+executable "
                       "segments.  For what went into the header holes, link with "
                       "`tinyelf pack --report`.")
    p.add_argument("file", metavar="OUT", help="an executable (e.g. one tinyelf made)")
    p.add_argument("--json", action="store_true", help="print JSON")
    return p


def run(args) -> int:
    from ..errors import InputError
    from ..tools.report import file_report, render
    try:
        with open(args.file, "rb") as f:
            data = f.read(1 << 20)
    except OSError as exc:
        raise InputError(f"{args.file}: cannot read: {exc.strerror or exc}") from None
    try:
        rep = file_report(data)
    except InputError as exc:
        raise InputError(f"{args.file}: {exc.messages[0]}") from None
    from ..compress.unpack import recognise
    from .inspect import compressed_note
    found = recognise(data)
    if found:
        rep["compressed"] = {"codec": found["codec"], "wx": found["wx"],
                             "program_start": found["fields"]["__dest"],
                             "program_entry": found["fields"]["__entry"]}
        rep.setdefault("notes", []).append(compressed_note(found))
    print(render(rep, as_json=args.json))
    return 0
