"""i386: e_machine 3, ELFCLASS32, REL relocations with implicit addends.

Relocation formulas (System V i386 psABI, table 4.4), with S = symbol
address, A = addend (kept in the field: SHT_REL), P = address of the field,
GOT = address of the GOT (_GLOBAL_OFFSET_TABLE_), G = the symbol's GOT slot.
tinyelf makes static executables without a PLT, so L (the PLT entry) is S.
R_386_GOT32/GOT32X are G + A - GOT with a base register and G + A without
one (``got_value``); GOT32X loads, calls and jumps are relaxed to direct
addressing where the psABI allows it (``try_relax``).
"""
from __future__ import annotations

from .. import (Arch, C_BITFIELD, C_NONE, C_SIGNED, F_ABS, F_GOT, F_GOTOFF, F_GOTPC, F_NONE,
                F_PC, RelocType)
from ..x86_64 import X86_64

R_386_GOT32 = 3
R_386_GOT32X = 43

RELOCS = {
    0: RelocType("R_386_NONE", 0, F_NONE, C_NONE),
    1: RelocType("R_386_32", 4, F_ABS, C_NONE),
    2: RelocType("R_386_PC32", 4, F_PC, C_NONE),
    R_386_GOT32: RelocType("R_386_GOT32", 4, F_GOT, C_NONE),
    4: RelocType("R_386_PLT32", 4, F_PC, C_NONE),
    9: RelocType("R_386_GOTOFF", 4, F_GOTOFF, C_NONE),
    10: RelocType("R_386_GOTPC", 4, F_GOTPC, C_NONE),
    20: RelocType("R_386_16", 2, F_ABS, C_BITFIELD),
    21: RelocType("R_386_PC16", 2, F_PC, C_SIGNED),
    22: RelocType("R_386_8", 1, F_ABS, C_BITFIELD),
    23: RelocType("R_386_PC8", 1, F_PC, C_SIGNED),
    R_386_GOT32X: RelocType("R_386_GOT32X", 4, F_GOT, C_NONE),
}

#: names of the types tinyelf refuses, for messages
UNSUPPORTED_NAMES = {
    5: "R_386_COPY", 6: "R_386_GLOB_DAT", 7: "R_386_JUMP_SLOT", 8: "R_386_RELATIVE",
    11: "R_386_32PLT", 14: "R_386_TLS_TPOFF", 15: "R_386_TLS_IE", 16: "R_386_TLS_GOTIE",
    17: "R_386_TLS_LE", 18: "R_386_TLS_GD", 19: "R_386_TLS_LDM", 24: "R_386_TLS_GD_32",
    25: "R_386_TLS_GD_PUSH", 26: "R_386_TLS_GD_CALL", 27: "R_386_TLS_GD_POP",
    28: "R_386_TLS_LDM_32", 29: "R_386_TLS_LDM_PUSH", 30: "R_386_TLS_LDM_CALL",
    31: "R_386_TLS_LDM_POP", 32: "R_386_TLS_LDO_32", 33: "R_386_TLS_IE_32",
    34: "R_386_TLS_LE_32", 35: "R_386_TLS_DTPMOD32", 36: "R_386_TLS_DTPOFF32",
    37: "R_386_TLS_TPOFF32", 38: "R_386_SIZE32", 39: "R_386_TLS_GOTDESC",
    40: "R_386_TLS_DESC_CALL", 41: "R_386_TLS_DESC", 42: "R_386_IRELATIVE (IFUNC)",
}
#: relocation names for the fields tinyelf's assembler writes
ASM_RELOC_NAMES = {("abs", 4): "R_386_32", ("abs", 2): "R_386_16", ("abs", 1): "R_386_8",
                   ("pc", 4): "R_386_PC32", ("pc", 2): "R_386_PC16", ("pc", 1): "R_386_PC8"}
TLS_TYPES = frozenset((14, 15, 16, 17, 18, 19) + tuple(range(24, 38)) + (39, 40, 41))

