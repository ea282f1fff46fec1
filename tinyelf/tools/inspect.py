"""Looking inside an executable: headers field by field, who owns each byte,
segments, an annotated hex dump and the disassembly.

``analyze(data, ...)`` returns a plain dict (the ``--json`` output) that the
renderers turn into text (``render_text``) or a page
(:mod:`tinyelf.tools.inspect_html`).  It reads the file the way the kernel does:
the first bytes zero-padded when the file is shorter than the headers, the
program header table wherever ``e_phoff`` puts it — also inside the ELF
header, as tinyelf's squeezed layouts do — so overlapped headers decode
where readelf gives up.

Every file byte gets an *origin*:

* ``header``   an ELF header or program header field, and nothing else;
* ``overlap``  claimed twice: by both headers, or by a header and the code or
  data that the program also uses from the same byte;
* ``code``, ``rodata``, ``data``: the program's contents (from a link map, a
  debug sidecar, the file's own section headers or, failing those, from the
  segments: the executable segment from the entry point on is code);
* ``other``    in the file but not loaded (section headers, symbol tables);
* ``hole``     nobody's: alignment padding, unused bytes.

Symbols name addresses in the disassembly: from a tinyelf link map
(``--map``), a debug sidecar or any ELF with a symbol table (``--symbols``),
``FILE.map``/``FILE.debug`` next to the file, or the file's own ``.symtab``.
"""
from __future__ import annotations

import bisect
import os
import re

from ..elf.defs import (EHDR32, EHDR64, EHDR_FIELDS, ELFCLASS32, ELFMAG, EM_NAMES, ET_DYN,
                      ET_NAMES, PF_R, PF_W, PF_X, PHDR32, PHDR32_FIELDS, PHDR64, PHDR64_FIELDS,
                      PT_LOAD, PT_NAMES, SHDR32, SHDR64, SHF_ALLOC, SHF_EXECINSTR, SHF_WRITE,
                      SHT_NOBITS, SHT_SYMTAB, STT_FILE, STT_SECTION, SYM32, SYM64, fields)
from ..errors import InputError
from .kernelmap import PAGE, describe as describe_mapping, kernel_view

ORIGINS = ("header", "overlap", "hole", "code", "rodata", "data", "other")
ORIGIN_TEXT = {"header": "header", "overlap": "overlap (two owners)", "hole": "hole (unused)",
               "code": "code", "rodata": "read-only data", "data": "data",
               "other": "not loaded (section data)"}

#: fields the kernel does not look at when it runs a static ELF (see
#: REFERENCES.md): free bytes for code and data
KERNEL_IGNORES = {"EI_CLASS", "EI_DATA", "EI_VERSION", "EI_OSABI", "EI_ABIVERSION", "EI_PAD",
                  "e_version", "e_shoff", "e_flags", "e_ehsize", "e_shentsize", "e_shnum",
                  "e_shstrndx", "p_paddr", "p_align"}

#: e_ident fields by offset: those before the arch's ``checked_ident`` are read
_IDENT_AT = {"EI_CLASS": 4, "EI_DATA": 5, "EI_VERSION": 6, "EI_OSABI": 7, "EI_ABIVERSION": 8,
             "EI_PAD": 9}


def kernel_ignores(machine: int) -> set:
    """The header fields the kernel does not read on ``machine`` (riscv's
    also checks EI_CLASS: ``Arch.checked_ident``)."""
    from .. import arch as archmod
    a = archmod.for_machine(machine)
    checked = a.checked_ident if a is not None else 4
    return {f for f in KERNEL_IGNORES if _IDENT_AT.get(f, 99) >= checked}


_CLASS_ORIGIN = {"code": "code", "read-only data": "rodata", "data": "data", "bss": "data"}


def _flags(f: int) -> str:
    return ("R" if f & PF_R else "-") + ("W" if f & PF_W else "-") + ("X" if f & PF_X else "-")


#: mapping symbols ($x code, $d data; riscv's $x carries the ISA string): the
#: ARM and RISC-V ELF ABIs mark the kind of bytes with them; they name nothing
_MAPPING = re.compile(r"\$[adtx](\.\d+|rv\w*)?$")


class _Syms:
    """Addresses -> names, nearest symbol at or below."""

    def __init__(self, items):
        items = sorted({(a, s, n) for a, s, n in items if n and not _MAPPING.match(n)})
        self.items = items
        self.addrs = [a for a, _s, _n in items]
        self.at = {}
        for a, _s, n in items:
            self.at.setdefault(a, n)

    def name(self, addr: int, exact_only=False):
        if addr in self.at:
            return self.at[addr]
        if exact_only:
            return None
        i = bisect.bisect_right(self.addrs, addr) - 1
        if i < 0:
            return None
        a, size, n = self.items[i]
        nxt = self.addrs[i + 1] if i + 1 < len(self.addrs) else None
        if (size and addr < a + size) or (not size and (nxt is None or addr < nxt) and addr - a < 0x1000):
            return f"{n}+{addr - a:#x}"
        return None


# --- reading ELF files -----------------------------------------------------

