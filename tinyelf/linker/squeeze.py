"""Pass 4b, squeeze: size-saving rewrites of the kept sections.

Input: a scanned link.  Output: the same link with fewer or smaller kept
sections, and ``link.squeezed`` ({pass name: what it saved}) for the report.
Each rewrite has an off switch in LinkOptions:

* ``merge_strings``: SHF_MERGE|SHF_STRINGS sections (entsize 1) of the same
  flags and alignment become one section holding each distinct string once;
  a string that is the tail of another ("world\\0" in "hello world\\0") is not
  stored at all.  Every reference is remapped: a named symbol moves with the
  string at its value; a relocation against a section symbol keeps pointing
  into the string that ``addend`` (plus the field size, for PC-relative
  fields) points into.  A section with relocations of its own, without a
  final NUL, or with a reference that is not clearly inside one string (a
  PC-relative section-symbol reference that does not land on a string's
  first byte, anything GOT-relative through its section symbol) is left
  alone.
* ``fold_functions``: code sections with the same bytes, flags, alignment
  and equivalent relocations (same types, offsets, addends, and targets, a
  section's references to itself counting as equal) are folded into one,
  repeated until nothing changes.  Never folded: the entry's section, a
  section whose address may be taken (any reference other than a direct
  ``call``/``jmp`` rel32, any GOT slot), a section with symbols that other
  objects could compare.
* ``squeeze_align`` is applied by the layout (code alignment padding is
  dropped there; data keeps its alignment).  Which code keeps its alignment
  and which is never split across header holes, because it runs in loops,
  is decided here by :mod:`tinyelf.linker.hot` (``link.hot``; off with
  ``every_byte``).

Invariant: every relocation of a kept section still refers to a kept section
(or is absolute/undefined weak), and every address the program computes
points at the same bytes as before.
"""
from __future__ import annotations

from bisect import bisect_right

from ..arch import F_ABS, F_PC
from ..elf.defs import SHF_EXECINSTR, SHF_MERGE, SHF_STRINGS, STT_SECTION, SHT_PROGBITS
from . import hot as hotmod
from .merge import split_pieces
from .model import Link, Section


def squeeze(link: Link) -> Link:
    opts = link.options
    stats = {}
    if opts.merge_strings:
        saved = merge_strings(link)
        if saved:
            stats["merge_strings"] = saved
    if opts.fold_functions:
        folded = fold_functions(link)
        if folded:
            stats["fold_functions"] = folded
    hot = link.hot = hotmod.decide(link)
    if opts.squeeze_align:
        hot.data_in_code = hotmod.referenced_inside(link)
        summary = hotmod.align_summary(link, hot)
        if summary:
            stats["squeeze_align"] = summary
    if opts.split_code and opts.holes and hot.no_split:
        stats["split_code"] = (f"{len(hot.no_split)} code sections never split: they hold "
                               "loops or run inside one")
    link.squeezed = stats
    return link


# ---------------------------------------------------------------- strings
class _Strings(list):
    """[(start, end)] of the NUL-terminated strings of a section (its data
    ends with a NUL), split as merge.py splits mergeable sections."""

    def __init__(self, data: bytes):
        starts = split_pieces(data, 1, True)
        super().__init__(zip(starts, starts[1:] + [len(data)]))
        self.starts = starts

    def find(self, off: int):
        """The (start, end) of the string holding byte ``off``, or None."""
        k = bisect_right(self.starts, off) - 1
        if k >= 0 and off < self[k][1]:
            return self[k]
        return None


