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
from .hot import referenced_inside
from . import layouts as layoutsmod
from ..arch import F_ABS, F_GOTOFF, F_GOTPCREL, F_PC
from ..elf.defs import PF_W, SHF_EXECINSTR, SHF_WRITE
from ..errors import LayoutError, RelocationError
from .model import Hole, Layout, Link, Segment, symbol_address
from .resolve import linker_defined


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
    """One kept section (or the part of a split code section left for the
    tail) as the layout sees it."""
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
    """A finished plan for one layout (what :func:`_apply` puts on the link);
    the smallest ``key`` wins."""
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
        hot = link.hot
        if not opts.squeeze_align:
            data_in_code = set()
        else:
            data_in_code = hot.data_in_code if hot is not None else referenced_inside(link)
        aligned = hot.aligned if hot is not None else {}
        for sec in link.kept:
            code = bool(sec.flags & SHF_EXECINSTR)
            align = max(1, sec.align)
            if code and opts.squeeze_align and sec not in data_in_code and sec not in aligned:
                # padding between functions only costs bytes (down to what
                # the machine needs: its instruction alignment), unless the
                # code is hot (hot.py)
                align = min(align, self.arch.code_align(sec))
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


def _in_image(link: Link, sym) -> bool:
    """True when ``sym``'s value is an address inside the output (a section's
    symbol, or a linker-defined one such as _end or _GLOBAL_OFFSET_TABLE_);
    False for absolute constants and undefined weak symbols (0)."""
    if sym.section is not None:
        return True
    return sym.obj is link.synthetic and sym.name in linker_defined(link.arch)


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
    why = spec.check_program(ctx)
    if why:
        raise LayoutError(why)
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


@dataclass(eq=False)
class _Draft:
    """One plan in progress: the choices it was built with and what the
    phases of :func:`_build` fill in, in file offsets (addresses come last).
    A phase that finds the choices do not work out returns None/False."""
    ctx: _Context
    spec: object
    phnum: int
    base: int
    use_holes: bool
    header_end: int
    content_start: int
    holes: list                 # Hole per header hole; .used grows as things go in
    free: list                  # [offset, size]: the free space left in each hole
    hole_cands: list            # items that may still go into a hole, largest first
    split: _Item | None         # the code section to split across holes, if any
    tail_first: tuple | None    # (sec, is_split_rest): the item that starts the tail
    info: object = None         # holesmod analysis of ``split``
    place: dict = field(default_factory=dict)    # sec -> ("hole", hole index, offset)
    pieces: dict = field(default_factory=dict)   # sec -> [[sec start, length, offset]]
    patches: list = field(default_factory=list)  # (offset, bytes, what)
    pending_jumps: list = field(default_factory=list)  # (offset, split sec offset it reaches)
    entry_in_tail: bool = False
    entry_jump: tuple | None = None   # (offset, size) of a jump to the entry
    first_hole: int | None = None     # the split code must start at this hole (the entry)
    tail_jump: int = 0          # bytes of "jmp to the entry" at the start of the tail
    split_end: int = 0          # where the split section's part left for the tail starts
    chunk_pieces: list = field(default_factory=list)   # holesmod.plan_chunks' pieces

    @property
    def wx(self) -> bool:
        return self.phnum == 2


@dataclass
class _Tail:
    """The tail laid out in file offsets (see :func:`_lay_out_tail`)."""
    items: list                 # first segment's items, then the writable one's (--wx)
    offsets: list               # their file offsets, in that order
    end1: int                   # where the first segment's items end
    off2: int                   # where the writable segment's items start (--wx)
    content_end: int            # where the last item ends
    file_end: int               # where the file may end (trailing zeros trimmed)
    mem: int                    # where the bss ends, in file-offset terms
    bss_pos: dict               # id(bss item) -> its position, in file-offset terms


def _holes(spec, phnum: int, arch) -> list:
    """The layout's holes less the e_ident bytes this machine's kernel checks
    (``Arch.checked_ident``: riscv reads EI_CLASS)."""
    out = []
    for h in spec.holes(phnum):
        cut = max(0, arch.checked_ident - h.offset) if h.offset < 16 else 0
        if h.size > cut:
            out.append(Hole(h.offset + cut, h.size - cut, h.field))
    return out


