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
_MODULES = {"x86_64": "x86_64", "i386": "i386", "aarch64": "aarch64", "riscv64": "riscv64"}
#: e_machine -> arch name
_BY_MACHINE = {62: "x86_64", 3: "i386", 183: "aarch64", 243: "riscv64"}
_LOADED: dict = {}


class Arch:
    """Base class: what the passes need to know about one machine."""
    name: str = ""
    e_machine: int = 0
    elf_class: int = 2           # ELFCLASS64
    default_base: int = 0x400000
    page_size: int = 4096
    ptr_size: int = 8
    #: the end of the user address space a program of this machine gets (4-level
    #: paging: 2**47); the image must end a page below it
    user_top: int = 1 << 47
    #: relocation type -> RelocType; filled by subclasses
    relocs: dict = {}
    #: types of ``relocs`` that only the link itself places (riscv's relaxed
    #: forms): an object that uses them is refused like an unknown type
    internal_relocs: frozenset = frozenset()
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
    #: e_ident bytes from 0 that the kernel reads on this machine (the magic;
    #: riscv also checks EI_CLASS): header holes start after them
    checked_ident: int = 4

    def code_align(self, sec) -> int:
        """The alignment a code section keeps when padding is squeezed out."""
        return max(1, self.min_code_align)

    def try_relax(self, data, offset: int, rtype: int, addend: int):
        """The rewrite for a GOT load that may address its symbol directly, or None."""
        return None

    #: names this machine's linker defines when a program refers to them (beside
    #: tinyelf.linker.resolve.LINKER_DEFINED; riscv: __global_pointer$)
    linker_defined: tuple = ()

    def linker_values(self, link, mem_end: int) -> dict:
        """Values of :attr:`linker_defined` names once the layout has given
        every kept section its address (``mem_end``: where the image ends)."""
        return {}

    def relax(self, link) -> bool:
        """Linker relaxation (riscv): shorten instruction sequences of the
        laid-out ``link`` from its addresses, deleting bytes.  True when a
        section changed (the relax pass then lays the link out again and
        asks again, until nothing changes); machines without it: False."""
        return False

    def scan_section(self, link, sec) -> None:
        """Called by the scan pass for every kept section before its
        relocations are looked at: an arch may rewrite instruction pairs
        (AArch64's ADRP+LDR GOT loads) here.  Default: nothing."""

    def merge_flags(self, objects) -> int:
        """The output's e_flags from the inputs' (InputError on a mismatch)."""
        return 0

    # ---- assembly the link adds: builtins and the start stub (tinyelf/arch/prebuilt.py)
    #: name -> assembly source of one function (memcpy & co.), linked for
    #: names that nothing else defines (tinyelf.linker.builtins)
    builtins: dict = {}
    #: assembly source of a ``_start`` that calls ``main`` (tinyelf.linker.stub); "" = none
    start_stub: str = ""
    #: the syntax of assembly sources (tinyelf.asm.syntax.AsmSyntax); None: the
    #: arch takes no assembly inputs (x86-64 makes its own on first use)
    asm_syntax = None

    def assemble(self, source: str, name: str) -> bytes:
        """Machine code for one builtin's source (keystone; arches without it override)."""
        from ..asm import assemble
        return assemble(source, self, name=name)

    def assemble_object(self, source: str, name: str):
        """A whole assembly source -> ObjectFile (keystone; arches without it override)."""
        from ..asm import assemble_source
        return assemble_source(source, name, self)

    def _prebuilt(self) -> dict:
        table = self.__dict__.get("_table")
        if table is None:
            try:
                mod = importlib.import_module(f"{__name__}.{_MODULES[self.name]}.prebuilt")
                table = mod.TABLE
            except ImportError:
                table = {}
            self._table = table
        return table

    def builtin_code(self, func: str) -> bytes:
        """The machine code of builtin ``func`` (prebuilt, else assembled now)."""
        from .prebuilt import key
        src = self.builtins[func]
        hit = self._prebuilt().get(key(src))
        return bytes.fromhex(hit) if hit is not None else self.assemble(src, f"<tinyelf builtin {func}>")

    def start_stub_object(self, name: str):
        """The start stub as an ObjectFile named ``name``, or None when the arch has none."""
        if not self.start_stub:
            return None
        from .prebuilt import key, thaw
        hit = self._prebuilt().get(key(self.start_stub))
        return thaw(name, hit) if hit is not None else self.assemble_object(self.start_stub, name)

    def header_layouts(self) -> tuple:
        """The arch's own header layouts (LayoutSpec instances) beside the
        generic ones: those whose header bytes execute as this machine's code."""
        return ()

    def trace_hints(self):
        """What ``inspect`` needs to follow code from the entry (path ends,
        branch targets, syscalls and their registers: see
        arch/x86_64/trace.py): the ``TRACE`` of the arch's ``trace`` module,
        or None when it has none."""
        hints = self.__dict__.get("_trace")
        if hints is None:
            try:
                hints = importlib.import_module(f"{__name__}.{_MODULES[self.name]}.trace").TRACE
            except ImportError:
                hints = False
            self._trace = hints
        return hints or None

    # ---- code: what the layout, the code splitter and function folding ask
    #: mnemonics after which execution never falls through
    terminators: frozenset = frozenset()
    #: sizes of the unconditional jumps the layout may write, shortest first
    #: (the code splitter continues a piece with the shortest); () = none
    jump_sizes: tuple = ()

    def encode_jump(self, at: int, target: int, size: int) -> bytes | None:
        """The ``size``-byte jump placed at address ``at`` to ``target``, or
        None when the distance does not fit that form."""
        return None

    def pc_bias(self, spec: RelocType) -> int:
        """The addend of a PC-relative reference to a symbol's own address
        (x86: minus the field size, since P is the field and the CPU counts
        from the instruction's end; RISC machines: 0)."""
        return 0

    def ties_instructions(self, spec: RelocType) -> bool:
        """True when a relocation of this type relates two instructions (their
        distance is in the addend), so code around it must not be split."""
        return spec.formula == F_GOTPC

    def is_direct_branch(self, data, r_off: int, spec: RelocType, addend: int) -> bool:
        """True when the relocation at ``r_off`` is the target of a direct call
        or jump to the symbol's first byte (function folding may redirect it)."""
        return False

    def prefix_safe(self, code: bytes, prefix: bytes) -> bool:
        """True when executing ``prefix + code`` runs the same first
        instruction as ``code`` (a layout whose entry starts inside the header)."""
        return not prefix

    def decode_insns(self, data: bytes):
        """``[(start, end, mnemonic, relative targets)]`` for a code section
        without a disassembler, or None (then capstone decodes it)."""
        return None

    def capstone_insns(self, data: bytes):
        """The same as :meth:`decode_insns`, by capstone; None when the arch
        cannot say where relative references go (then code is not split)."""
        return None

    byteorder: str = "little"

    #: names of the relocation types tinyelf refuses, for messages
    unsupported_names: dict = {}

    def reloc_name(self, rtype: int) -> str:
        spec = self.relocs.get(rtype)
        if spec and rtype not in self.internal_relocs:
            return spec.name
        return self.unsupported_names.get(rtype, f"unknown relocation type {rtype}")

    def range_of(self, spec: RelocType):
        """(low, high) of the values the field can hold, or None if any fits."""
        return None

    def field_align(self, spec: RelocType) -> int:
        """The multiple a field's value must be (instruction offsets scaled by
        the instruction size); 1 for data fields."""
        return 1

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

    def got_value(self, data, r_off: int, slot: int, got_addr: int, A: int) -> int:
        """The value of a GOT-slot relocation (F_GOT: G + A, the slot's
        offset from the GOT); machines whose field depends on the instruction
        (i386: a base register or not) override this."""
        return slot + A

    def decompressor(self, codec: str, wx: bool):
        """The decompressor stub for ``codec`` ('lz', 'cm'): ``(code, relocs)``
        (relocs = [(offset, type, symbol name, addend)] naming the symbols of
        tinyelf.compress), the decoder followed by the exit (``wx``: make the
        program's code R+X first); None when this machine has none."""
        return None

    def split_jump_target(self, read, addr: int):
        """Where the jump the layout inserts between pieces of split code, at
        ``addr``, goes (``read(addr, n)`` gives memory bytes); None if there is none."""
        return None

    def arch_value(self, link, sec, r_off: int, spec: RelocType, S: int, A: int, P: int, sym) -> int:
        """The value of a relocation whose formula is the arch's own (>= F_ARCH)."""
        raise NotImplementedError(f"{self.name}: formula {spec.formula} of {spec.name}")


