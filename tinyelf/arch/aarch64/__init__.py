"""AArch64 (arm64): e_machine 183, the relocation table of "ELF for the Arm
64-bit Architecture" (AAELF64), instruction-field writers, GOT relaxation.

Formulas: S symbol, A addend, P place, Page(x) = x & ~0xfff,
G(GDAT(S+A)) the address of the symbol's GOT slot.  tinyelf makes static
executables without a PLT or veneers: a CALL26/JUMP26 whose target is beyond
+-128 MiB is an error, not a branch island.

Every instruction relocation names the bit-field it lives in
(``RelocType.field``): ``_FIELDS`` maps it to (value shift, bit position,
width) and ``_CHECKS`` to the range and alignment GNU ld checks, so
``field_problem`` and ``write_field`` are two table look-ups.
"""
from __future__ import annotations

from .. import (Arch, C_NONE, F_ABS, F_ARCH, F_NONE, F_PC, RelocType)
from .insn import TERMINATORS

#: Page(S+A) - Page(P)
F_PAGE = F_ARCH + 0
#: Page(G(GDAT(S+A))) - Page(P)
F_GOT_PAGE = F_ARCH + 1
#: G(GDAT(S+A)) (its low 12 bits go into the LDR)
F_GOT_SLOT = F_ARCH + 2
#: G(GDAT(S+A)) - P
F_GOT_PREL = F_ARCH + 3

R_ADR_PREL_PG_HI21 = 275
R_ADD_ABS_LO12_NC = 277
R_ADR_GOT_PAGE = 311
R_LD64_GOT_LO12_NC = 312


def _r(name, size, formula, field=None):
    return RelocType("R_AARCH64_" + name, size, formula, C_NONE, field)


RELOCS = {
    0: _r("NONE", 0, F_NONE), 256: _r("NONE", 0, F_NONE),
    257: _r("ABS64", 8, F_ABS), 258: _r("ABS32", 4, F_ABS), 259: _r("ABS16", 2, F_ABS),
    260: _r("PREL64", 8, F_PC), 261: _r("PREL32", 4, F_PC), 262: _r("PREL16", 2, F_PC),
    263: _r("MOVW_UABS_G0", 4, F_ABS, "uabs_g0"), 264: _r("MOVW_UABS_G0_NC", 4, F_ABS, "g0_nc"),
    265: _r("MOVW_UABS_G1", 4, F_ABS, "uabs_g1"), 266: _r("MOVW_UABS_G1_NC", 4, F_ABS, "g1_nc"),
    267: _r("MOVW_UABS_G2", 4, F_ABS, "uabs_g2"), 268: _r("MOVW_UABS_G2_NC", 4, F_ABS, "g2_nc"),
    269: _r("MOVW_UABS_G3", 4, F_ABS, "g3"),
    270: _r("MOVW_SABS_G0", 4, F_ABS, "sabs_g0"), 271: _r("MOVW_SABS_G1", 4, F_ABS, "sabs_g1"),
    272: _r("MOVW_SABS_G2", 4, F_ABS, "sabs_g2"),
    273: _r("LD_PREL_LO19", 4, F_PC, "imm19"),
    274: _r("ADR_PREL_LO21", 4, F_PC, "adr"),
    275: _r("ADR_PREL_PG_HI21", 4, F_PAGE, "adrp"),
    276: _r("ADR_PREL_PG_HI21_NC", 4, F_PAGE, "adrp_nc"),
    277: _r("ADD_ABS_LO12_NC", 4, F_ABS, "lo12_0"),
    278: _r("LDST8_ABS_LO12_NC", 4, F_ABS, "lo12_0"),
    279: _r("TSTBR14", 4, F_PC, "imm14"),
    280: _r("CONDBR19", 4, F_PC, "imm19"),
    282: _r("JUMP26", 4, F_PC, "imm26"),
    283: _r("CALL26", 4, F_PC, "imm26"),
    284: _r("LDST16_ABS_LO12_NC", 4, F_ABS, "lo12_1"),
    285: _r("LDST32_ABS_LO12_NC", 4, F_ABS, "lo12_2"),
    286: _r("LDST64_ABS_LO12_NC", 4, F_ABS, "lo12_3"),
    287: _r("MOVW_PREL_G0", 4, F_PC, "sabs_g0"), 288: _r("MOVW_PREL_G0_NC", 4, F_PC, "g0_nc"),
    289: _r("MOVW_PREL_G1", 4, F_PC, "sabs_g1"), 290: _r("MOVW_PREL_G1_NC", 4, F_PC, "g1_nc"),
    291: _r("MOVW_PREL_G2", 4, F_PC, "sabs_g2"), 292: _r("MOVW_PREL_G2_NC", 4, F_PC, "g2_nc"),
    293: _r("MOVW_PREL_G3", 4, F_PC, "g3"),
    299: _r("LDST128_ABS_LO12_NC", 4, F_ABS, "lo12_4"),
    309: _r("GOT_LD_PREL19", 4, F_GOT_PREL, "imm19"),
    R_ADR_GOT_PAGE: _r("ADR_GOT_PAGE", 4, F_GOT_PAGE, "adrp"),
    R_LD64_GOT_LO12_NC: _r("LD64_GOT_LO12_NC", 4, F_GOT_SLOT, "lo12_3"),
}

