"""tinyelf's own model of a link: plain dataclasses, no lief objects.

The passes hand a single :class:`Link` from one to the next:

    read -> stub -> resolve -> collect -> merge -> scan -> squeeze -> layout -> relax -> relocate -> write

Each pass fills in the fields documented below and leaves the earlier ones
alone, so any pass can be inspected (or tested) on its own.

Relocations are kept as plain tuples ``(offset, type, symbol_index, addend)``
because libcore alone carries 24,000 of them and tuples are the cheapest
Python value; they are decoded lazily, only for sections that the link keeps.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..arch import F_ABS, F_GOTOFF, F_PC
from ..elf.defs import (SHF_ALLOC, SHF_EXECINSTR, SHF_WRITE, SHN_ABS,
                      SHN_COMMON, SHN_UNDEF, SHT_NOBITS, STB_LOCAL, STB_WEAK)

Reloc = tuple  # (offset, type, symbol_index, addend)

# output classes, in image order
CLASS_TEXT, CLASS_RODATA, CLASS_DATA, CLASS_BSS = 0, 1, 2, 3
CLASS_NAMES = ("code", "read-only data", "data", "bss")


@dataclass(eq=False, slots=True)
class Section:
    """One input section (or a section tinyelf synthesises)."""
    obj: "ObjectFile"
    index: int
    name: str
    type: int
    flags: int
    size: int
    align: int
    entsize: int = 0
    data: bytes | memoryview = b""   # empty for SHT_NOBITS
    group: str | None = None       # COMDAT signature, if in a group
    _relocs: list | None = None
    _load_relocs: Callable[[], list] | None = None
    # filled in by layout
    addr: int = -1
    offset: int = -1                  # file offset, -1 when not in the file
    #: set by the layout when it split straight-line code across header
    #: holes: ``[(sec_offset, length, addr, file_offset), ...]`` in section
    #: order.  ``addr``/``offset`` then describe the first piece; use
    #: :meth:`address_of` / :meth:`file_offset_of` for any other offset.
    #: None for an ordinary contiguous section.
    pieces: list | None = None

    @property
    def relocs(self) -> list:
        """The section's relocations, decoded on first use."""
        if self._relocs is None:
            self._relocs = self._load_relocs() if self._load_relocs else []
            self._load_relocs = None
        return self._relocs

    def _piece(self, off: int) -> tuple:
        """The piece ``(start, length, addr, file_offset)`` holding byte
        ``off`` of a split section (the last piece for an offset past them)."""
        for piece in self.pieces:
            if piece[0] <= off < piece[0] + piece[1]:
                return piece
        return self.pieces[-1]

    def address_of(self, off: int) -> int:
        """Address of byte ``off`` of this section (split sections included)."""
        if self.pieces:
            start, _length, addr, _foff = self._piece(off)
            return addr + off - start
        return self.addr + off

    def file_offset_of(self, off: int) -> int:
        """File offset of byte ``off`` of this section (-1 when not in the file)."""
        if self.offset < 0:
            return -1
        if self.pieces:
            start, _length, _addr, foff = self._piece(off)
            return foff + off - start
        return self.offset + off

    @property
    def is_nobits(self) -> bool:
        return self.type == SHT_NOBITS

    @property
    def out_class(self) -> int:
        if self.flags & SHF_EXECINSTR:
            return CLASS_TEXT
        if self.type == SHT_NOBITS:
            return CLASS_BSS
        if self.flags & SHF_WRITE:
            return CLASS_DATA
        return CLASS_RODATA

    @property
    def is_alloc(self) -> bool:
        return bool(self.flags & SHF_ALLOC)

    def where(self) -> str:
        return f"{self.obj.name}:{self.name}"

    def __repr__(self) -> str:
        return f"<Section {self.where()} size={self.size}>"


@dataclass(eq=False, slots=True)
class Symbol:
    """One symbol table entry of one object file."""
    name: str
    bind: int
    type: int
    visibility: int
    shndx: int
    value: int
    size: int
    obj: "ObjectFile"
    index: int
    section: Section | None = None
    #: st_shndx was SHN_XINDEX: ``shndx`` is a real section index from the
    #: SHT_SYMTAB_SHNDX table, even where it reads like SHN_ABS or SHN_COMMON
    extended: bool = False

    @property
    def is_local(self) -> bool:
        return self.bind == STB_LOCAL

    @property
    def is_weak(self) -> bool:
        return self.bind == STB_WEAK

    @property
    def is_undefined(self) -> bool:
        return self.shndx == SHN_UNDEF

    @property
    def is_common(self) -> bool:
        return self.shndx == SHN_COMMON and not self.extended

    @property
    def is_abs(self) -> bool:
        return self.shndx == SHN_ABS and not self.extended

    def __repr__(self) -> str:
        return f"<Symbol {self.name} in {self.obj.name}>"


