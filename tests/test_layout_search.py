"""The layout search, unit by unit, on small synthesized links.

Each test builds objects from Python values (``tinyelf.elf.synth``), runs
the link driver with ``LinkOptions`` and reads ``link.layout``: which layout
``auto`` takes and why (the smallest that fits, every candidate listed with
its size or its reason), each layout's refusals (too many program headers,
absolute 32-bit fields above 4 GiB, load-address dependence, bss past the
file, forced base, W+X forced by the overlap, entry needing the holes), the
program headers ``--wx`` costs, and the base address rules.  Layouts are
taken from the registry and selected by what they declare (``max_phnum``,
``abs32_ok``, ``pic_only``, ``entry_offset``, ``auto``), never by name, so a
new layout or architecture joins by being registered.

The code bytes are never run here (tests/test_layouts.py runs every layout
on real programs); code splitting is off so that no decoder is involved.
"""
from __future__ import annotations

import pytest

from conftest import layout_specs
from tinyelf import arch as archmod
from tinyelf.arch import F_ABS
from tinyelf.elf.defs import PF_R, PF_W, PF_X, STB_GLOBAL, STT_FUNC
from tinyelf.elf.synth import DATA, TEXT, make_object
from tinyelf.errors import LayoutError, TinyElfError
from tinyelf.linker.driver import run
from tinyelf.linker.model import LinkOptions

ARCHS = archmod.names()
#: (arch, layout) for every layout of every registered arch
PAIRS = [pytest.param(a, spec, id=f"{a}-{spec.name}") for a in ARCHS for spec in layout_specs(a)]
#: ELF class -> (ELF header size, program header size), from the ELF specification
EHDR_PHDR = {1: (52, 32), 2: (64, 56)}
CODE = bytes(range(1, 10))      # never executed here; no zeros to trim


def abs32_type(arch) -> int:
    """The arch's absolute 32-bit (whole-field) relocation type."""
    return next(t for t, s in sorted(arch.relocs.items())
                if s.formula == F_ABS and s.size == 4 and s.field is None)


def program(arch, data=False, abs32=False, bss=0):
    secs = [{"name": ".text._start", "flags": TEXT, "data": CODE}]
    if data or abs32:
        secs.append({"name": ".data.d", "flags": DATA, "data": bytes(range(1, 9)),
                     "relocs": [(0, abs32_type(arch), ".data.d", 0)] if abs32 else []})
    if bss:
        secs.append({"name": ".bss.b", "flags": DATA, "nobits": True, "size": bss})
    return make_object("t.o", secs, [("_start", ".text._start", 0, STB_GLOBAL, STT_FUNC,
                                      len(CODE))])


def link(arch_name, obj, layout="auto", **opts):
    return run([obj], LinkOptions(arch=arch_name, layout=layout, lief=False, split_code=False,
                                  gc_sections=False,
                                  **opts))


def outcome(arch_name, obj, layout, **opts):
    """(file size, None) or (None, the one error line)."""
    try:
        lk = link(arch_name, obj, layout, **opts)
    except TinyElfError as exc:
        assert len(exc.messages) == 1, exc.messages
        return None, exc.messages[0]
    check_geometry(lk)
    return lk.layout.file_size, None


