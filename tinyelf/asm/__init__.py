"""Assembling with keystone (imported lazily: only when assembly is needed).

``assemble(text)`` turns Intel-syntax assembly into machine code for an
architecture; the keystone mode comes from ``tinyelf.arch``.  Errors become
:class:`tinyelf.errors.InputError` naming the source.
"""
from __future__ import annotations

import re

from ..errors import InputError, ToolchainError

_engines: dict = {}

# keystone 0.9.2 reads unprefixed numbers as hexadecimal once any option is
# set (a symbol resolver included): keystone-engine/keystone#436, #538.  So
# every decimal literal is rewritten as 0x... before keystone sees it; string
# literals are left alone.  (In keystone's Intel mode ';' separates
# statements rather than starting a comment, so numbers after it count.)
_TOKEN = re.compile(r"""("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')"""   # string
                    r"|(?<![\w.$@])(\d+)(?![\w.])")                    # decimal number


def hexify(text: str) -> str:
    """Rewrite decimal literals as hexadecimal so that keystone's radix
    setting cannot change their meaning."""
    def sub(m):
        if m.group(2) is None:
            return m.group(0)
        return hex(int(m.group(2)))
    return _TOKEN.sub(sub, text)


def _engine(arch):
    eng = _engines.get(arch.name)
    if eng is None:
        try:
            import keystone
        except ImportError:  # pragma: no cover - a declared dependency
            raise ToolchainError("the keystone-engine package is not installed "
                                 "(pip install keystone-engine)") from None
        ks_arch, ks_mode = (getattr(keystone, n) for n in arch.keystone)
        eng = _engines[arch.name] = keystone.Ks(ks_arch, ks_mode)
    return eng


def assemble(text: str, arch=None, address: int = 0, resolver=None, name: str = "<asm>") -> bytes:
    """Assemble ``text`` as if placed at ``address``; return the bytes.

    ``resolver(symbol_name) -> int | None`` gives values for symbols the text
    does not define; without one, such symbols are an error.
    """
    if arch is None:
        from .. import arch as archmod
        arch = archmod.get("x86_64")
    import keystone
    eng = _engine(arch)
    missing = []

    def _resolve(sym, value):
        n = sym.decode("utf-8", "replace")
        v = resolver(n) if resolver else None
        if v is None:
            missing.append(n)
            return False
        value[0] = v
        return True

    eng.sym_resolver = _resolve
    try:
        encoding, _count = eng.asm(hexify(text), address)
    except keystone.KsError as exc:
        if missing:
            raise InputError(f"{name}: undefined symbol{'s' if len(missing) > 1 else ''} "
                             f"{', '.join(sorted(set(missing)))}") from None
        raise InputError(f"{name}: keystone cannot assemble it: {exc}") from None
    return bytes(encoding or b"")


# ---------------------------------------------------------------------------
# Assembly source files -> ObjectFile
#
# keystone assembles single instructions well but its symbol support is weak:
# with a symbol resolver it ignores ``sym + 8`` and ``a - b`` silently, it has
# no ``db`` in Intel mode, no sections and no symbol table, and it drops
# ``mov dword [x], 1`` (NASM's size syntax) without an error.  So tinyelf
# drives it one instruction at a time:
#
# * the source is parsed here: labels, sections, data directives, ``equ``,
#   ``global``/``extern``; data is encoded by tinyelf itself;
# * every expression that names a symbol is evaluated here as a linear form
#   (constant + symbol terms); keystone only ever sees a number or a single
#   placeholder symbol per operand, which it handles correctly;
# * label offsets are found by iterating instruction sizes to a fixed point;
# * relocations are found by assembling each symbolic instruction three
#   times: as is, with the placeholder moved, and with the instruction moved.
#   The bytes that change locate the field; capstone's operand offsets confirm
#   its position and width; whether it moved with the instruction tells a
#   PC-relative field from an absolute one.
# ---------------------------------------------------------------------------

import os as _os
from dataclasses import dataclass as _dataclass, field as _field

_REGS = set()
for _r in ("ax", "bx", "cx", "dx", "si", "di", "sp", "bp"):
    _REGS.update({"r" + _r, "e" + _r, _r})
_REGS.update({"al", "bl", "cl", "dl", "ah", "bh", "ch", "dh", "sil", "dil", "spl", "bpl",
              "rip", "eip", "cs", "ds", "es", "fs", "gs", "ss"})
for _i in range(8, 16):
    _REGS.update({f"r{_i}", f"r{_i}d", f"r{_i}w", f"r{_i}b"})
for _i in range(32):
    _REGS.update({f"xmm{_i}", f"ymm{_i}", f"zmm{_i}"})
for _i in range(8):
    _REGS.update({f"st{_i}", f"mm{_i}", f"k{_i}", f"cr{_i}", f"dr{_i}"})
_SIZE_WORDS = {"byte", "word", "dword", "qword", "tword", "oword", "xmmword", "ymmword", "zmmword"}
_KEYWORDS = _SIZE_WORDS | {"ptr", "rel", "abs", "short", "near", "far", "offset", "st"}

_DATA_SIZES = {"db": 1, ".byte": 1, "dw": 2, ".word": 2, ".short": 2, ".2byte": 2, ".value": 2,
               "dd": 4, ".long": 4, ".int": 4, ".4byte": 4, "dq": 8, ".quad": 8, ".8byte": 8}
