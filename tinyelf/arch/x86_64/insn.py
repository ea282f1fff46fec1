"""An x86-64 instruction *length* decoder for the code splitter.

The header-hole splitter (``tinyelf.linker.holes``) needs, for each instruction of a
code section: where it starts and ends, whether it is an unconditional
terminator (``jmp``, ``ret``, ``ud2``), and which offsets it refers to
relatively (branch targets, RIP-relative operands).  capstone answers that,
but importing it costs 40-70 ms, more than the rest of a typical link; this
module answers it from the opcode tables alone.

It is deliberately partial: any byte sequence it does not fully understand
(an unknown or invalid opcode, a ``67`` address-size prefix, REX before a
legacy prefix, 3DNow!, AMD SSE4a's ``extrq``/``insertq``, ``xbegin``, maps
beyond 0F3A, a truncated instruction) makes :func:`decode` return ``None``, and
the caller falls back to capstone.  What it accepts must agree with capstone
exactly; ``tests/test_insn_decoder.py`` checks that on every code section of
libcore, compiler_builtins and the differential corpus, and on random bytes.

Terminators are reported only in their plain forms (optional REX): a
``rep ret`` or ``notrack jmp`` is treated as falling through, which is always
safe for the splitter (it just appends a ``jmp`` it did not need), and is what
capstone's mnemonics say too.
"""
from __future__ import annotations

_LEGACY = frozenset(b"\xf0\xf2\xf3\x2e\x36\x3e\x26\x64\x65\x66")

# ---- one-byte map: ModRM presence and immediate kind -----------------------
# immediate kinds: 0 none, 1 imm8, 2 imm16, 4 imm32 (16 with 66h: "z"),
# 8 "z or imm64 with REX.W" (mov r64, imm64), 3 enter's iw+ib,
# -1 rel8 branch, -4 rel32 branch.  None: not handled (decode gives up).
_NONE = None
_ONE_MODRM = [False] * 256
_ONE_IMM: list = [_NONE] * 256

for _b in range(0x00, 0x40, 8):
    for _k in range(4):
        _ONE_MODRM[_b + _k] = True
        _ONE_IMM[_b + _k] = 0
    _ONE_IMM[_b + 4] = 1
    _ONE_IMM[_b + 5] = 4
for _op in range(0x50, 0x60):
    _ONE_IMM[_op] = 0
_ONE_MODRM[0x63] = True
_ONE_IMM[0x63] = 0
_ONE_IMM[0x68] = 4
_ONE_MODRM[0x69] = True
_ONE_IMM[0x69] = 4
_ONE_IMM[0x6A] = 1
_ONE_MODRM[0x6B] = True
_ONE_IMM[0x6B] = 1
for _op in range(0x6C, 0x70):
    _ONE_IMM[_op] = 0
for _op in range(0x70, 0x80):
    _ONE_IMM[_op] = -1
for _op, _imm in ((0x80, 1), (0x81, 4), (0x83, 1)):
    _ONE_MODRM[_op] = True
    _ONE_IMM[_op] = _imm
for _op in range(0x84, 0x90):
    _ONE_MODRM[_op] = True
    _ONE_IMM[_op] = 0
for _op in list(range(0x90, 0x9A)) + list(range(0x9B, 0xA0)):
    _ONE_IMM[_op] = 0
for _op in list(range(0xA4, 0xA8)) + list(range(0xAA, 0xB0)):
    _ONE_IMM[_op] = 0
_ONE_IMM[0xA8] = 1
_ONE_IMM[0xA9] = 4
for _op in range(0xB0, 0xB8):
    _ONE_IMM[_op] = 1
for _op in range(0xB8, 0xC0):
    _ONE_IMM[_op] = 8
for _op in (0xC0, 0xC1):
    _ONE_MODRM[_op] = True
    _ONE_IMM[_op] = 1
_ONE_IMM[0xC2] = 2
_ONE_IMM[0xC3] = 0
_ONE_MODRM[0xC6] = True
_ONE_IMM[0xC6] = 1
_ONE_MODRM[0xC7] = True
_ONE_IMM[0xC7] = 4
_ONE_IMM[0xC8] = 3
_ONE_IMM[0xC9] = 0
_ONE_IMM[0xCC] = 0
_ONE_IMM[0xCD] = 1
for _op in range(0xD0, 0xD4):
    _ONE_MODRM[_op] = True
    _ONE_IMM[_op] = 0
