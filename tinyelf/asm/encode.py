"""One instruction through keystone: the syntax object rewrites its text
with every symbolic operand made a number (keystone's own symbol fix-ups are
off by the bytes that follow the field, so it never sees a symbol), keystone
encodes it, capstone reads the constant immediates back (keystone truncates
those that do not fit)."""
from __future__ import annotations

from ..errors import InputError
from .engine import assemble
from .expr import AsmError


class Encoder:
    def __init__(self, source, values, arch):
        self.source = source
        self.values = values
        self.arch = arch
        self.syntax = source.syntax

    def rewrite(self, sec, item, bases):
        """(keystone text, Lin of the symbolic operand or None, constant immediates)."""
        look = self.values.lookup(sec, item.offset, bases, item.scope)
        return self.syntax.rewrite(item.text, look, self.source.default_rel)

    def ks(self, text, address, placeholder=None, line=0):
        """keystone on one instruction at ``address``, its symbolic operand
        given the value ``placeholder``."""
        name = self.source.name

        def size_of(trial):
            return len(assemble(trial, self.arch, address, name=name))
        try:
            text = self.syntax.place(text, address, placeholder, size_of)
            code = assemble(text, self.arch, address, name=name)
        except InputError as exc:
            raise self.source.err(line, f"{exc.messages[0].split(': ', 1)[-1]} in {text!r}") from None
        if not code:
            raise self.source.err(line, f"keystone produced no bytes for {text!r}")
        return code

    def insn(self, sec, item, bases):
        """``(code, text, lin, placeholder value, address, constants)`` of
        ``item`` with sections and externals at ``bases`` (else trial addresses)."""
        try:
            text, lin, consts = self.rewrite(sec, item, bases)
        except AsmError as exc:
            raise self.source.err(item.line, str(exc)) from None
        addr = self.values.base_of(sec.name, bases) + item.offset
        ph = self.values.numeric(lin, bases) if lin is not None else None
        return self.ks(text, addr, ph, item.line), text, lin, ph, addr, consts

    def check_immediates(self, code, addr, item, consts):
        """keystone truncates immediates that do not fit (0x123456789 in a
        32-bit operand assembles as 0x23456789): compare what capstone reads
        back with the values written."""
        if not consts:
            return
        imms = self.syntax.immediates(code, addr)
        if imms is None or len(imms) != len(consts):
            return
        for (imm, size), want in zip(imms, consts):
            mask = (1 << (8 * size)) - 1
            if (imm & mask) != (want & mask) or not -(1 << (8 * size)) < want <= mask:
                raise self.source.err(item.line, f"value {want:#x} does not fit the operand of "
                                      f"{item.text.strip()!r} ({size} bytes)")
