"""Expressions in assembly source: numbers, strings, symbols and operators,
evaluated to linear forms (a constant plus symbol terms), and the splitting
of operand lists.  Nothing here knows a machine."""
from __future__ import annotations

import re
from dataclasses import dataclass, field


class AsmError(Exception):
    """A problem in one source line; the driver adds the file and line."""


def hex_signed(v: int) -> str:
    return hex(v) if v >= 0 else "-" + hex(-v)


@dataclass
class Lin:
    """A linear expression: const + sum(coeff * symbol)."""
    const: int = 0
    terms: dict = field(default_factory=dict)

    def add(self, other, sign=1):
        out = Lin(self.const + sign * other.const, dict(self.terms))
        for k, v in other.terms.items():
            out.terms[k] = out.terms.get(k, 0) + sign * v
            if out.terms[k] == 0:
                del out.terms[k]
        return out

    def scale(self, n):
        return Lin(self.const * n, {k: v * n for k, v in self.terms.items()} if n else {})


_EXPR_TOKEN = re.compile(r"\s*(?:(0[xX][0-9a-fA-F]+|0[bB][01]+|[0-9][0-9a-fA-F]*[hH]\b|\d+)"
                         r"|('(?:[^'\\]|\\.)+')|([A-Za-z_.$@?][\w.$@?]*)|(<<|>>|[-+*/%()~&|^]))")


def parse_number(tok: str) -> int:
    t = tok.lower()
    if t.startswith("0x"):
        return int(t, 16)
    if t.startswith("0b"):
        return int(t[2:], 2)
    if t.endswith("h"):
        return int(t[:-1], 16)
    return int(t, 10)


_SIMPLE_ESCAPES = {"n": 10, "t": 9, "r": 13, "0": 0, "\\": 92, '"': 34, "'": 39, "a": 7, "b": 8,
                   "f": 12, "v": 11, "e": 27}


def _escape(raw: bytes, i: int, out: bytearray) -> int:
    """Decode the escape at ``raw[i]`` (a backslash) into ``out``; return the next index."""
    n = chr(raw[i + 1])
    if n == "x":
        m = re.match(rb"[0-9a-fA-F]{1,2}", raw[i + 2:])
        if not m:
            raise AsmError("bad \\x escape in string")
        out.append(int(m.group(0), 16))
        return i + 2 + len(m.group(0))
    if n in "01234567" and n != "0" or (n == "0" and i + 2 < len(raw) and chr(raw[i + 2]) in "01234567"):
        m = re.match(rb"[0-7]{1,3}", raw[i + 1:])
        out.append(int(m.group(0), 8) & 0xFF)
        return i + 1 + len(m.group(0))
    if n in _SIMPLE_ESCAPES:
        out.append(_SIMPLE_ESCAPES[n])
        return i + 2
    raise AsmError(f"unknown escape \\{n} in string")


def unescape(body: str) -> bytes:
    """A C-style escaped string body -> bytes."""
    out = bytearray()
    i = 0
    raw = body.encode("utf-8")
    while i < len(raw):
        if raw[i] == 92 and i + 1 < len(raw):
            i = _escape(raw, i, out)
            continue
        out.append(raw[i])
        i += 1
    return bytes(out)


def const_only(name):
    """The lookup where only numbers may appear (counts, alignments)."""
    raise AsmError(f"{name}: a constant is needed here")


def _tokens(text: str) -> list:
    toks, pos = [], 0
    while pos < len(text):
        m = _EXPR_TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise AsmError(f"cannot read expression {text!r} at {text[pos:]!r}")
        pos = m.end()
        if m.group(1):
            toks.append(("num", parse_number(m.group(1))))
        elif m.group(2):
            toks.append(("num", int.from_bytes(unescape(m.group(2)[1:-1]), "little")))
        elif m.group(3):
            toks.append(("sym", m.group(3)))
        else:
            toks.append(("op", m.group(4)))
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return toks


_CONST_OPS = {"*": lambda a, b: a * b, "/": lambda a, b: int(a / b), "%": lambda a, b: a % b,
              "<<": lambda a, b: a << b, ">>": lambda a, b: a >> b, "&": lambda a, b: a & b,
              "|": lambda a, b: a | b, "^": lambda a, b: a ^ b}


class ExprParser:
    """Recursive descent over + - * / % << >> & | ^ ~ and parentheses; symbols
    become linear terms (``lookup(name) -> Lin``), products and quotients need
    a constant side."""

    def __init__(self, text, lookup):
        self.text = text.strip()
        self.toks = _tokens(self.text)
        self.i = 0
        self.lookup = lookup

    def parse(self) -> Lin:
        v = self._or()
        if self.i != len(self.toks):
            raise AsmError(f"cannot read expression {self.text!r}")
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
            raise AsmError(f"operator {op} on a symbol address in {self.text!r}")
        if op in "/%" and w.const == 0:
            raise AsmError(f"division by zero in {self.text!r}")
        return Lin(_CONST_OPS[op](v.const, w.const))

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
            return self._sign(val, self._unary())
        if kind == "op" and val == "(":
            self.i += 1
            v = self._or()
            if self._peek() != ("op", ")"):
                raise AsmError(f"missing ) in {self.text!r}")
            self.i += 1
            return v
        if kind in ("num", "sym"):
            self.i += 1
            return Lin(val) if kind == "num" else self.lookup(val)
        raise AsmError(f"cannot read expression {self.text!r}")

    def _sign(self, op, v):
        if op == "-":
            return v.scale(-1)
        if op == "~":
            if v.terms:
                raise AsmError(f"~ on a symbol address in {self.text!r}")
            return Lin(~v.const)
        return v


def split_top(text: str, sep: str = ",") -> list[str]:
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
        elif c == sep and depth == 0:
            out.append("".join(cur).strip())
            cur = []
        else:
            depth += (c in "([") - (c in ")]")
            cur.append(c)
        i += 1
    if cur or out:
        out.append("".join(cur).strip())
    return out


def signed_terms(inner: str):
    """'base + msg - 4' -> [('+', 'base'), ('+', 'msg'), ('-', '4')] at top level."""
    out, depth, cur, sign = [], 0, [], "+"
    for c in inner:
        depth += (c in "([") - (c in ")]")
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