def _draft(ctx: _Context, spec, phnum: int, base: int, split, tail_first) -> _Draft:
    """A fresh draft: the layout's holes all free, every non-empty item that
    may go into a hole (no writable one with --wx, not the split section) a
    candidate for one."""
    use_holes = ctx.link.options.holes
    holes = _holes(spec, phnum, ctx.arch) if use_holes else []
    wx = phnum == 2
    cands = [i for i in ctx.by_size if i.size > 0 and not (wx and i.writable) and i is not split]
    return _Draft(ctx=ctx, spec=spec, phnum=phnum, base=base, use_holes=use_holes,
                  header_end=spec.header_end(phnum),
                  content_start=spec.content_start(phnum, use_holes),
                  holes=holes, free=[[h.offset, h.size] for h in holes], hole_cands=cands,
                  split=split, tail_first=tail_first,
                  entry_in_tail=spec.entry_in_tail(phnum, use_holes))


def _build(ctx: _Context, spec, phnum: int, base: int, flags0: int, split, mode: str,
           tail_first, entry_mode: str):
    """One concrete plan for these choices (split: the code item to split
    across holes or None; mode: "whole-first"/"split-first", which goes into
    the holes first; tail_first: (sec, is_split_rest) to start the tail with,
    or None; entry_mode: "-", "inline" or "jmpN"), or None when they do not
    work out.  LayoutError when the layout cannot hold the program at all."""
    d = _draft(ctx, spec, phnum, base, split, tail_first)
    if not _place_entry(d, entry_mode) or not _fill_holes(d, mode):
        return None
    rest = _order_tail(d)
    if rest is None:
        return None
    tail = _lay_out_tail(d, rest)
    segs = _segments(d, tail, flags0)
    if segs is None:
        return None
    segments, delta2, mem_end = segs
    final, piece_lists = _addresses(d, tail, delta2)
    if not _jumps(d, piece_lists):
        return None
    e_entry = _entry(d, _addr_of(ctx.entry_sym, final, piece_lists))
    if e_entry is None or not spec.settle(segments, e_entry, base):
        return None
    text_end = max([final[i.sec][0] + i.size for i in ctx.items if i.code and i.sec in final]
                   + [base + d.content_start])
    image_size = max(d.header_end, tail.content_end)
    return _Plan(spec=spec, phnum=phnum, base=base, place=final, pieces=piece_lists,
                 patches=d.patches, holes=d.holes, segments=segments, entry=e_entry,
                 file_size=min(tail.file_end, image_size), image_size=image_size,
                 header_end=d.header_end, content_start=d.content_start, mem_end=mem_end,
                 text_end=text_end, data_end=(delta2 if d.wx else base) + tail.content_end,
                 npieces=sum(len(v) for v in piece_lists.values()))


def _place_entry(d: _Draft, entry_mode: str) -> bool:
    """Make execution reach the entry, for layouts that start it at a fixed
    file byte (``spec.entry_offset``, or the tail's start): a jump there
    (``entry_mode`` "jmpN", encoded by :func:`_entry`) or the entry section's
    code itself.  False when that cannot be done here."""
    if d.entry_in_tail:
        return _place_entry_in_tail(d, entry_mode)
    if d.spec.entry_offset is not None:
        return _place_entry_in_header(d, entry_mode)
    return True


def _place_entry_in_tail(d: _Draft, entry_mode: str) -> bool:
    """Execution continues at the tail's first byte (dyn68: where the
    header's jg lands): a jump to the entry goes first there, or the entry
    section, whole (it then goes into no hole)."""
    if d.spec.entry_start(d.phnum) != d.content_start:
        return False
    if entry_mode.startswith("jmp"):
        d.tail_jump = int(entry_mode[3:])
        d.entry_jump = (d.content_start, d.tail_jump)
        return True
    sym = d.ctx.entry_sym
    entry_sec = sym.section
    if entry_sec is None or sym.value != 0 or (d.split is not None and d.split.sec is entry_sec):
        return False
    d.hole_cands = [i for i in d.hole_cands if i.sec is not entry_sec]
    d.tail_first = (entry_sec, False)
    return True


