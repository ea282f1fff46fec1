"""Pass 7, write: the ELF header and program headers over the image.

Input: ``link.layout`` and ``link.image``.  Output: ``link.output``, the
complete file as bytes.  The writer owns every header byte; the numbers come
from the layout (``Layout.ehdr`` field values, ``Layout.segments``).

Overlapping layouts put the program header table inside the ELF header: both
structures are packed and every byte they share must agree (the layout chose
the values so that they do; a disagreement is a bug in tinyelf and stops the
link).  Header bytes that hold content (sections in holes, ``Layout.patches``)
keep the image's bytes; those must be bytes the layout declared free.  No
section headers, no symbol table.  The file ends at ``Layout.file_size``:
the bytes cut off must be zero (they became bss).
"""
from __future__ import annotations

from ..elf.defs import PT_LOAD
from ..elf.structs import structs_for
from .model import Link


def header_bytes(lay) -> bytes:
    """The headers alone (ELF header and program headers, overlapped as the
    layout says), without any content in their holes.  The ELF class's
    structures come from the layout (``LayoutSpec.es``); a layout whose file
    ends inside the ELF header (the teensy geometry) gets the header cut
    there: the cut bytes must be zero, as the kernel reads them."""
    es = lay.spec.es if lay.spec is not None else structs_for()
    size = max(lay.header_size, es.ehdr.size)
    hdr = bytearray(size)
    hdr[0:es.ehdr.size] = es.pack_ehdr(lay.ehdr)
    owner = bytearray(size)      # 1: written by the ELF header
    owner[0:es.ehdr.size] = b"\1" * es.ehdr.size
    for i, seg in enumerate(lay.segments):
        ph = es.pack_phdr(p_type=PT_LOAD, p_flags=seg.flags, p_offset=seg.offset,
                          p_vaddr=seg.vaddr,
                          p_paddr=seg.paddr if getattr(seg, "paddr", None) is not None else seg.vaddr,
                          p_filesz=seg.filesz, p_memsz=seg.memsz, p_align=seg.align)
        at = lay.phoff + i * len(ph)
        for j, b in enumerate(ph):
            if owner[at + j] and hdr[at + j] != b:
                raise AssertionError(f"layout {lay.name}: ELF header and program header "
                                     f"disagree at byte {at + j:#x}")
        hdr[at:at + len(ph)] = ph
    if any(hdr[lay.header_size:]):
        raise AssertionError(f"layout {lay.name}: header fields past the end of the headers "
                             "are not zero")
    return bytes(hdr[:lay.header_size])


def write(link: Link) -> Link:
    lay = link.layout
    image = link.image
    for foff, data, _what in lay.patches:
        image[foff:foff + len(data)] = data
    occupied = bytearray(lay.header_size)
    for sec in link.kept:
        if sec.offset < 0 or sec.is_nobits:
            continue
        ranges = [(f, n) for _s, n, _a, f in sec.pieces] if sec.pieces else [(sec.offset, sec.size)]
        for f, n in ranges:
            for k in range(f, min(f + n, lay.header_size)):
                occupied[k] = 1
    for foff, data, _what in lay.patches:
        for k in range(foff, min(foff + len(data), lay.header_size)):
            occupied[k] = 1
    free = bytearray(lay.header_size)
    for h in lay.holes:
        free[h.offset:h.offset + h.size] = b"\1" * h.size
    for k in range(lay.content_start, lay.header_size):
        free[k] = 1
    hdr = header_bytes(lay)
    for k in range(lay.header_size):
        if occupied[k]:
            if not free[k]:
                raise AssertionError(f"layout {lay.name}: content at header byte {k:#x}, "
                                     "which the kernel reads")
        else:
            image[k] = hdr[k]
    if any(image[lay.file_size:]):
        raise AssertionError("bytes cut off the end of the file are not zero")
    link.output = bytes(image[:lay.file_size])
    return link
