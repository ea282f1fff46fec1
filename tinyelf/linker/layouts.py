"""Header layouts: where the ELF header and program headers go, and what each
layout demands of the program.

A layout is a small object that declares

* where the program header table starts (``phoff``) and so how it overlaps
  the ELF header; the overlapping bytes must hold both structures' values
  at once, and ``ehdr_fields`` derives the ELF header's values from the
  program header's so that they agree byte for byte;
* the load address rule (``base_for``): any page-aligned base, or one forced
  by the overlap (``overlap80``: e_entry doubles as p_type/p_flags);
* the p_flags bits the overlap adds, and what p_offset/p_filesz must be;
* where the entry may be (``entry_offset``: overlap80 starts executing at
  file byte 1, inside the ELF magic);
* which relocations it tolerates (``abs32_ok``: False when the base lies
  above 4 GiB, so 32-bit (and narrower) absolute fields cannot hold addresses;
  ``pic_only``: the kernel chooses the load address (ET_DYN), so no value
  may depend on it: no absolute address of the image anywhere, no
  PC-relative reference to something outside it);
* which header bytes the kernel ignores (``holes``) and how many bytes at the
  end of the headers content may overlap (``tail_free``: p_align).

Facts used (../shared/REFERENCES.md, checked by running binaries): the kernel
reads e_ident's magic, e_type, e_machine, e_entry, e_phoff, e_phentsize
(must be 56) and e_phnum; it ignores EI_CLASS..EI_PAD, e_version, e_shoff,
e_flags, e_ehsize, e_shentsize, e_shnum, e_shstrndx, p_paddr and, for
ET_EXEC, p_align.  Unknown p_flags bits are ignored.  p_offset must be
congruent to p_vaddr modulo the page size.

The layouts, largest first:

=============  ======  ========================================================
name           header  idea
=============  ======  ========================================================
strict         120     spec-valid; readelf, objdump, gdb, lief parse it cleanly
overlap112     112     phdr at 0x38: e_phnum=1/e_shentsize=0 is p_type=PT_LOAD,
                       e_shnum is p_flags
overlap104     104     phdr at 0x30: e_flags=1 is p_type, e_ehsize|56<<16 is
                       p_flags, e_phnum is p_offset (so p_vaddr = base + phnum)
overlap80      80      phdr at 0x18: e_entry is p_type|p_flags<<32, so the
                       base is p_flags<<32 (above 4 GiB) and the entry is file
                       byte 1 (the magic's "ELF" runs as REX prefixes);
                       p_filesz's low half is e_phnum
dyn68          68 (+3) ET_DYN, phdr at 0xc: e_type|e_machine<<16 is p_flags
                       (W+X, no R), e_version is p_offset (0xc), e_entry's
                       high half and e_phoff are p_vaddr (0xc0000000c), so
                       e_entry = 0xc00000000 is file byte 0: the magic's
                       7f 45 runs as ``jg .+0x47`` (taken: the kernel starts
                       a process with every arithmetic flag clear) and the
                       program starts at file byte 0x47, 3 bytes after the
                       headers; e_phnum is p_memsz's bits 32-47, so the
                       kernel maps 4 GiB of zero-filled memory after the
                       file (it must be able to commit it)
=============  ======  ========================================================

``dyn68`` is loaded wherever the kernel puts it (ET_DYN without PT_INTERP:
in the randomised mmap area, fs/binfmt_elf.c): the layout links at the base
the overlap forces (0xc00000000) and refuses every value that would change
with the load address (``pic_only``).  The kernel honours p_align for
ET_DYN: a power of two above the page size aligns the load address, and
2**47 and above make the process die, so the bytes content puts into p_align
must not read as a power of two above the page size (``check_content``).

``wants_pic()`` tells ``tinyelf build`` whether compiling position-independent
code could unlock a smaller layout (overlap80 refuses absolute 32-bit
relocations).
"""
from __future__ import annotations

from ..elf.defs import (ELFCLASS64, ELFDATA2LSB, ELFMAG, ET_EXEC, EV_CURRENT, PF_R,
                      PF_W, PF_X)