def _place_entry_in_header(d: _Draft, entry_mode: str) -> bool:
    """The CPU starts at file byte entry_offset, after entry_prefix; the
    first hole starts right after the prefix: a jump to the entry goes there,
    or the entry section's code ("inline": whole, or the split section's
    first chunk, see :func:`_split_starts_entry`)."""
    spec, free, sym = d.spec, d.free, d.ctx.entry_sym
    if entry_mode.startswith("jmp"):
        n = int(entry_mode[3:])
        if not free or free[0][0] != spec.entry_start(d.phnum):
            return False
        d.entry_jump = (free[0][0], n)
        free[0] = [free[0][0] + n, free[0][1] - n]
        return True
    entry_sec = sym.section
    if entry_sec is None or sym.value != 0:
        return False
    if d.split is not None and d.split.sec is entry_sec:
        d.first_hole = 0
        return True
    it = next((i for i in d.hole_cands if i.sec is entry_sec), None)
    if it is None or it.size > free[0][1] or not it.code:
        return False
    if not d.ctx.arch.prefix_safe(bytes(it.sec.data), spec.entry_prefix):
        return False
    d.hole_cands = [i for i in d.hole_cands if i is not it]
    d.place[it.sec] = ("hole", 0, free[0][0])
    d.holes[0].used.append((free[0][0], it.size, it.sec.where()))
    free[0] = [free[0][0] + it.size, free[0][1] - it.size]
    return True


def _fill_holes(d: _Draft, mode: str) -> bool:
    """Fill the holes' free space with the split section's chunks and whole
    items (best fit), the chunks first when ``mode`` is "split-first"; record
    the whole items in ``d.place``.  False when the split section cannot be
    decoded or does not start the first hole as the entry must."""
    split = d.split
    d.info = d.ctx.code_info(split.sec) if split is not None else None
    if split is not None and d.info is None:
        return False
    used = []
    if mode == "split-first" and d.info is not None and not _split_code(d):
        return False
    if d.use_holes:
        _best_fit(d.free, d.hole_cands, used)
    if mode != "split-first" and d.info is not None and not _split_code(d):
        return False
    if d.first_hole is not None and not _split_starts_entry(d):
        return False
    for it, h, a in used:
        d.place[it.sec] = ("hole", h, a)
        d.holes[h].used.append((a, it.size, it.sec.where()))
    return True


def _split_code(d: _Draft) -> bool:
    """Put chunks of the split section into the free hole space
    (holesmod.plan_chunks), a chunk that does not end the section followed
    by a jump to the next (encoded by :func:`_jumps`); record them in
    ``d.pieces``.  False when the entry must start the first hole and no
    chunk fits."""
    info, sec = d.info, d.split.sec
    free = [[_align(off, info.align), max(0, off + size - _align(off, info.align))]
            for off, size in d.free]
    d.split_end, d.chunk_pieces = holesmod.plan_chunks(info, free, 0, d.first_hole)
    for a, b, h, jmp in d.chunk_pieces:
        off = free[h][0]
        n = b - a + (info.jump if jmp else 0)
        d.free[h] = [off + n, free[h][1] - n]
        d.holes[h].used.append((off, b - a, f"{sec.where()}[{a:#x}:{b:#x}]"))
        d.pieces.setdefault(sec, []).append([a, b - a, off])
        if jmp:
            d.pending_jumps.append((off + b - a, b))
            d.holes[h].used.append((off + b - a, info.jump, "jmp to the next piece"))
    return d.first_hole is None or bool(d.chunk_pieces)


def _split_starts_entry(d: _Draft) -> bool:
    """True when the split (entry) section's first chunk sits where the CPU
    starts and its bytes are safe after the layout's entry prefix."""
    _a, _b, h0, _jmp = d.chunk_pieces[0]
    if h0 != 0 or d.pieces[d.split.sec][0][2] != d.spec.entry_start(d.phnum):
        return False
    return d.ctx.arch.prefix_safe(bytes(d.split.sec.data), d.spec.entry_prefix)


