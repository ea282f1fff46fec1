"""tinyelf's assembler front end over keystone (imported lazily).

``assemble(text, arch)`` is keystone on a text (tinyelf.asm.engine);
``assemble_source(text, name, arch)`` turns a whole source file into an
ObjectFile through the phases of tinyelf.asm.assembler:

    parse.py    statements, directives, sections, labels, equ/global/extern
    expr.py     expressions as linear forms (constant + symbol terms)
    values.py   what names mean; trial addresses of sections and externals
    encode.py   one instruction: operands rewritten, keystone, immediates checked
    layout.py   label offsets by iterating instruction sizes to a fixed point
    relocs.py   relocation fields found by moving the target and the instruction
    objects.py  sections, symbols and undefined externals -> ObjectFile
    syntax.py   what these ask of a machine: ``arch.asm_syntax`` (registers,
                operands, code padding, capstone fields, relocation types;
                x86: tinyelf/arch/x86_64/asm_syntax.py)
"""
from __future__ import annotations

from .assembler import assemble_source, read_asm_file
from .engine import assemble, hexify

__all__ = ["assemble", "assemble_source", "hexify", "looks_like_assembly", "read_asm_file"]


def looks_like_assembly(data: bytes, arch=None) -> bool:
    """Whether ``data`` reads as assembly source of ``arch`` (None: of any
    registered machine that has an assembler syntax)."""
    from .. import arch as archmod
    from .parse import looks_like_assembly as sniff
    arches = [arch] if arch is not None else [archmod.get(n) for n in archmod.names()]
    return sniff(data, [a.asm_syntax for a in arches if a.asm_syntax is not None])
