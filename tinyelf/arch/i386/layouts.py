"""ELF32 header layouts for i386, largest first.

Generic geometry (tinyelf.linker.layouts, computed from the ELF32 sizes):
``strict`` (52 + 32 = 84 bytes) and ``overlap76`` (program header at
e_phnum).  The two below exist only because of where ELF32's fields fall;
both rely on i386 facts (checked by running binaries on Linux 6.18 and the
Debian 6.1 kernel): the kernel ignores e_shoff, e_flags, e_ehsize,
e_shentsize, e_shnum, e_shstrndx, EI_CLASS..EI_PAD, e_version, p_paddr and,
for ET_EXEC, p_align; a 32-bit process without PT_GNU_STACK gets
READ_IMPLIES_EXEC, so a PF_R segment is executable.

=========  ======  ==========================================================
name       header  idea
=========  ======  ==========================================================
overlap64  64      program header at 0x20: e_shoff = p_type, e_flags =
                   p_offset (0), e_ehsize | e_phentsize << 16 = p_vaddr, so
                   the base is 0x200000; e_phnum is p_paddr's low half
teensy     46/45   Brian Raiter's geometry: program header at e_phoff = 4,
                   inside e_ident; e_type|e_machine = p_paddr, e_version =
                   p_filesz, e_entry = p_memsz (= p_filesz), e_phoff = 4 =
                   p_flags (PF_R: read-only programs only); e_shoff, e_flags
                   and e_ehsize (p_align) hold code; the file may end after
                   e_phnum's low byte (the kernel reads the rest as zeros)
=========  ======  ==========================================================
"""
from __future__ import annotations

from ...elf.defs import ELFCLASS32, ELFDATA2LSB, ELFMAG, PF_R
from ...elf.structs import structs_for
from ...errors import LayoutError
from ...linker.layouts import LayoutSpec, _common_holes
from ...linker.model import Hole

ES = structs_for(ELFCLASS32, ELFDATA2LSB)
PHENT = 32


class Overlap64(LayoutSpec):
    name = "overlap64"
    summary = ("program header at 0x20: e_shoff = p_type, e_flags = p_offset, "
               "e_ehsize|e_phentsize<<16 = p_vaddr (base 0x200000), e_phnum = p_paddr")
    phoff = 0x20
    max_phnum = 2
    BASE = PHENT << 16          # p_vaddr = e_ehsize (0) | e_phentsize << 16
    forced = ((0x20, 4, "e_shoff = p_type PT_LOAD (1)"),
              (0x24, 4, "e_flags = p_offset (0)"),
              (0x28, 4, "e_ehsize=0, e_phentsize=32 = p_vaddr (0x200000)"),
              (0x2c, 2, "e_phnum = p_paddr's low half"),
              (0x30, 4, "e_shnum, e_shstrndx = p_filesz"))

    def holes(self, phnum):
        extra = [Hole(0x2e, 2, "e_shentsize (p_paddr's high half)")]
        if phnum == 2:
            extra += [Hole(0x3c, 4, "p_align"), Hole(0x40 + 12, 4, "p_paddr[1]")]
        return _common_holes(phnum, extra)

    def tail_free(self, phnum):
        return 4

    def base_for(self, flags, requested, default):
        if requested is not None and requested != self.BASE:
            raise LayoutError(f"layout {self.name} loads at {self.BASE:#x} (p_vaddr is "
                              f"e_phentsize << 16); --base {requested:#x} cannot be honoured")
        return self.BASE

    def first_paddr(self):
        return None             # set from e_phnum in ehdr_fields' check

    def ehdr_fields(self, lay, arch):
        f = super().ehdr_fields(lay, arch)
        seg = lay.segments[0]
        assert seg.offset == 0 and seg.vaddr == self.BASE
        seg.paddr = len(lay.segments)
        f.update(e_shoff=1, e_flags=0, e_ehsize=0, e_phentsize=PHENT,
                 e_phnum=len(lay.segments), e_shentsize=0,
                 e_shnum=seg.filesz & 0xFFFF, e_shstrndx=seg.filesz >> 16)
        return f


class Teensy(LayoutSpec):
    name = "teensy"
    writable_ok = False
    readonly_why = "p_flags is e_phoff = 4, PF_R"
    summary = ("program header at 4, inside e_ident (Raiter's 45-byte geometry): e_entry = "
               "p_memsz, e_phoff = p_flags = PF_R; code in e_shoff/e_flags/e_ehsize")
    phoff = 4
    max_phnum = 1
    forced = ((0x04, 4, "e_ident[4:8] = p_type PT_LOAD (1; EI_CLASS = 1)"),
              (0x08, 4, "e_ident[8:12] = p_offset (0)"),
              (0x0c, 4, "e_ident[12:16] = p_vaddr (the base)"),
              (0x10, 4, "e_type=2, e_machine=3 = p_paddr"),
              (0x14, 4, "e_version = p_filesz (= p_memsz)"),
              (0x18, 4, "e_entry = p_memsz"),
              (0x1c, 4, "e_phoff = 4 = p_flags (PF_R; executable by READ_IMPLIES_EXEC)"),
              (0x2a, 2, "e_phentsize = 32"),
              (0x2c, 1, "e_phnum = 1 (its high byte and the rest read as zero)"))

    def header_end(self, phnum):
        return 0x2d             # the last byte the kernel needs: e_phnum's low byte

    def content_start(self, phnum, holes):
        return 0x2e             # e_phnum's high byte must stay 0: the tail starts after it

    def holes(self, phnum):
        return [Hole(0x20, 10, "e_shoff+e_flags+e_ehsize (p_align)")]

    def first_flags(self, flags, arch):
        return PF_R             # e_phoff

    def forces_wx(self, arch):
        return False

    def first_paddr(self):
        return 2 | 3 << 16      # e_type ET_EXEC | e_machine EM_386 << 16

    def settle(self, segments, entry, base):
        seg = segments[0]
        if entry < seg.memsz:
            return False        # never for a program below 64 KiB at the default base
        seg.filesz = seg.memsz = entry
        return True

    def ehdr_fields(self, lay, arch):
        f = super().ehdr_fields(lay, arch)
        seg = lay.segments[0]
        assert seg.offset == 0 and seg.filesz == seg.memsz == lay.entry and seg.flags == PF_R
        ident = ELFMAG + (1).to_bytes(4, "little") + (0).to_bytes(4, "little") + \
            seg.vaddr.to_bytes(4, "little")
        f.update(e_ident=ident, e_version=seg.filesz, e_phoff=self.phoff,
                 e_shoff=seg.align, e_flags=0, e_ehsize=0, e_phentsize=PHENT, e_phnum=1,
                 e_shentsize=0, e_shnum=0, e_shstrndx=0)
        return f

    def segment_align(self, page):
        return 0                # p_align = e_shoff, a hole; ET_EXEC ignores it


#: the i386 layouts beside the generic ELF32 ones (strict, overlap76)
OWN = (Overlap64(ES), Teensy(ES))
