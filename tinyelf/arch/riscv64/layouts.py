"""riscv64's own header layout (the generic ones are in
tinyelf/linker/layouts.py, which documents the fields):

* high82: program header at 0x1a, 82 bytes of headers, loaded above 2**48,
  so it runs only where the kernel uses Sv57 (5-level) page tables, whose
  user address space ends at 2**56: qemu's virt machine (the booted test
  kernel), not the Sv39/Sv48 boards of today, where the process dies with
  SIGSEGV.  Opt-in (``--layout high82``), never chosen by ``auto``.

Byte by byte (docs/risc.md has why no smaller header works):

============  ==========================  =========================================
bytes         ELF header                  program header (at 0x1a)
============  ==========================  =========================================
0x05..0x10    e_ident[5:16]               - (hole; the kernel checks EI_CLASS)
0x14..0x18    e_version                   - (hole)
0x18..0x1a    e_entry bits 0-15           - (the entry's file offset)
0x1a..0x1e    e_entry bits 16-47 = 1      p_type PT_LOAD
0x1e..0x22    e_entry bits 48-63, e_phoff  p_flags = F | 26 << 16, F = R+X (or
              (26)                        R+W+X): the base is F << 48 | 0x10000
0x22..0x2a    e_phoff's top, e_shoff[0:2] p_offset 0
0x2a..0x32    e_shoff[2:8], e_flags[0:2]  p_vaddr = base
0x32..0x36    e_flags[2:4], e_ehsize      p_paddr's low half (hole)
0x36..0x3a    e_phentsize 56, e_phnum 1   p_paddr's high half
0x3a..0x42    e_shentsize..e_shstrndx     p_filesz
0x42..0x4a    -                           p_memsz
0x4a..0x52    -                           p_align (ignored for ET_EXEC: content)
============  ==========================  =========================================
"""
from __future__ import annotations

from ...errors import LayoutError
from ...linker.layouts import PHENT, LayoutSpec, _common_holes
from ...linker.model import Hole


class High82(LayoutSpec):
    name = "high82"
    summary = ("program header at 0x1a: e_entry bits 16-47 = p_type, its top = p_flags (base "
               "F << 48 | 0x10000, above 2**48): needs Sv57 page tables")
    phoff = 0x1A
    max_phnum = 1
    abs32_ok = False
    #: opt-in: only kernels with Sv57 page tables map above 2**48
    auto = False
    #: Sv57's user address space
    user_top = 1 << 56
    BASE_LOW = 0x10000          # e_entry bits 16-47 = 1 = p_type
    forced = ((0x1A, 4, "e_entry bits 16-47 = p_type PT_LOAD (1)"),
              (0x1E, 4, "e_entry bits 48-63, e_phoff's low half = p_flags (R+X | 26 << 16)"),
              (0x22, 8, "e_phoff's high bytes, e_shoff's low half = p_offset (0)"),
              (0x2A, 8, "e_shoff's high bytes, e_flags' low half = p_vaddr (the base)"),
              (0x36, 4, "e_phentsize=56, e_phnum=1 = p_paddr's high half"),
              (0x3A, 6, "e_shentsize, e_shnum, e_shstrndx = p_filesz's low bytes"))

    def holes(self, phnum):
        return _common_holes(phnum, [Hole(0x32, 4, "e_flags' high half+e_ehsize (p_paddr)")])

    def tail_free(self, phnum):
        return 8

    def first_offset(self, phnum):
        return 0

    def flag_bits(self):
        return self.phoff << 16

    def first_paddr(self):
        return PHENT << 32 | 1 << 48

    def base_for(self, flags, requested, default):
        base = (flags & 0xFFFF) << 48 | self.BASE_LOW
        if requested is not None and requested != base:
            raise LayoutError(f"layout {self.name} loads at {base:#x} (p_flags << 48 | 0x10000); "
                              f"--base {requested:#x} cannot be honoured")
        return base

    def settle(self, segments, entry, base):
        return 0 <= entry - base < 0x10000      # e_entry's low 16 bits hold its offset

    def ehdr_fields(self, lay, arch):
        f = super().ehdr_fields(lay, arch)
        seg = lay.segments[0]
        assert seg.offset == 0 and seg.vaddr == lay.base and seg.filesz >> 48 == 0
        assert lay.entry >> 16 == (seg.flags & 0xFFFF) << 32 | 1
        mask = (1 << 64) - 1
        f.update(e_phoff=self.phoff, e_shoff=(seg.vaddr << 16) & mask,
                 e_flags=seg.vaddr >> 48, e_ehsize=0, e_phentsize=PHENT, e_phnum=1,
                 e_shentsize=seg.filesz & 0xFFFF, e_shnum=(seg.filesz >> 16) & 0xFFFF,
                 e_shstrndx=(seg.filesz >> 32) & 0xFFFF)
        return f


LAYOUTS = (High82(),)
