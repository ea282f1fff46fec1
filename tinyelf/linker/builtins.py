"""tinyelf's own memcpy, memmove, memset, memcmp, bcmp and strlen.

LLVM and gcc turn copy, fill and byte-counting loops into calls to these
functions even in freestanding code, and on x86_64-unknown-linux-gnu Rust's
compiler_builtins does not define them, so nearly every no_std program needs
them.  The resolve pass links one of these only when a name is still
undefined after every input and archive had its chance: an input's own
definition always wins.

Each function is a few bytes of size-optimised x86-64 assembly (string
instructions; the ABI guarantees the direction flag is clear on entry and
memmove clears it again).  The sources below are the truth; their assembled
bytes are kept in ``_ASSEMBLED`` so that a link does not pay keystone's
import (about 60 ms) - ``tests/test_builtins.py`` checks that the table is
what keystone makes of the sources, and a source whose bytes are not in the
table (edited and not yet refreshed) is assembled on the spot.
"""
from __future__ import annotations

import hashlib

from ..elf.defs import STB_WEAK
from .model import ObjectFile

#: the System V x86-64 calling convention: rdi, rsi, rdx in; rax out
SOURCES = {
    # void *memcpy(void *dst, const void *src, size_t n)
    "memcpy": """
        push rdi
        mov rcx, rdx
        rep movsb
        pop rax
        ret
    """,
    # void *memmove(void *dst, const void *src, size_t n): forward unless the
    # destination starts after the source, then backward from the last byte
    "memmove": """
        push rdi
        mov rcx, rdx
        cmp rdi, rsi
        jbe .Lcopy
        lea rsi, [rsi + rcx - 1]
        lea rdi, [rdi + rcx - 1]
        std
    .Lcopy:
        rep movsb
        cld
        pop rax
        ret
    """,
    # void *memset(void *dst, int c, size_t n)
    "memset": """
        push rdi
        xchg eax, esi
        mov rcx, rdx
        rep stosb
        pop rax
        ret
    """,
    # int memcmp(const void *a, const void *b, size_t n): -1, 0 or 1.
    # cmpsb sets the flags from [rsi] - [rdi], so a goes to rsi; with n == 0
    # the flags stay those of the xor (equal).
    "memcmp": """
        xor eax, eax
        mov rcx, rdx
        xchg rsi, rdi
        repe cmpsb
        seta al
        sbb eax, 0
        ret
    """,
    # int bcmp(const void *a, const void *b, size_t n): 0 when equal, else 1
    "bcmp": """
        xor eax, eax
        mov rcx, rdx
        repe cmpsb
        setne al
        ret
    """,
    # size_t strlen(const char *s): scan for the NUL with rcx counting down
    # from -1; it ends at -(len + 2)
    "strlen": """
        xor eax, eax
        push -1
        pop rcx
        repne scasb
        push -2
        pop rax
        sub rax, rcx
        ret
    """,
}

NAMES = tuple(SOURCES)

#: sha256(source)[:16] -> assembled bytes (hex); refreshed with
#: ``python -m tinyelf.linker.builtins`` and checked by tests/test_builtins.py
_ASSEMBLED = {
    "d28e0f07c1b14a6a": "574889d1f3a458c3",  # memcpy
    "cb9c42e7c245b1c6": "574889d14839f7760b488d740eff488d7c0ffffdf3a4fc58c3",  # memmove
    "00845160300f155f": "57964889d1f3aa58c3",  # memset
    "a4392a94baec1c09": "31c04889d14887fef3a60f97c083d800c3",  # memcmp
    "41d8399221b344cc": "31c04889d1f3a60f95c0c3",  # bcmp
    "1e136aeb8477deb3": "31c06aff59f2ae6afe584829c8c3",  # strlen
}

_objects_cache: dict[str, bytes] = {}


def source_key(func: str) -> str:
    return hashlib.sha256(SOURCES[func].encode()).hexdigest()[:16]


def code(func: str) -> bytes:
    """The machine code of one builtin (from the table, else keystone)."""
    data = _objects_cache.get(func)
    if data is None:
        cached = _ASSEMBLED.get(source_key(func))
        if cached is not None:
            data = bytes.fromhex(cached)
        else:
            data = assemble(func)
        _objects_cache[func] = data
    return data


def assemble(func: str) -> bytes:
    """Assemble one builtin's source with keystone (no table involved)."""
    from ..asm import assemble as ks_assemble
    return ks_assemble(SOURCES[func], name=f"<tinyelf builtin {func}>")


def make(func: str, arch=None) -> ObjectFile:
    """A fresh one-function object defining ``func`` (for ``arch``: its own
    table, ``Arch.builtin_code``, else the x86-64 code above)."""
    from ..elf.synth import function_object
    own = arch.builtin_code(func) if arch is not None else None
    if own is not None:
        return function_object(f"<tinyelf builtin {func}>", func, own,
                               align=max(1, arch.min_code_align))
    return function_object(f"<tinyelf builtin {func}>", func, code(func))


def needed(globals_: dict) -> list[str]:
    """The builtins a resolved symbol table still lacks: names referred to
    (not weakly) and defined by nothing."""
    out = []
    for name in NAMES:
        sym = globals_.get(name)
        if sym is not None and sym.is_undefined and sym.bind != STB_WEAK:
            out.append(name)
    return out


def table_source() -> str:
    """The ``_ASSEMBLED`` table for the current sources, as Python text."""
    lines = ["_ASSEMBLED = {"]
    for func in NAMES:
        lines.append(f'    "{source_key(func)}": "{assemble(func).hex()}",  # {func}')
    lines.append("}")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover - maintenance helper
    print(table_source())
