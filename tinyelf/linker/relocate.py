"""Pass 6, relocate: copy kept sections into the image and patch every field.

Input: a laid-out link.  Output: ``link.image``, a bytearray of the whole file
(the header bytes left zero for the writer), every section's contents at its
file offset, every relocation applied with its psABI formula, GOT slots
filled.  Errors, all at once: any value that does not fit its field (like
GNU ld's "relocation truncated to fit"), naming type, symbol, file, section
and offset; then a LayoutError when the content the layout put into header
fields reads as a value the kernel would act on (``LayoutSpec.check_content``:
dyn68's p_align).  Invariant: every byte written by a relocation was range-checked.
"""
from __future__ import annotations

from ..arch import F_ABS, F_ARCH, F_GOT, F_GOTOFF, F_GOTPC, F_GOTPCREL, F_NONE, F_PC, F_SIZE
from ..errors import LayoutError, RelocationError
from .model import Link, symbol_address

_MASKS = {1: 0xFF, 2: 0xFFFF, 4: 0xFFFFFFFF, 8: 0xFFFFFFFFFFFFFFFF}

#: refuse to build a file image larger than this (corrupt sizes or alignments
#: would otherwise make tinyelf allocate and write gigabytes)
MAX_OUTPUT = 1 << 30


def relocate(link: Link) -> Link:
    lay = link.layout
    arch = link.arch
    specs = arch.relocs
    size = max(lay.image_size, lay.file_size)
    if size > MAX_OUTPUT:
        raise LayoutError(f"the output would be {size} bytes, more than tinyelf writes "
                          f"({MAX_OUTPUT}); an input has absurd section sizes or alignments")
    image = bytearray(size)
    for sec in link.kept:
        if sec.offset >= 0 and sec.size and not sec.is_nobits and sec is not link.got:
            if sec.pieces:          # code split across header holes by the layout
                for start, length, _addr, foff in sec.pieces:
                    image[foff:foff + length] = sec.data[start:start + length]
            else:
                image[sec.offset:sec.offset + sec.size] = sec.data

    got = link.got
    got_addr = got.addr if got is not None else 0
    slot = {}
    if got is not None:
        ptr = arch.ptr_size
        for i, sym in enumerate(link.got_symbols):
            slot[sym] = i * ptr
            image[got.offset + i * ptr:got.offset + (i + 1) * ptr] = \
                (symbol_address(sym) & _MASKS[ptr]).to_bytes(ptr, arch.byteorder)

    problems = []
    relaxed = link.relaxed
    target = link.target
    field_problem = arch.field_problem
    write_field = arch.write_field
    for sec in link.kept:
        relocs = sec.relocs
        if not relocs:
            continue
        obj = sec.obj
        base_addr = sec.addr
        base_off = sec.offset
        cache = {}
        for r_off, rtype, symidx, A in relocs:
            spec = specs[rtype]
            f = spec.formula
            if f == F_NONE:
                continue
            t = cache.get(symidx)
            if t is None:
                t = cache[symidx] = target(obj, symidx)
            S = symbol_address(t)
            if sec.pieces:
                P = sec.address_of(r_off)
                pos = sec.file_offset_of(r_off)
            else:
                P = base_addr + r_off
                pos = base_off + r_off
            if f == F_ABS:
                v = S + A
            elif f == F_PC:
                v = S + A - P
            elif f == F_GOTPCREL or f == F_GOT:
                kind = relaxed.get((sec, r_off)) if relaxed else None
                if kind:
                    pos, v = arch.rewrite_relaxed(image, pos, kind, S, A, P, got_addr)
                elif f == F_GOT:
                    v = arch.got_value(sec.data, r_off, slot[t], got_addr, A)
                else:
                    v = got_addr + slot[t] + A - P
            elif f == F_GOTPC:
                v = got_addr + A - P
            elif f == F_GOTOFF:
                v = S + A - got_addr
            elif f == F_SIZE:
                v = t.size + A
            elif f >= F_ARCH:
                v = arch.arch_value(link, sec, r_off, spec, S, A, P, t)
            else:  # pragma: no cover - table and formulas out of step
                raise AssertionError(f"formula {f}")
            why = field_problem(spec, v)
            if why:
                problems.append(
                    f"relocation {spec.name} out of range at {sec.where()}+{r_off:#x} against "
                    f"{t.name or 'a section'}: {why}; the code was probably compiled "
                    "for a different memory model or base address (try -fPIC/-mcmodel, or --base)")
                continue
            write_field(image, pos, spec, v)
    if problems:
        raise RelocationError(*problems)
    problem = lay.spec.check_content(lay, image) if lay.spec is not None else None
    if problem:
        raise LayoutError(problem)
    link.image = image
    return link
