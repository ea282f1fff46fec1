"""Objects that tinyelf makes itself (start stubs, builtins, assembled input).

``make_object`` builds an :class:`ObjectFile` from plain Python values so that
every pass treats tinyelf's own code exactly like compiler output.
"""
from __future__ import annotations

from .defs import (SHF_ALLOC, SHF_EXECINSTR, SHF_WRITE, SHN_ABS, SHT_NOBITS, SHT_PROGBITS,
                      STB_GLOBAL, STB_LOCAL, STT_FUNC, STT_NOTYPE, STT_SECTION)
from ..linker.model import ObjectFile, Section, Symbol

TEXT = SHF_ALLOC | SHF_EXECINSTR
RODATA = SHF_ALLOC
DATA = SHF_ALLOC | SHF_WRITE


def make_object(name: str, sections, symbols=(), undefined=()) -> ObjectFile:
    """Build an object.

    ``sections``: sequence of dicts with ``name``, ``flags`` (TEXT, RODATA,
    DATA), ``data`` (bytes; or ``size`` with ``nobits=True``), optional
    ``align`` and ``relocs`` [(offset, type, symbol_name, addend)].
    ``symbols``: sequence of ``(name, section_name, value, bind, type, size)``
    (section_name None for an absolute symbol); ``undefined``: names referred
    to but defined elsewhere.
    Relocations name symbols or sections; other names must be in ``undefined``.
    """
    obj = ObjectFile(name=name, sections=[None], symbols=[])
    null = Symbol(name="", bind=STB_LOCAL, type=STT_NOTYPE, visibility=0, shndx=0, value=0,
                  size=0, obj=obj, index=0)
    obj.symbols.append(null)
    by_name = {}
    for spec in sections:
        nobits = spec.get("nobits", False)
        data = b"" if nobits else bytes(spec["data"])
        sec = Section(obj=obj, index=len(obj.sections), name=spec["name"],
                      type=SHT_NOBITS if nobits else SHT_PROGBITS, flags=spec["flags"],
                      size=spec["size"] if nobits else len(data), align=spec.get("align", 1),
                      data=data)
        obj.sections.append(sec)
        by_name[sec.name] = sec
        obj.symbols.append(Symbol(name=sec.name, bind=STB_LOCAL, type=STT_SECTION, visibility=0,
                                  shndx=sec.index, value=0, size=0, obj=obj,
                                  index=len(obj.symbols), section=sec))
    # relocations may name a section: they then refer to its section symbol
    sym_index = {sym.name: sym.index for sym in obj.symbols[1:]}
    for sname, secname, value, bind, stype, size in symbols:
        sec = by_name[secname] if secname is not None else None
        sym = Symbol(name=sname, bind=bind, type=stype, visibility=0,
                     shndx=sec.index if sec else SHN_ABS, value=value, size=size, obj=obj,
                     index=len(obj.symbols), section=sec)
        obj.symbols.append(sym)
        sym_index[sname] = sym.index
    for uname in undefined:
        if uname in sym_index:
            continue
        obj.symbols.append(Symbol(name=uname, bind=STB_GLOBAL, type=STT_NOTYPE, visibility=0,
                                  shndx=0, value=0, size=0, obj=obj, index=len(obj.symbols)))
        sym_index[uname] = len(obj.symbols) - 1
    sym_index[""] = 0           # a relocation naming no symbol (riscv's RELAX)
    for spec in sections:
        relocs = [(off, rtype, sym_index[sname], addend)
                  for off, rtype, sname, addend in spec.get("relocs", ())]
        by_name[spec["name"]]._relocs = relocs
    return obj


def function_object(name: str, func: str, code: bytes, align: int = 1) -> ObjectFile:
    """A one-function object: ``func`` defined global at the start of ``.text.<func>``."""
    return make_object(name, [{"name": f".text.{func}", "flags": TEXT, "data": code, "align": align}],
                       [(func, f".text.{func}", 0, STB_GLOBAL, STT_FUNC, len(code))])
