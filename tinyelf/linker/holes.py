"""Header holes: which code may be split to fill them, and how.

Straight-line code may be cut at instruction boundaries and continued with the
arch's shortest jump (x86: two-byte ``jmp rel8``).  The section is decoded by the arch's opcode tables
(``Arch.decode_insns``, tinyelf/arch/x86_64/insn.py), by capstone where they
give up.  A section is splittable only when every rule below holds, otherwise
it is placed whole:

* the section decodes from its first to its last byte, with no invalid
  instruction, and every relocation field lies inside one instruction, or
  covers whole instructions (riscv's CALL: ``auipc; jalr``), which then
  stay together as one unit;
* an instruction whose value depends on its own absolute address (the
  decoder gives the target ``None``: aarch64 ``adrp``, riscv ``auipc``) has
  a relocation that re-fixes it wherever it goes;
* every reference into the section from anywhere (relocations in any kept
  section, the entry symbol, GOT slots) targets offset 0, so moving the rest
  of the section cannot change any address taken;
* no relocation ties two instructions together (``Arch.ties_instructions``:
  GOT + A - P; on x86-64 also the large code model's 64-bit PC-relative idiom);
* the section refers to itself only through offset 0 (relocations) or
  through relative branches / RIP-relative operands without relocations, and
  those must stay inside one piece: no relative branch crosses a split;
* a piece put in a hole ends either with the section's own terminator
  (``Arch.terminators``) or with a jump to the next piece; a section that may fall
  off its end keeps its last piece in the ordinary (tail) part of the file.

``plan_chunks`` chooses the pieces for the free hole space by dynamic
programming: the most bytes moved out of the tail.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..arch import F_ABS, F_GOTOFF, F_PC



@dataclass
class CodeInfo:
    """What the splitter knows about one code section."""
    size: int
    #: instruction start offsets, plus ``size``
    bounds: list
    #: offset -> instruction (mnemonic) ending exactly there
    ends: dict
    #: (source_offset, target_offset) of relative references inside the section
    intra: list = field(default_factory=list)
    #: mnemonics after which execution does not fall through (the arch's)
    terminators: frozenset = frozenset()
    #: bytes of the jump that continues a piece in the next one (the arch's shortest)
    jump: int = 2
    #: the alignment a piece must start at (the machine's instruction alignment)
    align: int = 1
    #: (a, b) -> piece_ok(a, b): the layout search asks the same pieces often
    _ok: dict = field(default_factory=dict, repr=False)
    #: plan_chunks answers by (hole sizes, start, first hole): the layout
    #: search plans the same section for the same free space many times
    _plans: dict = field(default_factory=dict, repr=False)

    def terminator_before(self, off: int) -> bool:
        return self.ends.get(off) in self.terminators

    def piece_ok(self, a: int, b: int) -> bool:
        """True when no relative reference crosses the borders of [a, b)."""
        ok = self._ok.get((a, b))
        if ok is None:
            ok = self._ok[(a, b)] = all((a <= src < b) == (a <= dst < b)
                                        for src, dst in self.intra)
        return ok


def incoming_offsets_ok(link) -> dict:
    """Map a kept section to False when a relocation refers into it as
    "symbol plus an offset" (S + A with A not just the PC bias): such an
    address may land in another piece, so the section is never split.
    Plain symbol references are safe at any offset: ``Section.address_of``
    maps a symbol's value through the pieces."""
    ok = {}
    specs = link.arch.relocs
    for _sec, _off, rtype, addend, t in link.references():
        tsec = t.section
        if tsec is None or ok.get(tsec) is False:
            continue
        spec = specs.get(rtype)
        if spec is None:
            ok[tsec] = False
        elif spec.formula in (F_PC, F_ABS, F_GOTOFF):
            if link.referred_offset(spec, t, addend) != t.value:
                ok[tsec] = False
    return ok


def analyze(sec, link) -> CodeInfo | None:
    """Decode a code section; None when it must not be split.

    The arch's own length decoder (``arch.decode_insns``, no capstone import)
    is asked first; capstone decodes what it does not know."""
    arch = link.arch
    if sec.is_nobits or sec.size < 2 or not sec.data or not arch.jump_sizes:
        return None
    data = bytes(sec.data)
    specs = arch.relocs
    for _r_off, rt, _s, _a in sec.relocs:
        spec = specs.get(rt)
        if spec is None or arch.ties_instructions(spec):
            return None
    insns = arch.decode_insns(data)
    if insns is None:
        insns = arch.capstone_insns(data)
        if insns is None:
            return None
    info = code_info(data, insns, [(r_off, r_off + specs[rt].size)
                                   for r_off, rt, _symidx, _addend in sec.relocs])
    if info is not None:
        info.terminators = arch.terminators
        info.jump = arch.split_jump_size(sec)
        info.align = arch.code_align(sec)
    return info


