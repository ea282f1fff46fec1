"""Hot code: which code sections the size passes must not slow down.

Part of the squeeze pass (issue 16).  A size pass may cost run time: packing
code without its alignment padding moves loops off the boundaries the
compiler aligned them to, and splitting a function across header holes puts
a ``jmp`` in its path.  The rule (docs/runtime.md has the measurements):

* The program asks for speed when one of its own objects (given on the
  command line, not an archive member: libcore is always built for speed)
  has a code section that holds a loop and that the compiler aligned
  (sh_addralign > 1): gcc -O2/-O3 and rustc opt-level=2/3 align functions
  and loops, -Os and opt-level=s/z do not.  A program compiled for size, and
  a tiny one (less than ``TINY_CODE`` bytes of code), gets every byte, as
  does every program under ``--every-byte``.
* Then a code section that holds a loop keeps the compiler's alignment, and
  a section that holds a loop or is called from inside one (transitively)
  is never split across header holes.

A loop is a backward relative branch inside the section: an instruction
whose relative target (``Arch.decode_insns``, capstone where its tables give
up; instructions with a relocation field are left out) lies at or before its
own start.  A section neither can read counts as holding a loop (its
alignment is kept: the safe side).  Function folding and string merging put no instruction in any
path (a call goes to an identical copy; data moves), so the rule does not
touch them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..arch import F_ABS, F_PC
from ..elf.defs import SHF_EXECINSTR
from .model import Link

#: below this many bytes of code every byte counts: nothing is kept aligned
TINY_CODE = 512


@dataclass
class HotCode:
    """What the rule decided for one link (``Link.hot``)."""
    #: the program asks for speed (see the module docstring); False: every byte
    speed: bool = False
    #: why (one phrase, for --report)
    why: str = ""
    #: code sections that keep their alignment -> reason
    aligned: dict = field(default_factory=dict)
    #: code sections never split across header holes (loops, called in loops)
    no_split: set = field(default_factory=set)
    #: code sections referred to inside (they may hold data): always aligned
    data_in_code: set = field(default_factory=set)


def loops(sec, arch) -> list | None:
    """``[(head, source)]`` of the backward relative branches inside code
    section ``sec``; None when neither the arch's decoder nor capstone
    (``Arch.capstone_insns``, as the code splitter) can read it."""
    if sec.is_nobits or not sec.size:
        return []
    data = bytes(sec.data)
    insns = arch.decode_insns(data)
    if insns is None:           # capstone reads what the opcode tables do not
        insns = arch.capstone_insns(data)
        if insns is None:
            return None
    specs = arch.relocs
    fields = sorted((r_off, r_off + (specs[rt].size if rt in specs else 8))
                    for r_off, rt, _s, _a in sec.relocs)
    out = []
    f = 0
    for start, end, _mnemonic, targets in insns:
        while f < len(fields) and fields[f][1] <= start:
            f += 1
        if f < len(fields) and fields[f][0] < end:
            continue            # a relocated field: its bytes say nothing yet
        for t in targets:
            if t is not None and 0 <= t <= start:   # None: pinned, no target (adrp, auipc)
                out.append((t, start))
    return out


def _code(link: Link) -> list:
    return [s for s in link.kept if s.flags & SHF_EXECINSTR and not s.is_nobits
            and s.obj is not link.synthetic]


def decide(link: Link) -> HotCode:
    """Apply the rule to ``link`` (after folding and merging)."""
    opts = link.options
    code = _code(link)
    if not opts.squeeze_align and not opts.split_code:
        return HotCode(why="alignment kept and no code split (options)")
    if opts.every_byte:
        return HotCode(why="--every-byte")
    total = sum(s.size for s in code)
    if total < TINY_CODE:
        return HotCode(why=f"tiny program ({total} bytes of code < {TINY_CODE})")
    found = {}

    def loops_of(sec):
        if sec not in found:
            found[sec] = loops(sec, link.arch)
        return found[sec]
    own = [s for s in code if not s.obj.from_archive and s.align > 1]
    if not any(loops_of(s) is None or loops_of(s) for s in own):
        return HotCode(why="the program's own code was compiled for size "
                           "(no loop that the compiler aligned)")
    hot = HotCode(speed=True, why="the program's own code was compiled for speed "
                                  "(its loops are aligned)")
    for sec in code:
        lp = loops_of(sec)
        if lp is None or lp:
            hot.no_split.add(sec)
            if sec.align > 1:
                hot.aligned[sec] = "cannot decode it" if lp is None else "holds a loop"
    hot.no_split |= _called_in_loops(link, code, loops_of)
    return hot


def _called_in_loops(link: Link, code: list, loops_of) -> set:
    """Code sections called (or jumped to) from inside a loop, and what those
    call in turn."""
    out, todo = set(), []
    for sec in code:
        ranges = loops_of(sec)
        if not ranges:
            continue
        for r_off, _rt, symidx, _a in sec.relocs:
            if symidx and any(h <= r_off <= s for h, s in ranges):
                todo.append(link.target(sec.obj, symidx).section)
    while todo:
        sec = todo.pop()
        if sec is None or sec in out or not sec.flags & SHF_EXECINSTR:
            continue
        out.add(sec)
        todo.extend(link.target(sec.obj, symidx).section
                    for _o, _t, symidx, _a in sec.relocs if symidx)
    return out


def referenced_inside(link: Link) -> set:
    """Code sections that something refers to at an offset other than their
    start (a named symbol inside, or section + offset): they may hold data
    that an aligned load reads, so they keep their alignment."""
    specs = link.arch.relocs
    out = set()
    for sec in link.kept:
        for _r_off, rtype, symidx, addend in sec.relocs:
            if not symidx:
                continue
            t = link.target(sec.obj, symidx)
            tsec = t.section
            if tsec is None or not tsec.flags & SHF_EXECINSTR or tsec in out:
                continue
            spec = specs.get(rtype)
            if t.value != 0 or (spec is not None and spec.formula in (F_ABS, F_PC)
                                and link.referred_offset(spec, t, addend) != 0):
                out.add(tsec)
    return out


def padding(secs, align_of) -> int:
    """Padding bytes between ``secs`` laid out one after another from 0."""
    pos = pad = 0
    for s in secs:
        a = align_of(s)
        p = -pos % a if a > 1 else 0
        pad += p
        pos += p + s.size
    return pad


def align_summary(link: Link, hot: HotCode) -> str:
    """The squeeze_align line of --report: what dropping code alignment saved
    (estimated on the code laid out in link order) and what it kept, and why;
    "" when no code section asked for alignment."""
    code = _code(link)
    kept = {s: why for s, why in hot.aligned.items()}
    for s in hot.data_in_code:
        if s.align > 1:
            kept.setdefault(s, "data inside is referenced")
    arch = link.arch

    def packed_align(s):         # what the layout leaves (the machine's minimum)
        return min(max(1, s.align), arch.code_align(s))
    before = padding(code, lambda s: max(1, s.align))
    after = padding(code, lambda s: max(1, s.align) if s in kept else packed_align(s))
    packed = sum(1 for s in code if s.align > packed_align(s) and s not in kept)
    if not packed and not kept:
        return ""
    out = f"{packed} code sections packed, about {before - after} bytes of padding saved"
    if kept:
        names = ", ".join(f"{s.name} ({why})" for s, why in list(kept.items())[:4])
        more = f" and {len(kept) - 4} more" if len(kept) > 4 else ""
        out += f"; {len(kept)} kept aligned, about {after} bytes: {names}{more}"
    return out + f" [{hot.why}]"
