"""Pass 4, scan: look at every relocation of every kept section once.

Input: ``link.kept``.  Output: ``link.got_symbols`` (symbols that need a GOT
slot, in first-use order) and a synthesised ``.got`` section appended to
``link.kept`` when any slot or _GLOBAL_OFFSET_TABLE_ is needed;
``link.relaxed`` ({(section, offset): rewrite}) for GOT loads that the psABI
lets us turn into direct addressing.  Errors, all at once: relocation types
tinyelf does not support (TLS, IFUNC, dynamic-only types), fields that run
past the end of their section.  Invariant: every relocation of a kept section
has a known type and a field inside its section.
"""
from __future__ import annotations

from ..elf.defs import SHF_ALLOC, SHT_PROGBITS
from ..errors import RelocationError
from .model import Link, Section



def scan(link: Link) -> Link:
    arch = link.arch
    specs = arch.relocs
    problems = []
    got_index: dict = {}
    needs_got = "_GLOBAL_OFFSET_TABLE_" in link.globals and link.globals["_GLOBAL_OFFSET_TABLE_"].obj is link.synthetic
    relaxed = link.relaxed
    target = link.target
    got_formulas = arch.got_formulas
    got_base_formulas = arch.got_base_formulas
    internal = arch.internal_relocs
    for sec in link.kept:
        arch.scan_section(link, sec)
        obj = sec.obj
        size = sec.size
        data = sec.data
        for r_off, rtype, symidx, addend in sec.relocs:
            spec = specs.get(rtype)
            if spec is None or rtype in internal:
                t = target(obj, symidx)
                tls = " (thread-local storage is not supported)" if rtype in arch.tls_types else ""
                problems.append(f"unsupported relocation {arch.reloc_name(rtype)} at "
                                f"{sec.where()}+{r_off:#x} against {t.name or 'a section'}{tls}")
                continue
            if r_off + spec.size > size:
                problems.append(f"relocation {spec.name} at {sec.where()}+{r_off:#x} runs past the end "
                                f"of its section ({size} bytes): corrupt object")
                continue
            if spec.formula in got_base_formulas or spec.formula in got_formulas:
                needs_got = True
                if spec.formula in got_formulas:
                    t = target(obj, symidx)
                    kind = None if sec.is_nobits else arch.try_relax(data, r_off, rtype, addend)
                    if kind:
                        relaxed[(sec, r_off)] = kind
                    elif t not in got_index:
                        got_index[t] = len(got_index)
    if problems:
        raise RelocationError(*problems)
    link.got_symbols = list(got_index)
    if needs_got:
        synth = link.synthetic
        got = Section(obj=synth, index=len(synth.sections), name=".got", type=SHT_PROGBITS,
                      flags=SHF_ALLOC, size=arch.ptr_size * len(got_index), align=arch.ptr_size)
        synth.sections.append(got)
        link.kept.append(got)
        link.got = got
    return link
