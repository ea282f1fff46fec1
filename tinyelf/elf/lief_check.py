"""lief's reading of ELF files: the only module that imports lief.

tinyelf reads objects itself (:mod:`tinyelf.elf.reader`, struct-validated);
a link does not import lief, whose import costs 0.5-1.2 s from lief 0.16 on
(nanobind registering its classes), more than a whole link.  lief's jobs:

- :func:`cross_check`: a second, independent reading of an object's section
  header table and symbol table, compared field by field with the headers
  tinyelf validated (``--verify`` on pack, build and tinyelf-ld;
  ``LinkOptions.lief``; always in tests/test_reader.py);
- :func:`lief_model`: an object as lief sees it, in the shape of tinyelf's
  model (sections with contents, symbols, relocations), for the tests that
  hold tinyelf's reader to lief's;
- :func:`parse_executable`: a linked executable's header and segments (tests,
  and ``tinyelf inspect`` on executables tinyelf did not make).

Objects reach lief as ``io.BytesIO``: lief 0.15 reads a bare ``bytes`` as a
file name, lief 1.0 refuses a memoryview.
"""
from __future__ import annotations

import io
import warnings

from ..errors import InputError
from .structs import structs_for

_lief = None
_configs = {}

#: lief gives processor-specific section and relocation types with the
#: architecture in the bits above 32 (lief 0.16+); the ELF value is below
_ELF_VALUE = 0xFFFFFFFF


def import_lief():
    """lief, imported on first use, its logging silenced."""
    global _lief
    if _lief is None:
        import lief  # 0.02-0.05 s for 0.15, 0.5-1.2 s from 0.16 on
        try:
            lief.logging.disable()
        except AttributeError:  # pragma: no cover - older lief
            pass
        _lief = lief
    return _lief


def _parser_config(lief, relocations: bool):
    """Sections and the symbol table, and relocations only when asked:
    libcore alone has 24,000 relocations lief would turn into Python objects.
    Dynamic symbols, versions, notes and overlays are never parsed."""
    if relocations not in _configs:
        try:
            cfg = lief.ELF.ParserConfig()
            cfg.parse_relocations = relocations
            cfg.parse_dyn_symbols = False
            cfg.parse_symbol_versions = False
            cfg.parse_notes = False
            cfg.parse_overlay = False
        except AttributeError:  # pragma: no cover - lief without ParserConfig
            cfg = None
        _configs[relocations] = cfg
    return _configs[relocations]


def parse(name: str, data: bytes, relocations: bool = False):
    """lief's ELF binary for ``data``; InputError when lief refuses it."""
    lief = import_lief()
    try:
        raw = io.BytesIO(bytes(data))
        cfg = _parser_config(lief, relocations)
        binary = lief.ELF.parse(raw, cfg) if cfg else lief.ELF.parse(raw)
    except Exception as exc:  # lief raises rarely; keep its words
        raise InputError(f"{name}: lief could not parse the object: {exc}") from None
    if binary is None:
        raise InputError(f"{name}: lief could not parse the object: corrupt ELF")
    return binary


def _cstr(table: bytes, off: int) -> str:
    end = table.find(b"\0", off)
    return table[off:end if end >= 0 else len(table)].decode("utf-8", "replace")


def _header_view(data, shdrs, shstrndx):
    """What the validated headers say, in the shape :func:`_lief_view` gives:
    per section (name, type, flags, size, align, entsize, link, info); per
    symbol (name, value, size, bind, type, shndx)."""
    mv = memoryview(data)
    names = bytes(mv[shdrs[shstrndx][4]:shdrs[shstrndx][4] + shdrs[shstrndx][5]])
    secs = [(_cstr(names, h[0]), h[1], h[2], h[5], h[8], h[9], h[6], h[7]) for h in shdrs]
    syms = []
    for h in shdrs:
        if h[1] == 2:   # SHT_SYMTAB (validated: at most one)
            strs = bytes(mv[shdrs[h[6]][4]:shdrs[h[6]][4] + shdrs[h[6]][5]])
            for st_name, st_info, _other, shndx, value, size in structs_for(data[4]).iter_syms(
                    mv[h[4]:h[4] + h[5]]):
                syms.append((_cstr(strs, st_name), value, size, st_info >> 4, st_info & 0xF,
                             shndx))
    return secs, syms


