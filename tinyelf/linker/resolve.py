"""Pass 2, resolve: every global name -> the one symbol that defines it.

Input: ``link.objects`` and ``link.archives``.  Output: ``link.globals``,
``link.synthetic`` (tinyelf's own object: COMMON allocations, linker-defined
symbols); archive members that define a still-undefined name are pulled into
``link.objects``, repeated until nothing changes, so archive order does not
matter (the entry symbol and the ``undefined`` / ``require_defined``
option names count as such names).  Then tinyelf's own memcpy,
memmove, memset, memcmp, bcmp and strlen (``builtins.py``) are added for
those names if still undefined, so an input's or archive's definition always
wins.  Duplicate COMDAT groups are discarded (first one wins).

Rules: a strong definition beats a COMMON symbol, which beats a weak
definition; two strong definitions are an error (all reported at once); the
largest COMMON wins; undefined weak references that nothing defines resolve
to 0 later.  Invariant: every non-local name that any object defines or
references is a key of ``link.globals``.
"""
from __future__ import annotations

from ..elf.defs import SHN_ABS, SHT_NOBITS, SHF_ALLOC, SHF_WRITE, STB_GLOBAL, STB_WEAK, STT_OBJECT
from ..errors import LinkError
from .model import Link, ObjectFile, Section, Symbol
from .read import check_member

#: names the linker defines when a program refers to them and nothing else does
LINKER_DEFINED = ("__executable_start", "_etext", "etext", "__etext", "_edata", "edata",
                  "__bss_start", "_end", "end", "_GLOBAL_OFFSET_TABLE_")


def linker_defined(arch) -> tuple:
    """The names the link defines when a program refers to them: GNU ld's
    (:data:`LINKER_DEFINED`) and the machine's own (``Arch.linker_defined``)."""
    return LINKER_DEFINED + arch.linker_defined


_STRONG, _COMMON, _WEAK, _UNDEF = 3, 2, 1, 0


def _rank(sym: Symbol) -> int:
    if sym.is_undefined:
        return _UNDEF
    if sym.is_common:
        return _COMMON
    if sym.bind == STB_WEAK:
        return _WEAK
    return _STRONG


def _where(sym: Symbol) -> str:
    if sym.section is not None:
        return f"{sym.obj.name}:{sym.section.name}"
    if sym.is_common:
        return f"{sym.obj.name} (COMMON)"
    return f"{sym.obj.name} (absolute)"


def resolve(link: Link) -> Link:
    globals_ = link.globals
    duplicates: dict[str, list[Symbol]] = {}
    comdats: dict[str, ObjectFile] = {}

    def add_object(obj: ObjectFile) -> None:
        # COMDAT groups: the first object to bring a signature keeps it
        discarded = set()
        for group in obj.groups:
            if not group.comdat:
                continue
            owner = comdats.setdefault(group.signature, obj)
            if owner is not obj:
                for m in group.members:
                    if obj.sections[m] is not None:
                        discarded.add(m)
                        obj.ignored.append((obj.sections[m].name,
                                            f"duplicate COMDAT group {group.signature} (kept in {owner.name})"))
                        obj.sections[m] = None
        for sym in obj.symbols:
            if sym.bind == 0 or not sym.name:
                if sym.section is not None and sym.shndx in discarded:
                    sym.section = None
                continue
            if sym.shndx in discarded:
                # defined only in a discarded duplicate group: refer to the kept copy
                sym.section = None
                sym.shndx = 0
            old = globals_.get(sym.name)
            if old is None:
                globals_[sym.name] = sym
                continue
            r_new, r_old = _rank(sym), _rank(old)
            if r_new == _STRONG and r_old == _STRONG:
                duplicates.setdefault(sym.name, [old]).append(sym)
            elif r_new == _COMMON and r_old == _COMMON:
                if sym.size > old.size:
                    sym.value = max(sym.value, old.value)  # keep the larger alignment
                    globals_[sym.name] = sym
                else:
                    old.value = max(sym.value, old.value)
            elif r_new > r_old:
                globals_[sym.name] = sym
            elif r_new == _UNDEF and r_old == _UNDEF and old.bind == STB_WEAK and sym.bind != STB_WEAK:
                globals_[sym.name] = sym   # a strong reference makes the name required

    for obj in link.objects:
        add_object(obj)

    # pull archive members until no undefined name can be satisfied
    if link.archives:
        changed = True
        while changed:
            changed = False
            wanted = [n for n, s in globals_.items() if s.is_undefined and s.bind != STB_WEAK]
            # the entry, and the names of -u / --require-defined, may come from an archive too
            for name in (link.options.entry, *link.options.undefined,
                         *link.options.require_defined):
                if name not in globals_ or globals_[name].is_undefined:
                    wanted.append(name)     # (a weak reference alone pulls nothing)
            for name in wanted:
                if name in globals_ and not globals_[name].is_undefined:
                    continue
                for ar in link.archives:
                    member = ar.lookup(name)
                    if member is not None:
                        check_member(link, member)
                        link.objects.append(member)
                        add_object(member)
                        changed = True
                        break

    # tinyelf's own memcpy & co. for names nothing else defines
    from . import builtins
    for name in builtins.needed(globals_, link.arch):
        obj = builtins.make(link.arch, name)
        link.objects.append(obj)
        add_object(obj)

    if duplicates:
        raise LinkError(*(f"duplicate symbol: {name}: defined in "
                          + " and in ".join(_where(s) for s in syms)
                          for name, syms in sorted(duplicates.items())))

    synth = ObjectFile(name="<tinyelf>", sections=[None], symbols=[])
    link.synthetic = synth
    _allocate_common(link, synth)
    for name in linker_defined(link.arch):
        sym = globals_.get(name)
        if sym is not None and sym.is_undefined:
            globals_[name] = Symbol(name=name, bind=STB_GLOBAL, type=0, visibility=0,
                                    shndx=SHN_ABS, value=0, size=0, obj=synth,
                                    index=len(synth.symbols))
            synth.symbols.append(globals_[name])
    return link


def _allocate_common(link: Link, synth: ObjectFile) -> None:
    """COMMON symbols become zero-filled sections of tinyelf's own object."""
    for name in sorted(n for n, s in link.globals.items() if s.is_common):
        sym = link.globals[name]
        align = sym.value if sym.value and not sym.value & (sym.value - 1) else 1
        sec = Section(obj=synth, index=len(synth.sections), name=f"COMMON.{name}",
                      type=SHT_NOBITS, flags=SHF_ALLOC | SHF_WRITE, size=sym.size, align=align)
        synth.sections.append(sec)
        new = Symbol(name=name, bind=STB_GLOBAL, type=STT_OBJECT, visibility=sym.visibility,
                     shndx=sec.index, value=0, size=sym.size, obj=synth,
                     index=len(synth.symbols), section=sec)
        synth.symbols.append(new)
        link.globals[name] = new