@dataclass(eq=False)
class Group:
    """A section group (SHT_GROUP); COMDAT groups are deduplicated by signature."""
    signature: str
    comdat: bool
    members: list[int]


@dataclass(eq=False)
class ObjectFile:
    """A relocatable object, read by tinyelf.elf.reader (or synthesised).

    ``sections`` is indexed like the file's section header table; entries for
    sections that carry no loadable content (symbol and string tables,
    relocation tables, groups) are ``None``.
    """
    name: str
    sections: list
    symbols: list[Symbol]
    groups: list[Group] = field(default_factory=list)
    #: sections the reader saw that tinyelf cannot link (e.g. .init_array);
    #: name -> reason, checked when the object is part of the link
    unsupported: dict = field(default_factory=dict)
    from_archive: bool = False
    #: sections left out when reading: (name, reason), for the link map
    ignored: list = field(default_factory=list)
    #: DWARF sections (.debug_*), by section index: never linked into the
    #: output, kept with their relocations for the debug sidecar
    debug: dict = field(default_factory=dict)
    #: the ELF header's e_machine and e_flags (0: made by tinyelf, any machine)
    machine: int = 0
    e_flags: int = 0

    def __repr__(self) -> str:
        return f"<ObjectFile {self.name}>"


@dataclass
class LinkOptions:
    entry: str = "_start"
    base: int | None = None        # None: the architecture's default
    gc_sections: bool = True
    #: None: the machine of the inputs (x86_64 when no input says)
    arch: str | None = None
    #: names to start from as if something referred to them (GNU ld's -u):
    #: archive members defining them are pulled in and their sections kept
    undefined: tuple = ()
    #: like ``undefined``, and the link fails when nothing defines them
    #: (GNU ld's --require-defined)
    require_defined: tuple = ()
    #: ``--verify``: parse every object with lief too and cross-check it against
    #: tinyelf's own struct-validated reading (tinyelf.elf.lief_check).  Off by
    #: default: lief's import alone costs 0.5-1.2 s from lief 0.16 on
    lief: bool = False
    # --- squeeze (issue 4): layouts, header holes, size passes, W^X ---------
    #: layout name (see tinyelf.linker.layouts.NAMES) or "auto": the smallest that fits
    layout: str = "auto"
    #: separate R+X and R+W segments (no page both writable and executable)
    wx: bool = False
    #: fill the header bytes the kernel ignores with sections that fit
    holes: bool = True
    #: split straight-line code across holes with short jumps
    split_code: bool = True
    #: SHF_MERGE|SHF_STRINGS deduplication with tail merging
    merge_strings: bool = True
    #: identical code folding
    fold_functions: bool = True
    #: drop code alignment padding (not where hot code keeps it: linker/hot.py)
    squeeze_align: bool = True
    #: every byte regardless of run time: the size passes spare no hot code
    #: (no alignment kept for loops, code split even where it runs in loops)
    every_byte: bool = False
    #: trailing zero bytes become bss (p_filesz shortened)
    trim_zeros: bool = True
    #: linker relaxation (riscv: call -> jal, lui/auipc pairs -> gp-relative or
    #: compressed forms, alignment padding cut); ``--no-relax`` turns the rewrites off
    relax: bool = True
    #: compressed executable (tinyelf.compress): "none", "auto", or a codec name ("lz", "cm")
    compress: str = "none"


@dataclass
class Segment:
    """One PT_LOAD as the layout decided it."""
    offset: int
    vaddr: int
    filesz: int
    memsz: int
    flags: int
    align: int = 4096
    #: p_paddr; None: the same as vaddr (overlap80 needs e_phentsize there)
    paddr: int | None = None


@dataclass
class Hole:
    """Header bytes the kernel ignores, and what the layout put there."""
    offset: int
    size: int
    field: str                          # e.g. "e_ident[4:16]", "p_paddr"
    used: list = field(default_factory=list)   # [(offset, size, what)]


