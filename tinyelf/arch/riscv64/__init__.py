"""RISC-V 64 (riscv64): e_machine 243, the psABI relocation table with
instruction-field writers, e_flags (RVC, float ABI) merging.

Formulas: S symbol, A addend, P place; PCREL_LO12_I/S name the *label of
their auipc*, whose PCREL_HI20 (or GOT_HI20) relocation holds the value: the
low 12 bits are that relocation's S + A - P.  tinyelf makes static
executables without a PLT: CALL_PLT is CALL.

Linker relaxation (R_RISCV_RELAX, R_RISCV_ALIGN, ``__global_pointer$``) is
in relax.py; with ``--no-relax`` R_RISCV_RELAX is ignored (R_RISCV_ALIGN's
padding is still cut to its boundary, as GNU ld does).
"""
from __future__ import annotations

from .. import Arch, C_NONE, F_ABS, F_ARCH, F_NONE, F_PC, RelocType
from ...errors import InputError, RelocationError
from . import relax as _rx

#: the value of the PCREL_HI20 / GOT_HI20 at the label the relocation names
F_PCREL_LO = F_ARCH + 0
#: GOT slot address + A - P
F_GOT_PREL = F_ARCH + 1
#: S + A - __global_pointer$ (tinyelf's own types, placed by the relaxation)
F_GPREL = F_ARCH + 2

R_PCREL_HI20, R_GOT_HI20, R_PCREL_LO12_I, R_PCREL_LO12_S = 23, 20, 24, 25
R_ALIGN, R_RELAX = 43, 51

EF_RISCV_RVC = 0x1
EF_RISCV_FLOAT_ABI = 0x6
EF_RISCV_RVE = 0x8
_FLOAT_ABI = {0: "soft-float", 2: "single-float", 4: "double-float", 6: "quad-float"}


def _r(name, size, formula, field=None):
    return RelocType("R_RISCV_" + name, size, formula, C_NONE, field)


RELOCS = {
    0: _r("NONE", 0, F_NONE),
    1: _r("32", 4, F_ABS), 2: _r("64", 8, F_ABS),
    16: _r("BRANCH", 4, F_PC, "b"), 17: _r("JAL", 4, F_PC, "j"),
    18: _r("CALL", 8, F_PC, "call"), 19: _r("CALL_PLT", 8, F_PC, "call"),
    R_GOT_HI20: _r("GOT_HI20", 4, F_GOT_PREL, "u"),
    R_PCREL_HI20: _r("PCREL_HI20", 4, F_PC, "u"),
    R_PCREL_LO12_I: _r("PCREL_LO12_I", 4, F_PCREL_LO, "i"),
    R_PCREL_LO12_S: _r("PCREL_LO12_S", 4, F_PCREL_LO, "s"),
    26: _r("HI20", 4, F_ABS, "u"), 27: _r("LO12_I", 4, F_ABS, "i"), 28: _r("LO12_S", 4, F_ABS, "s"),
    33: _r("ADD8", 1, F_ABS, "add"), 34: _r("ADD16", 2, F_ABS, "add"),
    35: _r("ADD32", 4, F_ABS, "add"), 36: _r("ADD64", 8, F_ABS, "add"),
    37: _r("SUB8", 1, F_ABS, "sub"), 38: _r("SUB16", 2, F_ABS, "sub"),
    39: _r("SUB32", 4, F_ABS, "sub"), 40: _r("SUB64", 8, F_ABS, "sub"),
    R_ALIGN: _r("ALIGN", 0, F_NONE), R_RELAX: _r("RELAX", 0, F_NONE),
    44: _r("RVC_BRANCH", 2, F_PC, "cb"), 45: _r("RVC_JUMP", 2, F_PC, "cj"),
    52: _r("SUB6", 1, F_ABS, "sub6"), 53: _r("SET6", 1, F_ABS, "set6"),
    54: _r("SET8", 1, F_ABS, "set"), 55: _r("SET16", 2, F_ABS, "set"), 56: _r("SET32", 4, F_ABS, "set"),
    57: _r("32_PCREL", 4, F_PC),
    60: _r("SET_ULEB128", 1, F_ABS, "uleb_set"), 61: _r("SUB_ULEB128", 1, F_ABS, "uleb_sub"),
    # tinyelf's own (relax.py; never in an object): the low part on gp or x0, c.lui
    _rx.R_GPREL_I: _r("GPREL_I (relaxed)", 4, F_GPREL, "gi"),
    _rx.R_GPREL_S: _r("GPREL_S (relaxed)", 4, F_GPREL, "gs"),
    _rx.R_ABS12_I: _r("LO12_I on x0 (relaxed)", 4, F_ABS, "gi"),
    _rx.R_ABS12_S: _r("LO12_S on x0 (relaxed)", 4, F_ABS, "gs"),
    _rx.R_RVC_LUI: _r("RVC_LUI (relaxed)", 2, F_ABS, "clui"),
}
UNSUPPORTED_NAMES = {
    3: "R_RISCV_RELATIVE", 4: "R_RISCV_COPY", 5: "R_RISCV_JUMP_SLOT", 6: "R_RISCV_TLS_DTPMOD32",
    7: "R_RISCV_TLS_DTPMOD64", 8: "R_RISCV_TLS_DTPREL32", 9: "R_RISCV_TLS_DTPREL64",
    10: "R_RISCV_TLS_TPREL32", 11: "R_RISCV_TLS_TPREL64", 12: "R_RISCV_TLSDESC",
    21: "R_RISCV_TLS_GOT_HI20", 22: "R_RISCV_TLS_GD_HI20", 29: "R_RISCV_TPREL_HI20",
    30: "R_RISCV_TPREL_LO12_I", 31: "R_RISCV_TPREL_LO12_S", 32: "R_RISCV_TPREL_ADD",
    58: "R_RISCV_IRELATIVE", 62: "R_RISCV_TLSDESC_HI20", 63: "R_RISCV_TLSDESC_LOAD_LO12",
    64: "R_RISCV_TLSDESC_ADD_LO12", 65: "R_RISCV_TLSDESC_CALL",
}
TLS_TYPES = frozenset({6, 7, 8, 9, 10, 11, 12, 21, 22, 29, 30, 31, 32, 62, 63, 64, 65})