_RES_SIZES = {"resb": 1, "resw": 2, "resd": 4, "resq": 8}
_STRING_DIRS = {".ascii": False, ".asciz": True, ".string": True}
_IGNORED_DIRS = {"bits", "[bits", "use64", ".intel_syntax", ".att_syntax", ".code64", ".type",
                 ".size", ".file", ".ident", "cpu", ".cfi_startproc", ".cfi_endproc",
                 ".loc", ".att_syntax"}

_PREFIXES = {"rep", "repe", "repz", "repne", "repnz", "lock", "notrack", "bnd", "xacquire",
             "xrelease", "data16", "addr32"}
_PLACEHOLDER = "__tinyelf_x"
_RIP_PH = "__tinyelf_rip"


def _hex(v: int) -> str:
    return hex(v) if v >= 0 else "-" + hex(-v)
_SECTION_BASE = 0x1000000        # section k assembled at (k + 1) * _SECTION_STEP
_SECTION_STEP = 0x1000000
_EXTERN_BASE = 0x60000000        # external symbol j at _EXTERN_BASE + j * 0x10000
_SHIFT = 0x10000                 # how far a placeholder or an instruction is moved


class _AsmError(Exception):
    pass


@_dataclass
class _Lin:
    """A linear expression: const + sum(coeff * symbol)."""
    const: int = 0
    terms: dict = _field(default_factory=dict)

    def add(self, other, sign=1):
        out = _Lin(self.const + sign * other.const, dict(self.terms))
        for k, v in other.terms.items():
            out.terms[k] = out.terms.get(k, 0) + sign * v
            if out.terms[k] == 0:
                del out.terms[k]
        return out

    def scale(self, n):
        return _Lin(self.const * n, {k: v * n for k, v in self.terms.items()} if n else {})


_EXPR_TOKEN = re.compile(r"\s*(?:(0[xX][0-9a-fA-F]+|0[bB][01]+|[0-9][0-9a-fA-F]*[hH]\b|\d+)"
                         r"|('(?:[^'\\]|\\.)+')|([A-Za-z_.$@?][\w.$@?]*)|(<<|>>|[-+*/%()~&|^]))")


def _parse_number(tok: str) -> int:
    t = tok.lower()
    if t.startswith("0x"):
        return int(t, 16)
    if t.startswith("0b"):
        return int(t[2:], 2)
    if t.endswith("h"):
        return int(t[:-1], 16)
    return int(t, 10)


def _unescape(body: str) -> bytes:
    """A C-style escaped string body -> bytes."""
    out = bytearray()
    i = 0
    simple = {"n": 10, "t": 9, "r": 13, "0": 0, "\\": 92, '"': 34, "'": 39, "a": 7, "b": 8,
              "f": 12, "v": 11, "e": 27}
    raw = body.encode("utf-8")
    while i < len(raw):
        c = raw[i]
        if c == 92 and i + 1 < len(raw):
            n = chr(raw[i + 1])
            if n == "x":
                m = re.match(rb"[0-9a-fA-F]{1,2}", raw[i + 2:])
                if not m:
                    raise _AsmError("bad \\x escape in string")
                out.append(int(m.group(0), 16))
                i += 2 + len(m.group(0))
                continue
            if n in "01234567" and n != "0" or (n == "0" and i + 2 < len(raw) and chr(raw[i + 2]) in "01234567"):
                m = re.match(rb"[0-7]{1,3}", raw[i + 1:])
                out.append(int(m.group(0), 8) & 0xFF)
                i += 1 + len(m.group(0))
                continue
            if n in simple:
                out.append(simple[n])
                i += 2
                continue
            raise _AsmError(f"unknown escape \\{n} in string")
        out.append(c)
        i += 1
    return bytes(out)