for _op in range(0xD8, 0xE0):      # x87
    _ONE_MODRM[_op] = True
    _ONE_IMM[_op] = 0
for _op in range(0xE0, 0xE4):      # loopne, loope, loop, jrcxz
    _ONE_IMM[_op] = -1
for _op in range(0xE4, 0xE8):      # in/out imm8
    _ONE_IMM[_op] = 1
_ONE_IMM[0xE8] = -4
_ONE_IMM[0xE9] = -4
_ONE_IMM[0xEB] = -1
for _op in (0xEC, 0xED, 0xEE, 0xEF, 0xF1, 0xF4, 0xF5, 0xF8, 0xF9, 0xFA, 0xFB, 0xFC, 0xFD):
    _ONE_IMM[_op] = 0
for _op in (0xF6, 0xF7, 0xFE, 0xFF):
    _ONE_MODRM[_op] = True
    _ONE_IMM[_op] = 0     # F6/F7 /0 /1 take an immediate: handled in decode

# ---- two-byte map (0F xx) --------------------------------------------------
_TWO_MODRM = [True] * 256
_TWO_IMM: list = [0] * 256
for _op in (0x04, 0x0A, 0x0C, 0x0F, 0x24, 0x25, 0x26, 0x27, 0x36, 0x39, 0x3B, 0x3C,
            0x3D, 0x3E, 0x3F, 0x78, 0x79, 0x7A, 0x7B, 0xA6, 0xA7,
            0x20, 0x21, 0x22, 0x23):
    # invalid, 3DNow!, VMX/SSE4a oddities, and mov to/from control and debug
    # registers (whose ModRM is a register form whatever its mod bits): give up
    _TWO_IMM[_op] = _NONE
for _op in (0x05, 0x06, 0x07, 0x08, 0x09, 0x0B, 0x0E, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35,
            0x37, 0x77, 0xA0, 0xA1, 0xA2, 0xA8, 0xA9, 0xAA):
    _TWO_MODRM[_op] = False
for _op in range(0xC8, 0xD0):     # bswap
    _TWO_MODRM[_op] = False
for _op in range(0x80, 0x90):     # jcc rel32
    _TWO_MODRM[_op] = False
    _TWO_IMM[_op] = -4
for _op in (0x70, 0x71, 0x72, 0x73, 0xA4, 0xAC, 0xBA, 0xC2, 0xC4, 0xC5, 0xC6):
    _TWO_IMM[_op] = 1
_TWO_IMM[0x38] = _NONE            # escapes, handled in decode
_TWO_IMM[0x3A] = _NONE

# VEX/EVEX map 1 opcodes with an imm8 (the rest of map 1 and all of map 2: none)
_VEX_MAP1_IMM8 = frozenset((0x70, 0x71, 0x72, 0x73, 0xC2, 0xC4, 0xC5, 0xC6))

#: what :func:`decode` yields per instruction
#: (start, end, terminator mnemonic or "", [relative target offsets])
Insn = tuple


def _modrm(data: bytes, p: int, n: int):
    """Skip the ModRM byte at ``p`` with its SIB and displacement: ``(the
    offset after them, the displacement of a [rip + disp32] operand or
    None)``, or None when the bytes end first."""
    if p >= n:
        return None
    m = data[p]
    mod, rm = m >> 6, m & 7
    if mod == 3:
        return p + 1, None
    if mod == 0 and rm == 5:
        if p + 5 > n:
            return None
        return p + 5, int.from_bytes(data[p + 1:p + 5], "little", signed=True)
    size = 1
    if rm == 4:
        if p + 1 >= n:
            return None
        size = 2
        if mod == 0 and data[p + 1] & 7 == 5:
            size += 4
    if mod == 1:
        size += 1
    elif mod == 2:
        size += 4
    return p + size, None


