"""The driver: a source file through the phases.

keystone assembles single instructions well but its symbol support is weak:
with a symbol resolver it ignores ``sym + 8`` and ``a - b`` silently, it has
no ``db`` in Intel mode, no sections and no symbol table, and it drops
``mov dword [x], 1`` (NASM's size syntax) without an error.  So tinyelf
drives it one instruction at a time:

* parse (tinyelf.asm.parse): labels, sections, data directives, ``equ``,
  ``global``/``extern``; data is encoded by tinyelf itself;
* every expression that names a symbol is evaluated as a linear form
  (tinyelf.asm.expr, .values); keystone only ever sees a number per operand
  (the machine's syntax object, ``arch.asm_syntax``, rewrites the operands);
* layout (tinyelf.asm.layout): label offsets by iterating instruction sizes
  to a fixed point;
* relocations (tinyelf.asm.relocs): each symbolic instruction assembled
  three times, the changed bytes located with capstone;
* objects (tinyelf.asm.objects): sections, symbols, undefined externals.
"""
from __future__ import annotations

import os

from ..errors import InputError
from .encode import Encoder
from .engine import default_arch
from .layout import settle
from .objects import build
from .parse import Source
from .relocs import Relocator
from .values import Values


def _no_syntax(arch, name: str) -> InputError:
    from .. import arch as archmod
    ok = [n for n in archmod.names() if archmod.get(n).asm_syntax is not None]
    return InputError(f"{name}: tinyelf's assembler has no {arch.name} syntax; assembly "
                      f"sources are supported for {', '.join(ok) or 'no architecture'} "
                      "(assemble it with your toolchain and give the object file)")


class Assembler:
    def __init__(self, text: str, name: str, arch):
        if arch.asm_syntax is None:
            raise _no_syntax(arch, name)
        self.name = name
        self.source = Source(text, name, arch.asm_syntax)
        self.values = Values(self.source)
        self.encoder = Encoder(self.source, self.values, arch)
        self.relocator = Relocator(self.source, self.values, self.encoder)

    def run(self):
        secs = list(self.source.sections.values())
        settle(self.name, secs, lambda sec, item: len(self.encoder.insn(sec, item, {})[0]))
        for sec in secs:
            self._emit(sec)
        return build(self.source, self.values)

    def _emit(self, sec):
        """The bytes of ``sec`` at the settled offsets; relocations into ``sec.relocs``."""
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
                out += self.relocator.data(sec, item)
            elif item.kind == "insn":
                out += self.relocator.insn(sec, item)
        if sec.nobits and any(out):
            raise InputError(f"{self.name}: section {sec.name} is .bss but has non-zero contents")
        sec.code = bytes(out)


def assemble_source(text: str, name: str = "<asm>", arch=None):
    """Assemble a whole source file (NASM or GAS-style directives, the
    machine's operand syntax) into an :class:`ObjectFile` with sections,
    symbols and relocations, ready for the link.  Errors name the file and line."""
    asm = Assembler(text, name, default_arch(arch))
    if not asm.source.sections:
        raise InputError(f"{name}: no instructions or data in this assembly file")
    return asm.run()


def read_asm_file(name: str, data: bytes, arch=None):
    """An assembly input (bytes) -> ObjectFile."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{name}: assembly source is not UTF-8 text") from None
    return assemble_source(text, os.fspath(name), arch)
