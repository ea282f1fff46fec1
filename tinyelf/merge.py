"""Pass 3b, merge: garbage collection inside mergeable sections (SHF_MERGE).

Input: ``link.kept`` after collect.  A kept SHF_MERGE section (a string table
such as libcore's 3 KB ``.rodata.str1.1``, a constant pool such as
``.rodata.cst16``) is kept whole by section garbage collection, although the
program usually needs a few of its strings.  Output: every such section holds
only the pieces (NUL-terminated strings, or ``entsize``-byte constants) that a
relocation of a kept section points into, each distinct piece once, in input
order, each at the section's alignment (as rust-lld and GNU ld place pieces);
symbols defined in it get the new offsets, and relocations that point into it
through its section symbol get new addends.

Which piece a relocation means follows the ELF rules GNU ld and lld use: the
symbol's value plus the addend for a section symbol (compilers refer to a
piece through a section symbol only with its exact offset), the symbol's own
value otherwise (the addend then applies after the move).  A section is left
whole when anything about it is unusual: relocations of its own, a GOT
reference through its section symbol, an offset outside it, a size that is not
a multiple of ``entsize``.  With ``gc_sections`` off nothing is changed.

Invariant: every relocation into a rewritten section resolves to the same
bytes as before.
"""
from __future__ import annotations

from bisect import bisect_right

from .arch import F_GOT, F_GOTPCREL
from .elfdefs import SHF_MERGE, SHF_STRINGS, STT_SECTION
from .model import Link


def _pieces(data: bytes, entsize: int, strings: bool) -> list[int] | None:
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


def merge(link: Link) -> Link:
    if not link.options.gc_sections:
        return link
    msecs = {s for s in link.kept if s.flags & SHF_MERGE and s.entsize and not s.is_nobits}
    if not msecs:
        return link
    specs = link.arch.relocs
    target = link.target
    offsets: dict = {s: set() for s in msecs}      # section -> offsets referred to
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
            if t.type == STT_SECTION:
                spec = specs.get(rtype)
                if spec is not None and spec.formula in (F_GOTPCREL, F_GOT):
                    whole.add(tsec)
                    continue
                offsets[tsec].add(t.value + addend)
                via_section.append((relocs, i, t))
            else:
                offsets[tsec].add(t.value)

    moved = {}                                    # section -> (old starts, new starts or None)
    for sec in msecs - whole:
        data = bytes(sec.data)
        starts = _pieces(data, sec.entsize, bool(sec.flags & SHF_STRINGS))
        n = len(data)
        if starts is None or any(o < 0 or o > n for o in offsets[sec]):
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
        for sym in obj.symbols:
            if sym.section in moved and sym.type != STT_SECTION:
                sym.value = new_offset(sym.section, sym.value)
    return link