from ..elf.structs import structs_for
from ..errors import LayoutError
from .model import Hole

PHENT = 56
#: the lowest address an ordinary user can map on every stock kernel
#: (vm.mmap_min_addr is 4096 or 65536)
MIN_USER_BASE = 0x10000


def standard_ident(es=None) -> bytes:
    cls = es.elfclass if es is not None else ELFCLASS64
    return ELFMAG + bytes([cls, ELFDATA2LSB, EV_CURRENT]) + bytes(9)


class LayoutSpec:
    """Base class: one header layout and its constraints.  ``es``: the ELF
    class's structures (tinyelf.elf.structs); header sizes come from it."""
    name = ""
    es = structs_for(ELFCLASS64)

    def __init__(self, es=None):
        if es is not None:
            self.es = es

    @property
    def ehsize(self) -> int:
        return self.es.ehdr.size

    @property
    def phent(self) -> int:
        return self.es.phdr.size

    summary = ""
    phoff = 64
    max_phnum = 16
    abs32_ok = True
    #: True: the kernel chooses the load address (ET_DYN), so the program
    #: must not depend on it (see layout._pic_problems)
    pic_only = False
    #: False: only on request (``--layout NAME``), never chosen by ``auto``
    auto = True
    #: the end of the user address space the layout needs (None: the
    #: machine's, ``Arch.user_top``; riscv's high82 needs Sv57's)
    user_top = None
    spec_valid = False
    e_type = ET_EXEC
    #: the file offset where execution must start, or None (anywhere)
    entry_offset = None
    #: bytes in front of a forced entry that the CPU executes as prefixes
    entry_prefix = b""
    #: the overlap's forced bytes: (file offset, size, what both structures
    #: need there); for the report and the reader of this module
    forced = ()

    def header_end(self, phnum: int) -> int:
        return max(self.ehsize, self.phoff + self.phent * phnum)

    def holes(self, phnum: int) -> list[Hole]:
        return []

    def entry_start(self, phnum: int) -> int:
        """With ``entry_offset``: the file offset where the program's own
        first instruction (or a jump to it) must be.  overlap80: the first
        hole, right after the prefix; dyn68: where the header's jump lands,
        the first byte after the headers (the tail)."""
        return self.entry_offset + len(self.entry_prefix)

    def tail_free(self, phnum: int) -> int:
        """Bytes at the end of the headers that content may overlap."""
        return 0

    def content_start(self, phnum: int, holes: bool) -> int:
        """The file offset where the ordinary (tail) content starts."""
        return self.header_end(phnum) - (self.tail_free(phnum) if holes else 0)

    def entry_in_tail(self, phnum: int, holes: bool) -> bool:
        """True when execution continues in the tail rather than in a
        header hole (dyn68: where the magic's jg lands)."""
        return self.entry_offset is not None and \
            self.entry_start(phnum) >= self.content_start(phnum, holes)

    def first_offset(self, phnum: int) -> int:
        """p_offset of the first PT_LOAD (p_vaddr is base plus this)."""
        return 0

    def flag_bits(self) -> int:
        """Extra p_flags bits the overlap forces on the first segment."""
        return 0

    def first_flags(self, flags: int, arch) -> int:
        """p_flags of the first segment, given the flags the program needs."""
        return flags | self.flag_bits()

    def forces_wx(self, arch) -> bool:
        """True when the first segment is writable and executable whatever
        the program needs (then ``--wx`` cannot be honoured)."""
        f = self.first_flags(PF_R | PF_X, arch)
        return bool(f & PF_W and f & PF_X)

    def segment_align(self, page: int) -> int:
        """p_align of the first segment."""
        return page

    def first_paddr(self):
        """Forced p_paddr of the first segment, or None (= p_vaddr)."""
        return None

    def base_for(self, flags: int, requested, default: int) -> int:
        """The load address, given the first segment's flags."""
        base = default if requested is None else requested
        return base

    def first_filesz(self, phnum: int, need: int, page: int):
        """Forced (p_filesz, p_memsz) of the first segment, or None when they
        are free: ``need`` is how many bytes from p_offset must be mapped."""
        return None

    def first_memsz(self, phnum: int):
        """Forced p_memsz of the first segment (p_filesz free), or None."""
        return None

    def first_sizes(self, filesz: int, memsz: int) -> tuple:
        """(p_filesz, p_memsz) of the first segment from what the program
        needs counted from p_offset (overlap103: p_offset lies past a small
        file's end, and the kernel maps nothing for p_filesz 0)."""
        return filesz, memsz

    #: False: p_flags is forced read-only by the overlap (i386's teensy), so
    #: a program with writable data or bss is refused (``readonly_why`` says why)
    writable_ok = True
    readonly_why = ""

    def check_program(self, ctx) -> str | None:
        """Why this layout cannot hold the program at all (before planning),
        or None; ``ctx``: the layout pass's view of the program (writable,
        bss)."""
        if not self.writable_ok and (ctx.writable or ctx.bss):
            return (f"layout {self.name} maps its one segment read-only ({self.readonly_why}), "
                    "but this program has writable data or bss")
        return None

    def settle(self, segments, entry: int, base: int) -> bool:
        """Last word on the segments once the entry address is known (a
        layout whose header fields tie p_memsz to e_entry sets it here);
        False when the plan cannot work."""
        return True

    def check_content(self, lay, image) -> str | None:
        """After relocation: why the bytes content put into header fields
        cannot stay there, or None (``image``: the relocated file image,
        without the layout's patches, which are in ``lay.patches``)."""
        return None

    def ehdr_fields(self, lay, arch) -> dict:
        """Every ELF header field's value for the finished layout ``lay``."""
        return dict(e_ident=standard_ident(self.es), e_type=self.e_type, e_machine=arch.e_machine,
                    e_version=EV_CURRENT, e_entry=lay.entry, e_phoff=self.phoff, e_shoff=0,
                    e_flags=0, e_ehsize=self.ehsize, e_phentsize=self.phent,
                    e_phnum=len(lay.segments),
                    e_shentsize=0, e_shnum=0, e_shstrndx=0)

    def check_phnum(self, phnum: int) -> None:
        if phnum > self.max_phnum:
            raise LayoutError(f"layout {self.name} holds at most {self.max_phnum} program "
                              f"header{'s' if self.max_phnum > 1 else ''} (--wx needs {phnum})")