def merge_strings(link: Link) -> str:
    specs = link.arch.relocs
    cands = {}
    for sec in link.kept:
        if (sec.flags & (SHF_MERGE | SHF_STRINGS)) != (SHF_MERGE | SHF_STRINGS) or \
                sec.is_nobits or sec.entsize not in (0, 1) or sec.relocs or not sec.size:
            continue
        data = bytes(sec.data)
        if not data.endswith(b"\0"):
            continue
        cands[sec] = _Strings(data)
    if not cands:
        return ""
    # every reference into a candidate, checked; one bad one keeps the section as it is
    refs = []              # (referring section, index, section, referenced offset, bias, named)
    bad = set()
    for sec in link.kept:
        obj = sec.obj
        for i, (r_off, rtype, symidx, addend) in enumerate(sec.relocs):
            if not symidx:
                continue
            t = link.target(obj, symidx)
            if t.section not in cands:
                continue
            spec = specs.get(rtype)
            named = t.type != STT_SECTION
            if spec is None or spec.formula not in (F_ABS, F_PC):
                if not named:
                    bad.add(t.section)
                continue
            off = link.referred_offset(spec, t, addend)
            bias = t.value + addend - off
            strs = cands[t.section]
            if named:
                home = strs.find(t.value)
                if home is None or not (home[0] <= off < home[1]):
                    bad.add(t.section)
            else:
                home = strs.find(off)
                # PC-relative: the field's bias is assumed to be its size; a
                # reference that does not then land on the first byte of a
                # non-empty string may mean something else: leave it alone
                if home is None or (spec.formula == F_PC and
                                    (off != home[0] or home[1] - home[0] < 2)):
                    bad.add(t.section)
                refs.append((sec, i, t.section, off, bias))
    for obj in link.objects:
        for sym in obj.symbols:
            if sym.section in cands and sym.type != STT_SECTION and \
                    cands[sym.section].find(sym.value) is None:
                bad.add(sym.section)
    groups = {}
    for sec in cands:
        if sec not in bad:
            groups.setdefault((sec.flags, max(1, sec.align)), []).append(sec)
    before = after = 0
    newpos = {}            # (old section, old start) -> new start
    merged_of = {}
    synth = link.synthetic
    for (flags, align), secs in groups.items():
        if len(secs) == 1 and len(set(bytes(secs[0].data)[a:b] for a, b in cands[secs[0]])) == \
                len(cands[secs[0]]) and not _has_tails(secs[0], cands[secs[0]]):
            continue
        uniq = {}
        for sec in secs:
            data = bytes(sec.data)
            for a, b in cands[sec]:
                uniq.setdefault(data[a:b], []).append((sec, a))
        # longest first among strings sharing a tail: sort by reversed bytes
        order = sorted(uniq, key=lambda s: s[::-1], reverse=True)
        out = bytearray()
        placed = {}
        prev = None
        for s in order:
            if prev is not None and prev.endswith(s) and (align == 1 or
                                                           (placed[prev] + len(prev) - len(s)) % align == 0):
                placed[s] = placed[prev] + len(prev) - len(s)
                continue
            while len(out) % align:
                out.append(0)
            placed[s] = len(out)
            out += s
            prev = s
        if _footprint(len(out), align) >= sum(_footprint(sec.size, align) for sec in secs):
            # each string keeps the group's alignment, so padding can eat
            # what deduplication saved: then the sections stay as they are
            continue
        new = Section(obj=synth, index=len(synth.sections), name=f".rodata.merged.{len(merged_of)}",
                      type=SHT_PROGBITS, flags=flags, size=len(out), align=align,
                      entsize=1, data=bytes(out))
        synth.sections.append(new)
        for s, users in uniq.items():
            for sec, a in users:
                newpos[(sec, a)] = placed[s]
        for sec in secs:
            merged_of[sec] = new
            before += sec.size
        after += len(out)
    if not merged_of:
        return ""
    # remap: section-symbol relocations (addends), then named symbols (values)
    rewritten = {}
    for sec, i, target, off, bias in refs:
        if target not in merged_of:
            continue
        a, _b = cands[target].find(off)
        r_off, rtype, symidx, _addend = (rewritten.get(sec) or sec.relocs)[i]
        lst = rewritten.setdefault(sec, list(sec.relocs))
        lst[i] = (r_off, rtype, symidx, newpos[(target, a)] + (off - a) + bias)
    for sec, lst in rewritten.items():
        sec._relocs = lst
    for obj in link.objects + [synth]:
        for sym in obj.symbols:
            old = sym.section
            if old in merged_of:
                if sym.type == STT_SECTION:
                    sym.value = 0
                else:
                    a, _b = cands[old].find(sym.value) or (0, 0)
                    sym.value = newpos.get((old, a), 0) + sym.value - a
                sym.section = merged_of[old]
    kept = [s for s in link.kept if s not in merged_of]
    news = list(dict.fromkeys(merged_of.values()))
    # the merged sections go where the first of their inputs was
    first = min(link.kept.index(s) for s in merged_of)
    at = sum(1 for s in link.kept[:first] if s not in merged_of)
    link.kept = kept[:at] + news + kept[at:]
    for sec in merged_of:
        link.dropped[sec] = "merged into " + merged_of[sec].name
    return f"{len(merged_of)} string sections, {before} -> {after} bytes"


