"""Parsing an assembly source into sections of items: labels, instructions
(kept as text), data, strings, alignment and space; ``equ``/``.set``,
``global``/``extern`` and NASM's ``default rel``.  The machine's syntax
object says which directives to ignore and which byte pads code."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import InputError
from .expr import AsmError, ExprParser, const_only, split_top, unescape

_DATA_SIZES = {"db": 1, ".byte": 1, "dw": 2, ".word": 2, ".short": 2, ".2byte": 2, ".value": 2,
               "dd": 4, ".long": 4, ".int": 4, ".4byte": 4, "dq": 8, ".quad": 8, ".8byte": 8}
_RES_SIZES = {"resb": 1, "resw": 2, "resd": 4, "resq": 8}
_SPACE_DIRS = (".zero", ".skip", ".space", ".fill")
_ALIGN_DIRS = ("align", ".align", ".balign", ".p2align", "alignb")
_STRING_DIRS = {".ascii": False, ".asciz": True, ".string": True}
_IGNORED_DIRS = {".type", ".size", ".file", ".ident", ".cfi_startproc", ".cfi_endproc", ".loc"}
_SECTION_ALIASES = {".text": ".text", "text": ".text", "code": ".text", ".data": ".data",
                    "data": ".data", ".bss": ".bss", "bss": ".bss", ".rodata": ".rodata",
                    "rodata": ".rodata", ".rdata": ".rodata"}
_LABEL = re.compile(r"([A-Za-z_.$@?][\w.$@?]*)\s*:(?!:)")
_NASM_EQU = re.compile(r"([A-Za-z_.$@?][\w.$@?]*)\s+(equ)\s+(.*)$", re.I)
_GAS_SET = re.compile(r"\.(?:equ|set)\s+([A-Za-z_.$@?][\w.$@?]*)\s*,\s*(.*)$", re.I)


@dataclass
class Item:
    kind: str                 # 'label', 'insn', 'data', 'align', 'space', 'string'
    line: int
    text: str = ""
    size: int = 0             # data item width / align boundary / space length
    exprs: list = field(default_factory=list)
    data: bytes = b""
    offset: int = 0
    fill: int = 0
    scope: str = ""           # the last non-local label, for NASM's .local labels


@dataclass
class Sec:
    name: str
    index: int
    items: list = field(default_factory=list)
    size: int = 0
    align: int = 1
    code: bytes = b""
    relocs: list = field(default_factory=list)

    @property
    def flags(self):
        from ..elf.synth import DATA, RODATA, TEXT
        n = self.name
        if n.startswith(".text") or n in (".init", ".fini"):
            return TEXT
        if n.startswith((".rodata", ".rdata", ".lrodata")) or n.startswith(".note"):
            return RODATA
        return DATA

    @property
    def nobits(self):
        return self.name.startswith((".bss", ".tbss", ".lbss"))


def strip_comment(line: str) -> str:
    quote = None
    i = 0
    while i < len(line):
        c = line[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = None
        elif c in "\"'`":
            quote = c
        elif c in ";#" or (c == "/" and line[i + 1:i + 2] == "/"):
            return line[:i]
        i += 1
    return line


def _head_rest(line: str):
    words = line.split(None, 1)
    return words[0].lower(), (words[1].strip() if len(words) > 1 else "")


class Source:
    """The parsed source: ``sections`` (name -> Sec, in order of first
    use), ``labels`` (name -> (section name, Item)), ``equs`` (name -> (text,
    section name, item index, line)), ``globals``, ``externs``, ``default_rel``."""

    def __init__(self, text: str, name: str, syntax):
        self.name = name
        self.syntax = syntax
        self.sections: dict[str, Sec] = {}
        self.labels: dict[str, tuple] = {}
        self.equs: dict[str, tuple] = {}
        self.globals: set[str] = set()
        self.externs: set[str] = set()
        self.default_rel = False
        self._scope = ""
        self._last_label = ""
        self._cur = None
        for lineno, raw in enumerate(text.splitlines(), 1):
            self._line(lineno, strip_comment(raw).strip())

    def err(self, line, msg):
        return InputError(f"{self.name}:{line}: {msg}")

    def _sec(self, name):
        s = self.sections.get(name)
        if s is None:
            s = self.sections[name] = Sec(name, len(self.sections))
        return s

    def _here(self):
        if self._cur is None:
            self._cur = self._sec(".text")
        return self._cur

    # -- one line ------------------------------------------------------------
    def _line(self, lineno, line):
        line = self._labels(lineno, line)
        if not line or self._definition(lineno, line):
            return
        head, rest = _head_rest(line)
        if self._directive(lineno, head, rest):
            return
        self._statement(self._here(), lineno, line)

    def _labels(self, lineno, line):
        """Take the labels off the front of ``line``; return the rest."""
        while line:
            m = _LABEL.match(line)
            if not m or line.startswith(("section", "segment")):
                break
            lab = m.group(1)
            if lab.startswith(".") and not lab.startswith(".L") and self._last_label:
                lab = self._last_label + lab
            elif not lab.startswith(".L"):
                self._last_label = lab
            self._scope = self._last_label
            cur = self._here()
            if lab in self.labels or lab in self.equs:
                raise self.err(lineno, f"label {lab} is defined twice")
            item = Item("label", lineno, lab)
            cur.items.append(item)
            self.labels[lab] = (cur.name, item)
            line = line[m.end():].strip()
        return line

    def _definition(self, lineno, line) -> bool:
        """NASM's ``NAME equ EXPR`` and GAS's ``.set NAME, EXPR``."""
        m = _NASM_EQU.match(line)
        name, expr = (m.group(1), m.group(3)) if m else (None, None)
        if not m:
            m = _GAS_SET.match(line)
            name, expr = (m.group(1), m.group(2)) if m else (None, None)
        if not m:
            return False
        cur = self._cur
        self.equs[name] = (expr, cur.name if cur else None, len(cur.items) if cur else 0, lineno)
        return True

    def _directive(self, lineno, head, rest) -> bool:
        """Sections, symbol declarations and ignored directives; True if handled."""
        if head in ("section", "segment", ".section"):
            if not rest:
                raise self.err(lineno, "section without a name")
            name = rest.split()[0].rstrip(",")
            self._cur = self._sec(_SECTION_ALIASES.get(name, name))
        elif head in (".text", ".data", ".bss", ".rodata"):
            self._cur = self._sec(head)
        elif head in ("global", ".globl", ".global", "extern", ".extern"):
            names = [n.strip().split(":")[0] for n in rest.split(",") if n.strip()]
            if not names:
                raise self.err(lineno, f"{head} without a symbol name")
            (self.globals if "glob" in head else self.externs).update(names)
        elif head == "default":
            self.default_rel = rest.lower().startswith("rel")
        else:
            return head in _IGNORED_DIRS or head.startswith(".cfi_") or self.syntax.ignores(head)
        return True

    def _statement(self, cur, lineno, line):
        times = 1
        m = re.match(r"times\s+(\S+)\s+(.*)$", line, re.I)
        if m:
            times = self._const(lineno, m.group(1))
            if times < 0:
                raise self.err(lineno, f"times {times}: the count must not be negative")
            line = m.group(2)
        head, rest = _head_rest(line)
        for _ in range(times):
            self._one_statement(cur, lineno, head, rest, line)

    def _const(self, lineno, text, what=None):
        try:
            return ExprParser(text, const_only).parse().const
        except AsmError as exc:
            raise self.err(lineno, f"{what}: {exc}" if what else str(exc)) from None

    def _string(self, lineno, body):
        try:
            return unescape(body)
        except AsmError as exc:
            raise self.err(lineno, str(exc)) from None

    # -- statements that make bytes --------------------------------------------
    def _one_statement(self, cur, lineno, head, rest, line):
        for heads, fn in ((_DATA_SIZES, self._data), (_STRING_DIRS, self._strings),
                          (tuple(_RES_SIZES) + _SPACE_DIRS, self._space), (_ALIGN_DIRS, self._align)):
            if head in heads:
                return fn(cur, lineno, head, rest)
        if head.startswith(".") and head not in (".byte",):
            raise self.err(lineno, f"unknown directive {head} (tinyelf's assembler knows "
                           "section/global/extern, db/dw/dd/dq, .byte/.word/.long/.quad, "
                           ".ascii/.asciz/.string, align, times, resb..., equ)")
        cur.items.append(Item("insn", lineno, text=line, scope=self._scope))

    def _data(self, cur, lineno, head, rest):
        size = _DATA_SIZES[head]
        for op in split_top(rest):
            if not op:
                raise self.err(lineno, f"empty operand in {head}")
            if op[0] in "\"'`" and len(op) >= 2 and op[-1] == op[0]:
                b = self._string(lineno, op[1:-1])
                if size > 1 and len(b) % size:
                    b += bytes(size - len(b) % size)
                cur.items.append(Item("string", lineno, data=b))
            else:
                cur.items.append(Item("data", lineno, size=size, exprs=[op], scope=self._scope))

    def _strings(self, cur, lineno, head, rest):
        for op in split_top(rest):
            if not (len(op) >= 2 and op[0] == op[-1] == '"'):
                raise self.err(lineno, f"{head} needs a quoted string, got {op!r}")
            b = self._string(lineno, op[1:-1])
            cur.items.append(Item("string", lineno, data=b + (b"\0" if _STRING_DIRS[head] else b"")))

    def _args(self, lineno, head, rest):
        args = split_top(rest)
        if not args:
            raise self.err(lineno, f"{head}: list index out of range")
        return args

    def _space(self, cur, lineno, head, rest):
        args = self._args(lineno, head, rest)
        n = self._const(lineno, args[0], head)
        fill = self._const(lineno, args[1], head) if len(args) > 1 and head != ".fill" else 0
        n *= _RES_SIZES.get(head, 1)
        cur.items.append(Item("space", lineno, size=n, fill=fill & 0xFF))

    def _align(self, cur, lineno, head, rest):
        n = self._const(lineno, self._args(lineno, head, rest)[0], head)
        if head == ".p2align":
            n = 1 << n
        if n <= 0 or n & (n - 1):
            raise self.err(lineno, f"alignment {n} is not a power of two")
        cur.align = max(cur.align, n)
        fill = self.syntax.code_fill if cur.flags & 4 else 0
        cur.items.append(Item("align", lineno, size=n, fill=fill))


_STRUCTURE_LINE = re.compile(r"^\s*(?:[A-Za-z_.$][\w.$]*:\s*(?:$|[;#])|(?:section|segment|global|extern|"
                             r"bits|default)\s|\.(?:text|data|globl|global|section|intel_syntax)\b)",
                             re.M | re.I)


def looks_like_assembly(data: bytes, syntaxes=()) -> bool:
    """Whether ``data`` reads as assembly source: UTF-8 text with at least
    one label or directive line and one instruction line of a machine whose
    syntax is in ``syntaxes``."""
    if not data or b"\0" in data[:4096] or data.startswith(b"\x7fELF") or data.startswith(b"!<"):
        return False
    try:
        head = data[:4096].decode("utf-8")
    except UnicodeDecodeError:
        return False
    return bool(_STRUCTURE_LINE.search(head) and any(s.insn_line.search(head) for s in syntaxes))