def _decode_header(data: bytes):
    """(class, ehdr dict, ehdr field layout, phdr struct, phdr field layout)."""
    if len(data) < 4 or data[:4] != ELFMAG:
        raise InputError("not an ELF file (no \\x7fELF magic)")
    from ..arch import executable_class
    cls = executable_class(data)           # the kernel's view: by e_machine, not EI_CLASS
    if cls == ELFCLASS32:
        eh, ph, phf = EHDR32, PHDR32, PHDR32_FIELDS
    else:
        eh, ph, phf = EHDR64, PHDR64, PHDR64_FIELDS
    padded = bytes(data[:eh.size]) + bytes(max(0, eh.size - len(data)))
    values = dict(zip(EHDR_FIELDS, eh.unpack(padded)))
    return (32 if cls == ELFCLASS32 else 64), values, fields(eh, EHDR_FIELDS), eh, ph, \
        fields(ph, phf), phf


def _section_headers(data: bytes, bits: int, eh: dict):
    """Section headers of an ordinary ELF: [dict], or [] when absent/bad."""
    sh = SHDR64 if bits == 64 else SHDR32
    off, num, ent, strndx = eh["e_shoff"], eh["e_shnum"], eh["e_shentsize"], eh["e_shstrndx"]
    if not off or not num or ent != sh.size or off + num * sh.size > len(data):
        return []
    raw = [sh.unpack_from(data, off + i * sh.size) for i in range(num)]
    names = ("name", "type", "flags", "addr", "offset", "size", "link", "info", "align", "entsize")
    secs = [dict(zip(names, r)) for r in raw]
    strtab = b""
    if strndx < num:
        s = secs[strndx]
        strtab = data[s["offset"]:s["offset"] + s["size"]]
    for s in secs:
        end = strtab.find(b"\0", s["name"]) if s["name"] < len(strtab) else -1
        s["name"] = strtab[s["name"]:end].decode("utf-8", "replace") if end >= 0 else ""
    return secs


