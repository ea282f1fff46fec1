"""Pass 5, layout: choose a header layout, then addresses and file offsets.

Input: ``link.kept`` (code, read-only data, data, bss; the squeeze pass may
have merged, folded or re-aligned sections).  Output: ``link.layout``
(tinyelf.linker.model.Layout: the layout's name, base, segments, entry, header
field values, the holes used and the jump patches) and ``addr``/``offset``
(and ``pieces`` for split code) on every kept section; linker-defined symbols
(_end, __bss_start, ...) get their values.  The layout owns the numbers; the
writer turns them into bytes.

Which layout: every candidate of ``tinyelf.linker.layouts`` (all of them for
``--layout auto``) is checked against its declared constraints (number of
program headers, base address rules, absolute 32-bit relocations, bss that
must fit the mapped pages), planned (holes filled, code split, tail ordered)
and measured; the smallest wins, and is then relocated on trial: if a value
does not fit its field, the next smallest is taken.  An explicitly requested
layout that cannot be met is a LayoutError saying why.

Invariants: every section's address is congruent to its file offset modulo
the page size within its segment and aligned to its (effective) alignment;
every file-backed byte of a segment precedes its bss; header bytes that hold
content are bytes the kernel ignores; the file holds the whole program header
table; no page is both writable and executable with ``--wx``.
"""
from __future__ import annotations

from bisect import insort
from dataclasses import dataclass, field

from . import holes as holesmod
from . import layouts as layoutsmod
from ..arch import F_ABS, F_GOTOFF, F_GOTPCREL, F_PC
from ..elf.defs import PF_W, SHF_EXECINSTR, SHF_WRITE
from ..errors import LayoutError, RelocationError
from .model import Hole, Layout, Link, Segment, symbol_address
from .resolve import LINKER_DEFINED


#: largest code section the layout considers splitting across holes
MAX_SPLIT = 512
#: programs with more sections than this try only the default tail order
MAX_TRY_FIRST = 64


#: the layout's word on segments both writable and executable (Layout.warnings;
#: the report prints them)
WX_WARNING = ("segment {i} is both writable and executable (RWX): a write to data could "
              "become code; link with --wx to split code (R+X) and data (R+W) at the cost of "
              "one program header")
WX_FORCED = ("segment {i} is writable and executable: layout {layout} forces it (p_flags is "
             "fixed by the header overlap); link with --wx (another layout) for W^X")


def _align(x: int, a: int) -> int:
    return (x + a - 1) & -a if a > 1 else x


