"""Relocatable ELF objects -> :class:`tinyelf.linker.model.ObjectFile`.

The ELF header and the whole section header table are validated here with
``struct`` (sizes, offsets, indices, string-table references), so hostile
input is rejected with a clear message, and converted to tinyelf's own
dataclasses at once.  lief is not imported: on request (``--verify``,
``cross_check``) :mod:`tinyelf.elf.lief_check` parses the object with lief too
and compares its reading with the validated headers.

Section contents and relocation tables are sliced from the validated raw bytes
(zero-copy ``memoryview``); relocations are decoded lazily, only for sections
the link keeps.
"""
from __future__ import annotations

import struct

from .. import arch as archmod
from .defs import (EHDR64, ELFCLASS32, ELFCLASS64, ELFDATA2LSB, ELFMAG, EM_NAMES,
                      ET_NAMES, ET_REL, GRP_COMDAT, SHF_ALLOC,
                      SHF_COMPRESSED, SHF_TLS, SHN_LORESERVE, SHN_UNDEF, SHN_XINDEX,
                      SHT_GROUP, SHT_INIT_ARRAY, SHT_FINI_ARRAY, SHT_NOBITS, SHT_NULL,
                      SHT_PREINIT_ARRAY, SHT_REL, SHT_RELA, SHT_STRTAB, SHT_SYMTAB,
                      SHT_SYMTAB_SHNDX, EHDR32, SHT_NOTE,
                      SHT_X86_64_UNWIND)
from .structs import structs_for
from ..errors import InputError
from ..linker.model import ObjectFile, Section, Symbol, Group

#: sections whose presence means the program needs start-up code tinyelf
#: does not run (constructors, destructors)
#: the largest alignment tinyelf accepts for a loaded section with contents:
#: the padding is written into the file (a fuzzed 2**31 made a 2 GiB output)
MAX_FILE_ALIGN = 1 << 16

_CTOR_NAMES = (".init_array", ".fini_array", ".preinit_array", ".ctors", ".dtors",
               ".init", ".fini")


_CTOR_SET = frozenset(_CTOR_NAMES)
_CTOR_PREFIXES = tuple(base + "." for base in _CTOR_NAMES)


def _is_ctor_section(secname: str) -> bool:
    # called for every loadable section: one set lookup and one C-level startswith
    return secname in _CTOR_SET or secname.startswith(_CTOR_PREFIXES)


def describe_elf_kind(data: bytes) -> str:
    """A short human description of an ELF file's class, machine and type."""
    cls = data[4] if len(data) > 4 else 0
    if cls == ELFCLASS32 and len(data) >= EHDR32.size:
        f = EHDR32.unpack_from(data)
        bits = "32-bit"
    elif len(data) >= EHDR64.size:
        f = EHDR64.unpack_from(data)
        bits = "64-bit"
    else:
        return "truncated ELF file"
    return f"{bits} {EM_NAMES.get(f[2], 'machine %d' % f[2])} {ET_NAMES.get(f[1], 'type %d' % f[1])}"


def _cstr(table: bytes, off: int, what: str, name: str) -> str:
    if off >= len(table):
        raise InputError(f"{name}: {what} name offset {off} is outside its string table "
                         f"({len(table)} bytes): corrupt object")
    end = table.find(b"\0", off)
    if end < 0:
        raise InputError(f"{name}: {what} name at offset {off} is not NUL-terminated: corrupt object")
    return table[off:end].decode("utf-8", "replace")


