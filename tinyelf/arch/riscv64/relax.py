"""riscv64 linker relaxation (what GNU ld's bfd/elfnn-riscv.c and lld's
ELF/Arch/RISCV.cpp do, written for tinyelf's model).

Where an instruction pair carries R_RISCV_RELAX:

* ``call``/``tail`` (auipc+jalr, R_RISCV_CALL/CALL_PLT) -> ``jal rd`` (-4
  bytes) within +-1 MiB, or ``c.j`` (-6) for a tail call (rd = x0) within
  +-2 KiB in code compiled with RVC;
* ``lui rd, %hi(x)`` + ``addi/ld/sd ..., %lo(x)(rd)`` (HI20/LO12_I/S) -> the
  lui deleted and the low parts made relative to x0 (x within +-2 KiB of 0)
  or gp (x within +-2 KiB of ``__global_pointer$``), else ``c.lui`` (-2)
  where the upper part fits its 6 bits (RVC, rd not x0/x2);
* ``auipc rd, %pcrel_hi(x)`` + its PCREL_LO12_I/S -> the auipc deleted and
  the low parts gp-relative (x not in code, as GNU ld: code may still move).

A lui/auipc is deleted only when every low part that uses it (the same
symbol in its section for lui; every PCREL_LO12 naming the auipc's label)
carries R_RISCV_RELAX and reaches the whole symbol from its new base.
R_RISCV_ALIGN padding is then cut to what reaches its boundary from the new
address; padding too short for that (a relaxation before it moved it by an
amount the nops cannot absorb) is an error.  The assembler writes the most
padding an alignment may need and leaves the cut to the linker, so ALIGN is
honoured with ``--no-relax`` too (as GNU ld and lld do): only the rewrites
are off then.

gp-relative forms are made only when ``__global_pointer$`` is defined: an
input defines it, or refers to it (tinyelf then defines it, see
``gp_value``: a C runtime's ``lla gp, __global_pointer$`` is what sets gp),
or tinyelf's own start stub is linked: the stub sets gp in two instructions
marked ``__tinyelf_gp_setup`` that are deleted again when the gp forms do
not save more than those 8 bytes.  A program whose own ``_start`` neither
sets gp nor names ``__global_pointer$`` gets no gp-relative code (GNU ld's
default script defines the symbol for every program and would relax).

Each round decides everything afresh from the sections' original contents
and the addresses of the current layout (as lld does), then rebuilds the
sections.  A rewrite made in one round and out of range in a later layout is
withdrawn and never tried again, so the rounds settle.
"""
from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

from ...elf.defs import SHF_EXECINSTR, STT_SECTION
from ...errors import RelocationError
from ...linker.model import symbol_address

R_JAL, R_CALL, R_CALL_PLT = 17, 18, 19
R_GOT_HI20, R_PCREL_HI20, R_PCREL_LO12_I, R_PCREL_LO12_S = 20, 23, 24, 25
R_HI20, R_LO12_I, R_LO12_S = 26, 27, 28
R_ALIGN, R_RVC_JUMP, R_RELAX = 43, 45, 51
#: tinyelf's own relocation types, placed only by the relaxation (never read
#: from an object: scan refuses them, Arch.internal_relocs): the low 12 bits relative to gp or x0,
#: and the upper bits in a c.lui
R_GPREL_I, R_GPREL_S, R_ABS12_I, R_ABS12_S, R_RVC_LUI = 0x10001, 0x10002, 0x10003, 0x10004, 0x10005
INTERNAL = frozenset({R_GPREL_I, R_GPREL_S, R_ABS12_I, R_ABS12_S, R_RVC_LUI})

GP_SYMBOL = "__global_pointer$"
#: the label of the start stub's gp setup (auipc gp + addi gp: 8 bytes)
GP_SETUP = "__tinyelf_gp_setup"
EF_RISCV_RVC = 0x1
X0, GP, SP = 0, 3, 2
NOP, C_NOP, C_J = 0x00000013, 0x0001, 0xA001


def _fits12(v: int) -> bool:
    return -2048 <= v <= 2047


def _clui_fits(v: int) -> bool:
    hi = (v + 0x800) >> 12
    return hi != 0 and -32 <= hi <= 31


def _u32(data, off: int) -> int:
    return int.from_bytes(data[off:off + 4], "little")


def _with_rs1(insn: int, reg: int) -> bytes:
    return ((insn & ~(0x1F << 15)) | reg << 15).to_bytes(4, "little")


