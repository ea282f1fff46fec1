"""Pass 3b, merge: garbage collection inside mergeable sections (SHF_MERGE).

Input: ``link.kept`` after collect.  A kept SHF_MERGE section (a string table
such as libcore's 3 KB ``.rodata.str1.1``, a constant pool such as
``.rodata.cst16``) is kept whole by section garbage collection, although the
program usually needs a few of its strings.  Output: every such section holds
only the pieces (NUL-terminated strings, or ``entsize``-byte constants) that a
relocation of a kept section points into, each distinct piece once, in input
order, each at the section's alignment (as rust-lld and GNU ld place pieces);
symbols defined in it get the new offsets, and relocations that point into it
through its section symbol get new addends (also those of DWARF sections kept
for the debug sidecar).

Which piece a relocation means follows the ELF rules GNU ld and lld use: the
symbol's value plus the addend for a section symbol, the symbol's own value
otherwise (the addend then applies after the move).  A section is left whole
when a reference could mean something else: a section-symbol reference that
is not an absolute field (a PC-relative addend also holds the field's bias),
a named symbol whose addend reaches outside its own piece, an offset outside
the section; and when the section has relocations of its own or a size that
is not a multiple of ``entsize``.  With ``gc_sections`` off nothing changes.

Invariant: every relocation into a rewritten section resolves to the same
bytes as before.
"""
from __future__ import annotations

from bisect import bisect_right

from ..arch import F_ABS, F_PC
from ..elf.defs import SHF_MERGE, SHF_STRINGS, STT_SECTION
from .model import Link


def split_pieces(data: bytes, entsize: int, strings: bool) -> list[int] | None:
    """Start offsets of the pieces of a mergeable section (None: cannot split)."""
    n = len(data)
    if n % entsize:
        return None
    if not strings:
        return list(range(0, n, entsize))
    starts = []
    pos = 0
    if entsize == 1:
        find = data.find
        while pos < n:
            starts.append(pos)
            end = find(b"\0", pos)
            pos = n if end < 0 else end + 1
        return starts
    zero = b"\0" * entsize
    while pos < n:
        starts.append(pos)
        while pos < n and data[pos:pos + entsize] != zero:
            pos += entsize
        pos += entsize
    return starts


def _same_piece(starts: list[int], n: int, value: int, off: int) -> bool:
    """Whether ``off`` lies in the piece that starts at or before ``value``
    (its end included: a pointer just past a string is still about it)."""
    if not 0 <= value < n or not 0 <= off <= n:
        return False
    k = bisect_right(starts, value) - 1
    end = starts[k + 1] if k + 1 < len(starts) else n
    return starts[k] <= off <= end


def _remap_debug(relocs: list, obj, moved: dict, new_offset, specs) -> list:
    """Point a DWARF section's absolute section-symbol references at the
    merged pieces (in place); return the list."""
    for i, (r_off, rtype, symidx, addend) in enumerate(relocs):
        t = obj.symbols[symidx] if symidx < len(obj.symbols) else None
        if t is not None and t.type == STT_SECTION and t.section in moved:
            spec = specs.get(rtype)
            if spec is not None and spec.formula == F_ABS:
                relocs[i] = (r_off, rtype, symidx, new_offset(t.section, t.value + addend) - t.value)
    return relocs


def _remapping_loader(load, obj, moved, new_offset, specs):
    return lambda: _remap_debug(load(), obj, moved, new_offset, specs)


def merge(link: Link) -> Link:
    if not link.options.gc_sections:
        return link
    msecs = {s for s in link.kept if s.flags & SHF_MERGE and s.entsize and not s.is_nobits}
    if not msecs:
        return link
    specs = link.arch.relocs
    target = link.target
    offsets: dict = {s: set() for s in msecs}      # section -> offsets referred to
    reach: dict = {s: [] for s in msecs}           # section -> (symbol value, value + addend)
    via_section: list = []                        # (reloc list, index, section symbol)
    whole = set()                                 # sections to leave alone
    for sec in link.kept:
        relocs = sec.relocs
        if not relocs:
            continue
        if sec in msecs:
            whole.add(sec)                        # pieces with relocations: not ours to move
        obj = sec.obj
        for i, (_off, rtype, symidx, addend) in enumerate(relocs):
            if not symidx:
                continue
            t = target(obj, symidx)
            tsec = t.section
            if tsec not in offsets:
                continue
            spec = specs.get(rtype)
            formula = spec.formula if spec is not None else None
            if t.type == STT_SECTION:
                # only an absolute field names its piece exactly; a PC-relative
                # addend also holds the field's bias, which tinyelf cannot know
                if formula != F_ABS:
                    whole.add(tsec)
                    continue
                offsets[tsec].add(t.value + addend)
                via_section.append((relocs, i, t))
            else:
                offsets[tsec].add(t.value)
                if formula in (F_ABS, F_PC):
                    # symbol + addend must stay inside the symbol's own piece
                    reach[tsec].append((t.value, link.referred_offset(spec, t, addend)))

    moved = {}                                    # section -> (old starts, new starts or None)
    for sec in msecs - whole:
        data = bytes(sec.data)
        starts = split_pieces(data, sec.entsize, bool(sec.flags & SHF_STRINGS))
        n = len(data)
        if starts is None or any(o < 0 or o > n for o in offsets[sec]):
            continue
        if any(not _same_piece(starts, n, v, o) for v, o in reach[sec]):
            continue
        live = set()
        for o in offsets[sec]:
            if o < n:
                live.add(bisect_right(starts, o) - 1)
        align = max(sec.align, 1)
        out = bytearray()
        seen: dict = {}
        new = [None] * len(starts)
        for k, start in enumerate(starts):
            if k not in live:
                continue
            piece = data[start:starts[k + 1] if k + 1 < len(starts) else n]
            at = seen.get(piece)
            if at is None:
                pad = -len(out) % align
                out += b"\0" * pad
                at = seen[piece] = len(out)
                out += piece
            new[k] = at
        moved[sec] = (starts, new, n, len(out))
        sec.data = bytes(out)
        sec.size = len(out)

    if not moved:
        return link

    def new_offset(sec, off):
        starts, new, n, size = moved[sec]
        if off == n:
            return size
        k = bisect_right(starts, off) - 1
        at = new[k]
        return 0 if at is None else at + off - starts[k]   # None: nothing refers to it

    for relocs, i, t in via_section:
        if t.section in moved:
            r_off, rtype, symidx, addend = relocs[i]
            relocs[i] = (r_off, rtype, symidx, new_offset(t.section, t.value + addend) - t.value)
    for obj in {s.obj for s in moved}:
        # DWARF kept for the debug sidecar: its absolute references follow the
        # pieces too.  Deferred: only a sidecar decodes those relocations
        # (libcore's .debug_info alone has 12,590)
        for dsec in getattr(obj, "debug", {}).values():
            if dsec._relocs is None and dsec._load_relocs is not None:
                dsec._load_relocs = _remapping_loader(dsec._load_relocs, obj, moved,
                                                      new_offset, specs)
            else:
                _remap_debug(dsec.relocs, obj, moved, new_offset, specs)
        for sym in obj.symbols:
            if sym.section in moved and sym.type != STT_SECTION:
                sym.value = new_offset(sym.section, sym.value)
    return link
