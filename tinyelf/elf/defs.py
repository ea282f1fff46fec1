"""ELF constants and on-disk structures, declared once.

Every structure tinyelf reads or writes is a ``struct.Struct`` here with its
size asserted against the ELF specification, so a typo in a format string is
an import-time failure rather than a subtly corrupt file.
"""
import struct

# e_ident
ELFMAG = b"\x7fELF"
ELFCLASS32 = 1
ELFCLASS64 = 2
ELFDATA2LSB = 1
ELFDATA2MSB = 2
EV_CURRENT = 1

# e_type
ET_NONE, ET_REL, ET_EXEC, ET_DYN, ET_CORE = 0, 1, 2, 3, 4
ET_NAMES = {0: "no file type", 1: "relocatable object", 2: "executable",
            3: "shared object or PIE", 4: "core dump"}

# e_machine (only names; architecture behaviour lives in tinyelf.arch)
EM_NAMES = {0: "none", 3: "i386", 8: "MIPS", 20: "PowerPC", 21: "PowerPC64",
            40: "ARM", 62: "x86-64", 183: "AArch64", 243: "RISC-V"}

# section header types
SHT_NULL, SHT_PROGBITS, SHT_SYMTAB, SHT_STRTAB, SHT_RELA = 0, 1, 2, 3, 4
SHT_HASH, SHT_DYNAMIC, SHT_NOTE, SHT_NOBITS, SHT_REL = 5, 6, 7, 8, 9
SHT_DYNSYM = 11
SHT_INIT_ARRAY, SHT_FINI_ARRAY, SHT_PREINIT_ARRAY = 14, 15, 16
SHT_GROUP = 17
SHT_SYMTAB_SHNDX = 18
SHT_X86_64_UNWIND = 0x70000001

# section flags
SHF_WRITE = 0x1
SHF_ALLOC = 0x2
SHF_EXECINSTR = 0x4
SHF_MERGE = 0x10
SHF_STRINGS = 0x20
SHF_INFO_LINK = 0x40
SHF_GROUP = 0x200
SHF_TLS = 0x400
SHF_COMPRESSED = 0x800
SHF_GNU_RETAIN = 0x200000
SHF_EXCLUDE = 0x80000000

GRP_COMDAT = 1

# special section indices
SHN_UNDEF = 0
SHN_LORESERVE = 0xFF00
SHN_ABS = 0xFFF1
SHN_COMMON = 0xFFF2
SHN_XINDEX = 0xFFFF
SHN_X86_64_LCOMMON = 0xFF02

# symbol binding / type / visibility
STB_LOCAL, STB_GLOBAL, STB_WEAK = 0, 1, 2
STB_GNU_UNIQUE = 10
STT_NOTYPE, STT_OBJECT, STT_FUNC, STT_SECTION, STT_FILE = 0, 1, 2, 3, 4
STT_COMMON, STT_TLS = 5, 6
STT_GNU_IFUNC = 10
STV_DEFAULT, STV_INTERNAL, STV_HIDDEN, STV_PROTECTED = 0, 1, 2, 3

# program headers
PT_NULL, PT_LOAD = 0, 1
PT_GNU_STACK = 0x6474E551
PT_NAMES = {0: "PT_NULL", 1: "PT_LOAD", 2: "PT_DYNAMIC", 3: "PT_INTERP", 4: "PT_NOTE",
            5: "PT_SHLIB", 6: "PT_PHDR", 7: "PT_TLS", 0x6474E550: "PT_GNU_EH_FRAME",
            0x6474E551: "PT_GNU_STACK", 0x6474E552: "PT_GNU_RELRO",
            0x6474E553: "PT_GNU_PROPERTY", 0x6474E554: "PT_GNU_SFRAME"}
PF_X, PF_W, PF_R = 1, 2, 4

PAGE_SIZE = 4096

# --- structures (little-endian, ELF64) ---------------------------------

#: e_ident[16], e_type, e_machine, e_version, e_entry, e_phoff, e_shoff,
#: e_flags, e_ehsize, e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx
EHDR64 = struct.Struct("<16sHHIQQQIHHHHHH")
#: p_type, p_flags, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_align
PHDR64 = struct.Struct("<IIQQQQQQ")
#: sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size, sh_link,
#: sh_info, sh_addralign, sh_entsize
SHDR64 = struct.Struct("<IIQQQQIIQQ")
#: st_name, st_info, st_other, st_shndx, st_value, st_size
SYM64 = struct.Struct("<IBBHQQ")
#: r_offset, r_info, r_addend
RELA64 = struct.Struct("<QQq")

#: the 32-bit header, read only to name what a 32-bit input is (and by inspect)
EHDR32 = struct.Struct("<16sHHIIIIIHHHHHH")
#: p_type, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_flags, p_align
PHDR32 = struct.Struct("<IIIIIIII")
#: sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size, sh_link, sh_info,
#: sh_addralign, sh_entsize
SHDR32 = struct.Struct("<IIIIIIIIII")
#: st_name, st_value, st_size, st_info, st_other, st_shndx
SYM32 = struct.Struct("<IIIBBH")

#: field names of the structures above, in order (e_ident is split into its
#: bytes by ``fields``)
EHDR_FIELDS = ("e_ident", "e_type", "e_machine", "e_version", "e_entry", "e_phoff", "e_shoff",
               "e_flags", "e_ehsize", "e_phentsize", "e_phnum", "e_shentsize", "e_shnum",
               "e_shstrndx")
PHDR64_FIELDS = ("p_type", "p_flags", "p_offset", "p_vaddr", "p_paddr", "p_filesz", "p_memsz",
                 "p_align")
PHDR32_FIELDS = ("p_type", "p_offset", "p_vaddr", "p_paddr", "p_filesz", "p_memsz", "p_flags",
                 "p_align")
EI_FIELDS = (("EI_MAG", 0, 4), ("EI_CLASS", 4, 1), ("EI_DATA", 5, 1), ("EI_VERSION", 6, 1),
             ("EI_OSABI", 7, 1), ("EI_ABIVERSION", 8, 1), ("EI_PAD", 9, 7))


def fields(st: struct.Struct, names) -> list:
    """``[(name, offset, size)]`` for the fields of ``st`` (no padding in
    these little-endian formats); e_ident is split into its parts."""
    out, off = [], 0
    for name, code in zip(names, _format_items(st.format)):
        size = struct.calcsize("<" + code)
        if name == "e_ident":
            out.extend(EI_FIELDS)
        else:
            out.append((name, off, size))
        off += size
    return out


def _format_items(fmt: str) -> list:
    import re
    return re.findall(r"\d*[a-zA-Z]", fmt.lstrip("<>=!@"))

assert EHDR64.size == 64
assert PHDR64.size == 56
assert SHDR64.size == 64
assert SYM64.size == 24
assert RELA64.size == 24
assert EHDR32.size == 52
assert PHDR32.size == 32
assert SHDR32.size == 40
assert SYM32.size == 16
assert fields(EHDR64, EHDR_FIELDS)[-1] == ("e_shstrndx", 62, 2)
assert fields(PHDR64, PHDR64_FIELDS)[-1] == ("p_align", 48, 8)