class Strict(LayoutSpec):
    name = "strict"
    summary = "spec-valid ELF header + program headers, nothing overlapped or hidden"
    spec_valid = True

    @property
    def phoff(self):
        return self.ehsize


def _common_holes(phnum, extra):
    holes = [Hole(4, 12, "e_ident[4:16]"), Hole(0x14, 4, "e_version")]
    return holes + extra


class Overlap112(LayoutSpec):
    """The program header starts at e_phnum (8 bytes before the end of the ELF
    header, either class): e_phnum=1 | e_shentsize=0 is p_type PT_LOAD, and
    e_shnum | e_shstrndx is the program header's second word (ELF64: p_flags;
    ELF32: p_offset, 0).  112 bytes of headers for ELF64, 76 for ELF32."""
    max_phnum = 1      # e_phnum | e_shentsize << 16 is p_type, which must be PT_LOAD (1)

    @property
    def phoff(self):
        return self.ehsize - 8

    @property
    def name(self):
        return f"overlap{self.phoff + self.phent}"

    @property
    def summary(self):
        return (f"program header at {self.phoff:#x}: e_phnum/e_shentsize = p_type, "
                f"e_shnum = {self.es.phdr_fields[1]}")

    @property
    def forced(self):
        return ((self.phoff, 4, "e_phnum=1, e_shentsize=0 = p_type PT_LOAD"),
                (self.phoff + 4, 4, f"e_shnum, e_shstrndx = {self.es.phdr_fields[1]}"))

    def holes(self, phnum):
        eo = self.es.field_offsets("ehdr")
        po = self.es.field_offsets("phdr")
        shoff = eo["e_shoff"][0]
        return _common_holes(phnum, [
            Hole(shoff, eo["e_phentsize"][0] - shoff, "e_shoff+e_flags+e_ehsize"),
            Hole(self.phoff + po["p_paddr"][0], po["p_paddr"][1], "p_paddr")])

    def tail_free(self, phnum):
        return self.es.field_offsets("phdr")["p_align"][1]

    def ehdr_fields(self, lay, arch):
        f = super().ehdr_fields(lay, arch)
        seg = lay.segments[0]
        second = {"p_flags": seg.flags, "p_offset": seg.offset}[self.es.phdr_fields[1]]
        f.update(e_phnum=1, e_shentsize=0, e_shnum=second & 0xFFFF, e_shstrndx=second >> 16)
        return f