#: field -> (low, high, alignment) checked before the value goes in
_CHECKS = {
    "u": (-(1 << 31) - 0x800, (1 << 31) - 0x801, 1),
    "call": (-(1 << 31) - 0x800, (1 << 31) - 0x801, 1),
    "b": (-(1 << 12), (1 << 12) - 2, 2), "j": (-(1 << 20), (1 << 20) - 2, 2),
    "cb": (-(1 << 8), (1 << 8) - 2, 2), "cj": (-(1 << 11), (1 << 11) - 2, 2),
    "R_RISCV_32_PCREL": (-(1 << 31), (1 << 31) - 1, 1),
    "gi": (-2048, 2047, 1), "gs": (-2048, 2047, 1),
    # c.lui: the upper part ((v + 0x800) >> 12) nonzero and within 6 signed bits
    "clui": (-(32 << 12) - 0x800, (31 << 12) + 0x7FF, 1),
}


def _bits(v: int, hi: int, lo: int) -> int:
    return (v >> lo) & ((1 << (hi - lo + 1)) - 1)


def _u(insn, v):
    return (insn & 0xFFF) | (((v + 0x800) >> 12) & 0xFFFFF) << 12


def _i(insn, v):
    return (insn & 0xFFFFF) | (v & 0xFFF) << 20


def _s(insn, v):
    return (insn & 0x1FFF07F) | _bits(v, 11, 5) << 25 | _bits(v, 4, 0) << 7


def _b(insn, v):
    return (insn & 0x1FFF07F) | _bits(v, 12, 12) << 31 | _bits(v, 10, 5) << 25 | \
        _bits(v, 4, 1) << 8 | _bits(v, 11, 11) << 7


def _j(insn, v):
    return (insn & 0xFFF) | _bits(v, 20, 20) << 31 | _bits(v, 10, 1) << 21 | \
        _bits(v, 11, 11) << 20 | _bits(v, 19, 12) << 12


