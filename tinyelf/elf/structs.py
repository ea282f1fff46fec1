"""ELF structures for one class (32/64-bit) and byte order, as pyelftools'
``ELFStructs(little_endian, elfclass)``.

``structs_for(ELFCLASS32, ELFDATA2LSB)`` gives the ``struct.Struct`` of every
header, symbol and relocation an object or executable of that kind uses, the
field names in file order, and helpers that pack and unpack them by *name*
so that callers never depend on the two classes' different field orders
(ELF32 program headers keep p_flags after p_memsz, ELF64 right after p_type;
ELF32 symbols keep st_value/st_size before st_info).  One object per
(class, order), made once.
"""
from __future__ import annotations

import struct

from .defs import ELFCLASS32, ELFCLASS64, ELFDATA2LSB, ELFDATA2MSB

EHDR_FIELDS = ("e_ident", "e_type", "e_machine", "e_version", "e_entry", "e_phoff", "e_shoff",
               "e_flags", "e_ehsize", "e_phentsize", "e_phnum", "e_shentsize", "e_shnum",
               "e_shstrndx")
PHDR_FIELDS = {
    ELFCLASS64: ("p_type", "p_flags", "p_offset", "p_vaddr", "p_paddr", "p_filesz", "p_memsz",
                 "p_align"),
    ELFCLASS32: ("p_type", "p_offset", "p_vaddr", "p_paddr", "p_filesz", "p_memsz", "p_flags",
                 "p_align"),
}
SHDR_FIELDS = ("sh_name", "sh_type", "sh_flags", "sh_addr", "sh_offset", "sh_size", "sh_link",
               "sh_info", "sh_addralign", "sh_entsize")
SYM_FIELDS = {
    ELFCLASS64: ("st_name", "st_info", "st_other", "st_shndx", "st_value", "st_size"),
    ELFCLASS32: ("st_name", "st_value", "st_size", "st_info", "st_other", "st_shndx"),
}

_FORMATS = {
    ELFCLASS64: dict(ehdr="16sHHIQQQIHHHHHH", phdr="IIQQQQQQ", shdr="IIQQQQIIQQ",
                     sym="IBBHQQ", rel="QQ", rela="QQq"),
    ELFCLASS32: dict(ehdr="16sHHIIIIIHHHHHH", phdr="IIIIIIII", shdr="IIIIIIIIII",
                     sym="IIIBBH", rel="II", rela="IIi"),
}
_SIZES = {ELFCLASS64: dict(ehdr=64, phdr=56, shdr=64, sym=24, rel=16, rela=24),
          ELFCLASS32: dict(ehdr=52, phdr=32, shdr=40, sym=16, rel=8, rela=12)}


class ElfStructs:
    """The structures of one ELF class and byte order."""

    def __init__(self, elfclass: int, data: int = ELFDATA2LSB):
        if elfclass not in _FORMATS:
            raise ValueError(f"ELF class {elfclass}")
        self.elfclass = elfclass
        self.data = data
        self.bits = 64 if elfclass == ELFCLASS64 else 32
        self.byteorder = "little" if data == ELFDATA2LSB else "big"
        order = "<" if data == ELFDATA2LSB else ">"
        for name, fmt in _FORMATS[elfclass].items():
            st = struct.Struct(order + fmt)
            assert st.size == _SIZES[elfclass][name], (name, st.size)
            setattr(self, name, st)
        self.phdr_fields = PHDR_FIELDS[elfclass]
        self.sym_fields = SYM_FIELDS[elfclass]
        self.addr_size = 8 if elfclass == ELFCLASS64 else 4
        self.word = struct.Struct(order + "I")

    # relocation info word: symbol index and type
    def r_sym(self, info: int) -> int:
        return info >> 32 if self.bits == 64 else info >> 8

    def r_type(self, info: int) -> int:
        return info & 0xFFFFFFFF if self.bits == 64 else info & 0xFF

    def pack_phdr(self, **values) -> bytes:
        return self.phdr.pack(*(values[f] for f in self.phdr_fields))

    def unpack_phdr(self, data, off: int = 0) -> dict:
        return dict(zip(self.phdr_fields, self.phdr.unpack_from(data, off)))

    def pack_ehdr(self, values: dict) -> bytes:
        return self.ehdr.pack(*(values[f] for f in EHDR_FIELDS))

    def unpack_ehdr(self, data, off: int = 0) -> dict:
        return dict(zip(EHDR_FIELDS, self.ehdr.unpack_from(data, off)))

    def iter_syms(self, raw):
        """``(st_name, st_info, st_other, st_shndx, st_value, st_size)`` for
        every symbol of a raw table, whatever the class's field order."""
        it = self.sym.iter_unpack(raw)
        if self.bits == 64:
            return it
        return ((n, i, o, x, v, s) for n, v, s, i, o, x in it)

    def pack_sym(self, st_name, st_info, st_other, st_shndx, st_value, st_size) -> bytes:
        if self.bits == 64:
            return self.sym.pack(st_name, st_info, st_other, st_shndx, st_value, st_size)
        return self.sym.pack(st_name, st_value, st_size, st_info, st_other, st_shndx)

    def field_offsets(self, which: str) -> dict:
        """name -> (offset, size) of the fields of ``ehdr`` or ``phdr``."""
        names = EHDR_FIELDS if which == "ehdr" else self.phdr_fields
        st = getattr(self, which)
        out, off = {}, 0
        import re
        for name, code in zip(names, re.findall(r"\d*[a-zA-Z]", st.format[1:])):
            size = struct.calcsize("<" + code)
            out[name] = (off, size)
            off += size
        return out


_CACHE: dict = {}


def structs_for(elfclass: int = ELFCLASS64, data: int = ELFDATA2LSB) -> ElfStructs:
    key = (elfclass, data)
    st = _CACHE.get(key)
    if st is None:
        st = _CACHE[key] = ElfStructs(elfclass, data)
    return st


__all__ = ["ElfStructs", "structs_for", "ELFCLASS32", "ELFCLASS64", "ELFDATA2LSB", "ELFDATA2MSB",
           "EHDR_FIELDS"]