class Overlap104(LayoutSpec):
    name = "overlap104"
    summary = ("program header at 0x30: e_flags = p_type, e_ehsize|e_phentsize = p_flags, "
               "e_phnum = p_offset")
    phoff = 0x30
    max_phnum = 2
    forced = ((0x30, 4, "e_flags = p_type PT_LOAD (1)"),
              (0x34, 4, "e_ehsize = p_flags' low half, e_phentsize=56 its high half"),
              (0x38, 8, "e_phnum, e_shentsize, e_shnum, e_shstrndx = p_offset (= e_phnum)"))

    def holes(self, phnum):
        extra = [Hole(0x28, 8, "e_shoff"), Hole(0x30 + 0x18, 8, "p_paddr")]
        if phnum == 2:
            extra += [Hole(0x30 + 0x30, 8, "p_align"), Hole(0x68 + 0x18, 8, "p_paddr[1]")]
        return _common_holes(phnum, extra)

    def tail_free(self, phnum):
        return 8

    def first_offset(self, phnum):
        return phnum         # p_offset's low half is e_phnum

    def flag_bits(self):
        return PHENT << 16   # p_flags' high half is e_phentsize

    def ehdr_fields(self, lay, arch):
        f = super().ehdr_fields(lay, arch)
        seg = lay.segments[0]
        assert seg.offset == len(lay.segments) and seg.flags >> 16 == PHENT
        f.update(e_flags=1, e_ehsize=seg.flags & 0xFFFF, e_phentsize=PHENT,
                 e_phnum=len(lay.segments), e_shentsize=0, e_shnum=0, e_shstrndx=0)
        return f


class Overlap103(LayoutSpec):
    """ELF64, program header at 0x2f: e_phentsize's low byte (56) is p_flags'
    top byte, and e_phentsize's high byte, e_phnum=1 and the zero bytes after
    it are p_offset = 0x100.  p_offset only has to be congruent to p_vaddr
    modulo the page size (p_vaddr = base + 0x100: the mapping still starts at
    file offset 0), and the file may end before it: the kernel maps p_filesz
    + 0x100 bytes from file offset 0, so p_filesz is at least 1 (from Linux
    6.7 on a p_filesz of 0 maps zeros instead of the file).  103 bytes of
    headers, one program header."""
    name = "overlap103"
    summary = ("program header at 0x2f: e_phentsize = p_flags' top byte, e_phnum = p_offset's "
               "second byte (p_offset 0x100, p_vaddr base + 0x100)")
    phoff = 0x2F
    max_phnum = 1      # e_phnum is p_offset's second byte; a second header would end at 0x9f
    P_OFFSET = 0x100
    forced = ((0x2F, 4, "e_shoff's top byte, e_flags' low 3 bytes = p_type PT_LOAD (1)"),
              (0x33, 4, "e_flags' top byte = p_flags' low byte, e_ehsize = 0, "
                        "e_phentsize's low byte (56) = p_flags' top byte"),
              (0x37, 9, "e_phentsize's high byte, e_phnum=1, e_shentsize, e_shnum, "
                        "e_shstrndx = p_offset (0x100) and p_vaddr's low byte (0)"))

    def holes(self, phnum):
        return _common_holes(phnum, [Hole(0x28, 7, "e_shoff[0:7]"),
                                     Hole(self.phoff + 0x18, 8, "p_paddr")])

    def tail_free(self, phnum):
        return 8

    def first_offset(self, phnum):
        return self.P_OFFSET

    def flag_bits(self):
        return PHENT << 24   # p_flags' top byte is e_phentsize's low byte

    def first_sizes(self, filesz, memsz):
        filesz = max(1, filesz)
        return filesz, max(filesz, memsz)

    def ehdr_fields(self, lay, arch):
        f = super().ehdr_fields(lay, arch)
        seg = lay.segments[0]
        assert seg.offset == self.P_OFFSET and seg.flags >> 8 == PHENT << 16
        assert seg.vaddr & 0xFF == 0
        f.update(e_shoff=1 << 56, e_flags=(seg.flags & 0xFF) << 24, e_ehsize=0,
                 e_phentsize=PHENT, e_phnum=1, e_shentsize=0, e_shnum=0, e_shstrndx=0)
        return f