def _order_tail(d: _Draft) -> list | None:
    """The items not in a hole, in file order (see :func:`_tail_key`): the
    split section's rest as an item of its own, ``d.tail_first`` moved to the
    front.  None when that item is missing or writable with --wx."""
    wx, split = d.wx, d.split
    rest = [i for i in d.ctx.tail_order(wx) if i.sec not in d.place]
    if split is not None and d.chunk_pieces:
        rest = [i for i in rest if i is not split]
        if d.split_end < split.size:
            left = split.size - d.split_end
            rem = _Item(split.sec, left, d.info.align, False, True, False, left,
                        split_from=d.split_end)
            insort(rest, rem, key=lambda i: _tail_key(i, wx))   # after its equals
    if d.tail_first is not None:
        sec, is_rest = d.tail_first
        match = [i for i in rest if i.sec is sec and (i.split_from is not None) == is_rest]
        if not match or (wx and match[0].writable):
            return None
        rest.remove(match[0])
        rest.insert(0, match[0])
    return rest


def _lay_out(items: list, pos: int, offsets: list, nz_end: int) -> tuple:
    """Lay ``items`` out from file offset ``pos``, appending their offsets to
    ``offsets``; return where they end and where their last byte that may be
    non-zero ends (``nz_end`` when none may be)."""
    for it in items:
        pos = _align(pos, it.align)
        offsets.append(pos)
        if it.nz_end:
            nz_end = pos + it.nz_end
        pos += it.size
    return pos, nz_end


def _lay_out_tail(d: _Draft, rest: list) -> _Tail:
    """File offsets for the tail ``rest`` after the content start (and the
    tail's entry jump): with --wx the writable items after the others, at
    the alignment of the writable segment; then the bss after it all."""
    if d.wx:
        seg1 = [it for it in rest if not it.writable]
        seg2 = [it for it in rest if it.writable]
    else:
        seg1, seg2 = rest, []
    offsets = []
    end1, nz_end = _lay_out(seg1, d.content_start + d.tail_jump, offsets, 0)
    off2 = content_end = end1
    if d.wx:
        first_align = max([i.align for i in seg2] + [b.align for b in d.ctx.bss] + [1])
        off2 = _align(end1, first_align)
        content_end, nz_end = _lay_out(seg2, off2, offsets, nz_end)
    trim = d.ctx.link.options.trim_zeros
    file_end = max(d.header_end + d.tail_jump, nz_end if trim else content_end)
    if d.wx:
        file_end = max(file_end, end1)
    # bss (the headers are mapped too: memory starts after them at the earliest)
    mem = max(content_end, d.header_end)
    bss_pos = {}
    for b in d.ctx.bss:
        mem = _align(mem, b.align)
        bss_pos[id(b)] = mem
        mem += b.size
    return _Tail(seg1 + seg2, offsets, end1, off2, content_end, file_end, mem, bss_pos)


def _segments(d: _Draft, t: _Tail, flags0: int) -> tuple | None:
    """The program headers' segments for the tail ``t``: (segments, delta2,
    mem_end), delta2 turning an offset of the writable segment (--wx; the
    base otherwise) into its address, mem_end the address past the bss.
    None when this arrangement does not fit; LayoutError when the layout
    cannot map the program."""
    segs = (_two_segments if d.wx else _one_segment)(d, t, flags0)
    if segs is None:
        return None
    segs[0][0].paddr = d.spec.first_paddr()
    mem_end = segs[2]
    top = d.spec.user_top or d.ctx.arch.user_top
    if mem_end >= top - d.ctx.page:
        raise LayoutError(f"the image ends at {mem_end:#x}, above the user address space "
                          f"({top:#x} on {d.ctx.arch.name}): the program's data and bss "
                          f"({mem_end - segs[0][0].vaddr} bytes) are too large")
    return segs