def read_object(name: str, data: bytes, from_archive: bool = False,
                cross_check: bool = False) -> ObjectFile:
    """Validate and convert one relocatable ELF object.

    Input: the file's display name and its bytes.  Output: an ObjectFile whose
    sections, symbols and groups are tinyelf dataclasses.  Invariant: every
    index and offset in the result has been checked against the file.
    With ``cross_check`` (``--verify``) lief parses the object too and every
    section header and symbol must read the same in both
    (:func:`tinyelf.elf.lief_check.cross_check`); without it (the default)
    lief is not imported at all: the same validation and the same model.
    """
    if len(data) == 0:
        raise InputError(f"{name}: empty file, not an ELF object")
    if data[:4] != ELFMAG:
        raise InputError(f"{name}: not an ELF file (no \\x7fELF magic)")
    if len(data) < 6:
        raise InputError(f"{name}: truncated ELF file ({len(data)} bytes)")
    if data[4] not in (ELFCLASS32, ELFCLASS64):
        if len(data) >= 20 and int.from_bytes(data[16:18], "little") in ET_NAMES and \
                int.from_bytes(data[16:18], "little") != ET_REL:
            # golfed executables (tinyelf's own overlapping layouts) reuse e_ident
            kind = ET_NAMES[int.from_bytes(data[16:18], "little")]
            raise InputError(f"{name}: is an {kind} with its ELF class byte reused (a size-golfed "
                             "executable), not a relocatable object; pass the .o files")
        raise InputError(f"{name}: unknown ELF class {data[4]}: corrupt file")
    if data[5] != ELFDATA2LSB:
        raise InputError(f"{name}: big-endian ELF file; tinyelf links little-endian objects")
    st = structs_for(data[4], data[5])
    if len(data) < st.ehdr.size:
        raise InputError(f"{name}: truncated ELF header ({len(data)} of {st.ehdr.size} bytes)")
    (_ident, e_type, e_machine, _ver, _entry, _phoff, e_shoff, e_flags, _ehsize,
     _phentsize, _phnum, e_shentsize, e_shnum, e_shstrndx) = st.ehdr.unpack_from(data)
    if e_type != ET_REL:
        raise InputError(f"{name}: is a {describe_elf_kind(data)}, not a relocatable object; "
                         "pass the .o files (compile with -c or --emit=obj)")
    arch = archmod.for_machine(e_machine)
    if arch is None or arch.elf_class != data[4]:
        raise InputError(f"{name}: is a {describe_elf_kind(data)}; "
                         f"tinyelf supports: {', '.join(archmod.names())}")
    shdrs = _validate_sections(name, data, e_shoff, e_shentsize, e_shnum, e_shstrndx, st)

    obj = _convert(name, data, shdrs, from_archive, arch, st)
    obj.machine = e_machine
    obj.e_flags = e_flags
    # more than 65,279 sections: the counts live in section 0 (extended
    # numbering).  lief (0.15 and 1.0) reads no section at all from such an
    # object, so tinyelf's own validated reading is the only one there is
    if cross_check and e_shnum != 0 and e_shstrndx != SHN_XINDEX:
        from . import lief_check
        lief_check.cross_check(name, data, *shdrs)
    return obj