_RANGES = {(1, C_SIGNED): (-0x80, 0x7F), (2, C_SIGNED): (-0x8000, 0x7FFF),
           (1, C_BITFIELD): (-0x80, 0xFF), (2, C_BITFIELD): (-0x8000, 0xFFFF)}


def _baseless(modrm: int) -> bool:
    """mod 00, r/m 101: a bare disp32 operand (no base register)."""
    return modrm & 0xC7 == 0x05


class I386(Arch):
    name = "i386"
    e_machine = 3
    elf_class = 1
    default_base = 0x400000
    ptr_size = 4
    #: a 32-bit process under IA32 emulation gets 4 GiB minus a page
    #: (IA32_PAGE_OFFSET; a 32-bit kernel gives 3 GiB): beyond it no ELF32
    #: field could hold the address anyway
    user_top = 0xFFFFE000
    relocs = RELOCS
    tls_types = TLS_TYPES
    capstone = ("CS_ARCH_X86", "CS_MODE_32")
    keystone = ("KS_ARCH_X86", "KS_MODE_32")
    bfd = ("elf32-i386", "i386")   # GNU ld's OUTPUT_FORMAT, OUTPUT_ARCH
    ld_emulation = "elf_i386"
    #: 32-bit code reads the i386 syscall ABI (int 0x80, eax = number)
    exit_syscalls = (1, 252)

    # x86 code is x86 code: the same jumps, terminators, PC bias, direct
    # branches and prefix rule as x86-64 (capstone decodes in 32-bit mode;
    # x86-64's own table decoder is not used: 0x40-0x4f are inc/dec here)
    terminators = X86_64.terminators
    jump_sizes = X86_64.jump_sizes
    encode_jump = X86_64.encode_jump
    pc_bias = X86_64.pc_bias
    is_direct_branch = X86_64.is_direct_branch
    prefix_safe = X86_64.prefix_safe
    capstone_insns = X86_64.capstone_insns

    @property
    def asm_syntax(self):
        """x86 Intel syntax for tinyelf.asm, 32-bit: no RIP-relative operands,
        R_386_* fields (tinyelf/arch/x86_64/asm_syntax.py's X86Syntax)."""
        syntax = self.__dict__.get("_asm_syntax")
        if syntax is None:
            from ..x86_64.asm_syntax import REGS_64, X86Syntax
            syntax = self._asm_syntax = X86Syntax(self, REGS_64, ASM_RELOC_NAMES, rip=False)
        return syntax

    unsupported_names = UNSUPPORTED_NAMES

    def range_of(self, spec: RelocType):
        if spec.check == C_NONE:
            return None
        return _RANGES[(spec.size, spec.check)]


    def got_value(self, data, r_off: int, slot: int, got_addr: int, A: int) -> int:
        """R_386_GOT32(X): G + A - GOT with a base register, G + A without."""
        if r_off >= 1 and _baseless(data[r_off - 1]):
            return got_addr + slot + A
        return slot + A

    def try_relax(self, data, offset: int, rtype: int, addend: int) -> str | None:
        """The GOT32X rewrites of the psABI (and GNU ld): ``mov foo@GOT(%reg),
        %r`` -> ``lea foo@GOTOFF(%reg), %r``; baseless ``mov foo@GOT, %r`` ->
        ``mov $foo, %r``; ``call/jmp *foo@GOT(...)`` -> ``addr32 call foo`` /
        ``jmp foo; nop``.  None: keep the GOT slot."""
        if rtype != R_386_GOT32X or offset < 2 or addend != 0:
            return None
        op, modrm = data[offset - 2], data[offset - 1]
        if modrm >> 6 not in (0, 2) or (modrm & 7) == 4:     # disp32 forms, no SIB
            return None
        if op == 0x8B:
            return "movimm" if _baseless(modrm) else "lea"
        if op == 0xFF and (modrm >> 3) & 7 == 2:
            return "call"
        if op == 0xFF and (modrm >> 3) & 7 == 4:
            return "jmp"
        return None

    @staticmethod
    def rewrite_relaxed(buf, pos, kind, S, A, P, got_addr=0):
        if kind == "lea":                      # mov d(%b),%r -> lea d(%b),%r; d = S + A - GOT
            buf[pos - 2] = 0x8D
            return pos, S + A - got_addr
        if kind == "movimm":                   # mov d,%r -> mov $S,%r (c7 /0, register form)
            buf[pos - 1] = 0xC0 | (buf[pos - 1] >> 3) & 7
            buf[pos - 2] = 0xC7
            return pos, S + A
        if kind == "call":                     # call *d(%b) -> addr32 call rel32
            buf[pos - 2] = 0x67
            buf[pos - 1] = 0xE8
            return pos, S + A - (P + 4)
        if kind == "jmp":                      # jmp *d(%b) -> jmp rel32; nop
            buf[pos - 2] = 0xE9
            buf[pos + 3] = 0x90
            return pos - 1, S + A - (P + 3)
        raise ValueError(kind)  # pragma: no cover - programming error

    def header_layouts(self):
        from .layouts import OWN
        return OWN


