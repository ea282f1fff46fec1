"""The debug sidecar (``--debug-sidecar FILE``): symbols and DWARF for gdb.

tinyelf's outputs carry no section headers and no symbols.  The sidecar is a
separate, ordinary ELF file (ET_EXEC, section headers, no program headers,
no code) describing the same addresses:

* one SHT_NOBITS section per output class (.text, .rodata, .data, .bss)
  spanning the addresses the kept sections of that class occupy, so
  debuggers can place symbols;
* ``.symtab``/``.strtab``: every symbol of the link map at its final address;
* the inputs' DWARF (``.debug_*`` sections of objects compiled with ``-g``),
  concatenated per section name like any linker does, with their
  relocations applied against the final addresses (references to sections
  the link dropped get the tombstone 0, or 1 in .debug_ranges/.debug_loc).

``gdb OUT`` then ``symbol-file OUT.debug`` gives function names in
breakpoints and backtraces, and source lines where DWARF was present.
``build_sidecar(link)`` returns the bytes; it only reads the link model.
"""
from __future__ import annotations

from ..arch import F_ABS, F_NONE
from ..elf.defs import (ELFDATA2LSB, ELFMAG, ET_EXEC, EV_CURRENT,
                      SHF_ALLOC, SHF_EXECINSTR, SHF_WRITE, SHN_ABS, SHT_NOBITS, SHT_PROGBITS,
                      SHT_STRTAB, SHT_SYMTAB)
from ..errors import RelocationError
from .linkmap import map_symbols, section_pieces
from ..linker.model import CLASS_BSS, CLASS_DATA, CLASS_RODATA, CLASS_TEXT, Link, symbol_address

_CLASS_SECTIONS = ((CLASS_TEXT, ".text", SHF_ALLOC | SHF_EXECINSTR, 16),
                   (CLASS_RODATA, ".rodata", SHF_ALLOC, 1),
                   (CLASS_DATA, ".data", SHF_ALLOC | SHF_WRITE, 1),
                   (CLASS_BSS, ".bss", SHF_ALLOC | SHF_WRITE, 1))


class _Strtab:
    def __init__(self):
        self.data = bytearray(b"\0")
        self.index = {"": 0}

    def add(self, s: str) -> int:
        if s not in self.index:
            self.index[s] = len(self.data)
            self.data += s.encode("utf-8", "replace") + b"\0"
        return self.index[s]


def _align(x: int, a: int) -> int:
    return (x + a - 1) & -a if a > 1 else x


def merge_debug(link: Link):
    """The inputs' DWARF: {name: bytearray} with relocations applied, and a
    list of notes about what could not be resolved."""
    kept = {id(s) for s in link.kept}
    pieces = {}      # (id(obj), index) -> (name, offset)
    out: dict[str, bytearray] = {}
    order = []
    for obj in link.objects:
        for idx, sec in sorted(obj.debug.items()):
            buf = out.get(sec.name)
            if buf is None:
                buf = out[sec.name] = bytearray()
                order.append(sec.name)
            start = _align(len(buf), sec.align)
            buf += bytes(start - len(buf))
            pieces[(id(obj), idx)] = (sec.name, start)
            buf += bytes(sec.data)
    notes = []
    specs = link.arch.relocs
    for obj in link.objects:
        for idx, sec in obj.debug.items():
            name, base = pieces[(id(obj), idx)]
            buf = out[name]
            tomb = 1 if name in (".debug_ranges", ".debug_loc") else 0
            for r_off, rtype, symidx, addend in sec.relocs:
                spec = specs.get(rtype)
                if spec is None or spec.formula == F_NONE:
                    if spec is None:
                        notes.append(f"{obj.name}:{name}+{r_off:#x}: {link.arch.reloc_name(rtype)} "
                                     "left unapplied")
                    continue
                if spec.formula != F_ABS:
                    notes.append(f"{obj.name}:{name}+{r_off:#x}: {spec.name} left unapplied")
                    continue
                t = link.target(obj, symidx)
                if t.section is not None:
                    value = symbol_address(t) + addend if id(t.section) in kept else tomb
                elif (id(t.obj), t.shndx) in pieces:
                    value = pieces[(id(t.obj), t.shndx)][1] + t.value + addend
                elif t.is_undefined:
                    value = tomb if t.obj is obj and t.bind == 0 else addend
                else:
                    value = symbol_address(t) + addend
                size = spec.size
                pos = base + r_off
                if spec.field is not None:
                    # the arch's own field (riscv's ADD/SUB/SET pairs that
                    # DWARF uses for lengths, ULEB128s): it writes the value
                    link.arch.write_field(buf, pos, spec, value)
                    continue
                if value < 0 or value >> (size * 8):
                    raise RelocationError(f"{obj.name}:{name}+{r_off:#x}: {spec.name} value "
                                          f"{value:#x} does not fit in {size} bytes")
                buf[pos:pos + size] = value.to_bytes(size, link.arch.byteorder)
    return {n: out[n] for n in order}, notes


