"""The assembled sections, labels and ``equ`` constants as an ObjectFile:
section specs, symbols (functions or objects, sized up to the next label),
undefined externals."""
from __future__ import annotations

from ..errors import InputError
from .expr import AsmError, ExprParser


def _labels_data(sec, label) -> bool:
    """Whether the first thing after ``label`` is data rather than an
    instruction (a string after the code: an object, not a function)."""
    items = sec.items
    for item in items[items.index(label) + 1:]:
        if item.kind in ("label", "align"):
            continue
        return item.kind in ("data", "string", "space")
    return False


def _section_specs(source) -> list:
    specs = []
    for sec in source.sections.values():
        if not sec.items and not sec.size:
            continue
        spec = {"name": sec.name, "flags": sec.flags, "align": sec.align, "relocs": sec.relocs}
        if sec.nobits:
            spec.update(nobits=True, size=sec.size)
        else:
            spec["data"] = sec.code
        specs.append(spec)
    return specs


def _label_symbols(source, present) -> list:
    from ..elf.defs import STB_GLOBAL, STB_LOCAL, STT_FUNC, STT_OBJECT
    symbols = []
    for lab, (sname, item) in source.labels.items():
        if sname not in present or lab.startswith(".L"):
            continue
        sec = source.sections[sname]
        # _start and main are exported even without 'global': a
        # one-file program should not need the declaration to link
        glob = lab in source.globals or lab in ("_start", "main")
        symbols.append((lab, sname, item.offset, STB_GLOBAL if glob else STB_LOCAL,
                        STT_FUNC if sec.flags & 4 and not _labels_data(sec, item) else STT_OBJECT, 0))
    return symbols


def _sized(source, symbols) -> list:
    """Symbols with sizes: up to the next label of the section (what gdb shows for functions)."""
    by_sec = {}
    for i, s in enumerate(symbols):
        by_sec.setdefault(s[1], []).append(i)
    for sname, idxs in by_sec.items():
        offs = sorted({symbols[i][2] for i in idxs} | {source.sections[sname].size})
        for i in idxs:
            s = symbols[i]
            nxt = next(o for o in offs if o > s[2]) if s[2] < offs[-1] else s[2]
            symbols[i] = s[:5] + (nxt - s[2],)
    return symbols


def _constants(source, values) -> list:
    """Absolute symbols for the ``equ`` constants that are plain numbers."""
    from ..elf.defs import STB_GLOBAL, STB_LOCAL, STT_NOTYPE
    out = []
    for nm, (text, _esec, _idx, line) in source.equs.items():
        values.evaluating = set()
        try:
            lin = ExprParser(text, values.lookup(None, 0, {})).parse()
        except AsmError as exc:
            raise source.err(line, str(exc)) from None
        if not lin.terms:
            out.append((nm, None, lin.const, STB_GLOBAL if nm in source.globals else STB_LOCAL,
                        STT_NOTYPE, 0))
    return out


def build(source, values):
    """The ObjectFile of an assembled ``source`` (tinyelf.elf.synth.make_object)."""
    from ..elf.synth import make_object
    specs = _section_specs(source)
    symbols = _sized(source, _label_symbols(source, {s["name"] for s in specs}))
    symbols += _constants(source, values)
    missing = sorted(g for g in source.globals if g not in source.labels and g not in source.equs)
    if missing:
        raise InputError(f"{source.name}: declared global but not defined: {', '.join(missing)}")
    undefined = [n for n in values.externals_used if n not in source.labels]
    return make_object(source.name, specs, symbols, undefined)
