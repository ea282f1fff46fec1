"""Architecture registry.

Each supported machine is a module ``tinyelf.arch.<name>`` defining an
:class:`Arch` subclass and registering it here.  Adding i386 or aarch64 means a
new file, not a new branch in the passes: they ask the arch object for
e_machine, relocation behaviour, stubs and disassembler modes.
"""
from __future__ import annotations

import importlib
from collections import namedtuple

from ..errors import UsageError

# Relocation formula kinds shared by all architectures (psABI notation:
# S symbol, A addend, P place, G GOT slot offset, GOT GOT address, Z size).
F_NONE = 0       # no-op
F_ABS = 1        # S + A
F_PC = 2         # S + A - P
F_GOTPCREL = 3   # G + GOT + A - P
F_GOTPC = 4      # GOT + A - P
F_GOTOFF = 5     # S + A - GOT
F_GOT = 6        # G + A
F_SIZE = 7       # Z + A
#: formulas from F_ARCH on are the architecture's own (Arch.arch_value computes them)
F_ARCH = 100

# overflow checks: none, signed, unsigned, either (GNU ld's "bitfield")
C_NONE, C_SIGNED, C_UNSIGNED, C_BITFIELD = 0, 1, 2, 3


#: one relocation type: its name, the bytes of its field, its formula (F_*),
#: its overflow check (C_*) and, for instruction bit-fields, the arch's name for
#: how the value goes into the field (None: the whole field, in the arch's byte order)
RelocType = namedtuple("RelocType", "name size formula check field", defaults=(None,))

_MASKS = {1: 0xFF, 2: 0xFFFF, 4: 0xFFFFFFFF, 8: 0xFFFFFFFFFFFFFFFF}

#: arch name -> module name; modules are imported only when asked for
_MODULES = {"x86_64": "x86_64", "aarch64": "aarch64", "riscv64": "riscv64"}
#: e_machine -> arch name
_BY_MACHINE = {62: "x86_64", 183: "aarch64", 243: "riscv64"}
_LOADED: dict = {}


