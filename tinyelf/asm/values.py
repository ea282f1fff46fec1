"""What names mean in expressions: labels (a section term plus the label's
offset), ``$`` and ``$$``, ``equ`` constants (evaluated where they were
defined) and external symbols; and the trial addresses sections and
external symbols get while instructions are assembled."""
from __future__ import annotations

from .expr import AsmError, ExprParser, Lin

SECTION_BASE = 0x1000000        # section k assembled at (k + 1) * SECTION_STEP
SECTION_STEP = 0x1000000
EXTERN_BASE = 0x60000000        # external symbol j at EXTERN_BASE + j * EXTERN_STEP
EXTERN_STEP = 0x10000


class Values:
    def __init__(self, source):
        self.source = source
        #: external symbol -> order of first use (its trial address)
        self.externals_used: dict[str, int] = {}
        self.evaluating: set = set()

    def lookup(self, sec, here, bases, scope=""):
        """A lookup for symbol names -> Lin with terms keyed by section name
        (labels) or ('ext', name) (external symbols); ``$`` is ``here``."""
        src = self.source

        def look(name):
            if name.startswith(".") and not name.startswith(".L") and scope \
                    and scope + name in src.labels:
                name = scope + name
            if name == "$":
                return Lin(here, {sec.name: 1}) if sec else Lin(here)
            if name == "$$":
                return Lin(0, {sec.name: 1})
            if name in src.labels:
                sname, item = src.labels[name]
                return Lin(item.offset, {sname: 1})
            if name in src.equs:
                return self._equ(name, bases)
            if src.syntax.is_reserved(name):
                raise AsmError(f"register {name} in an expression")
            self.externals_used.setdefault(name, len(self.externals_used))
            return Lin(0, {("ext", name): 1})
        return look

    def _equ(self, name, bases):
        text, esec, idx, _line = self.source.equs[name]
        if name in self.evaluating:
            raise AsmError(f"{name} is defined in terms of itself")
        self.evaluating.add(name)
        try:
            s = self.source.sections.get(esec) if esec else None
            here = s.items[idx].offset if s and idx < len(s.items) else (s.size if s else 0)
            return ExprParser(text, self.lookup(s, here, bases)).parse()
        finally:
            self.evaluating.discard(name)

    def base_of(self, key, bases):
        """The trial address of a section or an external symbol (``bases`` overrides)."""
        if isinstance(key, tuple):
            return bases.get(key, EXTERN_BASE + self.externals_used[key[1]] * EXTERN_STEP)
        return bases.get(key, SECTION_BASE + self.source.sections[key].index * SECTION_STEP)

    def numeric(self, lin: Lin, bases) -> int:
        return lin.const + sum(c * self.base_of(k, bases) for k, c in lin.terms.items())