_cs: dict = {}


def new_capstone(arch):
    """A fresh capstone ``Cs`` for ``arch``: ``arch.capstone`` names its
    architecture, then the modes or'd together (riscv64: RV64 + compressed)."""
    import capstone
    mode = 0
    for name in arch.capstone[1:]:
        mode |= getattr(capstone, name)
    return capstone.Cs(getattr(capstone, arch.capstone[0]), mode)


def capstone_for(arch):
    """``(capstone module, Cs instance with details)`` for ``arch``, cached:
    capstone is imported only when something is disassembled."""
    if arch.name not in _cs:
        import capstone
        md = new_capstone(arch)
        md.detail = True
        _cs[arch.name] = (capstone, md)
    return _cs[arch.name]


def names() -> list[str]:
    return sorted(_MODULES)


def get(name: str) -> Arch:
    """The architecture called ``name`` ('x86_64', ...)."""
    name = name.replace("-", "_")
    if name in ("x86-64", "amd64"):
        name = "x86_64"
    if name in ("x86", "i686", "i586", "ia32", "elf_i386"):
        name = "i386"
    if name not in _MODULES:
        raise UsageError(f"unknown architecture '{name}' (supported: {', '.join(names())})")
    if name not in _LOADED:
        mod = importlib.import_module(f".{_MODULES[name]}", __name__)
        _LOADED[name] = mod.ARCH
    return _LOADED[name]


def host() -> Arch:
    """The architecture of the machine tinyelf runs on (what `demo` builds for)."""
    import platform
    return get({"aarch64": "aarch64", "arm64": "aarch64", "riscv64": "riscv64",
                "i686": "i386", "i386": "i386"}.get(platform.machine(), "x86_64"))


def for_machine(e_machine: int):
    """The architecture for an ELF e_machine value, or None if unsupported."""
    name = _BY_MACHINE.get(e_machine)
    return get(name) if name else None