class _ExprParser:
    """Recursive descent over + - * / % << >> & | ^ ~ and parentheses; symbols
    become linear terms, products and quotients need a constant side."""

    def __init__(self, text, lookup):
        self.toks = []
        pos = 0
        text = text.strip()
        while pos < len(text):
            m = _EXPR_TOKEN.match(text, pos)
            if not m or m.end() == pos:
                raise _AsmError(f"cannot read expression {text!r} at {text[pos:]!r}")
            pos = m.end()
            if m.group(1):
                self.toks.append(("num", _parse_number(m.group(1))))
            elif m.group(2):
                b = _unescape(m.group(2)[1:-1])
                self.toks.append(("num", int.from_bytes(b, "little")))
            elif m.group(3):
                self.toks.append(("sym", m.group(3)))
            else:
                self.toks.append(("op", m.group(4)))
            while pos < len(text) and text[pos].isspace():
                pos += 1
        self.i = 0
        self.lookup = lookup
        self.text = text

    def parse(self) -> _Lin:
        v = self._or()
        if self.i != len(self.toks):
            raise _AsmError(f"cannot read expression {self.text!r}")
        return v

    def _peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None)

    def _binary(self, sub, ops, fn):
        v = sub()
        while self._peek()[0] == "op" and self._peek()[1] in ops:
            op = self.toks[self.i][1]
            self.i += 1
            w = sub()
            v = fn(op, v, w)
        return v

    def _const_op(self, op, v, w):
        if v.terms or w.terms:
            if op == "*" and not (v.terms and w.terms):
                return v.scale(w.const) if not w.terms else w.scale(v.const)
            raise _AsmError(f"operator {op} on a symbol address in {self.text!r}")
        a, b = v.const, w.const
        if op in "/%" and b == 0:
            raise _AsmError(f"division by zero in {self.text!r}")
        r = {"*": lambda: a * b, "/": lambda: int(a / b), "%": lambda: a % b,
             "<<": lambda: a << b, ">>": lambda: a >> b, "&": lambda: a & b,
             "|": lambda: a | b, "^": lambda: a ^ b}[op]()
        return _Lin(r)

    def _or(self):
        return self._binary(self._xor, ("|",), self._const_op)

    def _xor(self):
        return self._binary(self._and, ("^",), self._const_op)

    def _and(self):
        return self._binary(self._shift, ("&",), self._const_op)

    def _shift(self):
        return self._binary(self._sum, ("<<", ">>"), self._const_op)

    def _sum(self):
        return self._binary(self._prod, ("+", "-"), lambda op, v, w: v.add(w, 1 if op == "+" else -1))

    def _prod(self):
        return self._binary(self._unary, ("*", "/", "%"), self._const_op)

    def _unary(self):
        kind, val = self._peek()
        if kind == "op" and val in "-+~":
            self.i += 1
            v = self._unary()
            if val == "-":
                return v.scale(-1)
            if val == "~":
                if v.terms:
                    raise _AsmError(f"~ on a symbol address in {self.text!r}")
                return _Lin(~v.const)
            return v
        if kind == "op" and val == "(":
            self.i += 1
            v = self._or()
            if self._peek() != ("op", ")"):
                raise _AsmError(f"missing ) in {self.text!r}")
            self.i += 1
            return v
        if kind == "num":
            self.i += 1
            return _Lin(val)
        if kind == "sym":
            self.i += 1
            return self.lookup(val)
        raise _AsmError(f"cannot read expression {self.text!r}")


def _split_top(text: str, sep: str = ",") -> list[str]:
    """Split at ``sep`` outside brackets, parentheses and quotes."""
    out, depth, cur, quote = [], 0, [], None
    i = 0
    while i < len(text):
        c = text[i]
        if quote:
            cur.append(c)
            if c == "\\" and i + 1 < len(text):
                cur.append(text[i + 1])
                i += 1
            elif c == quote:
                quote = None
        elif c in "\"'`":
            quote = c
            cur.append(c)
        elif c in "([":
            depth += 1
            cur.append(c)
        elif c in ")]":
            depth -= 1
            cur.append(c)
        elif c == sep and depth == 0:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(c)
        i += 1
    if cur or out:
        out.append("".join(cur).strip())
    return out


def _strip_comment(line: str) -> str:
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


@_dataclass
class _Item:
    kind: str                 # 'label', 'insn', 'data', 'align', 'space', 'string'
    line: int
    text: str = ""
    size: int = 0             # data item width / align boundary / space length
    exprs: list = _field(default_factory=list)
    data: bytes = b""
    offset: int = 0
    fill: int = 0
    scope: str = ""           # the last non-local label, for NASM's .local labels


@_dataclass
class _Sec:
    name: str
    index: int
    items: list = _field(default_factory=list)
    size: int = 0
    align: int = 1
    code: bytes = b""
    relocs: list = _field(default_factory=list)

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


def _section_name(words: list[str]) -> str:
    name = words[0].rstrip(",")
    aliases = {".text": ".text", "text": ".text", "code": ".text", ".data": ".data",
               "data": ".data", ".bss": ".bss", "bss": ".bss", ".rodata": ".rodata",
               "rodata": ".rodata", ".rdata": ".rodata"}
    return aliases.get(name, name)


_INSN_LINE = re.compile(r"^\s*(?:[\w.$]+:\s*)?(mov|movzx|movsx|lea|call|jmp|j[a-z]{1,3}|syscall|xor|"
                        r"push|pop|ret|add|sub|cmp|test|and|or|inc|dec|int|nop|hlt|db|dd|dq|dw)\b",
                        re.M | re.I)
_STRUCTURE_LINE = re.compile(r"^\s*(?:[A-Za-z_.$][\w.$]*:\s*(?:$|[;#])|(?:section|segment|global|extern|"
                             r"bits|default)\s|\.(?:text|data|globl|global|section|intel_syntax)\b)",
                             re.M | re.I)


def looks_like_assembly(data: bytes) -> bool:
    """Whether ``data`` reads as assembly source: UTF-8 text with at least
    one label or directive line and one instruction line."""
    if not data or b"\0" in data[:4096] or data.startswith(b"\x7fELF") or data.startswith(b"!<"):
        return False
    try:
        head = data[:4096].decode("utf-8")
    except UnicodeDecodeError:
        return False
    return bool(_STRUCTURE_LINE.search(head) and _INSN_LINE.search(head))