@dataclass
class Layout:
    """What the layout pass decided: every number the writer needs.

    ``header_size`` is where the headers end (the ELF header and program
    header table, overlapped or not); content may start before it when the
    layout lets it overlap ignored fields (``content_start``).  ``ehdr`` holds
    every ELF header field value (names as in elfdefs.EHDR64's comment);
    program header values come from ``segments`` (``p_offset`` of a segment
    is its ``offset``).  ``holes`` lists the ignored header bytes and what
    went into them; ``patches`` are bytes the layout adds itself (short
    jumps that continue split code): ``[(file_offset, bytes, what)]``.
    ``image_size`` is what the relocate pass fills; the written file is
    ``file_size`` bytes (the rest were zeros that became bss).
    """
    base: int
    header_size: int
    segments: list[Segment]
    entry: int
    file_size: int
    mem_end: int
    got: Section | None = None
    name: str = "strict"
    phoff: int = 64
    ehdr: dict = field(default_factory=dict)
    holes: list = field(default_factory=list)
    patches: list = field(default_factory=list)
    image_size: int = 0
    content_start: int = 0
    #: other layouts considered: [(name, size or None, reason)]
    considered: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    #: the tinyelf.linker.layouts.LayoutSpec that made it (None in hand-made models)
    spec: object = None


@dataclass
class Link:
    """The whole link, handed from pass to pass."""
    options: LinkOptions
    arch: object = None
    #: the output's e_flags (Arch.merge_flags of the inputs': riscv's RVC and float ABI)
    e_flags: int = 0
    objects: list[ObjectFile] = field(default_factory=list)
    archives: list = field(default_factory=list)          # lazily loaded members
    # resolve
    globals: dict[str, Symbol] = field(default_factory=dict)
    synthetic: ObjectFile | None = None
    # collect
    kept: list[Section] = field(default_factory=list)
    dropped: dict = field(default_factory=dict)            # Section -> reason
    # scan
    got_symbols: list[Symbol] = field(default_factory=list)
    relaxed: dict = field(default_factory=dict)             # (Section, offset) -> rewrite
    got: Section | None = None
    # squeeze: {size pass: what it saved}, for the report
    squeezed: dict = field(default_factory=dict)
    #: squeeze: the code the size passes spare (tinyelf.linker.hot.HotCode)
    hot: object = None
    # layout
    layout: Layout | None = None
    #: relax: what the arch's relaxation keeps between its rounds (Arch.relax)
    relaxation: object = None
    # relocate
    image: bytearray | None = None
    # write
    output: bytes | None = None
    #: [(pass name, wall seconds)] in order, filled by the driver
    timings: list = field(default_factory=list)
    #: compressed output (tinyelf.compress): the link of the program inside
    #: (what --map and --debug-sidecar describe) and what the compression did
    inner: "Link | None" = None
    compression: dict | None = None

    def references(self):
        """``(section, offset, type, addend, target)`` for every relocation of
        every kept section that names a symbol, ``target`` resolved as
        :meth:`target` does."""
        target = self.target
        for sec in self.kept:
            obj = sec.obj
            for r_off, rtype, symidx, addend in sec.relocs:
                if symidx:
                    yield sec, r_off, rtype, addend, target(obj, symidx)

    def referred_offset(self, spec, sym: Symbol, addend: int) -> int | None:
        """Which byte of ``sym``'s section a relocation means: the symbol's
        value plus the addend, less the arch's PC bias for a PC-relative field
        (x86: the addend of ``call foo`` is -4 and means foo's first byte).
        None for formulas that name no byte (GOT slots, sizes, the arch's
        own).  Every pass that asks "where does this point" asks here."""
        f = spec.formula
        if f == F_PC:
            return sym.value + addend - self.arch.pc_bias(spec)
        if f in (F_ABS, F_GOTOFF):
            return sym.value + addend
        return None

    def target(self, obj: ObjectFile, symidx: int) -> Symbol:
        """The symbol a relocation in ``obj`` with ``symidx`` really refers to:
        local symbols are themselves, global ones the resolved definition (or
        the undefined reference itself when nothing defines it)."""
        sym = obj.symbols[symidx]
        if sym.bind == STB_LOCAL:
            return sym
        return self.globals.get(sym.name, sym)


def symbol_address(sym: Symbol) -> int:
    """Final address of a resolved symbol, once the layout has run: its
    section's address plus its value; its value when absolute; 0 for an
    undefined (weak) reference."""
    if sym.section is not None:
        return sym.section.address_of(sym.value)
    if sym.shndx == 0:
        return 0
    return sym.value
