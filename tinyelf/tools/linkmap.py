"""The link map (``--map FILE``): what went where, and what was left out.

``format_map(link)`` turns a finished link model into text: the segments,
every kept input section (object or archive member, address, size, class),
every symbol's address, and every section that did not make it into the
output with the reason the model records (``link.dropped``: unreachable,
folded, merged, ... whatever a pass wrote there; ``ObjectFile.ignored``:
what the reader left out).  ``parse_map(text)`` reads the sections and
symbols back (``tinyelf inspect`` uses it to name addresses).
"""
from __future__ import annotations

from ..elf.defs import PF_R, PF_W, PF_X, STT_FILE, STT_FUNC, STT_OBJECT, STT_SECTION
from ..linker.model import CLASS_NAMES, Link, symbol_address
from .kernelmap import PAGE, describe, kernel_view

_TYPES = {0: "notype", STT_OBJECT: "object", STT_FUNC: "func", 5: "common", 6: "tls"}
_BINDS = {0: "local", 1: "global", 2: "weak", 10: "unique"}
MAGIC = "# tinyelf link map"


def _flags(f: int) -> str:
    return ("R" if f & PF_R else "-") + ("W" if f & PF_W else "-") + ("X" if f & PF_X else "-")


def section_pieces(sec) -> list:
    """``[(section offset, length, address, file offset)]``: one entry for an
    ordinary section, one per piece for code the layout split across header
    holes (``Section.pieces``)."""
    pieces = getattr(sec, "pieces", None)
    if pieces:
        return [tuple(p) for p in pieces]
    return [(0, sec.size, sec.addr, sec.offset)]


def map_symbols(link: Link) -> list:
    """Every named symbol the output contains: (address, size, type, bind,
    name, defining object), by address.  Globals once (their resolved
    definition); locals of kept sections too."""
    kept = set(id(s) for s in link.kept)
    out = []
    seen = set()
    for name, sym in link.globals.items():
        if sym.is_undefined:
            continue
        if sym.section is not None and id(sym.section) not in kept:
            continue
        out.append((symbol_address(sym), sym.size, sym.type, sym.bind, name, sym.obj.name))
        seen.add(id(sym))
    for obj in link.objects + ([link.synthetic] if link.synthetic else []):
        for sym in obj.symbols:
            if (not sym.is_local or not sym.name or sym.type in (STT_SECTION, STT_FILE)
                    or sym.section is None or id(sym.section) not in kept
                    or sym.name.startswith(".L") or id(sym) in seen):
                continue
            out.append((symbol_address(sym), sym.size, sym.type, sym.bind, sym.name, obj.name))
    out.sort(key=lambda t: (t[0], t[3] == 0, t[4]))
    return out


