"""tinyelf's own memcpy, memmove, memset, memcmp, bcmp and strlen.

LLVM and gcc turn copy, fill and byte-counting loops into calls to these
functions even in freestanding code, and Rust's compiler_builtins does not
define them everywhere, so nearly every no_std program needs them.  The
resolve pass links one of these only when a name is still undefined after
every input and archive had its chance: an input's own definition always
wins.  The code is the architecture's (``Arch.builtins``: assembly sources,
kept assembled in the arch's prebuilt table, see tinyelf/arch/prebuilt.py).
"""
from __future__ import annotations

from ..elf.defs import STB_WEAK
from .model import ObjectFile


def needed(globals_: dict, arch) -> list[str]:
    """The builtins a resolved symbol table still lacks: names referred to
    (not weakly) and defined by nothing."""
    out = []
    for name in arch.builtins:
        sym = globals_.get(name)
        if sym is not None and sym.is_undefined and sym.bind != STB_WEAK:
            out.append(name)
    return out


def make(arch, func: str) -> ObjectFile:
    """A fresh one-function object defining ``func``."""
    from ..elf.synth import function_object
    return function_object(f"<tinyelf builtin {func}>", func, arch.builtin_code(func),
                           align=max(1, arch.min_code_align))
