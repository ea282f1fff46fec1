"""Recognising and unpacking a compressed executable tinyelf made, from its bytes.

The file is mapped as the kernel would map it; from the entry point the
code is matched against each decompressor stub the file's machine has
(``Arch.decompressor``), following the short jumps the layout inserts where it
split the stub across header holes (``Arch.split_jump_target``).  The stub's
relocated fields give the payload's address, where the program goes, its end
and its entry; the codec's Python decoder then gives the program back.
"""
from __future__ import annotations

from ..elf.defs import EHDR64, PHDR64, PT_LOAD
from . import CODECS, codec_module

R_ABS32 = (10, 11)    # fields holding S + A
R_PC32 = (2, 4)       # fields holding S + A - P


class _Memory:
    def __init__(self, data: bytes, loads):
        self.data, self.loads = data, loads

    def read(self, addr: int, n: int) -> bytes | None:
        for off, vaddr, filesz, _memsz in self.loads:
            if vaddr <= addr and addr + n <= vaddr + filesz:
                return self.data[off + addr - vaddr:off + addr - vaddr + n]
        return None

    def rest(self, addr: int) -> bytes:
        """The bytes from ``addr`` to the end of its segment's file part, and
        the zeros after it (trailing zeros of a payload became bss)."""
        for off, vaddr, filesz, memsz in self.loads:
            if vaddr <= addr < vaddr + filesz:
                zeros = min(memsz - filesz, 1 << 16)
                return self.data[off + addr - vaddr:off + filesz] + bytes(max(0, zeros))
        return b""


def _match(code: bytes, relocs, mem: _Memory, pc: int, arch, budget: int = 64):
    fields = {off: (rtype, sym, addend) for off, rtype, sym, addend in relocs}
    values = {}
    i = 0
    while i < len(code):
        if i in fields:
            rtype, sym, addend = fields[i]
            raw = mem.read(pc, 4)
            if raw is None:
                return None
            v = int.from_bytes(raw, "little", signed=rtype in (2, 4, 11))
            values[sym] = v - addend + (pc if rtype in R_PC32 else 0)
            i += 4
            pc += 4
            continue
        b = mem.read(pc, 1)
        if b is not None and b[0] == code[i]:
            i += 1
            pc += 1
            continue
        target = arch.split_jump_target(mem.read, pc)
        if target is None or budget == 0:
            return None
        pc, budget = target, budget - 1
    return values


def recognise(data: bytes):
    """``{"codec", "wx", "fields": {symbol: value}}`` when ``data`` is a
    compressed executable tinyelf made, else None."""
    from .. import arch as archmod
    if len(data) < EHDR64.size or data[:4] != b"\x7fELF":
        return None
    f = EHDR64.unpack_from(data)
    e_machine, e_entry, e_phoff, e_phnum = f[2], f[4], f[5], f[10]
    try:
        arch = archmod.for_machine(e_machine)
    except Exception:   # noqa: BLE001 - an unknown machine is simply not ours
        return None
    if arch is None or e_phoff + e_phnum * PHDR64.size > len(data):
        return None
    loads = []
    for k in range(e_phnum):
        p = PHDR64.unpack_from(data, e_phoff + k * PHDR64.size)
        if p[0] == PT_LOAD:
            # whole pages, as the kernel maps them: from the page that holds p_vaddr
            # (overlap103's p_offset 0x100 lies past a small file's end; overlap80's
            # entry, file byte 1, lies before p_offset 0x18, and its p_filesz may be 1)
            pg = p[3] % arch.page_size
            off = p[2] - pg
            if off < 0:
                continue
            mapped = -(-(pg + p[5]) // arch.page_size) * arch.page_size
            loads.append((off, p[3] - pg, min(mapped, max(0, len(data) - off)),
                          max(p[6] + pg, mapped)))
    mem = _Memory(data, loads)
    for codec in CODECS:
        for wx in (False, True):
            stub = arch.decompressor(codec, wx)
            if stub is None:
                continue
            for start in _starts(arch, mem, e_entry):
                values = _match(stub[0], stub[1], mem, start, arch)
                if values is not None:
                    return {"codec": codec, "wx": wx, "fields": values, "_mem": mem}
    return None


def _starts(arch, mem: _Memory, entry: int):
    """Where the stub may start: at the entry, or after the header bytes a
    layout executes there as prefixes of its first instruction (overlap80:
    the magic's "ELF", REX prefixes)."""
    yield entry
    for spec in arch.header_layouts():
        if spec.entry_prefix and mem.read(entry, len(spec.entry_prefix)) == spec.entry_prefix:
            yield entry + len(spec.entry_prefix)


def unpack(data: bytes) -> dict | None:
    """The program inside a compressed executable: ``{"codec", "wx", "start",
    "entry", "program" (its bytes), "payload" (compressed bytes read)}``, or
    None when ``data`` is not one.  Raises ValueError for a damaged payload."""
    found = recognise(data)
    if found is None:
        return None
    v = found["fields"]
    stream = found["_mem"].rest(v["__payload"])
    mod = codec_module(found["codec"])
    if found["codec"] == "cm":
        program = mod.decompress(stream, v["__end"] - v["__dest"])
    else:
        program = mod.decompress(stream)
    return {"codec": found["codec"], "wx": found["wx"], "start": v["__dest"],
            "entry": v["__entry"], "program": program, "payload_address": v["__payload"]}


def inner_elf(info: dict) -> bytes:
    """A plain ELF of the unpacked program for inspection: the strict layout
    it was linked with (headers right before ``start``), one RWX segment."""
    from ..elf.defs import ELFCLASS64, ELFDATA2LSB, ELFMAG, ET_EXEC, EV_CURRENT
    hdr = EHDR64.size + PHDR64.size
    base = info["start"] - hdr
    total = hdr + len(info["program"])
    ident = ELFMAG + bytes([ELFCLASS64, ELFDATA2LSB, EV_CURRENT]) + bytes(9)
    eh = EHDR64.pack(ident, ET_EXEC, 62, EV_CURRENT, info["entry"], EHDR64.size, 0, 0,
                     EHDR64.size, PHDR64.size, 1, 0, 0, 0)
    ph = PHDR64.pack(PT_LOAD, 7, 0, base, base, total, total, 0x1000)
    return eh + ph + info["program"]