class _Map:
    """Original section offset -> offset after ``deletes`` [(start, n)]
    (sorted, disjoint); an offset inside deleted bytes maps to where they were."""

    def __init__(self, deletes):
        self.starts = [s for s, _n in deletes]
        self.ends = [s + n for s, n in deletes]
        self.cum = []
        total = 0
        for _s, n in deletes:
            total += n
            self.cum.append(total)

    def __call__(self, off: int) -> int:
        k = bisect_right(self.starts, off) - 1
        if k < 0:
            return off
        if off >= self.ends[k]:
            return off - self.cum[k]
        return self.starts[k] - (self.cum[k] - (self.ends[k] - self.starts[k]))


@dataclass
class _Plan:
    """One section's rewrites, in original offsets."""
    deletes: list = field(default_factory=list)     # [(start, n)]
    writes: dict = field(default_factory=dict)      # offset -> bytes
    relocs: dict = field(default_factory=dict)      # reloc index -> new tuple, or None: dropped
    saved: int = 0

    def delete(self, start: int, n: int) -> None:
        if n:
            self.deletes.append((start, n))
            self.saved += n

    def key(self):
        return (tuple(sorted(self.deletes)), tuple(sorted(self.writes.items())))


@dataclass
class State:
    """What the relaxation keeps between rounds (``link.relaxation``)."""
    sections: list                  # the sections it may rewrite
    orig: dict                      # sec -> (data, relocs) as read
    symbols: list                   # [(sym, section, value, size)] as read
    referrers: dict                 # sec not relaxed -> its relocs as read (section-symbol refs)
    labels: dict                    # (sec, label offset) -> [(lo sec, reloc index)]
    setup: tuple | None             # (sec, offset) of the stub's gp setup
    relax: bool                     # rewrite the program's code (not only the stub's setup)
    maps: dict = field(default_factory=dict)        # sec -> _Map of the applied plan
    applied: dict = field(default_factory=dict)     # rewrite key -> True
    banned: set = field(default_factory=set)
    keys: dict = field(default_factory=dict)        # sec -> plan key applied
    summary: dict = field(default_factory=dict)


def relax(link) -> bool:
    """One round (see the module docstring): True when a section changed."""
    st = link.relaxation
    if st is None:
        st = link.relaxation = _init(link)
    if not st.sections:
        return False
    gp_sym = link.globals.get(GP_SYMBOL)
    gp_defined = gp_sym is not None and not gp_sym.is_undefined
    if st.setup is not None and st.relax and gp_defined:
        with_gp = _decide(link, st, True)
        without = _decide(link, st, False)
        choice = with_gp if _saved(with_gp) > _saved(without) else without
    else:
        choice = _decide(link, st, gp_defined and st.relax and st.setup is None)
    _check_applied(st, choice)
    keys = {sec: plan.key() for sec, plan in choice[0].items() if plan.deletes or plan.writes}
    if keys == st.keys:
        return False
    _apply(link, st, choice[0])
    st.keys = keys
    st.applied = dict.fromkeys(choice[1], True)
    st.summary = choice[2]
    _report(link, st, choice[0])
    return True


def _saved(choice) -> int:
    return sum(p.saved for p in choice[0].values())


def _init(link) -> State:
    """The sections to relax and everything that moves with their bytes,
    as read (each round starts again from these)."""
    relax_on = link.options.relax
    setup = None
    secs = []
    for sec in link.kept:
        if not sec.flags & SHF_EXECINSTR or sec.is_nobits:
            continue
        kinds = {r[1] for r in sec.relocs}
        if R_ALIGN in kinds or (relax_on and R_RELAX in kinds):
            secs.append(sec)
    for sym in (link.globals.get("_start"),):
        if sym is None or sym.section is None or sym.section not in link.kept:
            continue
        mark = next((s for s in sym.obj.symbols if s.name == GP_SETUP and s.is_local
                     and s.section is sym.section), None)
        if mark is not None:
            setup = (mark.section, mark.value)
            if mark.section not in secs:
                secs.append(mark.section)
    if not secs:
        return State([], {}, [], {}, {}, None, relax_on)
    chosen = set(secs)
    orig = {sec: (bytes(sec.data), list(sec.relocs)) for sec in secs}
    symbols = []
    for obj in link.objects + [link.synthetic]:
        for sym in obj.symbols:
            if sym.section in chosen and sym.type != STT_SECTION:
                symbols.append((sym, sym.section, sym.value, sym.size))
    referrers = {}
    for sec in link.kept:
        if sec in chosen:
            continue
        for _o, _t, symidx, _a in sec.relocs:
            t = sec.obj.symbols[symidx] if symidx else None
            if t is not None and t.type == STT_SECTION and t.section in chosen:
                referrers[sec] = list(sec.relocs)
                break
    labels = {}
    for sec in secs:
        for i, (_o, rtype, symidx, _a) in enumerate(orig[sec][1]):
            if rtype in (R_PCREL_LO12_I, R_PCREL_LO12_S):
                lab = link.target(sec.obj, symidx)
                if lab.section in chosen:
                    labels.setdefault((lab.section, lab.value), []).append((sec, i))
    return State(secs, orig, symbols, referrers, labels, setup, relax_on)