class _Assembler:
    def __init__(self, text: str, name: str, arch):
        self.name = name
        self.arch = arch
        self.sections: dict[str, _Sec] = {}
        self.labels: dict[str, tuple] = {}     # name -> (section name, item)
        self.equs: dict[str, tuple] = {}       # name -> (expr text, section, item index-ish)
        self.globals: set[str] = set()
        self.externs: set[str] = set()
        self.default_rel = False
        self.externals_used: dict[str, int] = {}
        self._evaluating: set = set()
        self._consts: list = []
        self._scope = ""
        self._parse(text)

    # -- parsing ----------------------------------------------------------
    def err(self, line, msg):
        return InputError(f"{self.name}:{line}: {msg}")

    def _sec(self, name):
        s = self.sections.get(name)
        if s is None:
            s = self.sections[name] = _Sec(name, len(self.sections))
        return s

    def _parse(self, text):
        cur = None
        last_label = ""
        for lineno, raw in enumerate(text.splitlines(), 1):
            line = _strip_comment(raw).strip()
            while line:
                m = re.match(r"([A-Za-z_.$@?][\w.$@?]*)\s*:(?!:)", line)
                if m and not line.startswith(("section", "segment")):
                    lab = m.group(1)
                    if lab.startswith(".") and not lab.startswith(".L") and last_label:
                        lab = last_label + lab
                    elif not lab.startswith(".L"):
                        last_label = lab
                    self._scope = last_label
                    if cur is None:
                        cur = self._sec(".text")
                    if lab in self.labels or lab in self.equs:
                        raise self.err(lineno, f"label {lab} is defined twice")
                    item = _Item("label", lineno, lab)
                    cur.items.append(item)
                    self.labels[lab] = (cur.name, item)
                    line = line[m.end():].strip()
                    continue
                break
            if not line:
                continue
            words = line.split(None, 1)
            head = words[0].lower()
            rest = words[1].strip() if len(words) > 1 else ""
            # NASM: NAME equ EXPR / NAME db ... (label without colon)
            m = re.match(r"([A-Za-z_.$@?][\w.$@?]*)\s+(equ)\s+(.*)$", line, re.I)
            if m:
                nm = m.group(1)
                self.equs[nm] = (m.group(3), cur.name if cur else None, len(cur.items) if cur else 0, lineno)
                continue
            m = re.match(r"\.(?:equ|set)\s+([A-Za-z_.$@?][\w.$@?]*)\s*,\s*(.*)$", line, re.I)
            if m:
                self.equs[m.group(1)] = (m.group(2), cur.name if cur else None, len(cur.items) if cur else 0, lineno)
                continue
            if head in ("section", "segment", ".section"):
                if not rest:
                    raise self.err(lineno, "section without a name")
                cur = self._sec(_section_name(rest.split()))
                continue
            if head in (".text", ".data", ".bss", ".rodata"):
                cur = self._sec(head)
                continue
            if head in ("global", ".globl", ".global", "extern", ".extern"):
                names = [n.strip().split(":")[0] for n in rest.split(",") if n.strip()]
                if not names:
                    raise self.err(lineno, f"{head} without a symbol name")
                (self.globals if "glob" in head else self.externs).update(names)
                continue
            if head == "default":
                self.default_rel = rest.lower().startswith("rel")
                continue
            if head in _IGNORED_DIRS or head.startswith(".cfi_") or (head.startswith("[") and "bits" in head):
                continue
            if cur is None:
                cur = self._sec(".text")
            self._parse_statement(cur, lineno, head, rest, line)

    def _parse_statement(self, cur, lineno, head, rest, line):
        times = 1
        m = re.match(r"times\s+(\S+)\s+(.*)$", line, re.I)
        if m:
            try:
                times = _ExprParser(m.group(1), self._const_lookup).parse().const
            except _AsmError as exc:
                raise self.err(lineno, str(exc)) from None
            if times < 0:
                raise self.err(lineno, f"times {times}: the count must not be negative")
            line = m.group(2)
            words = line.split(None, 1)
            head = words[0].lower()
            rest = words[1].strip() if len(words) > 1 else ""
        for _ in range(times):
            self._one_statement(cur, lineno, head, rest, line)

    def _const_lookup(self, name):
        raise _AsmError(f"{name}: a constant is needed here")

    def _one_statement(self, cur, lineno, head, rest, line):
        if head in _DATA_SIZES:
            size = _DATA_SIZES[head]
            for op in _split_top(rest):
                if not op:
                    raise self.err(lineno, f"empty operand in {head}")
                if op[0] in "\"'`" and len(op) >= 2 and op[-1] == op[0]:
                    try:
                        b = _unescape(op[1:-1])
                    except _AsmError as exc:
                        raise self.err(lineno, str(exc)) from None
                    if size > 1 and len(b) % size:
                        b += bytes(size - len(b) % size)
                    cur.items.append(_Item("string", lineno, data=b))
                else:
                    cur.items.append(_Item("data", lineno, size=size, exprs=[op], scope=self._scope))
            return
        if head in _STRING_DIRS:
            for op in _split_top(rest):
                if not (len(op) >= 2 and op[0] == op[-1] == '"'):
                    raise self.err(lineno, f"{head} needs a quoted string, got {op!r}")
                try:
                    b = _unescape(op[1:-1])
                except _AsmError as exc:
                    raise self.err(lineno, str(exc)) from None
                cur.items.append(_Item("string", lineno, data=b + (b"\0" if _STRING_DIRS[head] else b"")))
            return
        if head in _RES_SIZES or head in (".zero", ".skip", ".space", ".fill"):
            args = _split_top(rest)
            try:
                n = _ExprParser(args[0], self._const_lookup).parse().const
                fill = _ExprParser(args[1], self._const_lookup).parse().const if len(args) > 1 and head != ".fill" else 0
            except (_AsmError, IndexError) as exc:
                raise self.err(lineno, f"{head}: {exc}") from None
            n *= _RES_SIZES.get(head, 1)
            cur.items.append(_Item("space", lineno, size=n, fill=fill & 0xFF))
            return
        if head in ("align", ".align", ".balign", ".p2align", "alignb"):
            args = _split_top(rest)
            try:
                n = _ExprParser(args[0], self._const_lookup).parse().const
            except (_AsmError, IndexError) as exc:
                raise self.err(lineno, f"{head}: {exc}") from None
            if head == ".p2align":
                n = 1 << n
            if n <= 0 or n & (n - 1):
                raise self.err(lineno, f"alignment {n} is not a power of two")
            cur.align = max(cur.align, n)
            fill = 0x90 if cur.flags & 4 else 0
            cur.items.append(_Item("align", lineno, size=n, fill=fill))
            return
        if head.startswith(".") and head not in (".byte",):
            raise self.err(lineno, f"unknown directive {head} (tinyelf's assembler knows "
                           "section/global/extern, db/dw/dd/dq, .byte/.word/.long/.quad, "
                           ".ascii/.asciz/.string, align, times, resb..., equ)")
        cur.items.append(_Item("insn", lineno, text=line, scope=self._scope))

    # -- evaluation -------------------------------------------------------
    def _value_lookup(self, sec, here, bases, scope=""):
        """A lookup for symbol names -> _Lin with terms keyed by section name
        (labels) or ('ext', name) (external symbols); ``$`` is ``here``."""
        def look(name):
            if name.startswith(".") and not name.startswith(".L") and scope \
                    and scope + name in self.labels:
                name = scope + name
            if name in ("$",):
                return _Lin(here, {sec.name: 1}) if sec else _Lin(here)
            if name == "$$":
                return _Lin(0, {sec.name: 1})
            if name in self.labels:
                sname, item = self.labels[name]
                return _Lin(item.offset, {sname: 1})
            if name in self.equs:
                text, esec, idx, line = self.equs[name]
                if name in self._evaluating:
                    raise _AsmError(f"{name} is defined in terms of itself")
                self._evaluating.add(name)
                try:
                    s = self.sections.get(esec) if esec else None
                    eh = s.items[idx].offset if s and idx < len(s.items) else (s.size if s else 0)
                    return _ExprParser(text, self._value_lookup(s, eh, bases)).parse()
                finally:
                    self._evaluating.discard(name)
            low = name.lower()
            if low in _REGS or low in _KEYWORDS:
                raise _AsmError(f"register {name} in an expression")
            self.externals_used.setdefault(name, len(self.externals_used))
            return _Lin(0, {("ext", name): 1})
        return look

    def _base_of(self, key, bases):
        if isinstance(key, tuple):
            return bases.get(key, _EXTERN_BASE + self.externals_used[key[1]] * 0x10000)
        return bases.get(key, _SECTION_BASE + self.sections[key].index * _SECTION_STEP)

    def _numeric(self, lin: _Lin, bases) -> int:
        return lin.const + sum(c * self._base_of(k, bases) for k, c in lin.terms.items())

    # -- instruction rewriting ----------------------------------------------
    def _rewrite(self, sec, item, bases):
        """Instruction text for keystone with every symbolic expression
        replaced by a number or the placeholder symbol; returns
        (text, placeholder _Lin or None)."""
        text = item.text
        words = text.split(None, 1)
        mnem = words[0]
        while mnem.lower() in _PREFIXES and len(words) > 1:    # rep movsb, lock xadd ...
            more = words[1].split(None, 1)
            mnem = f"{mnem} {more[0]}"
            words = [mnem] + more[1:]
        ops = _split_top(words[1]) if len(words) > 1 else []
        symbolic = None
        out_ops = []
        self._consts = []          # constant immediates, checked after keystone
        look = self._value_lookup(sec, item.offset, bases, item.scope)
        for op in ops:
            new, lin = self._rewrite_operand(op, look, item, bases)
            if lin is not None:
                if symbolic is not None:
                    raise _AsmError("more than one operand refers to a symbol address; "
                                    "tinyelf's assembler relocates one per instruction")
                symbolic = lin
            out_ops.append(new)
        return mnem + (" " + ", ".join(out_ops) if out_ops else ""), symbolic

    def _rewrite_operand(self, op, look, item, bases):
        # NASM sizes without 'ptr'
        op = re.sub(r"\b(byte|word|dword|qword|tword|oword|xmmword|ymmword)\s+(?!ptr\b)(?=\[|[a-z]+:\[)",
                    r"\1 ptr ", op, flags=re.I)
        m = re.match(r"^(.*?)\[(.*)\]\s*$", op, re.S)
        if m:
            prefix, inner = m.group(1), m.group(2)
            rel = None
            if re.match(r"\s*rel\b", inner, re.I):
                rel, inner = True, re.sub(r"^\s*rel\b", "", inner, flags=re.I)
            elif re.match(r"\s*abs\b", inner, re.I):
                rel, inner = False, re.sub(r"^\s*abs\b", "", inner, flags=re.I)
            # split into signed terms at top-level + and -
            regs, expr_parts = [], []
            for sign, term in _signed_terms(inner):
                words = re.findall(r"[A-Za-z_.$@?][\w.$@?]*", term)
                if any(w.lower() in _REGS for w in words):
                    if sign == "-":
                        raise _AsmError(f"cannot subtract a register in {op!r}")
                    regs.append(term.strip())
                else:
                    expr_parts.append(sign + "(" + term + ")")
            if any(r.lower() == "rip" for r in regs):
                rel = True
                regs = [r for r in regs if r.lower() != "rip"]
            if rel is None:      # NASM's 'default rel' applies without registers only
                rel = self.default_rel and not regs
            lin = _ExprParser(" ".join(expr_parts) or "0", look).parse() if expr_parts else _Lin(0)
            symbolic = None
            if lin.terms:
                disp = _RIP_PH if rel else _PLACEHOLDER
                symbolic = lin
            else:
                disp = hex(lin.const) if lin.const >= 0 else "-" + hex(-lin.const)
            if rel and regs:
                raise _AsmError(f"rip-relative operand {op!r} cannot use other registers")
            parts = (["rip"] if rel else []) + regs
            if expr_parts or rel or not parts:
                parts.append(disp)
            inner_new = " + ".join(parts).replace("+ -", "- ")
            return f"{prefix}[{inner_new}]", symbolic
        # immediate / branch target / register
        words = op.split()
        keep = []
        while words and words[0].lower() in {"short", "near", "far", "offset", "ptr"} | _SIZE_WORDS:
            w = words.pop(0)
            if w.lower() not in ("short", "near", "offset"):   # keystone picks the jump size
                keep.append(w)
        rest = " ".join(words)
        if not rest:
            return op, None
        if rest.lower() in _REGS or re.match(r"^[a-z]+:\s*$", rest, re.I):
            return op, None
        lin = _ExprParser(rest, look).parse()
        if lin.terms:
            return " ".join(keep + [_PLACEHOLDER]), lin
        v = lin.const
        self._consts.append(v)
        return " ".join(keep + [hex(v) if v >= 0 else "-" + hex(-v)]), None

    def _ks(self, text, address, placeholder=None, line=0):
        """keystone on one instruction whose symbolic operand is a number:
        keystone's own symbol fix-ups are off by the bytes that follow the
        field, so it never sees a symbol.  A rip-relative displacement is
        computed here from the instruction's length."""
        try:
            if _RIP_PH in text:
                size = len(assemble(text.replace(_RIP_PH, "0x0"), self.arch, address, name=self.name))
                text = text.replace(_RIP_PH, _hex(placeholder - (address + size)))
            elif _PLACEHOLDER in text:
                text = text.replace(_PLACEHOLDER, _hex(placeholder))
            code = assemble(text, self.arch, address, name=self.name)
        except InputError as exc:
            raise self.err(line, f"{exc.messages[0].split(': ', 1)[-1]} in {text!r}") from None
        if not code:
            raise self.err(line, f"keystone produced no bytes for {text!r}")
        return code

    # -- the two passes ----------------------------------------------------------
    def run(self):
        secs = list(self.sections.values())
        sizes = {}
        for _round in range(12):
            changed = False
            for sec in secs:
                off = 0
                for k, item in enumerate(sec.items):
                    if item.kind == "align":
                        pad = (-off) % item.size
                        item.offset = off
                        off += pad
                        continue
                    item.offset = off
                    if item.kind == "label":
                        continue
                    if item.kind == "data":
                        off += item.size
                    elif item.kind == "string":
                        off += len(item.data)
                    elif item.kind == "space":
                        off += item.size
                    else:
                        off += sizes.get(id(item), 1)
                if sec.size != off:
                    changed = True
                sec.size = off
            new_sizes = {}
            for sec in secs:
                for item in sec.items:
                    if item.kind == "insn":
                        code = self._assemble_insn(sec, item, {})[0]
                        new_sizes[id(item)] = len(code)
            if new_sizes == sizes and not changed:
                break
            sizes = new_sizes
        else:
            raise InputError(f"{self.name}: instruction sizes do not settle (jumps at the edge "
                             "of short range); use explicit 'near' jumps")
        for sec in secs:
            self._emit(sec)
        return self._object()

    def _assemble_insn(self, sec, item, bases):
        try:
            text, lin = self._rewrite(sec, item, bases)
        except _AsmError as exc:
            raise self.err(item.line, str(exc)) from None
        addr = self._base_of(sec.name, bases) + item.offset
        ph = self._numeric(lin, bases) if lin is not None else None
        return self._ks(text, addr, ph, item.line), text, lin, ph, addr

    def _emit(self, sec):
        out = bytearray()
        for item in sec.items:
            if len(out) != item.offset and item.kind != "align":
                raise InputError(f"{self.name}:{item.line}: internal: offset mismatch")  # pragma: no cover
            if item.kind == "align":
                out += bytes([item.fill]) * ((-len(out)) % item.size)
            elif item.kind == "string":
                out += item.data
            elif item.kind == "space":
                out += bytes([item.fill]) * item.size
            elif item.kind == "data":
                out += self._data(sec, item)
            elif item.kind == "insn":
                out += self._insn_with_relocs(sec, item)
        if sec.nobits and any(out):
            raise InputError(f"{self.name}: section {sec.name} is .bss but has non-zero contents")
        sec.code = bytes(out)

    def _data(self, sec, item):
        try:
            lin = _ExprParser(item.exprs[0], self._value_lookup(sec, item.offset, {}, item.scope)).parse()
        except _AsmError as exc:
            raise self.err(item.line, str(exc)) from None
        size = item.size
        value = lin.const
        if lin.terms:
            key, coeff = self._single_term(lin, item)
            rtype = _reloc_types(self.arch)["abs"][size]
            sym, addend = self._reloc_symbol(key, lin)
            sec.relocs.append((item.offset, rtype, sym, addend))
            value = 0
        lo, hi = -(1 << (size * 8 - 1)), (1 << (size * 8)) - 1
        if not lo <= value <= hi:
            raise self.err(item.line, f"value {value} does not fit in {size} byte(s)")
        return (value & ((1 << (size * 8)) - 1)).to_bytes(size, "little")

    def _single_term(self, lin, item):
        if len(lin.terms) != 1 or next(iter(lin.terms.values())) != 1:
            raise self.err(item.line, "the expression is not an address plus a constant, so it "
                           "cannot be relocated (differences of labels in different sections, "
                           "or of external symbols, are not supported)")
        return next(iter(lin.terms.items()))

    def _reloc_symbol(self, key, lin):
        if isinstance(key, tuple):
            return key[1], lin.const
        return key, lin.const        # a section symbol; labels are offsets in it

    def _check_immediates(self, code, addr, item):
        """keystone truncates immediates that do not fit (mov eax,
        0x123456789 assembles as mov eax, 0x23456789): compare what capstone
        reads back with the values written."""
        consts = self._consts
        if not consts:
            return
        ins = self._disasm(code, addr)
        if len(ins) != 1:
            return
        imms = [o for o in ins[0].operands if o.type == 2]     # X86_OP_IMM
        if len(imms) != len(consts):
            return
        for op, want in zip(imms, consts):
            mask = (1 << (8 * op.size)) - 1
            if (op.imm & mask) != (want & mask) or not -(1 << (8 * op.size)) < want <= mask:
                raise self.err(item.line, f"value {want:#x} does not fit the operand of "
                               f"{item.text.strip()!r} ({op.size} bytes)")

    def _insn_with_relocs(self, sec, item):
        code, text, lin, ph, addr = self._assemble_insn(sec, item, {})
        self._check_immediates(code, addr, item)
        if lin is None:
            return code
        # which group do the terms refer to?
        terms = dict(lin.terms)
        own = terms.pop(sec.name, 0)
        if terms:
            if own != 0:
                key = None
            else:
                key, _c = self._single_term(_Lin(0, terms), item)
        else:
            key = sec.name if own == 1 else None
        if key is None and own != 0:
            raise self.err(item.line, "the expression is not an address plus a constant, so it "
                           "cannot be relocated")
        if key == sec.name:
            # the instruction and its target move together: unchanged bytes
            # mean a PC-relative reference inside the section, final already
            if self._ks(text, addr + _SHIFT, ph + _SHIFT, item.line) == code:
                return code
        # locate the field: move the placeholder, then the instruction
        moved = self._ks(text, addr, ph + _SHIFT, item.line)
        shifted = self._ks(text, addr + _SHIFT, ph, item.line)
        if len(moved) != len(code) or len(shifted) != len(code):
            raise self.err(item.line, f"the encoding of {item.text!r} depends on where its target "
                           "is; write the size explicitly (e.g. 'near')")
        changed = [i for i in range(len(code)) if code[i] != moved[i]]
        if not changed:
            return code      # the symbol did not reach the bytes (e.g. a constant difference)
        field = self._field(code, addr, changed, item)
        f_off, f_size = field
        mask = (1 << (f_size * 8)) - 1
        f0 = int.from_bytes(code[f_off:f_off + f_size], "little")
        f1 = int.from_bytes(moved[f_off:f_off + f_size], "little")
        f2 = int.from_bytes(shifted[f_off:f_off + f_size], "little")
        if (f1 - f0) & mask != _SHIFT & mask:
            raise self.err(item.line, f"cannot find the address field of {item.text!r}")
        pcrel = (f0 - f2) & mask == _SHIFT & mask
        if not pcrel and f2 != f0:
            raise self.err(item.line, f"cannot find the address field of {item.text!r}")
        if pcrel and key == sec.name:
            return code      # PC-relative within the section: final already
        sym, _ = self._reloc_symbol(key, lin)
        sval = self._base_of(key, {})
        signed_f0 = f0 - (1 << (f_size * 8)) if f0 >> (f_size * 8 - 1) else f0
        if pcrel:
            P = addr + f_off
            addend = signed_f0 - sval + P
            rtype = _reloc_types(self.arch)["pc"][f_size]
        else:
            addend = (f0 if f_size == 8 else signed_f0 if self._sign_extended(code, addr, f_off) else f0) - sval
            types = _reloc_types(self.arch)
            rtype = types["abs_signed"][f_size] if self._sign_extended(code, addr, f_off) \
                else types["abs"][f_size]
        sec.relocs.append((item.offset + f_off, rtype, sym, addend))
        fixed = bytearray(code)
        fixed[f_off:f_off + f_size] = bytes(f_size)
        return bytes(fixed)

    def _disasm(self, code, addr):
        import capstone
        md = capstone.Cs(*(getattr(capstone, n) for n in self.arch.capstone))
        md.detail = True
        return list(md.disasm(code, addr))

    def _field(self, code, addr, changed, item):
        """(offset, size) of the operand field covering the changed bytes,
        as capstone decodes the instruction."""
        insns = self._disasm(code, addr)
        if len(insns) != 1 or insns[0].size != len(code):
            raise self.err(item.line, f"capstone does not decode {item.text!r} as one instruction")
        ins = insns[0]
        lo, hi = changed[0], changed[-1] + 1
        for off, size in ((ins.disp_offset, ins.disp_size), (ins.imm_offset, ins.imm_size)):
            if size and off <= lo and hi <= off + size:
                return off, size
        raise self.err(item.line, f"capstone finds no operand field at bytes {lo}..{hi} of {item.text!r}")

    def _sign_extended(self, code, addr, f_off):
        ins = self._disasm(code, addr)[0]
        if ins.disp_size and ins.disp_offset == f_off:
            return True          # 32-bit displacements are sign-extended
        ops = [o for o in ins.operands if o.type == 2]    # X86_OP_IMM
        return any(o.size == 8 for o in ops)

    @staticmethod
    def _labels_data(sec, label) -> bool:
        """Whether the first thing after ``label`` is data rather than an
        instruction (a string after the code: an object, not a function)."""
        items = sec.items
        for item in items[items.index(label) + 1:]:
            if item.kind in ("label", "align"):
                continue
            return item.kind in ("data", "string", "space")
        return False

    def _object(self):
        from ..elf.defs import STB_GLOBAL, STB_LOCAL, STT_FUNC, STT_NOTYPE, STT_OBJECT
        from ..elf.synth import make_object
        specs = []
        for sec in self.sections.values():
            if not sec.items and not sec.size:
                continue
            spec = {"name": sec.name, "flags": sec.flags, "align": sec.align,
                    "relocs": sec.relocs}
            if sec.nobits:
                spec.update(nobits=True, size=sec.size)
            else:
                spec["data"] = sec.code
            specs.append(spec)
        present = {s["name"] for s in specs}
        symbols = []
        for lab, (sname, item) in self.labels.items():
            if sname not in present or lab.startswith(".L"):
                continue
            sec = self.sections[sname]
            # _start and main are exported even without 'global': a
            # one-file program should not need the declaration to link
            glob = lab in self.globals or lab in ("_start", "main")
            symbols.append((lab, sname, item.offset, STB_GLOBAL if glob else STB_LOCAL,
                            STT_FUNC if sec.flags & 4 and not self._labels_data(sec, item)
                            else STT_OBJECT, 0))
        # sizes: up to the next label of the section (what gdb shows for functions)
        by_sec = {}
        for i, s in enumerate(symbols):
            by_sec.setdefault(s[1], []).append(i)
        for sname, idxs in by_sec.items():
            offs = sorted({symbols[i][2] for i in idxs} | {self.sections[sname].size})
            for i in idxs:
                s = symbols[i]
                nxt = next(o for o in offs if o > s[2]) if s[2] < offs[-1] else s[2]
                symbols[i] = s[:5] + (nxt - s[2],)
        for nm, (text, esec, idx, line) in self.equs.items():
            self._evaluating = set()
            try:
                lin = _ExprParser(text, self._value_lookup(None, 0, {})).parse()
            except _AsmError as exc:
                raise self.err(line, str(exc)) from None
            if not lin.terms:
                symbols.append((nm, None, lin.const, STB_GLOBAL if nm in self.globals else STB_LOCAL,
                                STT_NOTYPE, 0))
        missing = sorted(g for g in self.globals if g not in self.labels and g not in self.equs)
        if missing:
            raise InputError(f"{self.name}: declared global but not defined: {', '.join(missing)}")
        undefined = [n for n in self.externals_used if n not in self.labels]
        return make_object(self.name, specs, symbols, undefined)


