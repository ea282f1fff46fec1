"""x86-64's header layouts whose bytes execute (the generic, pure-geometry
layouts are in tinyelf/linker/layouts.py, which documents the fields):

* overlap80: program header at 0x18, e_entry = p_type | p_flags << 32, so the
  base lies above 4 GiB and execution starts at file byte 1, where the
  magic's "ELF" (45 4c 46) runs as REX prefixes of the first instruction;
* dyn68: ET_DYN, program header at 0xc; the magic's 7f 45 runs as
  ``jg .+0x47``, taken at process start.
"""
from __future__ import annotations

from ...elf.defs import ELFCLASS64, ELFDATA2LSB, ELFMAG, ET_DYN, EV_CURRENT
from ...errors import LayoutError
from ...linker.layouts import PHENT, LayoutSpec, _common_holes
from ...linker.model import Hole


class Overlap80(LayoutSpec):
    name = "overlap80"
    summary = ("program header at 0x18: e_entry = p_type|p_flags<<32 (base above 4 GiB, "
               "entry at file byte 1), p_filesz's low half = e_phnum")
    phoff = 0x18
    max_phnum = 2
    abs32_ok = False
    forced = ((0x01, 3, "\"ELF\" of the magic = REX prefixes of the first instruction"),
              (0x18, 8, "e_entry = p_type PT_LOAD | p_flags << 32 (base + 1)"),
              (0x20, 8, "e_phoff = p_offset (0x18)"),
              (0x28, 8, "e_shoff = p_vaddr (base + 0x18)"),
              (0x36, 2, "e_phentsize=56 = top of p_paddr"),
              (0x38, 8, "e_phnum, e_shentsize, e_shnum, e_shstrndx = p_filesz (= p_memsz)"))
    entry_offset = 1
    entry_prefix = b"ELF"      # bytes 1..3, executed as REX prefixes

    def holes(self, phnum):
        extra = [Hole(0x30, 6, "e_flags+e_ehsize (p_paddr)")]
        if phnum == 2:
            extra += [Hole(0x18 + 0x30, 8, "p_align"), Hole(0x50 + 0x18, 8, "p_paddr[1]")]
        holes = _common_holes(phnum, extra)
        holes[0].field = "e_ident[4:16] (entry)"
        return holes

    def tail_free(self, phnum):
        return 8

    def first_offset(self, phnum):
        return self.phoff    # p_offset is e_phoff

    def first_paddr(self):
        return PHENT << 48   # e_flags = e_ehsize = 0, e_phentsize = 56

    def base_for(self, flags, requested, default):
        base = flags << 32   # e_entry = 1 | p_flags << 32 = base + 1
        if requested is not None and requested != base:
            raise LayoutError(f"layout overlap80 loads at {base:#x} (p_flags << 32); "
                              f"--base {requested:#x} cannot be honoured")
        return base

    def first_filesz(self, phnum, need, page):
        # p_filesz = e_phnum | e_shentsize<<16 | ...; p_memsz = p_filesz so that
        # the kernel zeroes nothing; the mapping covers whole pages
        # smallest k with roundup(phoff + phnum + k * 65536) >= phoff + need; the
        # page size divides 65536, so roundup(x + k * 65536) = roundup(x) + k * 65536
        mapped = -(-(self.phoff + phnum) // page) * page
        k = max(0, -(-(self.phoff + need - mapped) // 0x10000))
        v = phnum + (k << 16)
        return v, v

    def ehdr_fields(self, lay, arch):
        f = super().ehdr_fields(lay, arch)
        seg = lay.segments[0]
        assert lay.entry == (seg.flags << 32) + 1 and seg.offset == self.phoff
        f.update(e_entry=lay.entry, e_shoff=seg.vaddr, e_flags=0, e_ehsize=0,
                 e_phentsize=PHENT, e_phnum=seg.filesz & 0xFFFF,
                 e_shentsize=(seg.filesz >> 16) & 0xFFFF, e_shnum=(seg.filesz >> 32) & 0xFFFF,
                 e_shstrndx=(seg.filesz >> 48) & 0xFFFF)
        return f


class Dyn68(LayoutSpec):
    name = "dyn68"
    summary = ("ET_DYN, program header at 0xc: e_type|e_machine<<16 = p_flags, e_version = "
               "p_offset, e_entry/e_phoff = p_vaddr; the magic's 7f 45 (jg) jumps to file "
               "byte 0x47; loaded at an address the kernel chooses")
    phoff = 0x0c
    max_phnum = 1      # e_phnum is p_memsz's bits 32-47, and a second header would reach 0x7c
    abs32_ok = False
    pic_only = True
    e_type = ET_DYN
    #: opt-in only: its program needs 4 GiB of committable memory (p_memsz)
    #: and is always W+X, so a tool shipped to a small machine (or run under
    #: `ulimit -v`, or with vm.overcommit_memory=2) would not start
    auto = False
    #: the file offset the kernel's entry point names (e_entry = base)
    entry_offset = 0
    #: where execution continues: 7f 45 is "jg .+0x47", taken at process start
    ENTRY_TARGET = 0x47
    #: p_offset = e_version; the base the overlap forces: p_vaddr - p_offset
    #: = (e_phoff << 32 | e_entry >> 32) - e_version, e_entry's low half = 0
    BASE = 0x0c << 32
    forced = ((0x00, 2, "7f 45 of the magic = jg .+0x47: execution continues at file byte 0x47"),
              (0x0c, 4, "e_ident[12:16] = p_type PT_LOAD (1)"),
              (0x10, 4, "e_type ET_DYN, e_machine = p_flags (0x3e0003: W+X)"),
              (0x14, 8, "e_version, e_entry's low half = p_offset (0xc)"),
              (0x1c, 8, "e_entry's high half, e_phoff's low half = p_vaddr (0xc0000000c)"),
              (0x24, 4, "e_phoff's high half = p_paddr's low half (0)"),
              (0x2c, 8, "e_shoff's high half, e_flags = p_filesz (file size - 0xc)"),
              (0x36, 6, "e_phentsize=56, e_phnum=1, e_shentsize=0 = p_memsz's upper bytes "
                        "(p_memsz = 0x100380000: 4 GiB zero-filled)"))

    def header_end(self, phnum):
        # 68 bytes of headers, then the 3 bytes the entry jump skips
        return self.ENTRY_TARGET

    def holes(self, phnum):
        return [Hole(0x04, 8, "e_ident[4:12]"),
                Hole(0x28, 4, "e_shoff's low half (p_paddr)"),
                Hole(0x34, 2, "e_ehsize (p_memsz's low bits)"),
                Hole(0x3c, 11, "e_shnum+e_shstrndx+p_align, 3 skipped")]

    def entry_start(self, phnum):
        return self.ENTRY_TARGET

    def first_offset(self, phnum):
        return self.phoff    # p_offset is e_version

    def first_flags(self, flags, arch):
        return ET_DYN | arch.e_machine << 16     # forced, whatever the program needs

    def first_paddr(self):
        return 0             # e_phoff's high half; the high half is a hole

    def segment_align(self, page):
        return 0             # p_align's bytes are a hole; 0: the kernel ignores it

    def first_memsz(self, phnum):
        return 1 << 32 | PHENT << 16     # e_ehsize=0, e_phentsize, e_phnum=1, e_shentsize=0

    def base_for(self, flags, requested, default):
        if requested is not None:
            raise LayoutError(f"layout {self.name} is loaded wherever the kernel puts it "
                              f"(ET_DYN); --base {requested:#x} cannot be honoured")
        return self.BASE

    def check_content(self, lay, image):
        lo = 0x3c
        b = bytearray(image[lo:lo + 8].ljust(8, b"\0"))
        for foff, data, _what in lay.patches:
            for k, byte in enumerate(data):
                if lo <= foff + k < lo + 8:
                    b[foff + k - lo] = byte
        v = int.from_bytes(b, "little")
        if v > 0x1000 and not v & (v - 1):
            return (f"layout {self.name}: the content in p_align (file bytes 0x3c..0x44) reads "
                    f"as {v:#x}, a power of two above the page size: the kernel would align "
                    "the load address to it (from 2**47 on the process dies)")
        return None

    def ehdr_fields(self, lay, arch):
        f = super().ehdr_fields(lay, arch)
        seg = lay.segments[0]
        assert seg.offset == self.phoff and seg.vaddr == self.BASE + self.phoff
        assert lay.entry == self.BASE and seg.flags == ET_DYN | arch.e_machine << 16
        ident = ELFMAG + bytes([ELFCLASS64, ELFDATA2LSB, EV_CURRENT]) + bytes(5) + \
            (1).to_bytes(4, "little")                       # p_type PT_LOAD
        f.update(e_ident=ident, e_type=ET_DYN, e_version=seg.offset, e_entry=lay.entry,
                 e_phoff=self.phoff, e_shoff=(seg.filesz & 0xFFFFFFFF) << 32, e_flags=seg.filesz >> 32,
                 e_ehsize=seg.memsz & 0xFFFF, e_phentsize=PHENT, e_phnum=1,
                 e_shentsize=seg.memsz >> 48, e_shnum=seg.align & 0xFFFF,
                 e_shstrndx=(seg.align >> 16) & 0xFFFF)
        assert (seg.memsz >> 16) & 0xFFFF == PHENT and (seg.memsz >> 32) & 0xFFFF == 1
        return f


LAYOUTS = (Overlap80(), Dyn68())