def _cb(insn, v):
    return (insn & 0xE383) | _bits(v, 8, 8) << 12 | _bits(v, 4, 3) << 10 | \
        _bits(v, 7, 6) << 5 | _bits(v, 2, 1) << 3 | _bits(v, 5, 5) << 2


def _cj(insn, v):
    return (insn & 0xE003) | _bits(v, 11, 11) << 12 | _bits(v, 4, 4) << 11 | \
        _bits(v, 9, 8) << 9 | _bits(v, 10, 10) << 8 | _bits(v, 6, 6) << 7 | \
        _bits(v, 7, 7) << 6 | _bits(v, 3, 1) << 3 | _bits(v, 5, 5) << 2


def _clui(insn, v):
    hi = (v + 0x800) >> 12
    return (insn & 0xEF83) | _bits(hi, 5, 5) << 12 | _bits(hi, 4, 0) << 2


#: instruction field -> (bytes, writer(insn, value) -> insn)
_INSN = {"u": (4, _u), "i": (4, _i), "s": (4, _s), "b": (4, _b), "j": (4, _j),
         "cb": (2, _cb), "cj": (2, _cj), "gi": (4, _i), "gs": (4, _s), "clui": (2, _clui)}


def _uleb_len(buf, pos: int) -> int:
    n = 1
    while buf[pos + n - 1] & 0x80:
        n += 1
    return n


def _uleb_read(buf, pos: int, n: int) -> int:
    return sum((buf[pos + k] & 0x7F) << (7 * k) for k in range(n))