def code_info(data: bytes, insns, fields) -> CodeInfo | None:
    """CodeInfo from decoded instructions ``(start, end, mnemonic, targets)``
    and the relocation fields ``(start, end)``; None when the instructions do
    not tile the section, a field straddles an instruction boundary without
    covering whole instructions, or an instruction pinned to its address
    (target None) has no relocation.  A field that covers several whole
    instructions joins them into one unit (no split between them)."""
    units = _units(insns, sorted(fields))
    if units is None:
        return None
    bounds, ends, intra = [], {}, []
    pos = 0
    for start, end, mnemonic, targets, has_reloc in units:
        if start != pos:
            return None
        bounds.append(start)
        ends[end] = mnemonic
        if not has_reloc:
            if None in targets:
                return None
            for t in targets:
                intra.append((start, t))
        pos = end
    if pos != len(data):
        return None
    bounds.append(len(data))
    return CodeInfo(size=len(data), bounds=bounds, ends=ends, intra=intra)


def _units(insns, fields):
    """``[(start, end, mnemonic, targets, has_reloc)]``: the instructions,
    those a relocation field covers together joined; None when a field cuts
    an instruction and does not fit inside it."""
    out = []
    nf = len(fields)
    f = 0
    cover = (0, 0)          # a field covering whole instructions: [start, end)
    for start, end, mnemonic, targets in insns:
        while f < nf and fields[f][1] <= start:
            f += 1
        inside = cover[0] < start < cover[1]
        has_reloc = False
        k = f
        while k < nf and fields[k][0] < end:
            a, b = fields[k]
            if b > start:
                if a < start:
                    if not (inside and b <= cover[1]):
                        return None         # begins inside an earlier instruction
                elif b > end:
                    if a != start:
                        return None         # begins inside this one, ends beyond
                    cover = (a, max(b, cover[1]) if inside else b)
                has_reloc = True
            k += 1
        if inside:
            if end > cover[1]:
                return None                 # the covering field ends inside this one
            s0, _e, _m, t0, _r = out[-1]
            out[-1] = (s0, end, mnemonic, t0 + list(targets), True)
        else:
            out.append((start, end, mnemonic, list(targets), has_reloc))
    if out and cover[1] > out[-1][1]:
        return None
    return out


def plan_chunks(info: CodeInfo, free: list, start_pos: int = 0, first_hole=None):
    """Split ``info`` into pieces for the free hole intervals.

    ``free``: list of ``[offset, size]`` (file offsets of free space).
    Returns ``(end_pos, [(sec_start, sec_end, hole_index, needs_jmp)])``:
    the pieces in section order; ``end_pos`` is where the part left for the
    tail starts (``info.size`` when nothing is left).  ``first_hole``: the
    first piece must go to this hole index (at its start).
    Dynamic programming over (position, holes used): the most bytes moved.
    Only the hole sizes matter, so answers are memoised on ``info``.
    """
    key = (tuple(size for _off, size in free), start_pos, first_hole)
    hit = info._plans.get(key)
    if hit is None:
        hit = info._plans[key] = _plan_chunks(info, free, start_pos, first_hole)
    return hit[0], list(hit[1])


def _plan_chunks(info: CodeInfo, free: list, start_pos: int, first_hole):
    n = len(free)
    bounds = info.bounds
    idx = {b: i for i, b in enumerate(bounds)}
    best = {(start_pos, 0): None}
    frontier = [(start_pos, 0)]
    seen = set(frontier)
    order = []
    while frontier:
        nxt = []
        for pos, mask in frontier:
            order.append((pos, mask))
            if pos == info.size:
                continue
            for h in range(n):
                if mask >> h & 1:
                    continue
                if first_hole is not None and mask == 0 and h != first_hole:
                    continue
                cap = free[h][1]
                for j in range(idx[pos] + 1, len(bounds)):
                    e = bounds[j]
                    last = e == info.size
                    term = info.terminator_before(e)
                    if last and not term:
                        continue          # may fall off the end: keep it in the tail
                    need = e - pos + (0 if term else info.jump)
                    if need > cap:
                        if e - pos > cap:
                            break
                        continue
                    if not info.piece_ok(pos, e):
                        continue
                    st = (e, mask | 1 << h)
                    if st not in seen:
                        seen.add(st)
                        best[st] = (pos, mask, h, not term)
                        nxt.append(st)
        frontier = nxt
    # the state with the most bytes moved (ties: fewer pieces)
    goal = max(best, key=lambda s: (s[0], -bin(s[1]).count("1")))
    if first_hole is not None and goal[1] == 0:
        return start_pos, []
    pieces = []
    st = goal
    while best[st] is not None:
        pos, mask, h, jmp = best[st]
        pieces.append((pos, st[0], h, jmp))
        st = (pos, mask)
    pieces.reverse()
    return goal[0], pieces