def _validate_sections(name, data, e_shoff, e_shentsize, e_shnum, e_shstrndx, st):
    size = len(data)
    SHDR = st.shdr
    if e_shoff == 0:
        raise InputError(f"{name}: relocatable object without section headers: corrupt object")
    if e_shentsize != SHDR.size:
        raise InputError(f"{name}: section header entry size {e_shentsize}, expected {SHDR.size}: "
                         "corrupt object")
    if e_shoff > size or e_shoff + SHDR.size > size:
        raise InputError(f"{name}: section header table at offset {e_shoff} is past the end of "
                         f"the file ({size} bytes): truncated or corrupt object")
    if e_shnum == 0 or e_shstrndx == SHN_XINDEX:
        first = SHDR.unpack_from(data, e_shoff)
        if e_shnum == 0:
            e_shnum = first[5]
        if e_shstrndx == SHN_XINDEX:
            e_shstrndx = first[6]
    if e_shnum == 0:
        raise InputError(f"{name}: object has no sections: corrupt object")
    if e_shoff + e_shnum * SHDR.size > size:
        raise InputError(f"{name}: section header table ({e_shnum} entries at offset {e_shoff}) "
                         f"runs past the end of the file ({size} bytes): truncated or corrupt object")
    shdrs = [SHDR.unpack_from(data, e_shoff + i * SHDR.size) for i in range(e_shnum)]
    if shdrs[0][1] != SHT_NULL:
        raise InputError(f"{name}: section 0 has type {shdrs[0][1]}, not SHT_NULL: corrupt object")
    if e_shstrndx >= e_shnum:
        raise InputError(f"{name}: section name table index {e_shstrndx} is out of range "
                         f"({e_shnum} sections): corrupt object")
    for i, (sh_name, sh_type, sh_flags, _addr, off, sz, link, info, align, entsize) in enumerate(shdrs):
        if i == 0:
            continue
        if sh_type != SHT_NOBITS and sh_type != SHT_NULL and (off > size or sz > size - off):
            raise InputError(f"{name}: section {i} (offset {off}, size {sz}) runs past the end of "
                             f"the file ({size} bytes): truncated or corrupt object")
        if align & (align - 1):
            raise InputError(f"{name}: section {i} has alignment {align}, not a power of two: corrupt object")
        if align > MAX_FILE_ALIGN and sh_flags & SHF_ALLOC and sh_type != SHT_NOBITS:
            raise InputError(f"{name}: section {i} asks for alignment {align}; tinyelf pads loaded "
                             f"sections in the file and accepts at most {MAX_FILE_ALIGN} "
                             "(check the object, or lower the alignment in the source)")
        if sh_type in (SHT_RELA, SHT_REL, SHT_SYMTAB, SHT_GROUP, SHT_SYMTAB_SHNDX):
            if link >= e_shnum or link == 0:
                raise InputError(f"{name}: section {i} links to section {link}, out of range: corrupt object")
        if sh_type in (SHT_RELA, SHT_REL):
            if info >= e_shnum or info == 0:
                raise InputError(f"{name}: relocation section {i} applies to section {info}, "
                                 f"out of range: corrupt object")
            if shdrs[link][1] != SHT_SYMTAB:
                raise InputError(f"{name}: relocation section {i} does not use a symbol table: corrupt object")
            want = st.rela.size if sh_type == SHT_RELA else st.rel.size
            if entsize != want or sz % want:
                raise InputError(f"{name}: relocation section {i} has entry size {entsize} and size {sz}, "
                                 f"expected multiples of {want}: corrupt object")
        if sh_type == SHT_SYMTAB:
            if entsize != st.sym.size or sz % st.sym.size:
                raise InputError(f"{name}: symbol table entry size {entsize}, size {sz}: corrupt object")
            if shdrs[link][1] != SHT_STRTAB:
                raise InputError(f"{name}: symbol table's string table (section {link}) is not a "
                                 "string table: corrupt object")
        if sh_type == SHT_GROUP and (sz < 4 or sz % 4):
            raise InputError(f"{name}: group section {i} has size {sz}: corrupt object")
    if shdrs[e_shstrndx][1] != SHT_STRTAB:
        raise InputError(f"{name}: section name table (section {e_shstrndx}) is not a string table: corrupt object")
    symtabs = [i for i, h in enumerate(shdrs) if h[1] == SHT_SYMTAB]
    if len(symtabs) > 1:
        raise InputError(f"{name}: {len(symtabs)} symbol tables: corrupt object")
    return shdrs, e_shstrndx