def _lief_view(binary):
    with warnings.catch_warnings():
        # lief 1.x warns "N is not a valid TYPE" when an enum meets a value
        # it does not know; the number is what is compared
        warnings.simplefilter("ignore", RuntimeWarning)
        return _lief_fields(binary)


def _lief_fields(binary):
    secs = [(s.name, int(s.type) & _ELF_VALUE, int(s.flags), int(s.size), int(s.alignment),
             int(s.entry_size), int(s.link), int(s.information)) for s in binary.sections]
    syms = [(y.name, int(y.value), int(y.size), int(y.binding), int(y.type), int(y.shndx))
            for y in binary.symtab_symbols]
    return secs, syms


_SECTION_FIELDS = ("name", "type", "flags", "size", "alignment", "entry size", "link", "info")
_SYMBOL_FIELDS = ("name", "value", "size", "binding", "type", "section index")


def cross_check(name: str, data: bytes, shdrs, shstrndx: int) -> None:
    """Parse ``data`` with lief and compare every section header and symbol
    with tinyelf's validated reading; InputError naming the first field in
    which they differ.  Objects with extended section numbering are not
    passed here (lief 0.15 and 1.0 read no section from them)."""
    ours_secs, ours_syms = _header_view(data, shdrs, shstrndx)
    lief_secs, lief_syms = _lief_view(parse(name, data))
    if len(lief_secs) != len(ours_secs):
        raise InputError(f"{name}: lief sees {len(lief_secs)} sections where the header table "
                         f"has {len(ours_secs)}: corrupt object")
    for i, (a, b) in enumerate(zip(ours_secs, lief_secs)):
        if i and a != b:
            field = next(f for f, x, y in zip(_SECTION_FIELDS, a, b) if x != y)
            raise InputError(f"{name}: section {i} ({a[0]!r}) reads differently in lief and in "
                             f"the header table: {field} {b[_SECTION_FIELDS.index(field)]!r} "
                             f"vs {a[_SECTION_FIELDS.index(field)]!r}: corrupt object")
    if len(lief_syms) != len(ours_syms):
        raise InputError(f"{name}: lief sees {len(lief_syms)} symbols where the symbol table "
                         f"has {len(ours_syms)}: corrupt object")
    for i, (a, b) in enumerate(zip(ours_syms, lief_syms)):
        if a != b:
            field = next(f for f, x, y in zip(_SYMBOL_FIELDS, a, b) if x != y)
            raise InputError(f"{name}: symbol {i} ({a[0]!r}) reads differently in lief and in "
                             f"the symbol table: {field} {b[_SYMBOL_FIELDS.index(field)]!r} vs "
                             f"{a[_SYMBOL_FIELDS.index(field)]!r}: corrupt object")


def lief_model(name: str, data: bytes) -> dict:
    """An object as lief alone reads it, for comparison with tinyelf's model:
    ``sections`` index -> (name, type, flags, size, align, contents bytes),
    ``symbols`` [(name, bind, type, shndx, value, size)], ``relocs`` section
    index -> [(offset, type, symbol index, addend)].  ELF32 and ELF64, REL
    and RELA: a REL entry's addend is the one its field holds in the section
    lief read (the machine's :meth:`~tinyelf.arch.Arch.implicit_addend`)."""
    lief = import_lief()
    binary = parse(name, data, relocations=True)
    with warnings.catch_warnings():     # "N is not a valid TYPE": see _lief_view
        warnings.simplefilter("ignore", RuntimeWarning)
        return _model(lief, binary, data[4], int.from_bytes(data[18:20], "little"))


def _model(lief, binary, elf_class: int, e_machine: int) -> dict:
    sections = list(binary.sections)
    index = {id(s): i for i, s in enumerate(sections)}
    out = {"sections": {}, "symbols": [], "relocs": {}}
    for i, s in enumerate(sections):
        content = b"" if int(s.type) == 8 else bytes(s.content)    # SHT_NOBITS
        out["sections"][i] = (s.name, int(s.type) & _ELF_VALUE, int(s.flags), int(s.size),
                              max(int(s.alignment), 1), content)
    for y in binary.symtab_symbols:
        out["symbols"].append((y.name, int(y.binding), int(y.type), int(y.shndx), int(y.value),
                               int(y.size)))
    by_name = {s.name: i for i, s in enumerate(sections)}
    for r in binary.object_relocations:
        sec = r.section
        target = index.get(id(sec), by_name.get(sec.name)) if sec is not None else None
        rtype = _reloc_type(lief, r, elf_class)
        addend = int(r.addend) if r.is_rela else _rel_addend(e_machine, out["sections"].get(
            target), int(r.address), rtype)
        out["relocs"].setdefault(target, []).append((int(r.address), rtype, int(r.info), addend))
    return out