def decode(data: bytes):
    """Decode ``data`` (a whole code section, offset 0) into a list of
    ``(start, end, terminator, targets)``; None when any instruction is
    outside what this decoder knows (the caller then asks capstone)."""
    out = []
    n = len(data)
    pos = 0
    while pos < n:
        p = pos
        opsize16 = legacy = rex_w = False
        # legacy prefixes, then at most one REX right before the opcode
        while p < n and data[p] in _LEGACY:
            opsize16 = opsize16 or data[p] == 0x66
            legacy = True
            p += 1
        if p < n and data[p] == 0x67:
            return None
        if p < n and 0x40 <= data[p] <= 0x4F:
            rex_w = bool(data[p] & 8)
            p += 1
        if p >= n:
            return None
        op = data[p]
        p += 1
        term = ""
        modrm = False      # a ModRM operand follows the opcode
        imm = 0            # immediate bytes after it
        branch = 0         # bytes of a relative branch displacement
        if op == 0x0F:
            if p >= n:
                return None
            op2 = data[p]
            p += 1
            if op2 == 0x38 or op2 == 0x3A:
                p += 1                      # the third opcode byte
                modrm, imm = True, (1 if op2 == 0x3A else 0)
            else:
                kind = _TWO_IMM[op2]
                if kind is None:
                    return None
                modrm = _TWO_MODRM[op2]
                if kind == -4:
                    branch = 4
                else:
                    imm = kind
                if op2 == 0x0B and not legacy:
                    term = "ud2"
        elif op == 0xC4 or op == 0xC5 or op == 0x62:
            if legacy or data[pos] != op:
                return None                  # VEX/EVEX take no prefixes
            if op == 0xC5:
                mmap = 1
                p += 1
            elif op == 0xC4:
                if p >= n:
                    return None
                mmap = data[p] & 0x1F
                p += 2
            else:
                if p + 1 >= n:
                    return None
                if data[p] & 0x0C or not data[p + 1] & 0x04:
                    return None              # not a valid EVEX P0/P1
                mmap = data[p] & 0x07
                p += 3
            if mmap not in (1, 2, 3) or p >= n:
                return None
            vop = data[p]
            p += 1
            modrm = not (mmap == 1 and vop == 0x77 and op != 0x62)   # vzeroupper/all
            imm = 1 if mmap == 3 or (mmap == 1 and vop in _VEX_MAP1_IMM8) else 0
        else:
            kind = _ONE_IMM[op]
            if kind is None or (op == 0xC2 and opsize16):
                return None      # capstone reads "66 c2" with a 4-byte immediate
            modrm = _ONE_MODRM[op]
            if kind < 0:
                branch = -kind
                if not legacy and (op == 0xE9 or op == 0xEB):
                    term = "jmp"
            elif kind == 4:
                imm = 2 if opsize16 and not rex_w else 4
            elif kind == 8:
                imm = 8 if rex_w else (2 if opsize16 else 4)
            else:
                imm = kind
            if not legacy and (op == 0xC3 or op == 0xC2):
                term = "ret"
            if modrm:
                if p >= n:
                    return None
                reg = data[p] >> 3 & 7
                if op in (0xF6, 0xF7) and reg < 2:
                    imm = 1 if op == 0xF6 else (2 if opsize16 and not rex_w else 4)
                elif op == 0xFF:
                    if reg == 7:
                        return None
                    if reg == 4 and not legacy:
                        term = "jmp"
                elif (op == 0xFE and reg > 1) or (op == 0x8F and reg != 0) or \
                        (op in (0xC6, 0xC7) and reg != 0):
                    return None               # invalid, or xabort / xbegin
        rip = None
        if modrm:
            skipped = _modrm(data, p, n)
            if skipped is None:
                return None
            p, rip = skipped
        if branch:
            if opsize16 or p + branch > n:
                return None               # 16-bit branches: capstone and CPUs differ
            disp = int.from_bytes(data[p:p + branch], "little", signed=True)
            p += branch
            targets = [p + disp]
        else:
            p += imm
            targets = [] if rip is None else [p + rip]
        if p > n or p - pos > 15:
            return None              # truncated, or longer than the CPU accepts
        out.append((pos, p, term, targets))
        pos = p
    return out