def check_geometry(lk):
    """What every layout promises: p_offset = p_vaddr modulo the page size,
    sections inside their segment at matching address and offset, the whole
    program header table in the file, no W+X segment with --wx, the entry
    inside the pages the first segment maps."""
    lay, page = lk.layout, lk.arch.page_size
    assert len(lk.output) == lay.file_size
    for seg in lay.segments:
        assert (seg.vaddr - seg.offset) % page == 0, seg

    def mapped(seg):            # the kernel maps whole pages
        return (seg.vaddr - seg.vaddr % page,
                -(-(seg.vaddr + max(seg.memsz, seg.filesz)) // page) * page)
    lo, hi = mapped(lay.segments[0])
    assert lo <= lay.entry < hi, (hex(lay.entry), lay.segments[0])
    phdr = EHDR_PHDR[lk.arch.elf_class][1]
    assert lay.phoff + phdr * len(lay.segments) <= max(lay.file_size, lay.header_size)
    if lk.options.wx and len(lay.segments) == 2:
        assert all(not (s.flags & PF_W and s.flags & PF_X) for s in lay.segments)
    for sec in lk.kept:
        if sec.pieces or sec is lk.got:
            continue
        seg = next(s for s in lay.segments if mapped(s)[0] <= sec.addr < mapped(s)[1])
        if not sec.is_nobits:
            assert sec.addr - seg.vaddr == sec.offset - seg.offset, sec
        if not sec.flags & 4:                     # code may lose its padding (squeeze_align)
            assert sec.addr % max(1, sec.align) == 0, sec


PROGRAMS = {"code": {}, "data": {"data": True}, "abs32": {"abs32": True},
            "bss": {"bss": 20000}}


@pytest.mark.parametrize("wx", [False, True], ids=["rwx", "wx"])
@pytest.mark.parametrize("prog", sorted(PROGRAMS))
@pytest.mark.parametrize("arch_name", ARCHS)
def test_auto_takes_the_smallest_layout_that_fits_and_says_why(arch_name, prog, wx):
    arch = archmod.get(arch_name)
    obj = program(arch, **PROGRAMS[prog])
    specs = layout_specs(arch_name)
    explicit = {spec.name: outcome(arch_name, obj, spec.name, wx=wx) for spec in specs}
    lk = link(arch_name, obj, wx=wx)
    check_geometry(lk)
    considered = {name: (size, why) for name, size, why in lk.layout.considered}
    auto_names = {spec.name for spec in specs if spec.auto}
    assert set(considered) == auto_names          # opt-in layouts are never considered
    for name in auto_names:
        size, why = considered[name]
        esize, ewhy = explicit[name]
        assert size == esize, (name, considered[name], explicit[name])
        assert (why or None) == ewhy, (name, why, ewhy)
    fitting = {n: s for n, (s, _w) in considered.items() if s is not None}
    assert lk.layout.name in fitting
    assert lk.layout.file_size == min(fitting.values()) == len(lk.output)


def _only(arch_name, obj, spec, **opts) -> str:
    with pytest.raises(LayoutError) as exc:
        link(arch_name, obj, spec.name, **opts)
    (msg,) = exc.value.messages
    return msg


@pytest.mark.parametrize("arch_name, spec", PAIRS)
def test_program_header_count(arch_name, spec):
    """--wx with writable data needs two program headers; a layout that
    holds one refuses with the count; one that holds two gives R+X then R+W
    (and the header says e_phnum = 2).  Without writable data --wx costs
    nothing: one header."""
    arch = archmod.get(arch_name)
    data = program(arch, data=True)
    if spec.max_phnum < 2:
        assert _only(arch_name, data, spec, wx=True) == (
            f"layout {spec.name} holds at most {spec.max_phnum} program header (--wx needs 2)")
        return
    lk = link(arch_name, data, spec.name, wx=True)
    check_geometry(lk)
    code_seg, data_seg = lk.layout.segments
    assert code_seg.flags & (PF_R | PF_X) == PF_R | PF_X and not code_seg.flags & PF_W
    assert data_seg.flags & (PF_R | PF_W) == PF_R | PF_W and not data_seg.flags & PF_X
    at = {1: 44, 2: 56}[arch.elf_class]                                 # e_phnum's offset
    assert int.from_bytes(lk.output[at:at + 2], arch.byteorder) == 2
    lk1 = link(arch_name, program(arch), spec.name, wx=True)
    assert len(lk1.layout.segments) == 1
    assert len(link(arch_name, data, spec.name).layout.segments) == 1


def _refuses_writable(arch_name, obj, spec) -> bool:
    """A read-only layout (``writable_ok`` False: i386's teensy) refuses a
    program with writable data or bss, saying so; True when it did."""
    if spec.writable_ok:
        return False
    assert _only(arch_name, obj, spec).startswith(
        f"layout {spec.name} maps its one segment read-only")
    return True


@pytest.mark.parametrize("arch_name, spec", PAIRS)
def test_absolute_32bit_fields(arch_name, spec):
    """A base above 4 GiB (abs32_ok False) cannot hold absolute 32-bit
    addresses; a load address the kernel chooses (pic_only) cannot hold any
    absolute address: each refusal names the relocation, file, section,
    offset and target, and says what to do."""
    arch = archmod.get(arch_name)
    obj = program(arch, abs32=True)
    if _refuses_writable(arch_name, obj, spec):
        return
    name = arch.reloc_name(abs32_type(arch))
    where = f"{name} at t.o:.data.d+0x0 against .data.d"
    if spec.pic_only:
        msg = _only(arch_name, obj, spec)
        assert msg.startswith(f"layout {spec.name} is loaded at an address the kernel chooses "
                              f"(ET_DYN), but a value in the program depends on the load "
                              f"address (absolute address: {where}); compile it "
                              "position-independent"), msg
    elif not spec.abs32_ok:
        msg = _only(arch_name, obj, spec)
        assert msg.startswith(f"layout {spec.name} loads above 4 GiB, but the code has "
                              f"absolute 32-bit relocations ({where}); compile it "
                              "position-independent"), msg
    else:
        lk = link(arch_name, obj, spec.name)
        check_geometry(lk)
        d = next(s for s in lk.kept if s.name == ".data.d")
        assert int.from_bytes(lk.output[d.offset:d.offset + 4], arch.byteorder) == d.addr


@pytest.mark.parametrize("arch_name, spec", PAIRS)
def test_requested_base(arch_name, spec):
    """A layout either loads at the requested (page-aligned) base or says
    that it cannot be honoured and why."""
    arch = archmod.get(arch_name)
    base = arch.default_base + 16 * arch.page_size
    try:
        lk = link(arch_name, program(arch), spec.name, base=base)
    except LayoutError as exc:
        (msg,) = exc.messages
        assert msg.startswith(f"layout {spec.name} ") and \
            msg.endswith(f"--base {base:#x} cannot be honoured"), msg
        return
    check_geometry(lk)
    assert lk.layout.base == base
    assert lk.layout.segments[0].vaddr == base + spec.first_offset(1)


@pytest.mark.parametrize("arch_name", ARCHS)
def test_base_address_rules(arch_name):
    arch = archmod.get(arch_name)
    page = arch.page_size
    obj = program(arch)
    for layout in ["auto"] + [s.name for s in layout_specs(arch_name)]:
        with pytest.raises(LayoutError) as exc:
            link(arch_name, obj, layout, base=arch.default_base + 1)
        assert exc.value.messages == [f"base address {arch.default_base + 1:#x} is not a "
                                      f"multiple of the page size ({page:#x})"]
        with pytest.raises(LayoutError) as exc:
            link(arch_name, obj, layout, base=page)
        assert exc.value.messages == [f"base address {page:#x} is below 0x10000; an ordinary "
                                      "user cannot map it (vm.mmap_min_addr)"]
    # no --base: the arch's default wherever the layout lets the program choose
    for spec in layout_specs(arch_name):
        if spec.base_for(PF_R | PF_X, None, arch.default_base) == arch.default_base:
            assert link(arch_name, obj, spec.name).layout.base == arch.default_base, spec.name


@pytest.mark.parametrize("arch_name, spec", PAIRS)
def test_bss_past_the_file(arch_name, spec):
    """20000 bytes of bss: mapped zeroed memory, or (a layout whose p_memsz
    must equal p_filesz) a refusal that says how many bytes are needed."""
    arch = archmod.get(arch_name)
    if _refuses_writable(arch_name, program(arch, bss=20000), spec):
        return
    try:
        lk = link(arch_name, program(arch, bss=20000), spec.name)
    except LayoutError as exc:
        (msg,) = exc.messages
        assert msg.startswith(f"layout {spec.name} maps no bss beyond the file's last page") \
            and "needs 20000 bytes of zeroed memory" in msg, msg
        return
    check_geometry(lk)
    bss = next(s for s in lk.kept if s.name == ".bss.b")
    seg = lk.layout.segments[-1]
    assert seg.vaddr + seg.memsz >= bss.addr + 20000 and lk.layout.mem_end >= bss.addr + 20000


@pytest.mark.parametrize("arch_name, spec", [p for p in PAIRS
                                              if p.values[1].entry_offset is not None])
def test_forced_entry_layouts(arch_name, spec):
    """A layout whose entry is a fixed header byte: e_entry names it, and
    when that byte is inside the ELF header the layout needs its holes."""
    arch = archmod.get(arch_name)
    obj = program(arch)
    lk = link(arch_name, obj, spec.name)
    assert lk.layout.entry == lk.layout.base + spec.entry_offset
    if spec.entry_in_tail(1, False):
        check_geometry(link(arch_name, obj, spec.name, holes=False))
    else:
        assert _only(arch_name, obj, spec, holes=False) == (
            f"layout {spec.name} needs its header holes (the entry is inside the ELF header); "
            "drop --no-holes")


@pytest.mark.parametrize("arch_name, spec", [p for p in PAIRS if p.values[1].forces_wx(
    archmod.get(p.values[0]))])
def test_forced_wx_layouts(arch_name, spec):
    """A layout whose p_flags the overlap forces to W+X: --wx is refused,
    and without it the link warns."""
    arch = archmod.get(arch_name)
    obj = program(arch)
    assert _only(arch_name, obj, spec, wx=True) == (
        f"layout {spec.name} maps its segment writable and executable (p_flags is forced "
        "by the header overlap); --wx cannot be honoured")
    lk = link(arch_name, obj, spec.name)
    assert any(f"writable and executable: layout {spec.name} forces it" in w
               for w in lk.layout.warnings)


@pytest.mark.parametrize("arch_name", ARCHS)
def test_strict_geometry_is_the_elf_one(arch_name):
    """strict: the class's ELF header, its program headers, content after
    them in tail order (code, then data), nothing in the headers."""
    arch = archmod.get(arch_name)
    ehdr, phdr = EHDR_PHDR[arch.elf_class]
    lk = link(arch_name, program(arch, data=True), "strict")
    assert lk.layout.header_size == ehdr + phdr
    assert lk.layout.file_size == ehdr + phdr + len(CODE) + 8
    lk = link(arch_name, program(arch, data=True), "strict", wx=True)
    assert lk.layout.header_size == ehdr + 2 * phdr
    text = next(s for s in lk.kept if s.name == ".text._start")
    data = next(s for s in lk.kept if s.name == ".data.d")
    assert text.offset == ehdr + 2 * phdr and data.offset == text.offset + len(CODE)
    assert all(not h.used for h in lk.layout.holes)