def _elf_symbols(data: bytes):
    """Symbols and allocated sections of an ELF with a symbol table (a
    sidecar, an unstripped executable): ([(addr, size, name)], [(addr, size, class, name)])."""
    try:
        bits, eh, *_rest = _decode_header(data)
    except InputError:
        return [], []
    secs = _section_headers(data, bits, eh)
    syms, classes = [], []
    st = SYM64 if bits == 64 else SYM32
    for s in secs:
        if s["flags"] & SHF_ALLOC and s["addr"] and s["size"]:
            cls = ("code" if s["flags"] & SHF_EXECINSTR else "data" if s["flags"] & SHF_WRITE
                   else "read-only data")
            classes.append((s["addr"], s["size"], cls, s["name"]))
        if s["type"] != SHT_SYMTAB or s["link"] >= len(secs):
            continue
        strs = secs[s["link"]]
        strtab = data[strs["offset"]:strs["offset"] + strs["size"]]
        raw = data[s["offset"]:s["offset"] + s["size"]]
        for i in range(1, len(raw) // st.size):
            f = st.unpack_from(raw, i * st.size)
            if bits == 64:
                name_off, info, _other, shndx, value, size = f
            else:
                name_off, value, size, info, _other, shndx = f
            if (info & 0xF) in (STT_SECTION, STT_FILE) or shndx == 0 or name_off >= len(strtab):
                continue
            end = strtab.find(b"\0", name_off)
            name = strtab[name_off:end if end >= 0 else None].decode("utf-8", "replace")
            if name and not name.startswith(".L") and not _MAPPING.match(name):
                syms.append((value, size, name))
    return syms, classes


def load_symbols(path: str):
    """Symbols and section classes from a map or an ELF file with symbols."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    from .linkmap import MAGIC, parse_map
    if raw.startswith(MAGIC.encode()):
        m = parse_map(raw.decode("utf-8", "replace"))
        # data inside code sections (a string after the code of an assembly
        # file) is data: object symbols come first and win
        classes = [(a, s, "read-only data", n) for a, s, t, n in m["symbols"] if t == "object" and s]
        for a, s, c, n, f in m["sections"]:
            for _start, length, addr, _foff in m["pieces"].get((n, f, a), [(0, s, a, -1)]):
                classes.append((addr, length, c, n))
        syms = [(a, s, n) for a, s, _t, n in m["symbols"]]
        # sections no symbol starts (a string's .rodata.str1.1) by their name
        named = {a for a, _s, _n in syms}
        syms += [(a, s, n) for a, s, c, n, _f in m["sections"] if a not in named and s]
        return syms, classes, "map"
    if raw.startswith(ELFMAG):
        syms, classes = _elf_symbols(raw)
        return syms, classes, "elf"
    raise InputError(f"{path}: neither a tinyelf link map nor an ELF file with symbols")


# --- the analysis ------------------------------------------------------------

def analyze(data: bytes, name: str = "", symbols_from=None, disassemble: bool = True) -> dict:
    """Everything ``inspect`` shows, as plain data.

    ``symbols_from``: paths of link maps or ELF files with symbols; None
    looks for ``name + '.map'`` and ``name + '.debug'``.  The phases: the
    headers as the kernel reads them, what each PT_LOAD maps (:class:`_Maps`),
    the header fields and who claims each byte, the symbols, the origin of
    the program's own bytes (from sections, or traced from the entry point),
    then every byte's origin, the regions and the segments.
    """
    data = bytes(data)
    bits, eh, ehf, ehs, phs, phf, phnames = _decode_header(data)
    size = len(data)
    machine = eh["e_machine"]
    rep = {"file": name, "size": size, "bits": bits,
           "kind": f"{bits}-bit {EM_NAMES.get(machine, 'machine %d' % machine)} "
                   f"{ET_NAMES.get(eh['e_type'], 'type %d' % eh['e_type'])}"}
    phdrs, notes = _program_headers(data, eh, ehs, phs, phnames)
    loads = [p for p in phdrs if p["p_type"] == PT_LOAD]
    maps = _Maps(loads, size)
    owners = [[] for _ in range(max(size, ehs.size))]
    hdr_rows, ph_rows = _header_rows(data, eh, ehf, phdrs, phf, maps, owners)
    syms, class_ranges, sources, secs = _symbols(data, name, bits, eh, symbols_from)
    memory = data + _zero_tail(loads, size)      # what the code may run into
    content, basis = _content(data, memory, eh, ehf, phdrs, phs, phnames, loads, maps, owners,
                              class_ranges)
    unloaded = _unloaded(secs, eh, size)
    origins = _origins(owners, content, unloaded, size)
    regions = _regions(origins, owners, content, unloaded, secs, maps, syms)
    rep.update(notes=notes, elf_header=hdr_rows, program_headers=ph_rows,
               segments=_segments(phdrs, size), entry=eh["e_entry"],
               entry_offset=maps.addr_to_off(eh["e_entry"]), regions=regions,
               shared=[r for r in regions if r["origin"] == "overlap"],
               origins_basis=basis, symbol_sources=sources,
               symbols=[{"address": a, "size": s, "name": n} for a, s, n in syms.items],
               sections=[{"name": s["name"], "addr": s["addr"], "offset": s["offset"],
                          "size": s["size"]} for s in secs if s["name"]])
    rep["origins"] = origins
    rep["_bytes"] = data
    rep["disassembly"] = (_disassemble(memory, machine, content,
                                       maps.off_to_addr, syms, eh["e_entry"])
                          if disassemble else [])
    return rep


def _program_headers(data, eh, ehs, phs, phnames):
    """The program headers as the kernel reads them (zero-padded past the
    end of the file), and notes on what is unusual about them."""
    size = len(data)
    phoff, phnum, phent = eh["e_phoff"], eh["e_phnum"], eh["e_phentsize"]
    phdrs, notes = [], []
    if size < ehs.size:
        notes.append(f"the file is shorter than the ELF header ({size} of {ehs.size} bytes): "
                     "the kernel reads the missing bytes as zero")
    if phent != phs.size and phnum:
        notes.append(f"e_phentsize is {phent}, not {phs.size}: the kernel refuses this file")
    nph = min(phnum, 64) if phent == phs.size else 0
    if phoff < ehs.size and nph:
        notes.append(f"the program header table starts at {phoff:#x}, inside the ELF header: "
                     "the two share bytes")
    for k in range(nph):
        off = phoff + k * phs.size
        if off >= max(size, PAGE):
            break
        raw = data[off:off + phs.size]
        raw += bytes(phs.size - len(raw))
        vals = dict(zip(phnames, phs.unpack(raw)))
        if off + phs.size > size:
            notes.append(f"program header {k} runs past the end of the file")
        vals["_offset"] = off
        phdrs.append(vals)
    return phdrs, notes


class _Maps:
    """What each PT_LOAD makes visible, the kernel's way: first the file
    bytes the headers name, then the rest of their pages
    (:func:`tinyelf.tools.kernelmap.kernel_view`: whole pages, and only
    p_memsz > p_filesz zeroes the tail).  Converts file offsets and
    addresses."""

    def __init__(self, loads, size):
        self.maps = []      # (file lo, file hi, address of file lo, p_flags)
        for exact in (True, False):
            for p in loads:
                lo, hi = p["p_offset"], p["p_offset"] + p["p_filesz"]
                if not exact:
                    view = kernel_view(lo, p["p_vaddr"], p["p_filesz"], p["p_memsz"], size)
                    lo, hi = view["file_start"], view["file_end"]
                hi = min(hi, size)
                if lo < hi:
                    self.maps.append((lo, hi, p["p_vaddr"] - (p["p_offset"] - lo), p["p_flags"]))

    def addr_to_off(self, addr):
        for lo, hi, va, _f in self.maps:
            if va <= addr < va + (hi - lo):
                return addr - va + lo
        return None

    def off_to_addr(self, off):
        for lo, hi, va, _f in self.maps:
            if lo <= off < hi:
                return off - lo + va
        return None

    def flags_at(self, off):
        return next((f for lo, hi, _va, f in self.maps if lo <= off < hi), None)


def _header_rows(data, eh, ehf, phdrs, phf, maps, owners):
    """Every ELF and program header field with its value and meaning; each
    field's bytes are claimed in ``owners``."""
    ignored = kernel_ignores(eh["e_machine"])

    def claim(lo, hi, what):
        for i in range(lo, min(hi, len(owners))):
            owners[i].append(what)

    def field(off, fsize):
        raw = (data[off:off + fsize] + bytes(fsize))[:fsize]
        return raw, int.from_bytes(raw, "little")

    hdr_rows = []
    for fname, foff, fsize in ehf:
        raw, value = field(foff, fsize)
        hdr_rows.append({"field": fname, "offset": foff, "size": fsize, "value": value,
                         "hex": raw.hex(" "),
                         "meaning": _meaning(fname, value, raw, eh, maps.addr_to_off),
                         "kernel_ignores": fname in ignored})
        claim(foff, foff + fsize, ("ehdr", fname))
    ph_rows = []
    for k, p in enumerate(phdrs):
        rows = []
        for fname, foff, fsize in phf:
            off = p["_offset"] + foff
            raw, value = field(off, fsize)
            dyn_align = fname == "p_align" and eh["e_type"] == ET_DYN
            rows.append({"field": fname, "offset": off, "size": fsize, "value": value,
                         "hex": raw.hex(" "),
                         "meaning": _ph_meaning(fname, value, eh["e_type"]),
                         "kernel_ignores": fname in ignored and not dyn_align})
            claim(off, off + fsize, ("phdr", k, fname))
        ph_rows.append(rows)
    return hdr_rows, ph_rows


def _symbols(data, name, bits, eh, symbols_from):
    """Names for addresses and the ranges of code and data: from link maps
    and sidecars (given, or found next to the file), and the file's own
    section headers and symbol table."""
    sym_items, class_ranges, sources = [], [], []
    candidates = symbols_from
    if candidates is None:
        candidates = [c for c in (name + ".map", name + ".debug") if name and os.path.isfile(c)]
    for path in candidates:
        s, c, kind = load_symbols(path)
        sym_items += s
        if c and not class_ranges:
            class_ranges = c
        sources.append({"path": path, "kind": kind, "symbols": len(s)})
    own_syms, own_classes = _elf_symbols(data)
    secs = _section_headers(data, bits, eh)
    if own_syms:
        sym_items += own_syms
        sources.append({"path": name, "kind": "own .symtab", "symbols": len(own_syms)})
    return _Syms(sym_items), class_ranges or own_classes, sources, secs


def _content(data, memory, eh, ehf, phdrs, phs, phnames, loads, maps, owners, class_ranges):
    """The origin (code, rodata, data) of the program's own bytes, and on
    what basis: the sections' ranges, or, with none, the code traced from
    the entry point and what it points at.  ``memory``: ``data`` and the
    zeros the kernel maps after it (an instruction may end there)."""
    size, entry, machine = len(data), eh["e_entry"], eh["e_machine"]
    ignored = kernel_ignores(machine)
    content = [None] * size
    traced, refs = _trace_code(memory, entry, machine, maps.addr_to_off, maps.off_to_addr)
    if class_ranges:
        for addr, sz, cls, _n in class_ranges:
            origin = _CLASS_ORIGIN.get(cls, "data")
            # only the addresses a segment maps (a section header may say
            # anything: a size of 2**32 must not take minutes)
            for lo, hi, va, _f in maps.maps:
                for a in range(max(addr, va), min(addr + sz, va + hi - lo)):
                    o = maps.addr_to_off(a)
                    if o is not None and content[o] is None:
                        content[o] = origin
        # glue the layout added between pieces of split code (short jumps)
        # belongs to no section: what the entry point reaches is code too
        for o in traced:
            if o < size and content[o] is None:
                content[o] = "code"
        return content, "sections"
    # no sections anywhere: follow the code from the entry point (jumps,
    # calls, branches; a syscall known to be exit ends a path), then call
    # the rest of each loaded segment data
    for o in traced:
        if o < size:
            content[o] = "code"
    # what the code points at is data, up to the next code byte, the next
    # pointed-at byte or a header field the kernel reads
    checked = set()
    for fname, foff, fsize in ehf:
        if fname not in ignored:
            checked.update(range(foff, foff + fsize))
    for p in phdrs:
        for fname, foff, fsize in fields(phs, phnames):
            if fname not in ignored:
                checked.update(range(p["_offset"] + foff, p["_offset"] + foff + fsize))
    starts = sorted({maps.addr_to_off(a) for a in refs} - {None})
    for i, start in enumerate(starts):
        stop = starts[i + 1] if i + 1 < len(starts) else size
        f = maps.flags_at(start)
        kind = "data" if f is None or f & PF_W else "rodata"
        o = start
        while o < min(stop, size) and content[o] is None and o not in checked:
            content[o] = kind
            o += 1
    for p in loads:      # the rest of what the segments name is data
        lo, hi = p["p_offset"], min(p["p_offset"] + p["p_filesz"], size)
        for o in range(lo, hi):
            if content[o] is None and not owners[o]:
                content[o] = "data" if p["p_flags"] & PF_W else "rodata"
    return content, "code traced from the entry point (no map, sidecar or section headers)"


def _unloaded(secs, eh, size):
    """Which bytes are in the file but never loaded (non-alloc sections,
    the section header table)."""
    unloaded = [False] * size
    for s in secs:
        if s["type"] != SHT_NOBITS and not s["flags"] & SHF_ALLOC and s["type"]:
            for o in range(s["offset"], min(s["offset"] + s["size"], size)):
                unloaded[o] = True
    if secs:
        sh_end = eh["e_shoff"] + eh["e_shnum"] * eh["e_shentsize"]
        for o in range(eh["e_shoff"], min(sh_end, size)):
            unloaded[o] = True
    return unloaded


def _origins(owners, content, unloaded, size):
    """Every byte's origin (see the module docstring)."""
    origins = []
    for o in range(size):
        own = owners[o]
        heads = {w[0] for w in own}
        kinds = len(heads) + (1 if content[o] else 0)
        phdr_ids = {w[1] for w in own if w[0] == "phdr"}
        if kinds >= 2 or len(phdr_ids) > 1:
            origins.append("overlap")
        elif heads:
            origins.append("header")
        elif content[o]:
            origins.append(content[o])
        elif unloaded[o]:
            origins.append("other")
        else:
            origins.append("hole")
    return origins


def _regions(origins, owners, content, unloaded, secs, maps, syms):
    """Runs of bytes with the same origin and the same owners."""
    def describe(o):
        parts = []
        for w in owners[o]:
            parts.append(f"ELF header {w[1]}" if w[0] == "ehdr" else f"program header {w[1]} {w[2]}")
        if content[o]:
            a = maps.off_to_addr(o)
            nm = syms.name(a) if a is not None else None
            nm = nm.split("+0x")[0] if nm else None
            parts.append(ORIGIN_TEXT[content[o]] + (f" <{nm}>" if nm else ""))
        if not parts and unloaded[o]:
            sec = next((s["name"] for s in secs if s["offset"] <= o < s["offset"] + s["size"]
                        and s["type"] != SHT_NOBITS), None)
            parts.append(f"section {sec}" if sec else "section header table")
        return parts

    regions = []
    for o in range(len(origins)):
        key = (origins[o], tuple(describe(o)))
        if regions and regions[-1]["_key"] == key and regions[-1]["end"] == o:
            regions[-1]["end"] = o + 1
        else:
            regions.append({"_key": key, "start": o, "end": o + 1, "origin": key[0],
                            "owners": list(key[1])})
    for r in regions:
        del r["_key"]
    return regions


def _segments(phdrs, size):
    """The program headers' numbers, and for PT_LOADs what the kernel maps."""
    segs = []
    for k, p in enumerate(phdrs):
        seg = {"index": k, "type": PT_NAMES.get(p["p_type"], f"{p['p_type']:#x}"),
               "flags": _flags(p["p_flags"]), "offset": p["p_offset"], "vaddr": p["p_vaddr"],
               "filesz": p["p_filesz"], "memsz": p["p_memsz"], "align": p["p_align"]}
        if p["p_type"] == PT_LOAD:
            seg["kernel"] = kernel_view(p["p_offset"], p["p_vaddr"], p["p_filesz"],
                                        p["p_memsz"], size)
        segs.append(seg)
    return segs


def _meaning(fname, value, raw, eh, addr_to_off):
    if fname == "EI_MAG":
        return "ELF magic" if raw == ELFMAG else "bad magic"
    if fname == "EI_CLASS":
        return {1: "ELFCLASS32", 2: "ELFCLASS64"}.get(value, "invalid class")
    if fname == "EI_DATA":
        return {1: "little-endian", 2: "big-endian"}.get(value, "invalid")
    if fname in ("EI_VERSION", "e_version"):
        return "current" if value == 1 else "not 1"
    if fname == "EI_PAD":
        return "padding" if not any(raw) else "padding (used)"
    if fname == "e_type":
        return ET_NAMES.get(value, "unknown")
    if fname == "e_machine":
        return EM_NAMES.get(value, "unknown machine")
    if fname == "e_entry":
        off = addr_to_off(value)
        rel = " (plus the load address the kernel chooses: ET_DYN)" if eh["e_type"] == ET_DYN else ""
        return (f"entry point, file offset {off:#x}{rel}" if off is not None
                else "entry point (not in a segment)")
    if fname == "e_phoff":
        return "program headers' offset" + (" (inside the ELF header)" if value < 64 else "")
    if fname == "e_shoff":
        return "section headers' offset" if value else "no section headers"
    if fname == "e_phentsize":
        return "size of a program header"
    if fname == "e_phnum":
        return "number of program headers"
    return ""


def _ph_meaning(fname, value, e_type=None):
    if fname == "p_align" and e_type == ET_DYN:
        # ET_DYN: the kernel aligns the load address to a power of two
        if value > 0x1000 and not value & (value - 1):
            return ("load address aligned to it (ET_DYN)" if value < 1 << 47
                    else "too large: the kernel cannot map the file (ET_DYN)")
        return "not a power of two above the page size: no effect (ET_DYN)"
    if fname == "p_type":
        return PT_NAMES.get(value, "unknown type")
    if fname == "p_flags":
        return _flags(value)
    if fname == "p_offset":
        return "file offset"
    if fname == "p_vaddr":
        return "address"
    if fname in ("p_filesz", "p_memsz"):
        return f"{value} bytes"
    return ""


def _zero_tail(loads, size) -> bytes:
    """The zeros memory holds after the file's last byte when an executable
    segment ends there (tinyelf trims trailing zeros: the kernel maps the
    page, zero-filled past the end of the file), for decoding the last
    instruction; at most 16."""
    for p in loads:
        if p["p_flags"] & PF_X and p["p_offset"] <= size <= p["p_offset"] + p["p_memsz"] + PAGE:
            return bytes(16)
    return b""


def _trace_code(data, entry, machine, addr_to_off, off_to_addr, limit=200000):
    """File offsets of the bytes that instructions reachable from ``entry``
    occupy (recursive descent: branches and calls are followed, a path ends
    at ret/hlt/an unconditional or indirect jump/an exit syscall)."""
    hints = _hints(machine)
    md = _capstone(machine)
    if hints is None or md is None or addr_to_off(entry) is None:
        return set(), set()
    code = set()
    refs = set()
    seen = set()
    work = [entry]
    count = 0
    while work and count < limit:
        addr = work.pop()
        state = hints.new_state(at_entry=addr == entry)
        while addr not in seen and count < limit:
            off = addr_to_off(addr)
            if off is None:
                break
            seen.add(addr)
            ins = next(md.disasm(data[off:off + 16], addr, 1), None)
            if ins is None or off + ins.size > len(data):
                break
            count += 1
            code.update(range(off, off + ins.size))
            m = ins.mnemonic
            target = _target(hints, state, ins)
            if addr == entry and target is not None and \
                    (m in hints.taken_at_start or m in hints.falls_at_start):
                # the process's first instruction: the flags are known
                addr = target if m in hints.taken_at_start else addr + ins.size
                continue
            if target is not None:
                work.append(target)
            else:
                refs.update(r for r in hints.addresses_in(ins) if addr_to_off(r) is not None)
            if hasattr(hints, "addresses_from"):        # built in registers (RISC)
                refs.update(r for r in hints.addresses_from(state, ins)
                            if addr_to_off(r) is not None)
            if hints.exits(state, ins) or hints.ends_path(ins, target):
                break
            addr += ins.size
    return code, refs - set(seen)


def _target(hints, state, ins):
    """Where a branch goes: its operand, or a register the trace knows."""
    if hasattr(hints, "target_in"):
        return hints.target_in(state, ins)
    return hints.branch_target(ins)


def _hints(machine: int):
    """The arch's trace hints (``Arch.trace_hints``), or None."""
    from .. import arch as archmod
    a = archmod.for_machine(machine)
    return a.trace_hints() if a else None


def _capstone(machine: int):
    """A capstone instance in the mode of the file's machine, or None."""
    from .. import arch as archmod
    a = archmod.for_machine(machine)
    return archmod.new_capstone(a) if a is not None and getattr(a, "capstone", None) else None


def _disassemble(data, machine, content, off_to_addr, syms, entry=None):
    hints = _hints(machine)
    md = _capstone(machine)
    if md is None:
        return []
    md.skipdata = True
    # contiguous code runs, in file order
    runs = []
    o = 0
    size = len(content)           # data: the file, then the zeros memory has after it
    while o < size:
        if content[o] == "code":
            start = o
            while o < size and content[o] == "code":
                o += 1
            runs.append((start, o))
        o += 1
    insns = []
    for lo, hi in runs:
        addr = off_to_addr(lo)
        if addr is not None:
            end = len(data) if hi == size else hi     # an instruction may end in the zeros
            insns += [(lo + ins.address - addr, ins) for ins in md.disasm(data[lo:end], addr)
                      if ins.address - addr < hi - lo]
    notes = _syscall_notes(hints, insns, syms, entry)
    out = []
    for off, ins in insns:
        label = syms.name(ins.address, exact_only=True)
        target = _operand_target(hints, syms, ins, notes.get(ins.address, (None, None))[1])
        note = syms.name(target) if target is not None else None
        # symbols that fall inside the instruction (code that starts
        # early to reuse header bytes as prefixes, e.g. 'ELF' as REX)
        inner = [n for a, _s, n in syms.items if ins.address < a < ins.address + ins.size]
        out.append({"address": ins.address, "offset": off,
                    "bytes": bytes(ins.bytes).hex(" "), "mnemonic": ins.mnemonic,
                    "op_str": ins.op_str, "label": label, "target": target,
                    "target_name": note, "inner_labels": inner,
                    "syscall": notes.get(ins.address, (None, None))[0],
                    "is_entry": ins.address == entry})
    return out


def _operand_target(hints, syms, ins, known):
    """The address an instruction's operand names (branch target, PC-relative
    operand, an immediate that is a symbol's address), or ``known`` (a jump
    through a register whose value the trace knew)."""
    if hints is not None and hints.branch_target(ins) is not None:
        return hints.branch_target(ins)
    if hints is not None and hints.pc_relative(ins) is not None:
        return hints.pc_relative(ins)
    m = re.search(r"(?<![\w+-])(0x[0-9a-f]{4,})\b(?!\])", ins.op_str)
    if m and syms.name(int(m.group(1), 16), exact_only=True):
        return int(m.group(1), 16)
    return known


def _callee_writes(hints, insns, syms):
    """``writes(address)``: the registers the function at ``address`` (up to
    the next symbol) writes, its own calls included, or None when that is
    not known (an indirect call, code outside the disassembly): compilers
    keep values in caller-saved registers across a call to a function they
    know leaves them alone, so the ABI's answer would lose them."""
    index = {ins.address: k for k, (_o, ins) in enumerate(insns)}
    memo = {}

    def writes(addr):
        if addr is None or addr not in index:
            return None
        if addr in memo:
            return memo[addr]
        memo[addr] = set()                  # recursion: what is found so far
        regs, k = set(), index[addr]
        while k < len(insns):
            ins = insns[k][1]
            if ins.address != addr and syms.name(ins.address, exact_only=True):
                break
            if hints.is_call(ins):
                inner = writes(hints.branch_target(ins))
                if inner is None:
                    memo[addr] = None
                    return None
                regs |= inner
            elif hints.is_syscall(ins):
                regs.add(hints.return_reg)
            else:
                regs.update(r for r, _v in hints.effects({}, ins))
            k += 1
        memo[addr] = regs
        return regs
    return writes


def _syscall_notes(hints, insns, syms, entry):
    """address -> (what a syscall instruction asks the kernel, e.g.
    ``write(1, 0x400080 <msg>, 14)``; the target of a jump through a known
    register), from register constants propagated along the control flow:
    the state at an instruction is what every way in agrees on (fall-through,
    branches and jumps, backward ones too: iterated to a fixed point, so code
    split across header holes reads as it runs), at the entry point what the
    kernel sets; code no path from the entry reaches starts unknown."""
    if hints is None or not hasattr(hints, "syscall_note"):
        return {}
    index = {ins.address: k for k, (_o, ins) in enumerate(insns)}
    writes = _callee_writes(hints, insns, syms)
    states, work = [None] * len(insns), []

    def meet(k, state):
        old = states[k]
        new = dict(state) if old is None else {r: v for r, v in old.items() if state.get(r) == v}
        if new != old:
            states[k] = new
            work.append(k)

    def successors(k, state):
        ins = insns[k][1]
        target = hints.branch_target(ins)
        via = hints.target_in(state, ins) if hasattr(hints, "target_in") else None
        call = hints.is_call(ins)
        hints.step(state, ins, writes(target if target is not None else via) if call else None)
        if not call:
            for t in {target, via} & index.keys():
                meet(index[t], state)
        nxt = k + 1
        if not hints.ends_path(ins, target) and nxt < len(insns) \
                and insns[nxt][1].address == ins.address + ins.size:
            meet(nxt, state)

    first = index.get(entry)
    for k in ([first] if first is not None else []) + list(range(len(insns))):
        if states[k] is None:
            meet(k, hints.new_state(at_entry=k == first))
        while work:
            j = work.pop()
            successors(j, dict(states[j]))
    out = {}
    for k, (_off, ins) in enumerate(insns):
        note = hints.syscall_note(states[k], ins, lambda v: syms.name(v))
        via = hints.target_in(states[k], ins) if hasattr(hints, "target_in") else None
        if note or via is not None:
            out[ins.address] = (note, via)
    return out


# --- text -----------------------------------------------------------------------

_COLORS = {"header": "\x1b[36m", "overlap": "\x1b[1;35m", "hole": "\x1b[2m", "code": "\x1b[32m",
           "rodata": "\x1b[33m", "data": "\x1b[34m", "other": "\x1b[2;37m"}
_RESET = "\x1b[0m"


def render_disassembly(rep: dict, color: bool = False) -> str:
    lines = []
    if not rep["disassembly"]:
        return "  (no code found to disassemble)\n"
    prev_end = None
    for ins in rep["disassembly"]:
        if ins["label"]:
            lines.append(f"\n{ins['address']:016x} <{ins['label']}>:")
        elif prev_end is not None and ins["address"] != prev_end:
            lines.append("  ...")
        for name in ins.get("inner_labels", ()):
            lines.append(f"\n<{name}>: (inside the next instruction, which starts earlier "
                         "to reuse the bytes before it)")
        prev_end = ins["address"] + len(ins["bytes"].split())
        text = f"{ins['mnemonic']} {ins['op_str']}".rstrip()
        if ins["target_name"]:
            text += f"  <{ins['target_name']}>"
        if ins.get("syscall"):
            text += f"    ; {ins['syscall']}"
        if ins.get("is_entry"):
            text += "    ; entry point"
        b = ins["bytes"]
        if color:
            b = _COLORS["code"] + b + _RESET
        lines.append(f"  {ins['address']:8x}:  {b:<{30 if not color else 30 + len(_COLORS['code']) + len(_RESET)}} {text}")
    return "\n".join(lines).lstrip("\n") + "\n"


def render_text(rep: dict, color: bool = False) -> str:
    c = (lambda origin, s: f"{_COLORS[origin]}{s}{_RESET}") if color else (lambda origin, s: s)
    out = []
    out.append(f"{rep['file'] or '<bytes>'}: {rep['size']} bytes, {rep['kind']}")
    for n in rep["notes"]:
        out.append(f"note: {n}")
    out.append("")
    out.append(f"ELF header ({'64' if rep['bits'] == 64 else '52'} bytes at offset 0)")
    out.append(f"  {'offset':>6}  {'field':<14} {'bytes':<24} {'value':>18}  meaning")
    for r in rep["elf_header"]:
        shared = _shared_with(rep, r["offset"], r["size"], "ehdr")
        flag = " [kernel ignores]" if r["kernel_ignores"] else ""
        out.append(f"  {r['offset']:#6x}  {r['field']:<14} {r['hex']:<24} {r['value']:#18x}  "
                   f"{r['meaning']}{flag}{shared}")
    for k, rows in enumerate(rep["program_headers"]):
        out.append("")
        out.append(f"Program header {k} (offset {rows[0]['offset']:#x})")
        for r in rows:
            shared = _shared_with(rep, r["offset"], r["size"], "phdr")
            flag = " [kernel ignores]" if r["kernel_ignores"] else ""
            out.append(f"  {r['offset']:#6x}  {r['field']:<14} {r['hex']:<24} {r['value']:#18x}  "
                       f"{r['meaning']}{flag}{shared}")
    out.append("")
    out.append("Segments")
    for s in rep["segments"]:
        out.append(f"  [{s['index']}] {s['type']:<16} {s['flags']}  file {s['offset']:#x}..{s['offset'] + s['filesz']:#x}"
                   f"  memory {s['vaddr']:#x}..{s['vaddr'] + s['memsz']:#x}"
                   + (f"  (bss {s['memsz'] - s['filesz']} bytes)" if s["memsz"] > s["filesz"] else ""))
        if "kernel" in s:
            out.append(f"      {describe_mapping(s['kernel'], rep['size'])}")
    eo = rep["entry_offset"]
    out.append(f"  entry {rep['entry']:#x}" + (f" (file offset {eo:#x})" if eo is not None else " (outside every segment)"))
    out.append("")
    out.append("Shared bytes (one byte, two meanings)")
    if rep["shared"]:
        for r in rep["shared"]:
            out.append(f"  {r['start']:#6x}..{r['end']:#x}  " + " = ".join(r["owners"]))
    else:
        out.append("  (none: every header byte has one meaning)")
    out.append("")
    out.append(f"Byte map (origins from {rep['origins_basis']})")
    for r in rep["regions"]:
        out.append(f"  {r['start']:#6x}..{r['end']:#x}  {c(r['origin'], r['origin']):<8}  "
                   + "; ".join(r["owners"]))
    out.append("")
    out.append("Hex dump")
    out.append(_hexdump(rep, c))
    out.append("")
    src = ", ".join(f"{s['path']} ({s['kind']})" for s in rep["symbol_sources"]) or "none"
    out.append(f"Disassembly (symbols from: {src})")
    out.append(render_disassembly(rep, color))
    return "\n".join(out)


def _shared_with(rep, off, size, kind):
    others = set()
    for r in rep["shared"]:
        if r["start"] < off + size and off < r["end"]:
            for w in r["owners"]:
                if (kind == "ehdr" and not w.startswith("ELF header")) or \
                        (kind == "phdr" and not w.startswith("program header")):
                    others.add(w)
    return ("  <- shared with " + ", ".join(sorted(others))) if others else ""


def _hexdump(rep, c):
    size = rep["size"]
    origins = rep["origins"]
    lines = []
    region_starts = {}
    for r in rep["regions"]:
        region_starts.setdefault(r["start"], r)
    raw = rep["_bytes"]
    for line in range(0, size, 16):
        cells, text = [], []
        for o in range(line, min(line + 16, size)):
            b = raw[o]
            cells.append(c(origins[o], f"{b:02x}"))
            text.append(c(origins[o], chr(b) if 32 <= b < 127 else "."))
        pad = "   " * (16 - len(cells))
        notes = [_short(region_starts[o]) for o in range(line, min(line + 16, size))
                 if o in region_starts]
        note = ""
        if notes:
            note = "  " + " ".join(notes[:6]) + (" ..." if len(notes) > 6 else "")
        lines.append(f"  {line:08x}  {' '.join(cells)}{pad}  {''.join(text)}{' ' * (16 - len(text))}{note}")
    return "\n".join(lines)


def _short(region) -> str:
    """A region's owners in a few characters, for the hex dump's margin."""
    parts = []
    for w in region["owners"]:
        if w.startswith("ELF header "):
            parts.append(w[len("ELF header "):])
        elif w.startswith("program header "):
            k, f = w[len("program header "):].split(" ", 1)
            parts.append(f"ph{k}.{f}")
        elif "<" in w:
            parts.append(w[w.index("<"):])
        else:
            parts.append(w.split(" ")[0])
    return "=".join(parts) if parts else f"({region['origin']})"


def inspect_file(path: str, symbols_from=None, disassemble: bool = True) -> dict:
    """Read ``path`` and analyze it (see :func:`analyze`)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        rep = analyze(data, path, symbols_from, disassemble)
    except InputError as exc:
        raise InputError(*(f"{path}: {m}" for m in exc.messages)) from None
    return rep


def to_json(rep: dict) -> dict:
    """The report without private fields, ready for json.dumps."""
    out = {k: v for k, v in rep.items() if not k.startswith("_") and k != "origins"}
    return out