#: the start stub added when the inputs define main but no _start: the kernel
#: leaves argc at [esp] (esp 16-byte aligned), argv at esp+4, envp after
#: argv's NULL; cdecl passes them on the stack (main(argc, argv, envp)), with
#: esp 16-byte aligned at the call (two padding words); main's int result is
#: the exit status (exit: eax = 1, ebx = status, int 0x80).
START_STUB = """
section .text._start
global _start
extern main
_start:
    pop eax
    mov ecx, esp
    lea edx, [ecx + eax*4 + 4]
    push edx
    push edx
    push edx
    push ecx
    push eax
    call main
    xchg ebx, eax
    xor eax, eax
    inc eax
    int 0x80
"""
I386.start_stub = START_STUB

#: the builtins in i386 assembly (cdecl: arguments on the stack, eax out;
#: esi, edi, ebx callee-saved), see tinyelf.linker.builtins
def _compare(result: str) -> str:
    """memcmp's and bcmp's body: compare n bytes, then ``result`` turns the flags into eax."""
    return f"""
        push edi
        push esi
        mov esi, dword ptr [esp + 12]
        mov edi, dword ptr [esp + 16]
        mov ecx, dword ptr [esp + 20]
        xor eax, eax
        repe cmpsb
        {result}
        pop esi
        pop edi
        ret
    """


BUILTINS = {
    # void *memcpy(void *dst, const void *src, size_t n)
    "memcpy": """
        push edi
        push esi
        mov edi, dword ptr [esp + 12]
        mov esi, dword ptr [esp + 16]
        mov ecx, dword ptr [esp + 20]
        mov eax, edi
        rep movsb
        pop esi
        pop edi
        ret
    """,
    # void *memmove(void *dst, const void *src, size_t n): backward when the
    # destination starts after the source
    "memmove": """
        push edi
        push esi
        mov edi, dword ptr [esp + 12]
        mov esi, dword ptr [esp + 16]
        mov ecx, dword ptr [esp + 20]
        mov eax, edi
        cmp edi, esi
        jbe .Lcopy
        lea esi, [esi + ecx - 1]
        lea edi, [edi + ecx - 1]
        std
    .Lcopy:
        rep movsb
        cld
        pop esi
        pop edi
        ret
    """,
    # void *memset(void *dst, int c, size_t n)
    "memset": """
        push edi
        mov edi, dword ptr [esp + 8]
        mov eax, dword ptr [esp + 12]
        mov ecx, dword ptr [esp + 16]
        push edi
        rep stosb
        pop eax
        pop edi
        ret
    """,
    # int memcmp(const void *a, const void *b, size_t n): -1, 0 or 1
    "memcmp": _compare("seta al\n        sbb eax, 0"),
    # int bcmp(const void *a, const void *b, size_t n): 0 when equal, else 1
    "bcmp": _compare("setne al"),
    # size_t strlen(const char *s)
    "strlen": """
        push edi
        mov edi, dword ptr [esp + 8]
        xor eax, eax
        or ecx, -1
        repne scasb
        mov eax, -2
        sub eax, ecx
        pop edi
        ret
    """,
}
I386.builtins = BUILTINS

ARCH = I386()