def _one_segment(d: _Draft, t: _Tail, flags0: int) -> tuple | None:
    """One segment, headers to bss (see :func:`_segments`), with the sizes
    the layout may force."""
    spec, page, phnum, base = d.spec, d.ctx.page, d.phnum, d.base
    first_off = spec.first_offset(phnum)
    forced = spec.first_filesz(phnum, max(t.file_end, t.mem) - first_off, page)
    if forced:
        fs, ms = forced
        if t.mem > _page_round(t.file_end, page):
            raise LayoutError(f"layout {spec.name} maps no bss beyond the file's last page "
                              f"(p_memsz must equal p_filesz); this program needs "
                              f"{t.mem - t.file_end} bytes of zeroed memory after the file")
        if _page_round(first_off + fs, page) < t.mem:
            return None
    else:
        fs, ms = spec.first_sizes(t.file_end - first_off, t.mem - first_off)
        forced_ms = spec.first_memsz(phnum)
        if forced_ms is not None:
            if ms > forced_ms:
                raise LayoutError(f"layout {spec.name} maps {forced_ms} bytes from the file "
                                  f"on (p_memsz is forced); this program needs {ms}")
            ms = forced_ms
    seg = Segment(offset=first_off, vaddr=base + first_off, filesz=fs, memsz=ms,
                  flags=spec.first_flags(flags0, d.ctx.arch), align=spec.segment_align(page))
    return [seg], base, base + t.mem


def _two_segments(d: _Draft, t: _Tail, flags0: int) -> tuple | None:
    """--wx: the headers and code, then the writable data and bss on pages
    of their own (see :func:`_segments`).  None when the image would end
    too close to the top of the user address space."""
    spec, page, phnum, base = d.spec, d.ctx.page, d.phnum, d.base
    first_off = spec.first_offset(phnum)
    forced = spec.first_filesz(phnum, t.end1 - first_off, page)
    if forced:
        fs1, ms1 = forced
        map1_end = _page_round(first_off + fs1, page)
    else:
        fs1 = ms1 = t.end1 - first_off
        map1_end = _page_round(t.end1, page)
    delta2 = base + map1_end - (t.off2 - t.off2 % page)
    fs2 = max(0, min(t.file_end, t.content_end) - t.off2)
    segments = [Segment(offset=first_off, vaddr=base + first_off, filesz=fs1, memsz=ms1,
                        flags=spec.first_flags(flags0, d.ctx.arch),
                        align=spec.segment_align(page)),
                Segment(offset=t.off2, vaddr=t.off2 + delta2, filesz=fs2, memsz=t.mem - t.off2,
                        flags=layoutsmod.PF_R | PF_W, align=page)]
    return segments, delta2, t.mem + delta2


def _addresses(d: _Draft, t: _Tail, delta2: int) -> tuple:
    """(final, piece_lists): sec -> (address, file offset; -1 for bss) of
    every item in the tail, the holes and the bss, and sec -> [(start,
    length, address, offset)] of each split section, its pieces in section
    order (its entry in ``final`` is its first piece)."""
    delta1 = d.base
    final = {}
    for it, p in zip(t.items, t.offsets):
        if it.split_from is not None:
            d.pieces[it.sec].append([it.split_from, it.size, p])
        else:
            final[it.sec] = (p + (delta2 if (d.wx and it.writable) else delta1), p)
    for sec, (_kind, _h, a) in d.place.items():
        final[sec] = (a + delta1, a)
    for b in d.ctx.bss:
        final[b.sec] = (t.bss_pos[id(b)] + (delta2 if d.wx else delta1), -1)
    piece_lists = {}
    for sec, plist in d.pieces.items():
        plist.sort(key=lambda p: p[0])
        lst = [(start, length, foff + delta1, foff) for start, length, foff in plist]
        piece_lists[sec] = lst
        final[sec] = (lst[0][2], lst[0][3])
    return final, piece_lists


def _jumps(d: _Draft, piece_lists: dict) -> bool:
    """Patch in the jumps that continue split code at its next piece
    (``ctx.arch.encode_jump``).  False when one cannot reach."""
    for foff, sec_off in d.pending_jumps:
        sec = d.split.sec
        nxt = next(p for p in piece_lists[sec] if p[0] == sec_off)
        jump = d.ctx.arch.encode_jump(foff + d.base, nxt[2], d.info.jump)
        if jump is None:
            return False
        d.patches.append((foff, jump, f"jmp to {sec.where()}+{sec_off:#x}"))
    return True