def format_map(link: Link, output_name: str = "") -> str:
    lay = link.layout
    lines = [MAGIC]
    entry_name = link.options.entry
    size = len(link.output) if link.output is not None else lay.file_size
    lines.append(f"output {output_name or '-'}: {size} bytes, entry {lay.entry:#x} ({entry_name}), "
                 f"base {lay.base:#x}")
    if lay.spec is not None and lay.spec.pic_only:
        lines.append(f"(layout {lay.name}, ET_DYN: the kernel loads the file at an address of its "
                     f"choosing; a runtime address is the one here + load address - {lay.base:#x})")
    lines.append("")
    lines.append("Segments")
    lines.append(f"  {'offset':>10}  {'address':>18}  {'filesz':>8}  {'memsz':>8}  flags")
    page = getattr(link.arch, "page_size", PAGE)
    for seg in lay.segments:
        view = kernel_view(seg.offset, seg.vaddr, seg.filesz, seg.memsz, size, page)
        lines.append(f"  {seg.offset:#10x}  {seg.vaddr:#18x}  {seg.filesz:#8x}  {seg.memsz:#8x}  "
                     f"{_flags(seg.flags)}  {describe(view, size)}")
    lines.append("")
    lines.append("Kept sections")
    lines.append(f"  {'address':>18}  {'offset':>8}  {'size':>8}  {'class':<14}  section  from")
    for sec in link.kept:
        off = f"{sec.offset:#8x}" if sec.offset >= 0 else f"{'-':>8}"
        lines.append(f"  {sec.addr:#18x}  {off}  {sec.size:#8x}  {CLASS_NAMES[sec.out_class]:<14}  "
                     f"{sec.name or '-'}  {sec.obj.name}")
        # a section the layout split across header holes: where each piece went
        for start, length, addr, foff in section_pieces(sec)[1:] if getattr(sec, "pieces", None) else ():
            lines.append(f"  {addr:#18x}  {foff:#8x}  {length:#8x}  piece +{start:<#7x}  "
                         f"{sec.name or '-'}  {sec.obj.name}")
    lines.append("")
    lines.append("Symbols")
    lines.append(f"  {'address':>18}  {'size':>8}  {'type':<7} {'bind':<7} name  from")
    for addr, sz, stype, bind, name, objname in map_symbols(link):
        lines.append(f"  {addr:#18x}  {sz:#8x}  {_TYPES.get(stype, str(stype)):<7} "
                     f"{_BINDS.get(bind, str(bind)):<7} {name}  {objname}")
    lines.append("")
    lines.append("Dropped sections")
    lines.append(f"  {'size':>8}  section  from: reason")
    dropped = []
    for sec, reason in link.dropped.items():
        dropped.append((sec.obj.name, sec.name, sec.size, str(reason)))
    for obj in link.objects:
        for secname, reason in obj.ignored:
            dropped.append((obj.name, secname, None, str(reason)))
    for objname, secname, sz, reason in dropped:
        szs = f"{sz:#8x}" if sz is not None else f"{'':>8}"
        lines.append(f"  {szs}  {secname}  {objname}: {reason}")
    if not dropped:
        lines.append("  (none)")
    return "\n".join(lines) + "\n"


def parse_map(text: str) -> dict:
    """Read a map back: {'sections': [(addr, size, class, name, from)],
    'symbols': [(addr, size, type, name)], 'pieces': {(name, from, addr):
    [(section offset, length, address, file offset)]}}.  A split section's
    first piece's length is then corrected from its further pieces.  Raises
    ValueError if the text is not a tinyelf map."""
    if not text.startswith(MAGIC):
        raise ValueError("not a tinyelf link map")
    part = None
    out = {"sections": [], "symbols": [], "pieces": {}}
    for line in text.splitlines():
        if line and not line.startswith(" "):
            part = line.strip()
            continue
        f = line.split()
        if not f or not f[0].startswith("0x"):
            continue
        if part == "Kept sections" and len(f) >= 6 and f[3] == "piece":
            # a further piece of the section on the line before
            addr, size, cls, name, frm = out["sections"][-1]
            foff = int(f[1], 16) if f[1] != "-" else -1
            out["pieces"].setdefault((name, frm, addr), []).append(
                (int(f[4], 16), int(f[2], 16), int(f[0], 16), foff))
        elif part == "Kept sections" and len(f) >= 6:
            cls = f[3] if f[3] != "read-only" else "read-only data"
            rest = f[4:] if f[3] != "read-only" else f[5:]
            addr, size = int(f[0], 16), int(f[2], 16)
            out["sections"].append((addr, size, cls, rest[0], " ".join(rest[1:])))
            foff = int(f[1], 16) if f[1] != "-" else -1
            out["pieces"][(rest[0], " ".join(rest[1:]), addr)] = [(0, size, addr, foff)]
        elif part == "Symbols" and len(f) >= 5:
            out["symbols"].append((int(f[0], 16), int(f[1], 16), f[2], f[4]))
    for key, pieces in out["pieces"].items():
        if len(pieces) > 1:       # the first piece ends where the second starts
            first = pieces[0]
            pieces[0] = (0, pieces[1][0], first[2], first[3])
    return out
