"""Pass 3, collect: the sections the program needs (section garbage collection).

Input: a resolved link.  Output: ``link.kept``, every section reachable from
the entry symbol (and the ``undefined`` / ``require_defined`` option names,
and SHF_GNU_RETAIN sections) through relocations (with ``gc_sections`` off: every loadable
section), in image order: code, read-only data, data, bss, each in canonical
object order (see :func:`object_key`), sections of one object in their
file's order; ``link.dropped`` maps every other loadable section to why it went.
Errors, all reported at once: the entry symbol is undefined, kept sections
refer to undefined symbols, the linked objects need constructors or TLS.
Invariant: every symbol a kept section refers to is defined in a kept
section, absolute, linker-defined, or an undefined weak reference.
"""
from __future__ import annotations

import hashlib

from ..elf.defs import SHF_GNU_RETAIN, SHN_LORESERVE, SHN_UNDEF, STB_WEAK
from ..errors import LinkError, UnsupportedError
from .model import Link, ObjectFile


def object_key(obj: ObjectFile) -> bytes:
    """The canonical place of an object in the image: a digest of what it
    contributes after resolution (its sections' names, flags and contents,
    its symbols), never its file name or command-line position.

    So ``a.o b.o`` and ``b.o a.o`` (or the same objects under other paths)
    give byte-identical outputs whenever the order cannot change what the
    program means.  Where it can (two weak definitions, COMDAT copies that
    differ, the same name in two archives) the resolve pass still lets the
    first one win, exactly like GNU ld, and the output differs because the
    program does.  Objects with identical keys keep their input order."""
    h = hashlib.sha256()
    for sec in obj.sections:
        if sec is None:
            h.update(b"-")
            continue
        h.update(f"{sec.name}\0{sec.type}\0{sec.flags}\0{sec.size}\0{sec.align}\0".encode())
        if not sec.is_nobits:
            h.update(sec.data)
    for sym in obj.symbols:
        h.update(f"{sym.name}\0{sym.bind}\0{sym.type}\0{sym.shndx}\0{sym.value}\0{sym.size}\0"
                 .encode())
    return h.digest()


def entry_symbol(link: Link):
    sym = link.globals.get(link.options.entry)
    if sym is None or sym.is_undefined:
        hint = ""
        if link.options.entry == "_start" and "main" in link.globals and not link.globals["main"].is_undefined:
            hint = " (the inputs define main: add a _start that calls it)"
        elif link.options.entry == "_start":
            hint = (" (or define main instead: tinyelf then adds a _start that passes it "
                    "argc and argv and exits with its return value)")
        raise LinkError(f"entry symbol {link.options.entry} is not defined; define it{hint}, "
                        "or choose another entry with --entry SYM")
    if sym.section is not None and sym.value > sym.section.size:
        raise LinkError(f"entry symbol {link.options.entry} has value {sym.value:#x}, past the end "
                        f"of its section {sym.section.where()} ({sym.section.size} bytes): "
                        "corrupt object")
    return sym


def _option_roots(link: Link) -> list:
    """Sections of the symbols named by ``-u`` / ``--require-defined``; a
    required name nothing defines is an error (all of them at once)."""
    roots, missing = [], []
    for name in (*link.options.undefined, *link.options.require_defined):
        sym = link.globals.get(name)
        if sym is None or sym.is_undefined:
            if name in link.options.require_defined:
                missing.append(f"required symbol {name} is not defined (--require-defined); "
                               "no input or archive member defines it")
            continue
        if sym.section is not None:
            roots.append(sym.section)
    if missing:
        raise LinkError(*dict.fromkeys(missing))
    return roots


def collect(link: Link) -> Link:
    unsupported = []
    for obj in link.objects:
        for secname, reason in obj.unsupported.items():
            unsupported.append(f"{obj.name}: {reason}")
    if unsupported:
        raise UnsupportedError(*unsupported)

    entry = entry_symbol(link)
    ranked = sorted(range(len(link.objects)), key=lambda i: (object_key(link.objects[i]), i))
    order = {id(link.objects[i]): rank for rank, i in enumerate(ranked)}
    order[id(link.synthetic)] = len(link.objects)   # tinyelf's own sections last
    all_secs = [s for obj in link.objects + [link.synthetic] for s in obj.sections if s is not None]

    undefined: dict[str, list[str]] = {}
    kept = set()
    roots = _option_roots(link)
    if link.options.gc_sections:
        work = [s for s in all_secs if s.flags & SHF_GNU_RETAIN]
        if entry.section is not None:
            work.append(entry.section)
        work.extend(s for s in roots if s not in work)
        kept.update(work)
        target = link.target
        while work:
            sec = work.pop()
            obj = sec.obj
            for r_off, _rtype, symidx, _addend in sec.relocs:
                if symidx == 0:
                    continue
                t = target(obj, symidx)
                tsec = t.section
                if tsec is not None:
                    if tsec not in kept:
                        kept.add(tsec)
                        work.append(tsec)
                elif t.shndx == SHN_UNDEF:
                    if t.bind != STB_WEAK:
                        undefined.setdefault(t.name, []).append(f"{sec.where()}+{r_off:#x}")
                elif (t.extended or t.shndx < SHN_LORESERVE) and \
                        t.obj.sections[t.shndx] is None and t is obj.symbols[symidx]:
                    undefined.setdefault(t.name or f"section {t.shndx}", []).append(
                        f"{sec.where()}+{r_off:#x} (refers to a section tinyelf does not load)")
    else:
        kept.update(all_secs)
        for sec in all_secs:
            for r_off, _rtype, symidx, _addend in sec.relocs:
                t = link.target(sec.obj, symidx)
                if symidx and t.shndx == SHN_UNDEF and t.bind != STB_WEAK:
                    undefined.setdefault(t.name, []).append(f"{sec.where()}+{r_off:#x}")

    if undefined:
        from .advice import undefined_messages
        raise LinkError(*undefined_messages(undefined))

    link.kept = sorted(kept, key=lambda s: (s.out_class, order[id(s.obj)], s.index))
    link.dropped = {s: "unreachable from the entry point" for s in all_secs if s not in kept}
    return link
