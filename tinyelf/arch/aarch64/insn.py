"""AArch64 instructions for the code splitter (tinyelf.linker.holes) and
hot-code detection: boundaries (every instruction is 4 bytes), which ones end
straight-line code, and the PC-relative ones with their targets.

No capstone: the PC-relative classes are a handful of fixed bit patterns
(Arm ARM C4.1, "A64 instruction set encoding"); tests/test_risc_split.py
holds this reading to capstone's on every code section the samples and the
cross corpus compile to.

* ``b``/``bl`` (imm26), ``b.cond``/``bc.cond``/``cbz``/``cbnz``/``ldr``
  literal (imm19), ``tbz``/``tbnz`` (imm14), ``adr`` (imm21): relative
  targets (a piece moved away from its target without a relocation would
  change meaning, so the splitter keeps them in one piece);
* ``adrp``: its value is the page of its own address plus an offset, so it
  is pinned (target None) unless a relocation re-fixes it where it lands;
* ``br``/``braa``...: an indirect jump that is not a return: with -Os/-O2 it
  is a switch's jump table, whose entries are distances between labels of
  the section that the assembler computed (no relocation): the section is
  not split at all (decode returns None).
"""
from __future__ import annotations

#: after these execution does not fall through
TERMINATORS = frozenset({"b", "ret", "udf", "brk"})

#: (mask, value, mnemonic, (bit position, width, shift) of the signed offset)
_RELATIVE = (
    (0xFC000000, 0x14000000, "b", (0, 26, 2)),
    (0xFC000000, 0x94000000, "bl", (0, 26, 2)),
    (0xFF000000, 0x54000000, "b.cond", (5, 19, 2)),
    (0x7E000000, 0x34000000, "cbz", (5, 19, 2)),
    (0x7E000000, 0x36000000, "tbz", (5, 14, 2)),
    (0x3B000000, 0x18000000, "ldr", (5, 19, 2)),   # literal: LDR, LDRSW, PRFM, SIMD LDR
)


def _sext(v: int, bits: int) -> int:
    return v - (1 << bits) if v >> (bits - 1) & 1 else v


def decode_one(w: int, at: int):
    """``(mnemonic, targets)`` of the instruction word ``w`` at section
    offset ``at`` ("" for one the splitter needs nothing of); None for an
    indirect jump that is not a return."""
    for mask, value, name, (pos, width, shift) in _RELATIVE:
        if w & mask == value:
            return name, [at + (_sext(w >> pos & ((1 << width) - 1), width) << shift)]
    if w & 0x9F000000 == 0x10000000:                 # adr: immhi:immlo
        return "adr", [at + _sext((w >> 5 & 0x7FFFF) << 2 | (w >> 29 & 3), 21)]
    if w & 0x9F000000 == 0x90000000:                 # adrp: pinned to its page
        return "adrp", [None]
    if w & 0xFE000000 == 0xD6000000:                 # branch to a register
        opc = w >> 21 & 0xF
        if opc == 2:
            return "ret", []
        if opc in (1, 9):
            return "blr", []
        return None                                  # br, braa, eret ...
    if w >> 16 == 0:
        return "udf", []
    if w & 0xFFE0001F == 0xD4200000:
        return "brk", []
    return "", []


def decode(data: bytes):
    """``[(start, end, mnemonic, targets)]`` of a code section; None when
    its size is not a multiple of 4 or it has an indirect jump (see the
    module docstring)."""
    if len(data) % 4:
        return None
    out = []
    for at in range(0, len(data), 4):
        one = decode_one(int.from_bytes(data[at:at + 4], "little"), at)
        if one is None:
            return None
        out.append((at, at + 4, one[0], one[1]))
    return out


def encode_b(at: int, target: int) -> bytes | None:
    """``b target`` placed at ``at``; None beyond +-128 MiB or misaligned."""
    rel = target - at
    if rel % 4 or not -(1 << 27) <= rel < (1 << 27):
        return None
    return (0x14000000 | (rel >> 2) & 0x3FFFFFF).to_bytes(4, "little")


def b_target(read, addr: int):
    """Where a ``b`` at ``addr`` goes (``read(addr, n)``: memory), or None."""
    raw = read(addr, 4)
    if raw is None:
        return None
    w = int.from_bytes(raw, "little")
    if w & 0xFC000000 != 0x14000000:
        return None
    return addr + (_sext(w & 0x3FFFFFF, 26) << 2)