# ------------------------------------------------------------------ deciding
class _Round:
    """One decision over every section: plans, the rewrites' keys, counts."""

    def __init__(self, link, st, use_gp):
        self.link, self.st, self.use_gp = link, st, use_gp
        gp = link.globals.get(GP_SYMBOL)
        self.gp = symbol_address(gp) if use_gp else None
        self.plans = {}
        self.keys = []
        self.valid = {}             # key -> in range now (for the ones tried)
        self.counts = {}

    def addr(self, sec, off: int) -> int:
        """The current address of original offset ``off`` of ``sec``."""
        m = self.st.maps.get(sec)
        return sec.address_of(m(off) if m else off)

    def take(self, key, ok: bool, what: str) -> bool:
        """Whether to make the rewrite ``key`` (in range now: ``ok``)."""
        self.valid[key] = ok
        if not ok or key in self.st.banned:
            return False
        self.keys.append(key)
        self.counts[what] = self.counts.get(what, 0) + 1
        return True


def _decide(link, st, use_gp):
    """(plans, rewrite keys, counts) for this round; ``use_gp``: gp-relative
    forms allowed (the stub's gp setup kept)."""
    rd = _Round(link, st, use_gp)
    rd.plans = {sec: _Plan() for sec in st.sections}
    for sec in st.sections:
        plan = rd.plans[sec]
        if st.relax:
            _calls(rd, sec, plan)
            _lui_pairs(rd, sec, plan)
            _auipc_pairs(rd, sec, plan)
    if st.setup is not None:
        sec, off = st.setup
        if not (use_gp and rd.counts.get("gp", 0) + rd.counts.get("gp-pcrel", 0)):
            rd.plans[sec].delete(off, 8)
            rd.counts["gp setup dropped"] = 1
    for sec in st.sections:
        plan = rd.plans[sec]
        plan.deletes.sort()
        _aligns(rd, sec, plan)
    return rd.plans, rd.keys, dict(rd.counts, valid=rd.valid)


def _relaxed_offsets(relocs) -> set:
    return {r[0] for r in relocs if r[1] == R_RELAX}


def _calls(rd: _Round, sec, plan: _Plan) -> None:
    data, relocs = rd.st.orig[sec]
    rvc = bool(sec.obj.e_flags & EF_RISCV_RVC)
    marked = _relaxed_offsets(relocs)
    for i, (off, rtype, symidx, addend) in enumerate(relocs):
        if rtype not in (R_CALL, R_CALL_PLT) or off not in marked:
            continue
        t = rd.link.target(sec.obj, symidx)
        disp = symbol_address(t) + addend - rd.addr(sec, off)
        rd_reg = (_u32(data, off + 4) >> 7) & 0x1F
        if rvc and rd_reg == X0 and rd.take(("cj", sec, off), -2048 <= disp <= 2046, "c.j"):
            plan.writes[off] = C_J.to_bytes(2, "little")
            plan.delete(off + 2, 6)
            plan.relocs[i] = (off, R_RVC_JUMP, symidx, addend)
        elif rd.take(("jal", sec, off), -(1 << 20) <= disp < (1 << 20), "jal"):
            plan.writes[off] = (0x6F | rd_reg << 7).to_bytes(4, "little")
            plan.delete(off + 4, 4)
            plan.relocs[i] = (off, R_JAL, symidx, addend)



def _reach(rd: _Round, t, addends, base: int) -> bool:
    """True when ``t`` + each addend, and the whole of ``t``, lie within
    +-2 KiB of ``base``."""
    s = symbol_address(t)
    points = [s + a for a in addends] + [s, s + max(0, t.size - 1)]
    return all(_fits12(p - base) for p in points)


