"""What the generic assembler asks of a machine's assembly syntax.

An architecture that accepts assembly sources gives an :class:`AsmSyntax`
as ``arch.asm_syntax`` (x86: ``tinyelf/arch/x86_64/asm_syntax.py``); one
without it has ``asm_syntax = None`` and its assembly inputs are refused.
The generic phases (tinyelf.asm.parse, layout, relocs, objects) handle
labels, sections, data and expressions; the syntax object handles operands,
registers, the padding byte of code, how capstone shows an instruction's
fields, and which relocation type a field gets.
"""
from __future__ import annotations

import re

from .expr import hex_signed

#: the name keystone sees in place of a symbolic operand, replaced by a
#: number before each call (keystone's own symbol fix-ups are unreliable)
PLACEHOLDER = "__tinyelf_x"


class AsmSyntax:
    #: the byte that pads code sections at an ``align`` (a one-byte no-op)
    code_fill: int = 0
    #: directives of this machine's assemblers that change nothing for tinyelf
    ignored_directives: frozenset = frozenset()
    #: a line that can only be an instruction of this machine (content sniffing)
    insn_line = re.compile(r"(?!)")
    #: (kind, field bytes) -> relocation type; kinds "abs", "abs-signed", "pc"
    reloc_types: dict = {}

    def ignores(self, head: str) -> bool:
        """Whether the directive ``head`` (lower case) is to be skipped."""
        return head in self.ignored_directives

    def is_reserved(self, name: str) -> bool:
        """Whether ``name`` is a register or operand keyword, never a symbol."""
        return False

    def rewrite(self, text: str, look, default_rel: bool):
        """One instruction's text for keystone, each symbolic expression
        evaluated through ``look(name) -> Lin``: ``(text, Lin of the one
        symbolic operand or None, [constant immediates, in operand order])``."""
        raise NotImplementedError

    def place(self, text: str, address: int, value: int, size_of) -> str:
        """``text`` with the symbolic operand given the number ``value`` for an
        instruction at ``address`` (``size_of(text)`` assembles a trial)."""
        return text.replace(PLACEHOLDER, hex_signed(value)) if PLACEHOLDER in text else text

    def operand_fields(self, code: bytes, address: int):
        """[(offset, size)] of the instruction's address/immediate fields, or
        None when ``code`` does not decode as exactly one instruction."""
        raise NotImplementedError

    def immediates(self, code: bytes, address: int):
        """[(value, size)] of the immediate operands capstone reads back, or
        None when ``code`` is not one instruction."""
        return None

    def sign_extended(self, code: bytes, address: int, offset: int) -> bool:
        """Whether the CPU sign-extends the field at ``offset``."""
        return False

    def reloc_type(self, kind: str, size: int, signed: bool = False):
        """The relocation type for a ``size``-byte field of ``kind`` ("abs",
        "pc"), its signed form when the CPU sign-extends it; None if none."""
        if signed and (kind + "-signed", size) in self.reloc_types:
            return self.reloc_types[(kind + "-signed", size)]
        return self.reloc_types.get((kind, size))


def reloc_types_by_name(relocs: dict, names: dict) -> dict:
    """``{(kind, size): type}`` from ``{(kind, size): relocation name}`` and
    an arch's relocation table (type -> RelocType)."""
    by_name = {spec.name: rtype for rtype, spec in relocs.items()}
    return {key: by_name[name] for key, name in names.items()}