def build_sidecar(link: Link) -> bytes:
    """The sidecar ELF's bytes for a finished link."""
    shstr = _Strtab()
    strtab = _Strtab()
    # (name, type, flags, addr, data or None, size, link, info, align, entsize)
    sections = [None]
    class_index = []     # (lo, hi, section index)
    for cls, name, flags, align in _CLASS_SECTIONS:
        secs = [s for s in link.kept if s.out_class == cls and s.size]
        if not secs:
            continue
        spans = [(addr, addr + length) for s in secs for _o, length, addr, _f in section_pieces(s)]
        lo = min(a for a, _e in spans)
        hi = max(e for _a, e in spans)
        sections.append([name, SHT_NOBITS, flags, lo, None, hi - lo, 0, 0, align, 0])
        class_index.append((lo, hi, len(sections) - 1))
    debug, _notes = merge_debug(link)
    for name, data in debug.items():
        sections.append([name, SHT_PROGBITS, 0, 0, bytes(data), len(data), 0, 0, 1, 0])

    from ..elf.structs import structs_for
    es = structs_for(link.arch.elf_class)
    syms = [es.pack_sym(0, 0, 0, 0, 0, 0)]
    symbols = map_symbols(link)
    ordered = [s for s in symbols if s[3] == 0] + [s for s in symbols if s[3] != 0]
    first_global = 1 + sum(1 for s in symbols if s[3] == 0)
    for addr, size, stype, bind, name, _obj in ordered:
        shndx = next((i for lo, hi, i in class_index if lo <= addr < hi), None)
        if shndx is None:
            shndx = next((i for lo, hi, i in class_index if addr == hi), SHN_ABS)
        syms.append(es.pack_sym(strtab.add(name), (bind << 4) | (stype & 0xF), 0, shndx,
                                addr, size))
    symtab_index = len(sections)
    sections.append([".symtab", SHT_SYMTAB, 0, 0, b"".join(syms), 0, symtab_index + 1,
                     first_global, es.addr_size, es.sym.size])
    sections.append([".strtab", SHT_STRTAB, 0, 0, bytes(strtab.data), 0, 0, 0, 1, 0])
    sections.append([".shstrtab", SHT_STRTAB, 0, 0, None, 0, 0, 0, 1, 0])
    for sec in sections[1:]:
        shstr.add(sec[0])
    sections[-1][4] = bytes(shstr.data)

    body = bytearray(es.ehdr.size)
    headers = [es.shdr.pack(0, 0, 0, 0, 0, 0, 0, 0, 0, 0)]
    for name, stype, flags, addr, data, size, lnk, info, align, entsize in sections[1:]:
        if data is not None:
            off = _align(len(body), align)
            body += bytes(off - len(body)) + data
            size = len(data)
        else:
            off = len(body)
        headers.append(es.shdr.pack(shstr.index[name], stype, flags, addr, off, size, lnk, info,
                                    align, entsize))
    shoff = _align(len(body), es.addr_size)
    body += bytes(shoff - len(body))
    ident = ELFMAG + bytes([es.elfclass, ELFDATA2LSB, EV_CURRENT]) + bytes(9)
    body[0:es.ehdr.size] = es.ehdr.pack(ident, ET_EXEC, link.arch.e_machine, EV_CURRENT,
                                        link.layout.entry, 0, shoff, 0, es.ehdr.size, 0, 0,
                                        es.shdr.size, len(headers), len(headers) - 1)
    return bytes(body) + b"".join(headers)