def _signed_terms(inner: str):
    """'rbx + msg - 4' -> [('+', 'rbx'), ('+', 'msg'), ('-', '4')] at top level."""
    out, depth, cur, sign = [], 0, [], "+"
    for c in inner:
        if c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        if c in "+-" and depth == 0:
            if "".join(cur).strip():
                out.append((sign, "".join(cur)))
                cur, sign = [], c
            else:
                sign = "-" if (sign == "-") != (c == "-") else "+"
            continue
        cur.append(c)
    if "".join(cur).strip():
        out.append((sign, "".join(cur)))
    return out


#: the relocation types the assembler writes, by kind and field size, for
#: machines that do not give their own (``arch.asm_reloc_types``): x86-64's
_X86_64_RELOC_TYPES = {"abs": {8: 1, 4: 10, 2: 12, 1: 14}, "abs_signed": {8: 1, 4: 11, 2: 12, 1: 14},
                       "pc": {4: 2, 1: 15, 2: 13, 8: 24}}


def _reloc_types(arch) -> dict:
    return getattr(arch, "asm_reloc_types", None) or _X86_64_RELOC_TYPES


def assemble_source(text: str, name: str = "<asm>", arch=None):
    """Assemble a whole source file (Intel syntax, NASM or GAS-style
    directives) into an :class:`ObjectFile` with sections, symbols and
    relocations, ready for the link.  Errors name the file and line."""
    if arch is None:
        from .. import arch as archmod
        arch = archmod.get("x86_64")
    asm = _Assembler(text, name, arch)
    if not asm.sections:
        raise InputError(f"{name}: no instructions or data in this assembly file")
    return asm.run()


def read_asm_file(name: str, data: bytes, arch=None):
    """An assembly input (bytes) -> ObjectFile."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{name}: assembly source is not UTF-8 text") from None
    return assemble_source(text, _os.fspath(name), arch)
