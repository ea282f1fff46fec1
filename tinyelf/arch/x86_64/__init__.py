"""x86-64: e_machine 62, the psABI relocation table, GOT relaxation.

Relocation formulas (System V AMD64 psABI, table 4.10), with
S = symbol address, A = addend, P = address of the field, G = offset of the
symbol's GOT entry in the GOT, GOT = address of the GOT, Z = symbol size.
tinyelf makes static executables without a PLT, so L (the PLT entry) is S.
"""
from __future__ import annotations

from .. import (Arch, C_BITFIELD, C_NONE, C_SIGNED, C_UNSIGNED, F_ABS, F_GOT, F_GOTOFF,
               F_GOTPC, F_GOTPCREL, F_NONE, F_PC, F_SIZE, RelocType, capstone_for)

R_X86_64_GOTPCREL = 9
R_X86_64_GOTPCRELX = 41
R_X86_64_REX_GOTPCRELX = 42

RELOCS = {
    0: RelocType("R_X86_64_NONE", 0, F_NONE, C_NONE),
    1: RelocType("R_X86_64_64", 8, F_ABS, C_NONE),
    2: RelocType("R_X86_64_PC32", 4, F_PC, C_SIGNED),
    3: RelocType("R_X86_64_GOT32", 4, F_GOT, C_SIGNED),
    4: RelocType("R_X86_64_PLT32", 4, F_PC, C_SIGNED),
    9: RelocType("R_X86_64_GOTPCREL", 4, F_GOTPCREL, C_SIGNED),
    10: RelocType("R_X86_64_32", 4, F_ABS, C_UNSIGNED),
    11: RelocType("R_X86_64_32S", 4, F_ABS, C_SIGNED),
    12: RelocType("R_X86_64_16", 2, F_ABS, C_BITFIELD),
    13: RelocType("R_X86_64_PC16", 2, F_PC, C_SIGNED),
    14: RelocType("R_X86_64_8", 1, F_ABS, C_BITFIELD),
    15: RelocType("R_X86_64_PC8", 1, F_PC, C_SIGNED),
    24: RelocType("R_X86_64_PC64", 8, F_PC, C_NONE),
    25: RelocType("R_X86_64_GOTOFF64", 8, F_GOTOFF, C_NONE),
    26: RelocType("R_X86_64_GOTPC32", 4, F_GOTPC, C_SIGNED),
    27: RelocType("R_X86_64_GOT64", 8, F_GOT, C_NONE),
    28: RelocType("R_X86_64_GOTPCREL64", 8, F_GOTPCREL, C_NONE),
    29: RelocType("R_X86_64_GOTPC64", 8, F_GOTPC, C_NONE),
    31: RelocType("R_X86_64_PLTOFF64", 8, F_GOTOFF, C_NONE),
    32: RelocType("R_X86_64_SIZE32", 4, F_SIZE, C_UNSIGNED),
    33: RelocType("R_X86_64_SIZE64", 8, F_SIZE, C_NONE),
    R_X86_64_GOTPCRELX: RelocType("R_X86_64_GOTPCRELX", 4, F_GOTPCREL, C_SIGNED),
    R_X86_64_REX_GOTPCRELX: RelocType("R_X86_64_REX_GOTPCRELX", 4, F_GOTPCREL, C_SIGNED),
}

#: names of the types tinyelf refuses, for messages
UNSUPPORTED_NAMES = {
    5: "R_X86_64_COPY", 6: "R_X86_64_GLOB_DAT", 7: "R_X86_64_JUMP_SLOT",
    8: "R_X86_64_RELATIVE", 16: "R_X86_64_DTPMOD64", 17: "R_X86_64_DTPOFF64",
    18: "R_X86_64_TPOFF64", 19: "R_X86_64_TLSGD", 20: "R_X86_64_TLSLD",
    21: "R_X86_64_DTPOFF32", 22: "R_X86_64_GOTTPOFF", 23: "R_X86_64_TPOFF32",
    30: "R_X86_64_GOTPLT64", 34: "R_X86_64_GOTPC32_TLSDESC",
    35: "R_X86_64_TLSDESC_CALL", 36: "R_X86_64_TLSDESC", 37: "R_X86_64_IRELATIVE",
    38: "R_X86_64_RELATIVE64", 43: "R_X86_64_CODE_4_GOTPCRELX",
    44: "R_X86_64_CODE_4_GOTTPOFF", 45: "R_X86_64_CODE_4_GOTPC32_TLSDESC",
}
TLS_TYPES = {16, 17, 18, 19, 20, 21, 22, 23, 34, 35, 36, 44, 45}