#: the layouts that are pure ELF geometry (no header byte executes), largest
#: first, per ELF class: their sizes come from the class's structures
#: (overlap104 needs ELF64's field order: in ELF32, e_ehsize|e_phentsize<<16
#: would be p_offset, 2 MiB past a tiny file)
GENERIC = (Strict(), Overlap112(), Overlap104(), Overlap103())
_GENERIC_BY_CLASS = {ELFCLASS64: GENERIC}


def generic_for(elfclass: int) -> tuple:
    """The pure-geometry layouts of one ELF class."""
    if elfclass not in _GENERIC_BY_CLASS:
        es = structs_for(elfclass)
        _GENERIC_BY_CLASS[elfclass] = (Strict(es), Overlap112(es))
    return _GENERIC_BY_CLASS[elfclass]


def for_arch(arch) -> tuple:
    """Every layout for ``arch``, largest header first: the generic ones of
    its ELF class, then the arch's own (``Arch.header_layouts``: layouts whose
    header bytes execute or that depend on the machine)."""
    return generic_for(arch.elf_class) + tuple(arch.header_layouts())


def every() -> dict:
    """name -> layout, over every registered architecture (for the command
    line and for reading reports; names are unique)."""
    from .. import arch as archmod
    out = {l.name: l for l in GENERIC}
    for name in archmod.names():
        arch = archmod.get(name)
        for l in for_arch(arch):
            out.setdefault(l.name, l)
    return out


def get(name: str, arch=None) -> LayoutSpec:
    """The layout called ``name`` (for ``arch``, when given)."""
    known = for_arch(arch) if arch is not None else tuple(every().values())
    for spec in known:
        if spec.name == name:
            return spec
    names = ", ".join(l.name for l in known)
    where = f" for {arch.name}" if arch is not None else ""
    raise LayoutError(f"unknown layout '{name}'{where} (choose from: auto, {names})")


def candidates(name: str, arch) -> list[LayoutSpec]:
    """The layouts to try for ``--layout name`` ("auto": every layout of
    ``arch`` but the opt-in ones, see ``LayoutSpec.auto``)."""
    if name in (None, "", "auto"):
        return [l for l in for_arch(arch) if l.auto]
    return [get(name, arch)]


def wants_pic(arch) -> bool:
    """True: position-independent code (no absolute 32-bit relocations; use
    ``-C relocation-model=pie`` for rustc, ``-fPIE``/``-fPIC`` for gcc) can
    unlock a smaller layout that ``--layout auto`` may choose (overlap80,
    whose base lies above 4 GiB; an explicit layout says what it needs by
    ``abs32_ok``).  For
    ``tinyelf build`` to decide whether to compile PIC; it should then link
    both ways or trust that PIC is never larger by more than the header
    bytes saved (24 bytes against overlap104, more with dyn68)."""
    return any(not l.abs32_ok for l in for_arch(arch) if l.auto)


def segment_flags(writable: bool, wx: bool) -> int:
    if wx or not writable:
        return PF_R | PF_X
    return PF_R | PF_W | PF_X