def _convert(name, data, shdrs_and_strndx, from_archive, arch, st) -> ObjectFile:
    shdrs, shstrndx = shdrs_and_strndx
    mv = memoryview(data)
    nsec = len(shdrs)
    strtab = bytes(mv[shdrs[shstrndx][4]:shdrs[shstrndx][4] + shdrs[shstrndx][5]])
    obj = ObjectFile(name=name, sections=[None] * nsec, symbols=[], from_archive=from_archive)

    # --- sections carrying content
    for i, h in enumerate(shdrs):
        if i == 0:
            continue
        sh_name, sh_type, sh_flags, _addr, off, sz, link, info, align, entsize = h
        secname = _cstr(strtab, sh_name, f"section {i}", name)
        if sh_type in (SHT_INIT_ARRAY, SHT_FINI_ARRAY, SHT_PREINIT_ARRAY) or (
                sh_flags & SHF_ALLOC and _is_ctor_section(secname)):
            if sz:
                obj.unsupported[secname] = ("the program needs constructors or destructors "
                                            f"({secname}); tinyelf runs no start-up code: "
                                            "call the function from _start/main instead")
            continue
        if sh_type in (SHT_NULL, SHT_SYMTAB, SHT_STRTAB, SHT_RELA, SHT_REL, SHT_GROUP, SHT_SYMTAB_SHNDX):
            continue
        if not sh_flags & SHF_ALLOC:
            if sz:
                obj.ignored.append((secname, "not loaded (no SHF_ALLOC)"))
            if secname.startswith(".debug_") and sh_type != SHT_NOBITS and not sh_flags & SHF_COMPRESSED:
                # DWARF: not part of the link, kept for the debug sidecar
                obj.debug[i] = Section(obj=obj, index=i, name=secname, type=sh_type, flags=sh_flags,
                                       size=sz, align=max(align, 1), entsize=entsize,
                                       data=mv[off:off + sz])
            continue  # debug info, comments: never loaded
        if sh_type in (SHT_X86_64_UNWIND, SHT_NOTE) or secname == ".eh_frame" or secname.startswith(".note"):
            obj.ignored.append((secname, "unwind tables and notes are not kept"))
            continue
        if sh_flags & SHF_COMPRESSED:
            raise InputError(f"{name}: section {secname} is compressed (SHF_COMPRESSED); "
                             "recompile without compressed sections")
        content = b"" if sh_type == SHT_NOBITS else mv[off:off + sz]
        obj.sections[i] = Section(obj=obj, index=i, name=secname, type=sh_type, flags=sh_flags,
                                  size=sz, align=max(align, 1), entsize=entsize, data=content)

    # --- symbols
    symtab_idx = next((i for i, h in enumerate(shdrs) if h[1] == SHT_SYMTAB), None)
    if symtab_idx is not None:
        sym_h = shdrs[symtab_idx]
        nsyms = sym_h[5] // st.sym.size
        str_h = shdrs[sym_h[6]]
        symstr = bytes(mv[str_h[4]:str_h[4] + str_h[5]])
        raw = mv[sym_h[4]:sym_h[4] + sym_h[5]]
        symbols = obj.symbols
        xindex = _extended_indices(name, mv, shdrs, symtab_idx, nsyms)
        for idx, (st_name, st_info, st_other, st_shndx, st_value, st_size) in enumerate(st.iter_syms(raw)):
            bind, stype = st_info >> 4, st_info & 0xF
            if idx and st_name:
                symname = _cstr(symstr, st_name, f"symbol {idx}", name)
            else:
                symname = ""
            section = None
            extended = st_shndx == SHN_XINDEX
            if extended:    # the section index is in the SHT_SYMTAB_SHNDX table
                if xindex is None:
                    raise InputError(f"{name}: symbol {symname or idx} has an extended section "
                                     "index but the object has no SHT_SYMTAB_SHNDX table: "
                                     "corrupt object")
                st_shndx = xindex[idx]
                if st_shndx == SHN_UNDEF:
                    raise InputError(f"{name}: symbol {symname or idx} has extended section "
                                     "index 0: corrupt object")
            if st_shndx != SHN_UNDEF and (extended or st_shndx < SHN_LORESERVE):
                if st_shndx >= nsec:
                    raise InputError(f"{name}: symbol {symname or idx} refers to section {st_shndx}, "
                                     f"out of range ({nsec} sections): corrupt object")
                section = obj.sections[st_shndx]
                if stype == 3 and section is not None:  # STT_SECTION: name it after the section
                    symname = section.name
            symbols.append(Symbol(name=symname, bind=bind, type=stype, visibility=st_other & 3,
                                  shndx=st_shndx, value=st_value, size=st_size, obj=obj,
                                  index=idx, section=section, extended=extended))
        first_global = sym_h[7]
        if first_global > nsyms:
            raise InputError(f"{name}: symbol table's first global index {first_global} is out of range: corrupt object")

    # --- relocation tables, decoded lazily
    for i, h in enumerate(shdrs):
        if h[1] not in (SHT_RELA, SHT_REL):
            continue
        target = obj.sections[h[7]] or obj.debug.get(h[7])
        if target is None:
            continue  # relocations for a dropped section (.eh_frame, comments)
        if h[6] != symtab_idx:
            raise InputError(f"{name}: relocation section {i} uses section {h[6]} as its symbol table: corrupt object")
        if target.is_nobits and h[5]:
            raise InputError(f"{name}: relocation section {i} applies to {target.name}, which has no "
                             "contents in the file (SHT_NOBITS): corrupt object")
        target._load_relocs = _reloc_loader(name, obj, target, mv[h[4]:h[4] + h[5]], st,
                                            h[1] == SHT_RELA, arch)

    # --- section groups (COMDAT)
    for i, h in enumerate(shdrs):
        if h[1] != SHT_GROUP:
            continue
        words = struct.unpack_from(f"<{h[5] // 4}I", mv, h[4])
        if h[7] >= len(obj.symbols):
            raise InputError(f"{name}: group section {i} names symbol {h[7]}, out of range: corrupt object")
        members = []
        for m in words[1:]:
            if m == 0 or m >= nsec:
                raise InputError(f"{name}: group section {i} lists section {m}, out of range: corrupt object")
            members.append(m)
        sig = obj.symbols[h[7]].name
        group = Group(signature=sig, comdat=bool(words[0] & GRP_COMDAT), members=members)
        obj.groups.append(group)
        for m in members:
            if obj.sections[m] is not None:
                obj.sections[m].group = sig if group.comdat else None

    for sec in obj.sections:
        if sec is not None and sec.flags & SHF_TLS and sec.size:
            obj.unsupported.setdefault(sec.name, f"thread-local storage ({sec.name}) needs a TLS "
                                       "set-up that tinyelf's static, runtime-free outputs do not have")
    return obj