def _lui_pairs(rd: _Round, sec, plan: _Plan) -> None:
    """HI20 + LO12_I/S of one symbol: the luis deleted (low parts on x0 or
    gp), or each lui a c.lui."""
    data, relocs = rd.st.orig[sec]
    obj = sec.obj
    rvc = bool(obj.e_flags & EF_RISCV_RVC)
    marked = _relaxed_offsets(relocs)
    uses = {}                           # target -> [(index, reloc)]
    for i, r in enumerate(relocs):
        if r[1] in (R_HI20, R_LO12_I, R_LO12_S):
            uses.setdefault(rd.link.target(obj, r[2]), []).append((i, r))
    for t, rs in uses.items():
        base = _lui_base(rd, sec, t, rs, marked)
        for i, (off, rtype, symidx, addend) in rs:
            if off not in marked:
                continue
            if base is not None:
                if rtype == R_HI20:
                    plan.delete(off, 4)
                    plan.relocs[i] = None
                else:
                    plan.writes[off] = _with_rs1(_u32(data, off), base)
                    new = {R_LO12_I: (R_GPREL_I, R_ABS12_I), R_LO12_S: (R_GPREL_S, R_ABS12_S)}
                    plan.relocs[i] = (off, new[rtype][base == X0], symidx, addend)
                continue
            if rtype != R_HI20 or not rvc:
                continue
            reg = (_u32(data, off) >> 7) & 0x1F
            value = symbol_address(t) + addend
            if reg not in (X0, SP) and rd.take(("clui", sec, off), _clui_fits(value), "c.lui"):
                plan.writes[off] = (0x6001 | reg << 7).to_bytes(2, "little")
                plan.delete(off + 2, 2)
                plan.relocs[i] = (off, R_RVC_LUI, symidx, addend)


def _lui_base(rd: _Round, sec, t, rs, marked):
    """The register the low parts of ``t`` in ``sec`` can use instead of
    their lui (x0, else gp), or None."""
    if not any(r[1] == R_HI20 and r[0] in marked for _i, r in rs):
        return None
    if any(r[0] not in marked for _i, r in rs if r[1] != R_HI20):
        return None                     # a low part that may not change: keep the luis
    addends = [r[3] for _i, r in rs]
    if rd.take(("x0", sec, id(t)), _reach(rd, t, addends, 0), "x0"):
        return X0
    if rd.gp is not None and rd.take(("gp", sec, id(t)), _reach(rd, t, addends, rd.gp), "gp"):
        return GP
    return None


def _auipc_pairs(rd: _Round, sec, plan: _Plan) -> None:
    """PCREL_HI20 (auipc) + the PCREL_LO12s naming its label -> gp-relative
    low parts, the auipc deleted."""
    if rd.gp is None:
        return
    data, relocs = rd.st.orig[sec]
    obj = sec.obj
    marked = _relaxed_offsets(relocs)
    for i, (off, rtype, symidx, addend) in enumerate(relocs):
        if rtype != R_PCREL_HI20 or off not in marked:
            continue
        los = rd.st.labels.get((sec, off), [])
        if not los or any(rd.st.orig[ls][1][li][0] not in _relaxed_offsets(rd.st.orig[ls][1])
                          for ls, li in los):
            continue
        t = rd.link.target(obj, symidx)
        if t.section is not None and t.section.flags & SHF_EXECINSTR:
            continue                    # code may still move (GNU ld's rule)
        lo_adds = [addend + rd.st.orig[ls][1][li][3] for ls, li in los]
        if not rd.take(("gp-pcrel", sec, off), _reach(rd, t, lo_adds, rd.gp), "gp-pcrel"):
            continue
        plan.delete(off, 4)
        plan.relocs[i] = None
        for ls, li in los:
            lo_off, lo_type, _s, lo_add = rd.st.orig[ls][1][li]
            lplan = rd.plans[ls]
            lplan.writes[lo_off] = _with_rs1(_u32(rd.st.orig[ls][0], lo_off), GP)
            new = R_GPREL_I if lo_type == R_PCREL_LO12_I else R_GPREL_S
            lplan.relocs[li] = (lo_off, new, symidx, addend + lo_add)