#: ELF class -> (lief's name for it, the r_type bits of r_info): ELF32_R_TYPE
#: is the low byte, ELF64_R_TYPE the low 32 bits
_R_TYPE = {1: ("ELF32", 0xFF), 2: ("ELF64", 0xFFFFFFFF)}


def _reloc_type(lief, r, elf_class: int = 2) -> int:
    """The ELF r_type: lief 0.16+ keeps the architecture in the enum's upper
    bits (X86_64_32 is 0x800000a) and gives the raw r_info on request, in the
    layout of the object's class."""
    cls, mask = _R_TYPE.get(elf_class, _R_TYPE[2])
    try:
        return r.r_info(getattr(lief.ELF.Header.CLASS, cls)) & mask
    except AttributeError:  # lief 0.15: the enum is the ELF value
        return int(r.type)


def _rel_addend(e_machine: int, section, offset: int, rtype: int) -> int:
    """A REL entry's implicit addend, read from the contents lief gave the
    section it applies to (0 when the machine or the section is unknown)."""
    from ..arch import for_machine
    arch = for_machine(e_machine)
    if arch is None or section is None:
        return 0
    return arch.implicit_addend(section[5], offset, rtype)


def parse_executable(data: bytes) -> dict:
    """Parse a linked executable with lief: its ELF header's type, machine,
    entry and program header offset, and every segment as a dict (type,
    flags, offset, vaddr, filesz, memsz).  Raises InputError when lief
    cannot parse it."""
    lief = import_lief()
    binary = lief.ELF.parse(io.BytesIO(bytes(data)))
    if binary is None:
        raise InputError("lief could not parse the executable")
    h = binary.header
    return {
        "type": str(h.file_type).rsplit(".", 1)[-1],
        "machine": str(h.machine_type).rsplit(".", 1)[-1],
        "entry": int(h.entrypoint),
        "phoff": int(h.program_header_offset),
        "segments": [{"type": str(s.type).rsplit(".", 1)[-1], "flags": int(s.flags),
                      "offset": int(s.file_offset), "vaddr": int(s.virtual_address),
                      "filesz": int(s.physical_size), "memsz": int(s.virtual_size)}
                     for s in binary.segments],
        "interpreter": binary.interpreter if binary.has_interpreter else None,
        "libraries": [str(x) for x in binary.libraries],
        "sections": len(binary.sections),
    }


def second_opinion(data: bytes, rep: dict) -> list:
    """``tinyelf inspect --lief``: lines saying how lief reads the executable
    that ``rep`` (tinyelf.tools.inspect.analyze) decoded: whether lief parses
    it at all (ordinary ELF tools tend to agree with lief), whether its entry
    and segments agree with the kernel-view decode, and what lief adds for a
    foreign executable (interpreter, shared libraries, section headers)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            info = parse_executable(data)
    except Exception as exc:  # noqa: BLE001 - lief refusing the file is the answer
        return [f"lief {_version()}: cannot parse it ({exc}); tools built on ELF libraries "
                "may refuse it too, the kernel does not look at what they look at"]
    lines = [f"lief {_version()}: {info['type']} for {info['machine']}, entry {info['entry']:#x}, "
             f"{len(info['segments'])} segments, {info['sections']} section headers"]
    ours = [(s["offset"], s["vaddr"], s["filesz"], s["memsz"]) for s in rep["segments"]]
    theirs = [(s["offset"], s["vaddr"], s["filesz"], s["memsz"]) for s in info["segments"]]
    if info["entry"] != rep["entry"]:
        lines.append(f"  differs: entry {info['entry']:#x} (tinyelf's decode: {rep['entry']:#x})")
    if ours != theirs:
        lines.append(f"  differs: segments (offset, vaddr, filesz, memsz) {theirs} "
                     f"(tinyelf's decode, as the kernel reads them: {ours})")
    else:
        lines.append("  agrees with tinyelf's decode on the entry and every segment")
    if info["interpreter"]:
        lines.append(f"  interpreter {info['interpreter']}")
    if info["libraries"]:
        lines.append(f"  needs {', '.join(info['libraries'])}")
    return lines


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("lief")
    except PackageNotFoundError:  # pragma: no cover
        return "?"
