"""Pass 5, layout: addresses and file offsets for every kept section.

Input: ``link.kept`` in image order.  Output: ``link.layout`` (base, header
size, PT_LOAD segments, entry address, file size) and ``addr``/``offset`` on
every kept section; linker-defined symbols (_end, __bss_start, ...) get their
values.  The layout owns the numbers; the writer turns them into bytes.

Invariants: file offset and address differ by the base (so they are congruent
modulo the page size), every section is aligned to its alignment, every
file-backed byte precedes every bss byte, bss occupies memory only.
"""
from __future__ import annotations

from .elfdefs import EHDR64, PF_R, PF_W, PF_X, PHDR64
from .errors import LayoutError
from .model import CLASS_BSS, CLASS_TEXT, Layout, Link, Segment, symbol_address


def _align(x: int, a: int) -> int:
    return (x + a - 1) & -a if a > 1 else x


def layout(link: Link) -> Link:
    arch = link.arch
    base = link.options.base if link.options.base is not None else arch.default_base
    page = arch.page_size
    if base % page:
        raise LayoutError(f"base address {base:#x} is not a multiple of the page size ({page:#x})")
    if base < 0x10000:
        # vm.mmap_min_addr is 4096 or 65536 on stock kernels: lower needs CAP_SYS_RAWIO
        raise LayoutError(f"base address {base:#x} is below 0x10000; an ordinary user cannot "
                          "map it (vm.mmap_min_addr)")
    phnum = 1
    header_size = EHDR64.size + phnum * PHDR64.size

    pos = header_size           # file offset == address - base
    text_end = pos
    for sec in link.kept:
        cls = sec.out_class
        if cls == CLASS_BSS:
            continue
        pos = _align(pos, sec.align)
        sec.offset = pos
        sec.addr = base + pos
        pos += sec.size
        if cls == CLASS_TEXT:
            text_end = pos
    file_size = pos
    mem = pos
    for sec in link.kept:
        if sec.out_class != CLASS_BSS:
            continue
        mem = _align(mem, sec.align)
        sec.addr = base + mem
        sec.offset = -1
        mem += sec.size
    if base + mem >= (1 << 47) - page:
        raise LayoutError(f"the image ends at {base + mem:#x}, above the user address space")

    entry_sym = link.globals[link.options.entry]
    entry = symbol_address(entry_sym)
    flags = PF_R | PF_W | PF_X
    link.layout = Layout(base=base, header_size=header_size,
                         segments=[Segment(offset=0, vaddr=base, filesz=file_size, memsz=mem,
                                           flags=flags, align=page)],
                         entry=entry, file_size=file_size, mem_end=base + mem, got=link.got)
    _define_linker_symbols(link, base, text_end, file_size, mem)
    return link


def _define_linker_symbols(link: Link, base: int, text_end: int, file_end: int, mem_end: int) -> None:
    values = {"__executable_start": base, "_etext": base + text_end, "etext": base + text_end,
              "__etext": base + text_end, "_edata": base + file_end, "edata": base + file_end,
              "__bss_start": base + file_end, "_end": base + mem_end, "end": base + mem_end,
              "_GLOBAL_OFFSET_TABLE_": link.got.addr if link.got is not None else base}
    for sym in link.synthetic.symbols:
        if sym.name in values and sym.section is None:
            sym.value = values[sym.name]