class RiscV64(Arch):
    name = "riscv64"
    e_machine = 243
    elf_class = 2
    default_base = 0x10000
    relocs = RELOCS
    tls_types = TLS_TYPES
    #: RV64 with the compressed (RVC) forms: gcc emits them by default
    capstone = ("CS_ARCH_RISCV", "CS_MODE_RISCV64", "CS_MODE_RISCVC")
    bfd = ("elf64-littleriscv", "riscv")
    got_formulas = frozenset({F_GOT_PREL})
    #: compressed instructions are 2 bytes (every Linux riscv64 CPU has C)
    min_code_align = 2
    #: Linux checks e_ident[EI_CLASS] on riscv (elf_check_arch: rv32 vs rv64)
    checked_ident = 5

    unsupported_names = UNSUPPORTED_NAMES
    internal_relocs = _rx.INTERNAL

    def merge_flags(self, objects) -> int:
        """RVC if any input has it; the float ABI and RVE must agree."""
        flags = None
        first = None
        for obj in objects:
            f = obj.e_flags
            if flags is None:
                flags, first = f, obj
                continue
            for mask, what in ((EF_RISCV_FLOAT_ABI, "float ABI"), (EF_RISCV_RVE, "RV32E/RV64E")):
                if (f ^ flags) & mask:
                    def name(x):
                        return _FLOAT_ABI[x & mask] if mask == EF_RISCV_FLOAT_ABI else \
                            ("RVE" if x & mask else "not RVE")
                    raise InputError(f"{obj.name} uses {name(f)} and {first.name} "
                                     f"{name(flags)}: objects with different {what} cannot be "
                                     "linked together (compile every input with one -mabi)")
            flags |= f & EF_RISCV_RVC
        return flags or 0

    def code_align(self, sec) -> int:
        """2 for code compiled with RVC, else 4; a section whose
        R_RISCV_ALIGN padding is kept (no relaxation) keeps its alignment."""
        if any(r[1] == R_ALIGN for r in sec.relocs):
            return max(1, sec.align)
        return 2 if sec.obj.e_flags & EF_RISCV_RVC else 4

    def range_of(self, spec):
        """(low, high) of the values the field takes (alignment included), or None."""
        chk = _CHECKS.get(spec.field or spec.name)
        if chk is None:
            return None
        lo, hi, align = chk
        return -(-lo // align) * align, hi // align * align

    def field_align(self, spec) -> int:
        chk = _CHECKS.get(spec.field or spec.name)
        return chk[2] if chk else 1

    def field_problem(self, spec, value):
        if spec.field is None:
            return Arch.field_problem(self, spec, value)
        chk = _CHECKS.get(spec.field)
        if chk is None:
            return None
        lo, hi, align = chk
        if not lo <= value <= hi:
            return f"value {value:#x} is outside {lo:#x}..{hi:#x}"
        if value % align:
            return f"value {value:#x} is not a multiple of {align}"
        if spec.field == "clui" and not (value + 0x800) >> 12:
            return f"value {value:#x} has no upper part for c.lui"
        return None

    def write_field(self, buf, pos, spec, value):
        fld = spec.field
        if fld in _INSN:
            n, put = _INSN[fld]
            insn = int.from_bytes(buf[pos:pos + n], "little")
            buf[pos:pos + n] = (put(insn, value) & ((1 << 8 * n) - 1)).to_bytes(n, "little")
        elif fld == "call":             # auipc ra, hi; jalr ra, lo(ra)
            buf[pos:pos + 4] = _u(int.from_bytes(buf[pos:pos + 4], "little"), value).to_bytes(4, "little")
            buf[pos + 4:pos + 8] = _i(int.from_bytes(buf[pos + 4:pos + 8], "little"),
                                      value).to_bytes(4, "little")
        elif fld in ("add", "sub"):
            n = spec.size
            old = int.from_bytes(buf[pos:pos + n], "little")
            new = old + value if fld == "add" else old - value
            buf[pos:pos + n] = (new & ((1 << 8 * n) - 1)).to_bytes(n, "little")
        elif fld in ("sub6", "set6"):
            old = buf[pos]
            low = (old - value) if fld == "sub6" else value
            buf[pos] = (old & 0xC0) | (low & 0x3F)
        elif fld in ("uleb_set", "uleb_sub"):
            n = _uleb_len(buf, pos)
            v = value if fld == "uleb_set" else _uleb_read(buf, pos, n) - value
            v &= (1 << 7 * n) - 1
            for k in range(n):
                buf[pos + k] = ((v >> 7 * k) & 0x7F) | (0x80 if k < n - 1 else 0)
        else:                           # 32, 64, SET8..32, 32_PCREL: the whole field
            Arch.write_field(self, buf, pos, spec, value)

    def arch_value(self, link, sec, r_off, spec, S, A, P, sym):
        if spec.formula == F_GPREL:
            from ...linker.model import symbol_address
            return S + A - symbol_address(link.globals[_rx.GP_SYMBOL])
        if spec.formula == F_GOT_PREL:
            from ..aarch64 import got_slot
            return link.got.addr + got_slot(link, sym) + A - P
        # PCREL_LO12: the value of the HI20 relocation at the label ``sym``
        hi = self.hi20_of(link, sec, r_off, sym)
        hsec, (h_off, h_type, h_symidx, h_add) = hi
        from ...linker.model import symbol_address
        t = link.target(hsec.obj, h_symidx)
        hp = hsec.address_of(h_off)
        if h_type == R_GOT_HI20:
            from ..aarch64 import got_slot
            return link.got.addr + got_slot(link, t) + h_add - hp
        return symbol_address(t) + h_add - hp

    @staticmethod
    def hi20_of(link, sec, r_off, sym):
        """``(section, relocation)``: the PCREL_HI20/GOT_HI20 at the label a
        PCREL_LO12 relocation names; RelocationError when there is none."""
        hsec = sym.section
        if hsec is not None:
            for rel in hsec.relocs:
                if rel[0] == sym.value and rel[1] in (R_PCREL_HI20, R_GOT_HI20):
                    return hsec, rel
        raise RelocationError(
            f"R_RISCV_PCREL_LO12 at {sec.where()}+{r_off:#x} names {sym.name or 'a label'}, "
            "where there is no R_RISCV_PCREL_HI20 or GOT_HI20 (the auipc it pairs with): "
            "corrupt or hand-edited object")

    def scan_section(self, link, sec) -> None:
        """Every PCREL_LO12 finds its HI20 (checked once, at scan time); a
        GOT_HI20 reached only through a label needs no more than scan's slot."""
        for r_off, rtype, symidx, _a in sec.relocs:
            if rtype in (R_PCREL_LO12_I, R_PCREL_LO12_S):
                self.hi20_of(link, sec, r_off, link.target(sec.obj, symidx))

    linker_defined = (_rx.GP_SYMBOL,)

    def linker_values(self, link, mem_end):
        return {_rx.GP_SYMBOL: _rx.gp_value(link, mem_end)}

    def relax(self, link) -> bool:
        return _rx.relax(link)


#: the start stub (tinyelf.linker.stub): argc at [sp], argv at sp+8, envp
#: after argv's NULL; main's result is the exit status (exit_group, 94).
#: It sets gp first (relax.py deletes those 8 bytes when no gp-relative code
#: is made), and its call to main may relax to jal.  Assembled with
#: ``riscv64-linux-gnu-as -march=rv64gc`` (keystone has no RISC-V);
#: tests/test_builtins.py reassembles and compares.
START_STUB = """
    .section .text._start,"ax"
    .globl _start
    .p2align 1
_start:
__tinyelf_gp_setup:
    .option push
    .option norelax
1:  auipc gp, %pcrel_hi(__global_pointer$)
    addi gp, gp, %pcrel_lo(1b)
    .option pop
    ld a0, 0(sp)
    addi a1, sp, 8
    slli a2, a0, 3
    add a2, a2, a1
    addi a2, a2, 8
    call main
    li a7, 94
    ecall
"""

#: builtins: a0..a2 in, a0 out; leaf code, local branches only
BUILTIN_SOURCES = {
    "memcpy": """
        mv a3, a0
    .Lloop:
        beqz a2, .Ldone
        lbu a4, 0(a1)
        sb a4, 0(a3)
        addi a1, a1, 1
        addi a3, a3, 1
        addi a2, a2, -1
        j .Lloop
    .Ldone:
        ret
    """,
    "memmove": """
        bgeu a1, a0, .Lforward
    .Lback:
        beqz a2, .Ldone
        addi a2, a2, -1
        add a4, a1, a2
        lbu a4, 0(a4)
        add a5, a0, a2
        sb a4, 0(a5)
        j .Lback
    .Lforward:
        mv a3, a0
    .Lfwd:
        beqz a2, .Ldone
        lbu a4, 0(a1)
        sb a4, 0(a3)
        addi a1, a1, 1
        addi a3, a3, 1
        addi a2, a2, -1
        j .Lfwd
    .Ldone:
        ret
    """,
    "memset": """
        mv a3, a0
    .Lloop:
        beqz a2, .Ldone
        sb a1, 0(a3)
        addi a3, a3, 1
        addi a2, a2, -1
        j .Lloop
    .Ldone:
        ret
    """,
    "memcmp": """
    .Lloop:
        beqz a2, .Lequal
        lbu a3, 0(a0)
        lbu a4, 0(a1)
        addi a0, a0, 1
        addi a1, a1, 1
        addi a2, a2, -1
        beq a3, a4, .Lloop
        sub a0, a3, a4
        ret
    .Lequal:
        li a0, 0
        ret
    """,
    "strlen": """
        mv a1, a0
    .Lloop:
        lbu a2, 0(a1)
        addi a1, a1, 1
        bnez a2, .Lloop
        sub a0, a1, a0
        addi a0, a0, -1
        ret
    """,
}
BUILTIN_SOURCES["bcmp"] = BUILTIN_SOURCES["memcmp"]
#: how the bytes above were made (and are remade by the test)
AS_COMMAND = ("riscv64-linux-gnu-as", "-march=rv64gc", "-mno-relax")

RiscV64.start_stub = START_STUB
RiscV64.builtins = BUILTIN_SOURCES


def _assemble(self, source, name):
    from ..gas import assemble
    return assemble(AS_COMMAND, source, name)


#: the start stub is assembled with relaxation (its call to main carries R_RISCV_RELAX)
STUB_AS_COMMAND = ("riscv64-linux-gnu-as", "-march=rv64gc")


def _assemble_object(self, source, name):
    from ..gas import assemble_object
    return assemble_object(STUB_AS_COMMAND, source, name)


RiscV64.assemble = _assemble
RiscV64.assemble_object = _assemble_object

ARCH = RiscV64()