def _footprint(size: int, align: int) -> int:
    """What a section of ``size`` bytes costs among others of its alignment."""
    return -(-size // align) * align


def _has_tails(sec, strs) -> bool:
    data = bytes(sec.data)
    ss = sorted((data[a:b] for a, b in strs), key=lambda s: s[::-1])
    return any(ss[i + 1].endswith(ss[i]) for i in range(len(ss) - 1))


# ---------------------------------------------------------------- functions


def fold_functions(link: Link) -> str:
    specs = link.arch.relocs
    entry = link.globals.get(link.options.entry)
    taken = set()
    if entry is not None and entry.section is not None:
        taken.add(entry.section)
    for sym in link.got_symbols:
        if sym.section is not None:
            taken.add(sym.section)
    for sec, r_off, rtype, addend, t in link.references():
        tsec = t.section
        if tsec is None or not tsec.flags & SHF_EXECINSTR or tsec in taken:
            continue
        spec = specs.get(rtype)
        direct = (spec is not None and t.value == 0 and not sec.is_nobits and
                  link.arch.is_direct_branch(sec.data, r_off, spec, addend))
        if not direct:
            taken.add(tsec)
    cands = [s for s in link.kept if s.flags & SHF_EXECINSTR and not s.is_nobits
             and s not in taken and s.obj is not link.synthetic]
    # symbols at nonzero offsets could be compared too: keep it simple and safe
    for obj in link.objects:
        for sym in obj.symbols:
            if sym.section in taken or sym.section is None:
                continue
            if sym.type != STT_SECTION and sym.value != 0:
                taken.add(sym.section)
    cands = [s for s in cands if s not in taken]
    repl = {}

    def canon(sec):
        while sec in repl:
            sec = repl[sec]
        return sec

    folded = 0
    saved = 0
    for _round in range(8):
        seen = {}
        changed = False
        for sec in cands:
            if sec in repl:
                continue
            rel = []
            for r_off, rtype, symidx, addend in sorted(sec.relocs):
                t = link.target(sec.obj, symidx)
                if t.section is not None:
                    ts = canon(t.section)
                    who = ("self",) if ts is sec else ("sec", id(ts))
                    rel.append((r_off, rtype, addend, who, t.value))
                else:
                    rel.append((r_off, rtype, addend, ("sym", t.name, t.shndx, t.value)))
            key = (bytes(sec.data), sec.flags, sec.align, tuple(rel))
            if key in seen:
                repl[sec] = seen[key]
                folded += 1
                saved += sec.size
                changed = True
            else:
                seen[key] = sec
        if not changed:
            break
    if not repl:
        return ""
    for obj in link.objects:
        for sym in obj.symbols:
            if sym.section in repl:
                sym.section = canon(sym.section)
    for sec in repl:
        link.dropped[sec] = "folded into identical " + canon(sec).where()
    link.kept = [s for s in link.kept if s not in repl]
    return f"{folded} identical functions folded, {saved} bytes"