def _page_round(x: int, page: int) -> int:
    return -(-x // page) * page


@dataclass(eq=False)
class _Item:
    sec: object
    size: int
    align: int
    writable: bool
    code: bool
    zero: bool            # all zero bytes and no relocations: may end up as bss
    nz_end: int           # offset past the last byte that may be non-zero
    #: for the tail part of a split code section: where in the section it starts
    split_from: int | None = None


@dataclass
class _Plan:
    spec: object
    phnum: int
    base: int
    place: dict                 # sec -> (addr, offset)
    pieces: dict                # sec -> [(start, len, addr, foff)]
    patches: list
    holes: list
    segments: list
    entry: int
    file_size: int
    image_size: int
    header_end: int
    content_start: int
    mem_end: int
    text_end: int
    data_end: int
    npieces: int = 0
    notes: list = field(default_factory=list)

    @property
    def key(self):
        return (self.file_size, self.npieces, len(self.patches))


class _Context:
    """What every candidate layout needs to know about the link, computed once."""

    def __init__(self, link: Link):
        self.link = link
        opts = link.options
        self.arch = link.arch
        self.page = link.arch.page_size
        self.items = []
        self.bss = []
        specs = link.arch.relocs
        data_in_code = _referenced_inside(link) if opts.squeeze_align else set()
        for sec in link.kept:
            code = bool(sec.flags & SHF_EXECINSTR)
            align = max(1, sec.align)
            if code and opts.squeeze_align and sec not in data_in_code:
                align = 1           # padding between functions only costs bytes
            writable = bool(sec.flags & SHF_WRITE) or sec.is_nobits
            if sec.is_nobits:
                self.bss.append(_Item(sec, sec.size, align, True, False, True, 0))
                continue
            nz = 0
            if sec is link.got:
                nz = sec.size
            else:
                data = bytes(sec.data)
                nz = len(data.rstrip(b"\0"))
                for r_off, rtype, _s, _a in sec.relocs:
                    spec = specs.get(rtype)
                    nz = max(nz, r_off + (spec.size if spec else 8))
            self.items.append(_Item(sec, sec.size, align, writable, code, nz == 0, nz))
        self.writable = any(i.writable for i in self.items) or bool(self.bss)
        #: the items largest first (stable: ties keep link order), for _best_fit
        self.by_size = sorted(self.items, key=lambda i: -i.size)
        #: wx -> the items in tail order (see _tail_key), sorted once per search
        self._tail_orders = {}
        entry = link.globals[opts.entry]
        self.entry_sym = entry
        self._infos = {}
        self._incoming = None
        # absolute relocations narrower than a pointer: they need a base below 4 GiB
        self.abs32 = []
        for sec in link.kept:
            for r_off, rtype, symidx, addend in sec.relocs:
                spec = specs.get(rtype)
                if spec is not None and spec.formula == F_ABS and spec.size < 8:
                    t = link.target(sec.obj, symidx)
                    if t.section is not None:
                        self.abs32.append(f"{spec.name} at {sec.where()}+{r_off:#x} against "
                                          f"{t.name or t.section.name}")
        self._pic = None

    @property
    def pic_problems(self) -> list:
        """Values that change with the load address (for layouts the kernel
        places, ET_DYN), computed on first use: see :func:`_pic_problems`."""
        if self._pic is None:
            self._pic = _pic_problems(self.link)
        return self._pic

    def tail_order(self, wx: bool) -> list:
        if wx not in self._tail_orders:
            self._tail_orders[wx] = sorted(self.items, key=lambda i: _tail_key(i, wx))
        return self._tail_orders[wx]

    def code_info(self, sec):
        if sec not in self._infos:
            if self._incoming is None:
                self._incoming = holesmod.incoming_offsets_ok(self.link)
            info = None
            if self._incoming.get(sec, True):
                info = holesmod.analyze(sec, self.link)
            self._infos[sec] = info
        return self._infos[sec]


def _tail_key(i, wx: bool):
    """Tail order: code, read-only data, data; within a class the sections
    with the most trailing zeros last, all-zero sections after everything:
    the most zeros fall off the end of the file."""
    trailing = i.size - i.nz_end if i.writable else 0
    if wx:
        return (1 if i.writable else 0, 1 if i.zero else 0, 0 if i.code else 1, trailing)
    return (1 if i.zero else 0, 1 if i.writable else 0, 0 if i.code else 1, trailing)


def _referenced_inside(link: Link) -> set:
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


def _in_image(link: Link, sym) -> bool:
    """True when ``sym``'s value is an address inside the output (a section's
    symbol, or a linker-defined one such as _end or _GLOBAL_OFFSET_TABLE_);
    False for absolute constants and undefined weak symbols (0)."""
    if sym.section is not None:
        return True
    return sym.obj is link.synthetic and sym.name in LINKER_DEFINED


def _pic_problems(link: Link) -> list:
    """Everything whose value would be wrong once the kernel loads the
    output at an address of its choosing (ET_DYN: all addresses move by the
    same load bias): an absolute relocation (any size) or a GOT slot holding
    an address of the image, and a PC-relative value (relative field, relaxed
    GOT load, GOT-relative offset) naming something outside the image (an
    absolute symbol, an undefined weak one = 0): its distance from the code
    changes with the load address."""
    specs = link.arch.relocs
    out = []
    relaxed = link.relaxed
    for sec in link.kept:
        obj = sec.obj
        for r_off, rtype, symidx, _addend in sec.relocs:
            spec = specs.get(rtype)
            if spec is None or not symidx:
                continue
            f = spec.formula
            if f not in (F_ABS, F_PC, F_GOTPCREL, F_GOTOFF):
                continue
            t = link.target(obj, symidx)
            inside = _in_image(link, t)
            name = t.name or (t.section.name if t.section is not None else "a section")
            at = f"{spec.name} at {sec.where()}+{r_off:#x} against {name}"
            if f == F_ABS and inside:
                out.append(f"absolute address: {at}")
            elif not inside and (f in (F_PC, F_GOTOFF) or
                                 (f == F_GOTPCREL and (sec, r_off) in relaxed)):
                what = "undefined weak, address 0" if t.shndx == 0 else "an absolute symbol"
                out.append(f"PC-relative reference to something outside the image ({what}): {at}")
    for sym in link.got_symbols:
        if _in_image(link, sym):
            out.append(f"GOT slot holding the absolute address of {sym.name}")
    return out


def _check(spec, ctx: _Context, phnum: int) -> None:
    """Raise LayoutError naming why ``spec`` cannot hold this program."""
    spec.check_phnum(phnum)
    if spec.pic_only:
        if ctx.link.options.wx and spec.forces_wx(ctx.arch):
            raise LayoutError(f"layout {spec.name} maps its segment writable and executable "
                              "(p_flags is forced by the header overlap); --wx cannot be honoured")
        problems = ctx.pic_problems
        if problems:
            more = f" and {len(problems) - 1} more" if len(problems) > 1 else ""
            raise LayoutError(f"layout {spec.name} is loaded at an address the kernel chooses "
                              f"(ET_DYN), but a value in the program depends on the load "
                              f"address ({problems[0]}{more}); compile it position-independent "
                              "(rustc -C relocation-model=pie, gcc -fPIE) without pointers in "
                              "data")
    if not spec.abs32_ok and ctx.abs32:
        more = f" and {len(ctx.abs32) - 1} more" if len(ctx.abs32) > 1 else ""
        raise LayoutError(f"layout {spec.name} loads above 4 GiB, but the code has absolute "
                          f"32-bit relocations ({ctx.abs32[0]}{more}); compile it "
                          "position-independent (rustc -C relocation-model=pie, gcc -fPIE)")


def _best_fit(free: list, items: list, used: list) -> list:
    """Put whole items (given largest first) into free intervals, tightest
    hole first.  Returns the items left over."""
    left = []
    biggest = max((size for _off, size in free), default=0)
    for it in items:
        if it.size > biggest:       # most of a big program: nothing to try
            left.append(it)
            continue
        best = None
        for h, (off, size) in enumerate(free):
            a = _align(off, it.align)
            rest = off + size - (a + it.size)
            if rest >= 0 and (best is None or rest < best[0]):
                best = (rest, h, a)
        if best is None or it.size == 0:
            left.append(it)
            continue
        _, h, a = best
        used.append((it, h, a))
        off, size = free[h]
        free[h] = [a + it.size, off + size - (a + it.size)]
        biggest = max(size for _off, size in free)
    return left


def _build(ctx: _Context, spec, phnum: int, base: int, flags0: int, split, mode: str,
           tail_first, entry_mode: str):
    """One concrete plan, or None when its choices do not work out."""
    link = ctx.link
    opts = link.options
    page = ctx.page
    wx = phnum == 2
    header_end = spec.header_end(phnum)
    use_holes = opts.holes
    hole_defs = spec.holes(phnum) if use_holes else []
    holes = [Hole(h.offset, h.size, h.field) for h in hole_defs]
    free = [[h.offset, h.size] for h in holes]
    content_start = spec.content_start(phnum, use_holes)
    patches = []
    place = {}
    pieces = {}
    entry_sec = ctx.entry_sym.section
    pending_jumps = []      # (foff, addr_after, target_sec_offset...) resolved later

    hole_cands = [i for i in ctx.by_size if i.size > 0 and not (wx and i.writable)]
    split_item = split
    if split_item is not None:
        hole_cands = [i for i in hole_cands if i is not split_item]

    entry_jump = None
    first_hole = None
    tail_jump = 0           # bytes of "jmp to the entry" at the start of the tail
    entry_in_tail = spec.entry_in_tail(phnum, use_holes)
    if entry_in_tail:
        # execution continues at the tail's first byte (dyn68: where the
        # header's jg lands): the entry section goes first there, whole, or
        # a jump to the entry does
        if spec.entry_start(phnum) != content_start:
            return None
        if entry_mode.startswith("jmp"):
            tail_jump = int(entry_mode[3:])
            entry_jump = (content_start, tail_jump)
        else:
            if entry_sec is None or ctx.entry_sym.value != 0 or \
                    (split_item is not None and split_item.sec is entry_sec):
                return None
            hole_cands = [i for i in hole_cands if i.sec is not entry_sec]
            tail_first = (entry_sec, False)
    elif spec.entry_offset is not None:
        # the CPU starts at file byte entry_offset, after entry_prefix; the
        # first hole starts right after the prefix
        if entry_mode.startswith("jmp"):
            n = int(entry_mode[3:])
            if not free or free[0][0] != spec.entry_start(phnum):
                return None
            entry_jump = (free[0][0], n)
            free[0] = [free[0][0] + n, free[0][1] - n]
        else:  # inline: the entry section's code starts at the first hole
            if entry_sec is None or ctx.entry_sym.value != 0:
                return None
            if split_item is not None and split_item.sec is entry_sec:
                first_hole = 0
            else:
                it = next((i for i in hole_cands if i.sec is entry_sec), None)
                if it is None or it.size > free[0][1] or not it.code:
                    return None
                if not ctx.arch.prefix_safe(bytes(it.sec.data), spec.entry_prefix):
                    return None
                hole_cands = [i for i in hole_cands if i is not it]
                place[it.sec] = ("hole", 0, free[0][0])
                holes[0].used.append((free[0][0], it.size, it.sec.where()))
                free[0] = [free[0][0] + it.size, free[0][1] - it.size]

    used = []
    chunk_pieces = []
    split_end = 0
    info = ctx.code_info(split_item.sec) if split_item is not None else None
    if split_item is not None and info is None:
        return None

    def do_chunks():
        nonlocal split_end, chunk_pieces
        split_end, chunk_pieces = holesmod.plan_chunks(info, free, 0, first_hole)
        if not chunk_pieces:
            return
        for a, b, h, jmp in chunk_pieces:
            off = free[h][0]
            chunk_foff = off
            n = b - a + (info.jump if jmp else 0)
            free[h] = [off + n, free[h][1] - n]
            holes[h].used.append((chunk_foff, b - a, f"{split_item.sec.where()}[{a:#x}:{b:#x}]"))
            pieces.setdefault(split_item.sec, []).append([a, b - a, chunk_foff])
            if jmp:
                pending_jumps.append((chunk_foff + b - a, b))
                holes[h].used.append((chunk_foff + b - a, info.jump, "jmp to the next piece"))

    if mode == "split-first" and info is not None:
        do_chunks()
        if first_hole is not None and not chunk_pieces:
            return None
    if use_holes:
        _best_fit(free, hole_cands, used)
    if mode != "split-first" and info is not None:
        do_chunks()
        if first_hole is not None and not chunk_pieces:
            return None
    if first_hole is not None:
        a0, b0, h0, _ = chunk_pieces[0]
        if h0 != 0 or pieces[split_item.sec][0][2] != spec.entry_start(phnum):
            return None
        if not ctx.arch.prefix_safe(bytes(split_item.sec.data), spec.entry_prefix):
            return None
    in_holes = {id(it) for it, _h, _a in used}
    for it, h, a in used:
        place[it.sec] = ("hole", h, a)
        holes[h].used.append((a, it.size, it.sec.where()))

    # ---- the tail: everything not in a hole, in file order
    rest = [i for i in ctx.tail_order(wx) if id(i) not in in_holes and i.sec not in place]
    if split_item is not None and chunk_pieces:
        rest = [i for i in rest if i is not split_item]
        if split_end < split_item.size:
            rem = _Item(split_item.sec, split_item.size - split_end, 1, False, True, False,
                        split_item.size - split_end, split_from=split_end)
            insort(rest, rem, key=lambda i: _tail_key(i, wx))   # after its equals
    if tail_first is not None:
        match = [i for i in rest if i.sec is tail_first[0] and
                 (i.split_from is not None) == tail_first[1]]
        if not match or (wx and match[0].writable):
            return None
        rest.remove(match[0])
        rest.insert(0, match[0])

    pos = content_start + tail_jump
    if wx:
        seg1_items = [it for it in rest if not it.writable]
        seg2_items = [it for it in rest if it.writable]
    else:
        seg1_items, seg2_items = rest, []
    tail_pos = []           # file offsets of seg1_items + seg2_items, in order
    nz_end = 0

    def lay_out(items, pos):
        """Lay ``items`` out from ``pos``; return where they end."""
        nonlocal nz_end
        for it in items:
            a = it.align
            if a > 1:
                pos = (pos + a - 1) & -a
            tail_pos.append(pos)
            if it.nz_end:
                nz_end = pos + it.nz_end
            pos += it.size
        return pos

    pos = lay_out(seg1_items, pos)
    end1 = pos
    # holes and patches are inside the headers: never beyond header_end
    delta1 = base
    off2 = pos
    delta2 = base
    if wx:
        first_align = max([i.align for i in seg2_items] + [b.align for b in ctx.bss] + [1])
        off2 = _align(pos, first_align)
        pos = lay_out(seg2_items, off2)
    content_end = pos
    file_end = max(header_end + tail_jump, nz_end if opts.trim_zeros else content_end)
    if wx:
        file_end = max(file_end, end1)
    # bss (the headers are mapped too: memory starts after them at the earliest)
    mem = max(content_end, header_end)
    bss_pos = {}
    for b in ctx.bss:
        mem = _align(mem, b.align)
        bss_pos[id(b)] = mem
        mem += b.size

    # ---- segments
    first_off = spec.first_offset(phnum)
    f1 = spec.first_flags(flags0, ctx.arch)
    align = spec.segment_align(page)
    segments = []
    if wx:
        forced = spec.first_filesz(phnum, end1 - first_off, page)
        if forced:
            fs1, ms1 = forced
            map1_end = _page_round(first_off + fs1, page)
        else:
            fs1 = ms1 = end1 - first_off
            map1_end = _page_round(end1, page)
        segments.append(Segment(offset=first_off, vaddr=base + first_off, filesz=fs1,
                                memsz=ms1, flags=f1, align=align))
        delta2 = base + map1_end - (off2 - off2 % page)
        fs2 = max(0, min(file_end, content_end) - off2)
        segments.append(Segment(offset=off2, vaddr=off2 + delta2, filesz=fs2,
                                memsz=mem - off2, flags=layoutsmod.PF_R | PF_W, align=page))
        mem_end_addr = mem + delta2
        if mem_end_addr >= layoutsmod.USER_TOP - page:
            return None
    else:
        forced = spec.first_filesz(phnum, max(file_end, mem) - first_off, page)
        if forced:
            fs, ms = forced
            if mem > _page_round(file_end, page):
                raise LayoutError(f"layout {spec.name} maps no bss beyond the file's last page "
                                  f"(p_memsz must equal p_filesz); this program needs "
                                  f"{mem - file_end} bytes of zeroed memory after the file")
            if _page_round(first_off + fs, page) < mem:
                return None
        else:
            fs, ms = file_end - first_off, mem - first_off
            forced_ms = spec.first_memsz(phnum)
            if forced_ms is not None:
                if ms > forced_ms:
                    raise LayoutError(f"layout {spec.name} maps {forced_ms} bytes from the file "
                                      f"on (p_memsz is forced); this program needs {ms}")
                ms = forced_ms
        segments.append(Segment(offset=first_off, vaddr=base + first_off, filesz=fs, memsz=ms,
                                flags=f1, align=align))
        mem_end_addr = base + mem
    segments[0].paddr = spec.first_paddr()
    if mem_end_addr >= layoutsmod.USER_TOP - page:
        raise LayoutError(f"the image ends at {mem_end_addr:#x}, above the user address space")

    # ---- addresses
    final = {}
    for it, p in zip(seg1_items + seg2_items, tail_pos):
        if it.split_from is not None:
            pieces[it.sec].append([it.split_from, it.size, p])
        else:
            d = delta2 if (wx and it.writable) else delta1
            final[it.sec] = (p + d, p)
    for sec, (_kind, _h, a) in place.items():
        final[sec] = (a + delta1, a)
    for b in ctx.bss:
        final[b.sec] = (bss_pos[id(b)] + (delta2 if wx else delta1), -1)
    piece_lists = {}
    for sec, plist in pieces.items():
        plist.sort(key=lambda p: p[0])
        lst = [(start, length, foff + delta1, foff) for start, length, foff in plist]
        piece_lists[sec] = lst
        final[sec] = (lst[0][2], lst[0][3])
    # jumps that continue split code
    for foff, sec_off in pending_jumps:
        sec = split_item.sec
        nxt = next(p for p in piece_lists[sec] if p[0] == sec_off)
        jump = ctx.arch.encode_jump(foff + delta1, nxt[2], info.jump)
        if jump is None:
            return None
        patches.append((foff, jump, f"jmp to {sec.where()}+{sec_off:#x}"))

    def addr_of(sym):
        sec = sym.section
        if sec is None:
            return symbol_address(sym)
        if sec in piece_lists:
            for start, length, addr, _f in piece_lists[sec]:
                if start <= sym.value < start + length:
                    return addr + sym.value - start
        return final[sec][0] + sym.value
    entry_addr = addr_of(ctx.entry_sym)
    if spec.entry_offset is not None:
        e_entry = base + spec.entry_offset
        start = spec.entry_start(phnum)
        if entry_jump is not None:
            foff, n = entry_jump
            jump = ctx.arch.encode_jump(base + foff, entry_addr, n)
            if jump is None:
                return None
            patches.append((foff, jump, "jmp to the entry"))
            if not entry_in_tail:
                holes[0].used.insert(0, (foff, n, "jmp to the entry"))
        elif entry_addr != base + start:
            return None
    else:
        e_entry = entry_addr

    text_end = max([final[i.sec][0] + i.size for i in ctx.items if i.code and i.sec in final]
                   + [base + content_start])
    data_end = (delta2 if wx else delta1) + content_end
    image_size = max(header_end, content_end)
    file_size = min(file_end, image_size)
    return _Plan(spec=spec, phnum=phnum, base=base, place=final, pieces=piece_lists,
                 patches=patches, holes=holes, segments=segments, entry=e_entry,
                 file_size=file_size, image_size=image_size, header_end=header_end,
                 content_start=content_start, mem_end=mem_end_addr, text_end=text_end,
                 data_end=data_end, npieces=sum(len(v) for v in piece_lists.values()))


def _plan(ctx: _Context, spec) -> _Plan:
    """The smallest plan for ``spec``; LayoutError when none works."""
    link = ctx.link
    opts = link.options
    wx = opts.wx and ctx.writable
    phnum = 2 if wx else 1
    _check(spec, ctx, phnum)
    flags0 = layoutsmod.segment_flags(ctx.writable, wx)
    base = spec.base_for(flags0, opts.base, ctx.arch.default_base)
    splits = [None]
    if opts.holes and opts.split_code and spec.holes(phnum):
        # the holes hold a few dozen bytes: splitting pays off for any code
        # section, so decode (capstone) only a couple of moderate ones
        code = sorted((i for i in ctx.items if i.code and 2 < i.size <= MAX_SPLIT),
                      key=lambda i: -i.size)
        for it in code:
            if ctx.code_info(it.sec) is not None:
                splits.append(it)
            if len(splits) == 3:
                break
    entry_modes = ["-"]
    in_tail = spec.entry_in_tail(phnum, opts.holes)
    if spec.entry_offset is not None:
        entry_modes = (["inline"] + [f"jmp{n}" for n in ctx.arch.jump_sizes]
                       if opts.holes or in_tail else [])
        if not opts.holes and not in_tail:
            raise LayoutError(f"layout {spec.name} needs its header holes (the entry is inside "
                              "the ELF header); drop --no-holes")
    best = None
    error = None
    for entry_mode in entry_modes:
        for split in splits:
            for mode in (("whole-first", "split-first") if split is not None else ("whole-first",)):
                firsts = [None]
                if opts.holes and spec.tail_free(phnum):
                    seen = set()
                    # which section overlaps the last p_align: worth trying
                    # each only for small programs (the search is per layout)
                    for it in (ctx.items[:8] if len(ctx.items) <= MAX_TRY_FIRST else []):
                        key = (it.sec, False)
                        if key not in seen and it is not split:
                            seen.add(key)
                            firsts.append(key)
                    if split is not None:
                        firsts.append((split.sec, True))
                for tf in firsts:
                    try:
                        p = _build(ctx, spec, phnum, base, flags0, split, mode, tf, entry_mode)
                    except LayoutError as exc:
                        error = exc
                        continue
                    if p is not None and (best is None or p.key < best.key):
                        best = p
    if best is None:
        if error is not None:
            raise error
        raise LayoutError(f"layout {spec.name}: no arrangement of this program fits "
                          "(its entry cannot be reached from the header)")
    return best


def _apply(link: Link, plan: _Plan, considered: list) -> None:
    for sec in link.kept:
        addr, off = plan.place[sec]
        sec.addr, sec.offset = addr, off
        sec.pieces = plan.pieces.get(sec)
    forced = plan.spec.forces_wx(link.arch)
    warnings = [(WX_FORCED if forced and i == 0 else WX_WARNING).format(i=i, layout=plan.spec.name)
                for i, seg in enumerate(plan.segments)
                if seg.flags & PF_W and seg.flags & layoutsmod.PF_X]
    lay = Layout(base=plan.base, header_size=plan.header_end, segments=plan.segments,
                 entry=plan.entry, file_size=plan.file_size, mem_end=plan.mem_end, got=link.got,
                 name=plan.spec.name, phoff=plan.spec.phoff, holes=plan.holes,
                 patches=plan.patches, image_size=plan.image_size,
                 content_start=plan.content_start, considered=considered, warnings=warnings)
    lay.spec = plan.spec
    lay.ehdr = plan.spec.ehdr_fields(lay, link.arch)
    link.layout = lay
    _define_linker_symbols(link, plan)


def layout(link: Link) -> Link:
    arch = link.arch
    opts = link.options
    page = arch.page_size
    if opts.base is not None:
        if opts.base % page:
            raise LayoutError(f"base address {opts.base:#x} is not a multiple of the page "
                              f"size ({page:#x})")
        if opts.base < layoutsmod.MIN_USER_BASE:
            # vm.mmap_min_addr is 4096 or 65536 on stock kernels: lower needs CAP_SYS_RAWIO
            raise LayoutError(f"base address {opts.base:#x} is below 0x10000; an ordinary user "
                              "cannot map it (vm.mmap_min_addr)")
    specs = layoutsmod.candidates(opts.layout, arch)
    explicit = len(specs) == 1
    ctx = _Context(link)
    plans, considered = [], []
    for spec in specs:
        try:
            plans.append(_plan(ctx, spec))
        except LayoutError as exc:
            if explicit:
                raise
            considered.append((spec.name, None, exc.messages[0]))
    if not plans:
        raise LayoutError("no layout can hold this program: " +
                          "; ".join(f"{n}: {why}" for n, _s, why in considered))
    plans.sort(key=lambda p: p.key)
    for p in plans:
        considered.append((p.spec.name, p.file_size, ""))
    if len(plans) == 1:
        _apply(link, plans[0], considered)
        return link
    from .relocate import relocate
    for i, p in enumerate(plans):
        _apply(link, p, considered)
        if i == len(plans) - 1:
            return link
        try:                        # trial: every field must take its value here
            relocate(link)
        except (RelocationError, LayoutError) as exc:
            considered[:] = [c if c[0] != p.spec.name else (c[0], None, exc.messages[0])
                             for c in considered]
            continue
        finally:
            link.image = None
        return link
    return link


def _define_linker_symbols(link: Link, plan: _Plan) -> None:
    base = plan.base
    values = {"__executable_start": base, "_etext": plan.text_end, "etext": plan.text_end,
              "__etext": plan.text_end, "_edata": plan.data_end, "edata": plan.data_end,
              "__bss_start": plan.data_end, "_end": plan.mem_end, "end": plan.mem_end,
              "_GLOBAL_OFFSET_TABLE_": link.got.addr if link.got is not None else base}
    for sym in link.synthetic.symbols:
        if sym.name in values and sym.section is None:
            sym.value = values[sym.name]