_RANGES = {}
for _size in (1, 2, 4, 8):
    _bits = _size * 8
    _RANGES[(_size, C_SIGNED)] = (-(1 << (_bits - 1)), (1 << (_bits - 1)) - 1)
    _RANGES[(_size, C_UNSIGNED)] = (0, (1 << _bits) - 1)
    _RANGES[(_size, C_BITFIELD)] = (-(1 << (_bits - 1)), (1 << _bits) - 1)


class X86_64(Arch):
    name = "x86_64"
    e_machine = 62
    elf_class = 2
    default_base = 0x400000
    relocs = RELOCS
    tls_types = frozenset(TLS_TYPES)
    capstone = ("CS_ARCH_X86", "CS_MODE_64")
    keystone = ("KS_ARCH_X86", "KS_MODE_64")
    bfd = ("elf64-x86-64", "i386:x86-64")   # GNU ld's OUTPUT_FORMAT, OUTPUT_ARCH

    terminators = frozenset({"jmp", "ret", "ud2"})
    jump_sizes = (2, 5)              # eb rel8, e9 rel32

    def encode_jump(self, at: int, target: int, size: int) -> bytes | None:
        rel = target - (at + size)
        if size == 2:
            return bytes([0xEB, rel & 0xFF]) if -128 <= rel <= 127 else None
        if size == 5 and -(1 << 31) <= rel < (1 << 31):
            return b"\xe9" + (rel & 0xFFFFFFFF).to_bytes(4, "little")
        return None

    def pc_bias(self, spec: RelocType) -> int:
        return -spec.size if spec.formula == F_PC else 0

    def ties_instructions(self, spec: RelocType) -> bool:
        # GOT + A - P, and 64-bit PC-relative fields: the large code model's
        # "lea -7(%rip), %rbx; movabs $X-(.-7), %r11" idiom, whose addend is
        # the distance between two instructions: they must stay together
        return spec.formula == F_GOTPC or (spec.formula in (F_PC, F_GOTPCREL) and spec.size == 8)

    def is_direct_branch(self, data, r_off: int, spec: RelocType, addend: int) -> bool:
        """``call rel32`` (e8) or ``jmp rel32`` (e9) to the symbol itself."""
        return (spec.formula == F_PC and spec.size == 4 and addend == -4 and r_off >= 1
                and data[r_off - 1] in (0xE8, 0xE9))

    def prefix_safe(self, code: bytes, prefix: bytes) -> bool:
        capstone, md = capstone_for(self)
        a = next(md.disasm(bytes(code[:15]), len(prefix)), None)
        b = next(md.disasm(bytes(prefix) + bytes(code[:15]), 0), None)
        if a is None or b is None:
            return False
        return b.size == a.size + len(prefix) and (a.mnemonic, a.op_str) == (b.mnemonic, b.op_str)

    def capstone_insns(self, data: bytes):
        """Instructions as capstone decodes them; stops at the first byte it
        cannot decode.  None when an instruction has a relative target
        capstone does not report."""
        capstone, md = capstone_for(self)
        from capstone import x86
        out = []
        jump, call = capstone.CS_GRP_JUMP, capstone.CS_GRP_CALL
        brel = getattr(capstone, "CS_GRP_BRANCH_RELATIVE", -1)
        for insn in md.disasm(data, 0):
            start, end = insn.address, insn.address + insn.size
            groups = insn.groups
            rel = jump in groups or call in groups or brel in groups
            targets = []
            for op in insn.operands:
                if op.type == x86.X86_OP_IMM and rel:
                    targets.append(op.imm)
                elif op.type == x86.X86_OP_MEM and op.mem.base == x86.X86_REG_RIP:
                    targets.append(end + op.mem.disp)
            if insn.mnemonic.startswith(("loop", "jrcxz", "jecxz", "xbegin")) and not targets:
                return None       # a relative target capstone did not report
            out.append((start, end, insn.mnemonic, targets))
        return out

    @property
    def asm_syntax(self):
        """Intel syntax for tinyelf.asm (tinyelf/arch/x86_64/asm_syntax.py)."""
        syntax = self.__dict__.get("_asm_syntax")
        if syntax is None:
            from .asm_syntax import X86Syntax
            syntax = self._asm_syntax = X86Syntax(self)
        return syntax

    def trace_hints(self):
        from .trace import TRACE
        return TRACE

    def header_layouts(self) -> tuple:
        from .layouts import LAYOUTS
        return LAYOUTS

    def decode_insns(self, data: bytes):
        """Instruction boundaries, terminators and relative targets from the
        opcode tables (tinyelf.arch.x86_64.insn); None for what they do not
        cover (the caller asks capstone)."""
        from .insn import decode
        return decode(data)

    unsupported_names = UNSUPPORTED_NAMES

    def range_of(self, spec: RelocType):
        """(low, high) of the values the field can hold, or None if any fits."""
        if spec.check == C_NONE:
            return None
        return _RANGES[(spec.size, spec.check)]

    def try_relax(self, data, offset: int, rtype: int, addend: int) -> str | None:
        """Decide whether a GOTPCRELX load can be turned into direct addressing.

        Returns the rewrite to do ('lea', 'call', 'jmp') or None when the
        instruction must keep going through a GOT entry.  Follows the psABI's
        rules: only R_X86_64_GOTPCRELX / REX_GOTPCRELX, only with addend -4,
        only for ``mov foo@GOTPCREL(%rip), %reg`` (8b /r -> 8d /r lea),
        ``call *foo@GOTPCREL(%rip)`` (ff 15 -> 67 e8) and
        ``jmp *foo@GOTPCREL(%rip)`` (ff 25 -> e9 .. 90).
        """
        if rtype not in (R_X86_64_GOTPCRELX, R_X86_64_REX_GOTPCRELX) or addend != -4:
            return None
        if offset < 2:
            return None
        op, modrm = data[offset - 2], data[offset - 1]
        if op == 0x8B and (modrm & 0xC7) == 0x05:
            return "lea"
        if rtype == R_X86_64_GOTPCRELX and op == 0xFF and modrm == 0x15:
            return "call"
        if rtype == R_X86_64_GOTPCRELX and op == 0xFF and modrm == 0x25:
            return "jmp"
        return None

    def decompressor(self, codec: str, wx: bool):
        """payload.asm, unlz.asm / uncm.asm, exit.asm; with --wx enter_wx.asm,
        payload_pic.asm, the decoder, exit_wx.asm (stored bytes,
        stubs/built.py).  --wx's stub is position-independent (it maps the
        program's memory itself): its file may use layout overlap80, above
        4 GiB."""
        from .stubs import stored
        from .stubs.built import STUBS
        name = {"lz": "unlz", "cm": "uncm"}.get(codec)
        if name not in STUBS:
            return None
        parts = (["enter_wx", "payload_pic", name, "exit_wx"] if wx else ["payload", name, "exit"])
        code, relocs = b"", []
        for part in parts:
            more, more_relocs = stored(part)
            relocs += [(off + len(code), t, sym, a) for off, t, sym, a in more_relocs]
            code += more
        return code, relocs

    def split_jump_target(self, read, addr: int):
        """``jmp rel8`` (eb) or ``jmp rel32`` (e9) at ``addr``: its target."""
        op = read(addr, 1)
        if op == b"\xeb":
            rel = read(addr + 1, 1)
            return None if rel is None else addr + 2 + int.from_bytes(rel, "little", signed=True)
        if op == b"\xe9":
            rel = read(addr + 1, 4)
            return None if rel is None else addr + 5 + int.from_bytes(rel, "little", signed=True)
        return None

    @staticmethod
    def rewrite_relaxed(buf: bytearray, pos: int, kind: str, S: int, A: int, P: int, got_addr=0):
        """Rewrite the instruction whose GOT displacement starts at ``buf[pos]``
        (address ``P``) to address ``S`` directly.  Returns ``(field_pos,
        value)``: where the new 32-bit PC-relative field goes and its value,
        for the caller to range-check and store."""
        if kind == "lea":                      # mov disp(%rip),%r -> lea disp(%rip),%r
            buf[pos - 2] = 0x8D
            return pos, S + A - P
        if kind == "call":                     # call *disp(%rip) -> addr32 call rel32
            buf[pos - 2] = 0x67
            buf[pos - 1] = 0xE8
            return pos, S + A - P
        if kind == "jmp":                      # jmp *disp(%rip) -> jmp rel32; nop
            buf[pos - 2] = 0xE9
            buf[pos + 3] = 0x90
            return pos - 1, S - (P + 3)
        raise ValueError(kind)  # pragma: no cover - programming error


from .asmsrc import BUILTINS, START_STUB  # noqa: E402

X86_64.builtins = BUILTINS
X86_64.start_stub = START_STUB

ARCH = X86_64()
