"""RISC-V (RV64GC) instructions for the code splitter (tinyelf.linker.holes)
and hot-code detection: boundaries (2-byte compressed or 4-byte; the length
is in the low bits), which ones end straight-line code, and the PC-relative
ones with their targets.

No capstone: the RISC-V unprivileged ISA's base formats are enough
(tests/test_risc_split.py holds this reading to capstone's).

* ``jal``/``j``, the branches, ``c.j``, ``c.beqz``/``c.bnez``: relative
  targets (kept in one piece with their target unless a relocation
  re-fixes them: with linker relaxation on, the assembler leaves one on
  every branch);
* ``auipc``: its value is its own address plus an offset, so it is pinned
  (target None) unless a relocation (PCREL_HI20, GOT_HI20, CALL) re-fixes
  it; ``auipc; jalr`` under one CALL relocation is one unit for the splitter;
* ``jr``/``ret``/``c.jr``, ``j``/``c.j`` and ``unimp``/``ebreak`` end
  straight-line code.  An indirect jump is no hazard here as it is on
  aarch64: GCC puts a switch's jump table in .rodata with relocations.
"""
from __future__ import annotations

TERMINATORS = frozenset({"j", "jr", "c.j", "c.jr", "unimp"})


def _bits(v: int, hi: int, lo: int) -> int:
    return (v >> lo) & ((1 << (hi - lo + 1)) - 1)


def _sext(v: int, bits: int) -> int:
    return v - (1 << bits) if v >> (bits - 1) & 1 else v


def j_offset(w: int) -> int:
    return _sext(_bits(w, 31, 31) << 20 | _bits(w, 19, 12) << 12 | _bits(w, 20, 20) << 11 |
                 _bits(w, 30, 21) << 1, 21)


def b_offset(w: int) -> int:
    return _sext(_bits(w, 31, 31) << 12 | _bits(w, 7, 7) << 11 | _bits(w, 30, 25) << 5 |
                 _bits(w, 11, 8) << 1, 13)


def cj_offset(h: int) -> int:
    return _sext(_bits(h, 12, 12) << 11 | _bits(h, 8, 8) << 10 | _bits(h, 10, 9) << 8 |
                 _bits(h, 6, 6) << 7 | _bits(h, 7, 7) << 6 | _bits(h, 2, 2) << 5 |
                 _bits(h, 11, 11) << 4 | _bits(h, 5, 3) << 1, 12)


def cb_offset(h: int) -> int:
    return _sext(_bits(h, 12, 12) << 8 | _bits(h, 6, 5) << 6 | _bits(h, 2, 2) << 5 |
                 _bits(h, 11, 10) << 3 | _bits(h, 4, 3) << 1, 9)


def _decode32(w: int, at: int):
    op = w & 0x7F
    if op == 0x6F:                                   # jal
        return ("j" if _bits(w, 11, 7) == 0 else "jal"), [at + j_offset(w)]
    if op == 0x63:
        return "branch", [at + b_offset(w)]
    if op == 0x17:
        return "auipc", [None]
    if op == 0x67:                                   # jalr
        return ("jr" if _bits(w, 11, 7) == 0 else "jalr"), []
    if w in (0xC0001073, 0x00100073):                # unimp (csrrw x0, cycle, x0), ebreak
        return "unimp", []
    return "", []


def _decode16(h: int, at: int):
    quadrant, funct3 = h & 3, h >> 13
    if h == 0:
        return "unimp", []                           # c.unimp
    if quadrant == 1 and funct3 == 5:
        return "c.j", [at + cj_offset(h)]
    if quadrant == 1 and funct3 in (6, 7):
        return "c.beqz", [at + cb_offset(h)]
    if quadrant == 2 and funct3 == 4 and _bits(h, 6, 2) == 0:
        rs1, link = _bits(h, 11, 7), _bits(h, 12, 12)
        if rs1 == 0:
            return ("unimp" if link else ""), []     # c.ebreak
        return ("c.jalr" if link else "c.jr"), []
    return "", []


def decode(data: bytes):
    """``[(start, end, mnemonic, targets)]`` of a code section; None when it
    does not decode to its end (an odd size, a 48-bit or longer encoding)."""
    out = []
    at, n = 0, len(data)
    while at < n:
        if at + 2 > n:
            return None
        h = data[at] | data[at + 1] << 8
        if h & 3 != 3:
            name, targets = _decode16(h, at)
            out.append((at, at + 2, name, targets))
            at += 2
            continue
        if h & 0x1F == 0x1F or at + 4 > n:
            return None
        w = int.from_bytes(data[at:at + 4], "little")
        name, targets = _decode32(w, at)
        out.append((at, at + 4, name, targets))
        at += 4
    return out


def encode_jump(at: int, target: int, size: int) -> bytes | None:
    """``c.j`` (2 bytes, +-2 KiB) or ``jal x0`` (4 bytes, +-1 MiB) at ``at``."""
    rel = target - at
    if rel % 2:
        return None
    if size == 2 and -(1 << 11) <= rel < (1 << 11):
        h = 0xA001 | _bits(rel, 11, 11) << 12 | _bits(rel, 4, 4) << 11 | \
            _bits(rel, 9, 8) << 9 | _bits(rel, 10, 10) << 8 | _bits(rel, 6, 6) << 7 | \
            _bits(rel, 7, 7) << 6 | _bits(rel, 3, 1) << 3 | _bits(rel, 5, 5) << 2
        return h.to_bytes(2, "little")
    if size == 4 and -(1 << 20) <= rel < (1 << 20):
        w = 0x6F | _bits(rel, 20, 20) << 31 | _bits(rel, 10, 1) << 21 | \
            _bits(rel, 11, 11) << 20 | _bits(rel, 19, 12) << 12
        return w.to_bytes(4, "little")
    return None


def jump_target(read, addr: int):
    """Where a ``c.j`` or ``j`` (jal x0) at ``addr`` goes, or None."""
    raw = read(addr, 2)
    if raw is None:
        return None
    h = raw[0] | raw[1] << 8
    if h & 0xE003 == 0xA001:
        return addr + cj_offset(h)
    raw = read(addr, 4)
    if raw is None:
        return None
    w = int.from_bytes(raw, "little")
    if w & 0xFFF == 0x6F:
        return addr + j_offset(w)
    return None
