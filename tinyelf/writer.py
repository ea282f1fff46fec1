"""Pass 7, write: the ELF header and program headers in front of the image.

Input: ``link.layout`` and ``link.image``.  Output: ``link.output``, the
complete file as bytes.  The writer owns every header byte; the numbers come
from the layout.  No section headers, no symbol table.
"""
from __future__ import annotations

from .elfdefs import (EHDR64, ELFCLASS64, ELFDATA2LSB, ELFMAG, ET_EXEC, EV_CURRENT,
                      PHDR64, PT_LOAD)
from .model import Link

IDENT = ELFMAG + bytes([ELFCLASS64, ELFDATA2LSB, EV_CURRENT]) + bytes(9)


def write(link: Link) -> Link:
    lay = link.layout
    image = link.image
    phnum = len(lay.segments)
    ehdr = EHDR64.pack(IDENT, ET_EXEC, link.arch.e_machine, EV_CURRENT, lay.entry,
                       EHDR64.size, 0, 0, EHDR64.size, PHDR64.size, phnum, 0, 0, 0)
    image[0:EHDR64.size] = ehdr
    for i, seg in enumerate(lay.segments):
        PHDR64.pack_into(image, EHDR64.size + i * PHDR64.size, PT_LOAD, seg.flags, seg.offset,
                         seg.vaddr, seg.vaddr, seg.filesz, seg.memsz, seg.align)
    link.output = bytes(image)
    return link