UNSUPPORTED_NAMES = {
    1024: "R_AARCH64_COPY", 1025: "R_AARCH64_GLOB_DAT", 1026: "R_AARCH64_JUMP_SLOT",
    1027: "R_AARCH64_RELATIVE", 1030: "R_AARCH64_TLS_TPREL64", 1031: "R_AARCH64_TLSDESC",
    1032: "R_AARCH64_IRELATIVE",
}
#: 512..573: the static TLS relocations
TLS_TYPES = frozenset(range(512, 574)) | {1028, 1029, 1030, 1031}

_S64 = (-(1 << 63), (1 << 64) - 1)
#: field -> (low, high, alignment) of the value before it is shifted in;
#: the ranges are AAELF64's "Overflow check" column
_CHECKS = {
    # whole data fields (RelocType.field None), by type name
    "R_AARCH64_ABS32": (-(1 << 31), (1 << 32) - 1, 1), "R_AARCH64_ABS16": (-(1 << 15), (1 << 16) - 1, 1),
    "R_AARCH64_PREL32": (-(1 << 31), (1 << 32) - 1, 1), "R_AARCH64_PREL16": (-(1 << 15), (1 << 16) - 1, 1),
    "uabs_g0": (0, (1 << 16) - 1, 1), "uabs_g1": (0, (1 << 32) - 1, 1),
    "uabs_g2": (0, (1 << 48) - 1, 1),
    "sabs_g0": (-(1 << 16), (1 << 16) - 1, 1), "sabs_g1": (-(1 << 32), (1 << 32) - 1, 1),
    "sabs_g2": (-(1 << 48), (1 << 48) - 1, 1),
    "imm19": (-(1 << 20), (1 << 20) - 1, 4), "imm14": (-(1 << 15), (1 << 15) - 1, 4),
    "imm26": (-(1 << 27), (1 << 27) - 1, 4), "adr": (-(1 << 20), (1 << 20) - 1, 1),
    "adrp": (-(1 << 32), (1 << 32) - 1, 4096),
    # GNU ld checks the alignment of scaled load/store offsets
    "lo12_1": (_S64[0], _S64[1], 2), "lo12_2": (_S64[0], _S64[1], 4),
    "lo12_3": (_S64[0], _S64[1], 8), "lo12_4": (_S64[0], _S64[1], 16),
}
#: field -> (shift of the value, first bit in the instruction, width)
_FIELDS = {
    "imm26": (2, 0, 26), "imm19": (2, 5, 19), "imm14": (2, 5, 14),
    "lo12_0": (0, 10, 12), "lo12_1": (1, 10, 12), "lo12_2": (2, 10, 12),
    "lo12_3": (3, 10, 12), "lo12_4": (4, 10, 12),
    "uabs_g0": (0, 5, 16), "g0_nc": (0, 5, 16), "uabs_g1": (16, 5, 16), "g1_nc": (16, 5, 16),
    "uabs_g2": (32, 5, 16), "g2_nc": (32, 5, 16), "g3": (48, 5, 16),
}
_SIGNED_MOVW = {"sabs_g0": 0, "sabs_g1": 16, "sabs_g2": 32}
_MOVZ, _MOVN_MASK = 0x40000000, 0x60000000     # opc bits 29-30: 10 MOVZ, 00 MOVN


def page(x: int) -> int:
    return x & ~0xFFF