class Arch:
    """Base class: what the passes need to know about one machine."""
    name: str = ""
    e_machine: int = 0
    elf_class: int = 2           # ELFCLASS64
    default_base: int = 0x400000
    page_size: int = 4096
    ptr_size: int = 8
    #: relocation type -> RelocType; filled by subclasses
    relocs: dict = {}
    #: relocation types that mean thread-local storage (for messages)
    tls_types: frozenset = frozenset()
    #: GNU ld's names for the output: (OUTPUT_FORMAT, OUTPUT_ARCH)
    bfd: tuple = ("", "")

    #: formulas that need a GOT slot for their symbol (scan allocates one)
    got_formulas: frozenset = frozenset({F_GOTPCREL, F_GOT})
    #: formulas that need the GOT to exist (its address)
    got_base_formulas: frozenset = frozenset({F_GOTPCREL, F_GOT, F_GOTOFF, F_GOTPC})
    #: the smallest alignment a code section may be given (the layout drops
    #: code alignment padding down to this): 1 on x86, the instruction size on RISC
    min_code_align: int = 1
    #: whether the layout may split straight-line code across header holes
    #: (needs the arch's jump encoding: x86-64 only so far)
    can_split_code: bool = True
    #: names of the header layouts whose header bytes this machine executes
    #: (None: every layout); layouts that execute nothing hold everywhere
    header_code_layouts = None
    #: e_ident bytes from 0 that the kernel reads on this machine (the magic;
    #: riscv also checks EI_CLASS): header holes start after them
    checked_ident: int = 4
    #: the start stub as machine code (``start_code``) with its relocations
    #: ``start_relocs`` [(offset, type)] against ``main``; empty: assemble
    #: ``start_stub`` with tinyelf.asm (x86-64)
    start_code: bytes = b""
    start_relocs: tuple = ()
    #: builtins (memcpy, ...) as source and bytes (hex); empty: tinyelf.linker.builtins' x86 table
    builtin_sources: dict = {}
    builtin_hex: dict = {}

    def code_align(self, sec) -> int:
        """The alignment a code section keeps when padding is squeezed out."""
        return max(1, self.min_code_align)

    def runs_layout(self, spec) -> bool:
        """Whether ``spec`` (a header layout) can work on this machine: one
        that starts executing inside the ELF header needs this machine to
        run those bytes (``header_code_layouts``)."""
        return spec.entry_offset is None or self.header_code_layouts is None or \
            spec.name in self.header_code_layouts

    def try_relax(self, data, offset: int, rtype: int, addend: int):
        """The rewrite for a GOT load that may address its symbol directly, or None."""
        return None

    def scan_section(self, link, sec) -> None:
        """Called by the scan pass for every kept section before its
        relocations are looked at: an arch may rewrite instruction pairs
        (AArch64's ADRP+LDR GOT loads) here.  Default: nothing."""

    def merge_flags(self, objects) -> int:
        """The output's e_flags from the inputs' (InputError on a mismatch)."""
        return 0

    def start_object(self):
        """The ObjectFile of the start stub (``_start`` calling ``main``)."""
        if not self.start_code:
            from ..asm import assemble_source
            return assemble_source(self.start_stub, "<start stub>", self)
        from ..elf.defs import STB_GLOBAL, STT_FUNC
        from ..elf.synth import TEXT, make_object
        return make_object("<start stub>", [{
            "name": ".text._start", "flags": TEXT, "data": self.start_code,
            "align": max(self.min_code_align, 1),
            "relocs": [(off, rtype, "main", 0) for off, rtype in self.start_relocs]}],
            [("_start", ".text._start", 0, STB_GLOBAL, STT_FUNC, len(self.start_code))],
            undefined=["main"])

    def builtin_code(self, func: str):
        """Machine code of builtin ``func`` from ``builtin_hex``, or None when
        the arch keeps no such table (x86-64: tinyelf.linker.builtins)."""
        code = self.builtin_hex.get(func)
        return bytes.fromhex(code) if code is not None else None

    def decode_insns(self, data: bytes):
        """``[(start, end, mnemonic, relative targets)]`` for a code section
        without a disassembler, or None (then capstone decodes it)."""
        return None

    byteorder: str = "little"

    def reloc_name(self, rtype: int) -> str:
        spec = self.relocs.get(rtype)
        return spec.name if spec else f"relocation type {rtype}"

    def range_of(self, spec: RelocType):
        """(low, high) of the values the field can hold, or None if any fits."""
        return None

    def field_problem(self, spec: RelocType, value: int) -> str | None:
        """Why ``value`` cannot go into the field of ``spec`` (None if it can):
        out of range, or (instruction fields) not a multiple of the scale."""
        rng = self.range_of(spec)
        if rng is not None and not rng[0] <= value <= rng[1]:
            return (f"value {value:#x} does not fit in {spec.size * 8} bits "
                    f"({'signed' if rng[0] < 0 else 'unsigned'})")
        return None

    def write_field(self, buf, pos: int, spec: RelocType, value: int) -> None:
        """Store a checked ``value`` into the field at ``buf[pos]``: the whole
        field in the arch's byte order; instruction bit-fields override this."""
        size = spec.size
        buf[pos:pos + size] = (value & _MASKS[size]).to_bytes(size, self.byteorder)

    def implicit_addend(self, data, off: int, rtype: int) -> int:
        """The addend a REL relocation keeps in its field (signed, the arch's byte order)."""
        spec = self.relocs.get(rtype)
        size = spec.size if spec else 0
        return int.from_bytes(bytes(data[off:off + size]), self.byteorder, signed=True) if size else 0

    def arch_value(self, link, sec, r_off: int, spec: RelocType, S: int, A: int, P: int, sym) -> int:
        """The value of a relocation whose formula is the arch's own (>= F_ARCH)."""
        raise NotImplementedError(f"{self.name}: formula {spec.formula} of {spec.name}")


def names() -> list[str]:
    return sorted(_MODULES)


def get(name: str) -> Arch:
    """The architecture called ``name`` ('x86_64', ...)."""
    name = name.replace("-", "_")
    if name in ("x86-64", "amd64"):
        name = "x86_64"
    if name not in _MODULES:
        raise UsageError(f"unknown architecture '{name}' (supported: {', '.join(names())})")
    if name not in _LOADED:
        mod = importlib.import_module(f".{_MODULES[name]}", __name__)
        _LOADED[name] = mod.ARCH
    return _LOADED[name]


def for_machine(e_machine: int):
    """The architecture for an ELF e_machine value, or None if unsupported."""
    name = _BY_MACHINE.get(e_machine)
    return get(name) if name else None