def _addr_of(sym, final: dict, piece_lists: dict) -> int:
    """``sym``'s address in this plan (inside the right piece of split code)."""
    sec = sym.section
    if sec is None:
        return symbol_address(sym)
    if sec in piece_lists:
        for start, length, addr, _f in piece_lists[sec]:
            if start <= sym.value < start + length:
                return addr + sym.value - start
    return final[sec][0] + sym.value


def _entry(d: _Draft, entry_addr: int) -> int | None:
    """e_entry for the entry symbol at ``entry_addr``; for layouts that start
    at a fixed byte, patch in the jump to the entry :func:`_place_entry`
    chose.  None when the jump cannot reach or the code is not there."""
    spec, base = d.spec, d.base
    if spec.entry_offset is None:
        return entry_addr
    if d.entry_jump is not None:
        foff, n = d.entry_jump
        jump = d.ctx.arch.encode_jump(base + foff, entry_addr, n)
        if jump is None:
            return None
        d.patches.append((foff, jump, "jmp to the entry"))
        if not d.entry_in_tail:
            d.holes[0].used.insert(0, (foff, n, "jmp to the entry"))
    elif entry_addr != base + spec.entry_start(d.phnum):
        return None
    return base + spec.entry_offset


def _plan(ctx: _Context, spec) -> _Plan:
    """The smallest plan for ``spec`` over every choice :func:`_choices`
    gives (the first found among equal keys); LayoutError when none works:
    the last one a choice raised, else that the entry cannot be reached."""
    opts = ctx.link.options
    wx = opts.wx and ctx.writable
    phnum = 2 if wx else 1
    _check(spec, ctx, phnum)
    flags0 = layoutsmod.segment_flags(ctx.writable, wx)
    base = spec.base_for(flags0, opts.base, ctx.arch.default_base)
    best = None
    error = None
    for split, mode, tail_first, entry_mode in _choices(ctx, spec, phnum):
        try:
            p = _build(ctx, spec, phnum, base, flags0, split, mode, tail_first, entry_mode)
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


def _choices(ctx: _Context, spec, phnum: int):
    """Yield every (split, mode, tail_first, entry_mode) :func:`_build`
    tries for ``spec``, in search order (see its docstring)."""
    splits = _splits(ctx, spec, phnum)
    for entry_mode in _entry_modes(ctx, spec, phnum):
        for split in splits:
            modes = ("whole-first", "split-first") if split is not None else ("whole-first",)
            for mode in modes:
                for tail_first in _tail_firsts(ctx, spec, phnum, split):
                    yield split, mode, tail_first, entry_mode


def _splits(ctx: _Context, spec, phnum: int) -> list:
    """None (split nothing), then up to two code items worth splitting
    across the header holes, largest first."""
    opts = ctx.link.options
    splits = [None]
    if opts.holes and opts.split_code and spec.holes(phnum):
        # the holes hold a few dozen bytes: splitting pays off for any code
        # section, so decode (capstone) only a couple of moderate ones
        # never code that runs in a loop (hot.py): the jmp would run every time
        hot = ctx.link.hot
        no_split = hot.no_split if hot is not None else ()
        code = sorted((i for i in ctx.items if i.code and 2 < i.size <= MAX_SPLIT
                       and i.sec not in no_split), key=lambda i: -i.size)
        for it in code:
            if ctx.code_info(it.sec) is not None:
                splits.append(it)
            if len(splits) == 3:
                break
    return splits


def _entry_modes(ctx: _Context, spec, phnum: int) -> list:
    """How execution may reach the entry (see :func:`_place_entry`): "-"
    when the layout does not fix where the CPU starts, else "inline" and a
    jump of each size the arch encodes; LayoutError when the layout needs
    holes that --no-holes takes away."""
    if spec.entry_offset is None:
        return ["-"]
    holes = ctx.link.options.holes
    if not holes and not spec.entry_in_tail(phnum, holes):
        raise LayoutError(f"layout {spec.name} needs its header holes (the entry is inside "
                          "the ELF header); drop --no-holes")
    return ["inline"] + [f"jmp{n}" for n in ctx.arch.jump_sizes]