class AArch64(Arch):
    name = "aarch64"
    e_machine = 183
    elf_class = 2
    default_base = 0x400000
    relocs = RELOCS
    tls_types = TLS_TYPES
    capstone = ("CS_ARCH_ARM64", "CS_MODE_ARM")
    keystone = ("KS_ARCH_ARM64", "KS_MODE_LITTLE_ENDIAN")
    bfd = ("elf64-littleaarch64", "aarch64")
    got_formulas = frozenset({F_GOT_PAGE, F_GOT_SLOT, F_GOT_PREL})
    #: every instruction is 4 bytes at a 4-byte aligned address
    min_code_align = 4

    unsupported_names = UNSUPPORTED_NAMES

    # ---- the code splitter (tinyelf/linker/holes.py): tinyelf/arch/aarch64/insn.py
    terminators = TERMINATORS
    #: ``b imm26``
    jump_sizes = (4,)

    def encode_jump(self, at, target, size):
        from .insn import encode_b
        return encode_b(at, target) if size == 4 else None

    def decode_insns(self, data):
        from .insn import decode
        return decode(data)

    def capstone_insns(self, data):
        return None          # decode_insns reads every encoding (None: do not split)

    def split_jump_target(self, read, addr):
        from .insn import b_target
        return b_target(read, addr)

    def ties_instructions(self, spec):
        # MOVW_PREL_G*: a movz/movk sequence whose parts each take S + A - P
        # of their own place and rely on their distances: keep them together
        return spec.formula == F_PC and (spec.field or "").startswith(("g", "sabs"))

    def range_of(self, spec: RelocType):
        """(low, high) of the values the field takes (alignment included), or None."""
        chk = _CHECKS.get(spec.field or spec.name)
        if chk is None:
            return None
        lo, hi, align = chk
        return -(-lo // align) * align, hi // align * align

    def field_align(self, spec: RelocType) -> int:
        chk = _CHECKS.get(spec.field or spec.name)
        return chk[2] if chk else 1

    def field_problem(self, spec: RelocType, value: int) -> str | None:
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
        return None

    def write_field(self, buf, pos: int, spec: RelocType, value: int) -> None:
        fld = spec.field
        if fld is None:
            return Arch.write_field(self, buf, pos, spec, value)
        insn = int.from_bytes(buf[pos:pos + 4], "little")
        if fld in ("adr", "adrp", "adrp_nc"):
            v = value >> 12 if fld != "adr" else value
            insn = (insn & ~(0x3 << 29 | 0x7FFFF << 5)) | (v & 3) << 29 | ((v >> 2) & 0x7FFFF) << 5
        elif fld in _SIGNED_MOVW:        # MOVZ for a value >= 0, MOVN (~value) below
            shift = _SIGNED_MOVW[fld]
            imm = ((~value if value < 0 else value) >> shift) & 0xFFFF
            insn = (insn & ~_MOVN_MASK & ~(0xFFFF << 5)) | (0 if value < 0 else _MOVZ) | imm << 5
        else:
            shift, at, width = _FIELDS[fld]
            if fld.startswith("lo12"):
                value &= 0xFFF
            mask = (1 << width) - 1
            insn = (insn & ~(mask << at)) | ((value >> shift) & mask) << at
        buf[pos:pos + 4] = (insn & 0xFFFFFFFF).to_bytes(4, "little")

    def arch_value(self, link, sec, r_off, spec, S, A, P, sym):
        f = spec.formula
        if f == F_PAGE:
            return page(S + A) - page(P)
        slot = link.got.addr + got_slot(link, sym) + A
        if f == F_GOT_PAGE:
            return page(slot) - page(P)
        if f == F_GOT_SLOT:
            return slot
        return slot - P

    def scan_section(self, link, sec) -> None:
        """Relax ``adrp xN, :got:sym; ldr xN, [xN, :got_lo12:sym]`` (two
        consecutive instructions, one register) to ``adrp xN, sym; add xN,
        xN, :lo12:sym`` for a symbol the link defines, as lld does: the
        section's bytes and relocations are rewritten in place, so no GOT
        slot is needed."""
        relocs = sec.relocs
        if sec.is_nobits or not any(r[1] == R_ADR_GOT_PAGE for r in relocs):
            return
        at = {(r[0], r[1]): i for i, r in enumerate(relocs)}
        data = None
        new = list(relocs)
        for i, (off, rtype, symidx, addend) in enumerate(relocs):
            if rtype != R_ADR_GOT_PAGE:
                continue
            j = at.get((off + 4, R_LD64_GOT_LO12_NC))
            if j is None or relocs[j][2] != symidx or relocs[j][3] != addend:
                continue
            t = link.target(sec.obj, symidx)
            if t.section is None and not t.is_abs:
                continue
            src = data if data is not None else sec.data
            adrp = int.from_bytes(src[off:off + 4], "little")
            ldr = int.from_bytes(src[off + 4:off + 8], "little")
            reg = adrp & 0x1F
            # LDR Xt, [Xn, #imm] (64-bit, unsigned offset): 0xf9400000
            if (adrp & 0x9F000000) != 0x90000000 or (ldr & 0xFFC00000) != 0xF9400000 or \
                    ldr & 0x1F != reg or (ldr >> 5) & 0x1F != reg:
                continue
            if data is None:
                data = bytearray(sec.data)
            add = 0x91000000 | reg << 5 | reg          # ADD Xd, Xn, #0
            data[off + 4:off + 8] = add.to_bytes(4, "little")
            new[i] = (off, R_ADR_PREL_PG_HI21, symidx, addend)
            new[j] = (off + 4, R_ADD_ABS_LO12_NC, symidx, addend)
            link.relaxed[(sec, off)] = "adrp+add"
        if data is not None:
            sec.data = bytes(data)
            sec._relocs = new


def got_slot(link, sym) -> int:
    """Offset of ``sym``'s slot in the GOT."""
    cache = getattr(link, "_got_slots", None)
    if cache is None or len(cache) != len(link.got_symbols):
        cache = {s: i * 8 for i, s in enumerate(link.got_symbols)}
        link._got_slots = cache
    return cache[sym]


#: the start stub added when the inputs define main but no _start
#: (tinyelf.linker.stub).  The kernel leaves argc at [sp], argv at sp+8,
#: envp after argv's NULL, sp 16-byte aligned; main's int result is the
#: exit status (exit_group, 94).  Assembled by aarch64-linux-gnu-as; the object is kept
#: in prebuilt.py (python -m tinyelf.arch.prebuilt aarch64).
START_STUB = """
    .section .text._start,"ax"
    .globl _start
    .p2align 2
_start:
    ldr x0, [sp]
    add x1, sp, #8
    add x2, x1, x0, lsl #3
    add x2, x2, #8
    bl main
    mov x8, #94
    svc #0
"""

#: tinyelf's builtins (resolve pass): AAPCS64, x0..x2 in, x0 out; leaf code
BUILTIN_SOURCES = {
    # void *memcpy(void *dst, const void *src, size_t n)
    "memcpy": """
        mov x3, x0
    .Lloop:
        cbz x2, .Ldone
        ldrb w4, [x1], #1
        strb w4, [x3], #1
        sub x2, x2, #1
        b .Lloop
    .Ldone:
        ret
    """,
    # void *memmove(void *dst, const void *src, size_t n): backward when dst > src
    "memmove": """
        cmp x0, x1
        b.ls .Lforward
    .Lback:
        cbz x2, .Ldone
        sub x2, x2, #1
        ldrb w4, [x1, x2]
        strb w4, [x0, x2]
        b .Lback
    .Ldone:
        ret
    .Lforward:
        mov x3, x0
    .Lfwd:
        cbz x2, .Ldone
        ldrb w4, [x1], #1
        strb w4, [x3], #1
        sub x2, x2, #1
        b .Lfwd
    """,
    # void *memset(void *dst, int c, size_t n)
    "memset": """
        mov x3, x0
    .Lloop:
        cbz x2, .Ldone
        strb w1, [x3], #1
        sub x2, x2, #1
        b .Lloop
    .Ldone:
        ret
    """,
    # int memcmp(const void *a, const void *b, size_t n): difference of the first unequal bytes
    "memcmp": """
    .Lloop:
        cbz x2, .Lequal
        ldrb w3, [x0], #1
        ldrb w4, [x1], #1
        sub x2, x2, #1
        subs w3, w3, w4
        b.eq .Lloop
        mov w0, w3
        ret
    .Lequal:
        mov w0, #0
        ret
    """,
    # size_t strlen(const char *s)
    "strlen": """
        mov x1, x0
    .Lloop:
        ldrb w2, [x1], #1
        cbnz w2, .Lloop
        sub x0, x1, x0
        sub x0, x0, #1
        ret
    """,
}
BUILTIN_SOURCES["bcmp"] = BUILTIN_SOURCES["memcmp"]
AArch64.start_stub = START_STUB
AArch64.builtins = BUILTIN_SOURCES

#: the assembler the prebuilt table (prebuilt.py) is made with; keystone
#: agrees on the builtins (tests/test_arch_risc.py)
AS_COMMAND = ("aarch64-linux-gnu-as",)


def _assemble(self, source, name):
    from ..gas import assemble
    return assemble(AS_COMMAND, source, name)


def _assemble_object(self, source, name):
    from ..gas import assemble_object
    return assemble_object(AS_COMMAND, source, name)


AArch64.assemble = _assemble
AArch64.assemble_object = _assemble_object

ARCH = AArch64()