def _extended_indices(name, mv, shdrs, symtab_idx, nsyms):
    """The SHT_SYMTAB_SHNDX table of the symbol table (one 32-bit section
    index per symbol, used where st_shndx is SHN_XINDEX), or None."""
    for i, h in enumerate(shdrs):
        if h[1] == SHT_SYMTAB_SHNDX and h[6] == symtab_idx:
            if h[5] < 4 * nsyms:
                raise InputError(f"{name}: extended section index table (section {i}) holds "
                                 f"{h[5] // 4} entries for {nsyms} symbols: corrupt object")
            return struct.unpack_from(f"<{nsyms}I", mv, h[4])
    return None


def _reloc_loader(name, obj, section, raw, st, rela: bool, arch):
    """Decode a relocation table on first use: RELA carries the addend; REL
    keeps it in the field (``arch.implicit_addend`` reads it from the section
    as it is in the object; the relocation writer then overwrites the field)."""
    def load():
        nsyms = len(obj.symbols)
        size = section.size
        data = section.data
        r_sym, r_type = st.r_sym, st.r_type
        out = []
        for entry in (st.rela if rela else st.rel).iter_unpack(raw):
            r_offset, r_info = entry[0], entry[1]
            symidx = r_sym(r_info)
            rtype = r_type(r_info)
            if symidx >= nsyms:
                raise InputError(f"{name}: relocation at {section.name}+{r_offset:#x} refers to "
                                 f"symbol {symidx}, out of range ({nsyms} symbols): corrupt object")
            if r_offset >= size:
                raise InputError(f"{name}: relocation at {section.name}+{r_offset:#x} lies outside its "
                                 f"section ({size} bytes): corrupt object")
            addend = entry[2] if rela else arch.implicit_addend(data, r_offset, rtype)
            out.append((r_offset, rtype, symidx, addend))
        return out
    return load