def _aligns(rd: _Round, sec, plan: _Plan) -> None:
    """Cut each R_RISCV_ALIGN's nops to what reaches its boundary from where
    the deletions before it put it (RelocationError when they cannot)."""
    data, relocs = rd.st.orig[sec]
    rvc = bool(sec.obj.e_flags & EF_RISCV_RVC)
    step = 2 if rvc else 4
    extra = []
    for i, (off, rtype, _s, n) in enumerate(relocs):
        if rtype != R_ALIGN:
            continue
        align = 1
        while align < n + step:
            align <<= 1
        moved = _Map(sorted(plan.deletes + extra))(off)
        need = (-(sec.addr + moved)) % align
        if need > n or need % step:
            raise RelocationError(
                f"{sec.where()}+{off:#x}: R_RISCV_ALIGN needs {need} bytes of nops to reach "
                f"its {align}-byte boundary after relaxation, but only {n} are there: the "
                "padding does not fit the code before it any more (a corrupt or hand-made "
                "object); link with --no-relax")
        nops = bytes()
        while len(nops) + 4 <= need:
            nops += NOP.to_bytes(4, "little")
        if len(nops) < need:
            nops += C_NOP.to_bytes(2, "little")
        if nops:
            plan.writes[off] = nops
        if n - need:
            extra.append((off + need, n - need))
        plan.relocs[i] = (off, R_ALIGN, 0, need)
    if extra:
        plan.deletes = sorted(plan.deletes + extra)
        plan.saved += sum(n for _o, n in extra)


def _check_applied(st: State, choice) -> None:
    """A rewrite applied in an earlier round that is out of range in this
    layout is withdrawn for good."""
    valid = choice[2]["valid"]
    for key in st.applied:
        if valid.get(key) is False:
            st.banned.add(key)


# ------------------------------------------------------------------ applying
def _apply(link, st: State, plans: dict) -> None:
    """Rebuild every relaxed section from its original contents and
    ``plans``; move symbols and section-symbol addends with the bytes."""
    maps = {sec: _Map(sorted(plan.deletes)) for sec, plan in plans.items()}
    st.maps = maps
    for sec, plan in plans.items():
        data, relocs = st.orig[sec]
        buf = bytearray(data)
        for off, b in plan.writes.items():
            buf[off:off + len(b)] = b
        out = bytearray()
        pos = 0
        for start, n in sorted(plan.deletes):
            out += buf[pos:start]
            pos = start + n
        out += buf[pos:]
        sec.data = bytes(out)
        sec.size = len(out)
        m = maps[sec]
        new = []
        for i, r in enumerate(relocs):
            r = plan.relocs.get(i, r)
            if r is None or r[1] == R_RELAX or _deleted(m, r[0]):
                continue
            new.append(_moved(link, sec.obj, (m(r[0]),) + tuple(r[1:]), maps))
        sec._relocs = new
    for sec, relocs in st.referrers.items():
        sec._relocs = [_moved(link, sec.obj, r, maps) for r in relocs]
    for sym, sec, value, size in st.symbols:
        m = maps.get(sec)
        if m is None:
            continue
        sym.value = m(value)
        if size:
            sym.size = m(value + size) - sym.value


def _deleted(m: _Map, off: int) -> bool:
    k = bisect_right(m.starts, off) - 1
    return k >= 0 and off < m.ends[k]


def _moved(link, obj, r, maps):
    """Relocation ``r`` with its addend moved when it names the section
    symbol of a relaxed section (its addend is then an offset there)."""
    off, rtype, symidx, addend = r
    if symidx and rtype not in (R_ALIGN, R_RELAX):
        t = obj.symbols[symidx]
        if t.type == STT_SECTION and t.section in maps:
            return off, rtype, symidx, maps[t.section](addend)
    return r


def _report(link, st: State, plans: dict) -> None:
    counts = {k: v for k, v in st.summary.items() if k != "valid"}
    saved = sum(p.saved for p in plans.values())
    what = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
    link.squeezed["relax"] = f"{saved} bytes deleted" + (f" ({what})" if what else "")


def gp_value(link, mem_end: int) -> int:
    """``__global_pointer$`` as GNU ld's default script sets it,
    ``MIN(__SDATA_BEGIN__ + 0x800, MAX(__DATA_BEGIN__ + 0x800, __BSS_END__ -
    0x800))``, in tinyelf's image: data begins with the first section that is
    not code (read-only data comes first in tinyelf's tail, so its strings
    are within reach), small data with the first .sdata/.srodata/.sbss
    section, the bss ends where the image does."""
    data, small = [], []
    for sec in link.kept:
        if sec.flags & SHF_EXECINSTR or sec.addr < 0:
            continue
        data.append(sec.addr)
        if sec.name.startswith((".sdata", ".srodata", ".sbss")):
            small.append(sec.addr)
    begin = min(data) if data else mem_end
    gp = max(begin + 0x800, mem_end - 0x800)
    if small:
        gp = min(min(small) + 0x800, gp)
    return gp