def _tail_firsts(ctx: _Context, spec, phnum: int, split) -> list:
    """Which item to try at the start of the tail, where it overlaps the
    header (``spec.tail_free``): None (the default order), each of the
    first sections of a small program, and the split section's rest."""
    firsts = [None]
    if not (ctx.link.options.holes and spec.tail_free(phnum)):
        return firsts
    seen = set()
    # which section overlaps the last p_align: worth trying each only for
    # small programs (the search is per layout)
    for it in (ctx.items[:8] if len(ctx.items) <= MAX_TRY_FIRST else []):
        key = (it.sec, False)
        if key not in seen and it is not split:
            seen.add(key)
            firsts.append(key)
    if split is not None:
        firsts.append((split.sec, True))
    return firsts


def _apply(link: Link, plan: _Plan, considered: list) -> None:
    """Give every kept section its address/offset (and pieces) from ``plan``,
    set ``link.layout`` and the linker-defined symbols."""
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
    if plan.spec.phoff >= 0x34:     # e_flags is not shared with a program header
        lay.ehdr["e_flags"] = link.e_flags
    link.layout = lay
    _define_linker_symbols(link, plan)


def layout(link: Link) -> Link:
    """Pass 5 (see the module docstring): plan every candidate layout and
    apply the smallest whose relocations fit."""
    _check_base(link.options.base, link.arch.page_size)
    specs = layoutsmod.candidates(link.options.layout, link.arch)
    plans, considered = _plans(link, specs)
    _apply_smallest(link, plans, considered)
    return link


def _check_base(base: int | None, page: int) -> None:
    """LayoutError when a requested base address cannot be mapped."""
    if base is None:
        return
    if base % page:
        raise LayoutError(f"base address {base:#x} is not a multiple of the page "
                          f"size ({page:#x})")
    if base < layoutsmod.MIN_USER_BASE:
        # vm.mmap_min_addr is 4096 or 65536 on stock kernels: lower needs CAP_SYS_RAWIO
        raise LayoutError(f"base address {base:#x} is below 0x10000; an ordinary user "
                          "cannot map it (vm.mmap_min_addr)")


def _plans(link: Link, specs: list) -> tuple:
    """(plans, considered): the best plan of each layout in ``specs`` that
    can hold the program, smallest first, and (name, size or None, why not)
    for every layout.  An explicitly requested layout's LayoutError is
    raised; so is one naming every layout when none can hold it."""
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
    return plans, considered


def _apply_smallest(link: Link, plans: list, considered: list) -> None:
    """Apply the first of ``plans`` whose relocations all take their values
    (tried by relocating on trial; the last plan is applied untried, its
    errors come from the relocate pass); a plan that fails gets the reason
    in ``considered``."""
    from .relocate import relocate
    for p in plans[:-1]:
        _apply(link, p, considered)
        try:                        # trial: every field must take its value here
            relocate(link)
        except (RelocationError, LayoutError) as exc:
            considered[:] = [c if c[0] != p.spec.name else (c[0], None, exc.messages[0])
                             for c in considered]
            continue
        finally:
            link.image = None
        return
    _apply(link, plans[-1], considered)


def _define_linker_symbols(link: Link, plan: _Plan) -> None:
    """Give the linker-defined symbols (_etext, _edata, _end, ...) their
    values in ``plan``."""
    base = plan.base
    values = {"__executable_start": base, "_etext": plan.text_end, "etext": plan.text_end,
              "__etext": plan.text_end, "_edata": plan.data_end, "edata": plan.data_end,
              "__bss_start": plan.data_end, "_end": plan.mem_end, "end": plan.mem_end,
              "_GLOBAL_OFFSET_TABLE_": link.got.addr if link.got is not None else base}
    values.update(link.arch.linker_values(link, plan.mem_end))
    for sym in link.synthetic.symbols:
        if sym.name in values and sym.section is None:
            sym.value = values[sym.name]
