"""What to tell a user whose program needs what tinyelf does not link.

tinyelf links ``#![no_std]`` Rust, freestanding C and assembly: no Rust std,
no C library.  The commonest first mistakes are a std Rust program (its
undefined names are mangled ``std::`` paths, and through cargo its link line
carries ``libstd-*.rlib`` and ``-lc``, ``-lgcc_s``, ...) and a C program that
calls ``printf``/``malloc``.  This module turns those into one message each
that says what to do instead; the collect pass and ``tinyelf-ld`` use it.
"""
from __future__ import annotations

import os
import re

#: where a user learns to write a program tinyelf links
QUICK_START = "see the README's quick start and samples/cargo-hello"

STD_RUST = ("this program uses Rust's std ({what}); tinyelf links #![no_std] #![no_main] "
            "programs that define _start (or main) and make system calls themselves: "
            + QUICK_START)

#: a Rust symbol in the crate ``std``: legacy mangling ``_ZN3std...``, v0
#: mangling ``_R...C<disambiguator>_3std...``
_STD_SYMBOL = re.compile(r"^_ZN3std|^_R.*?C(?:s[0-9A-Za-z]*_)?3std")

#: C library names -> what to use instead (tinyelf brings only the builtins
#: compilers emit calls to: memcpy, memmove, memset, memcmp, bcmp, strlen)
_WRITE = "the write system call (samples/hello.c shows it)"
_LIBC_INSTEAD = {
    **dict.fromkeys(("printf", "puts", "putchar", "fputs", "fputc", "fprintf", "fwrite",
                     "putc", "vprintf", "vfprintf", "perror", "__printf_chk",
                     "__fprintf_chk", "write", "stdout", "stderr"), _WRITE),
    **dict.fromkeys(("sprintf", "snprintf", "vsnprintf", "vsprintf", "__sprintf_chk",
                     "__snprintf_chk"), "your own formatting into a buffer, then "
                    + _WRITE),
    **dict.fromkeys(("scanf", "getchar", "fgets", "gets", "fread", "getc", "read", "stdin"),
                    "the read system call (samples/wc.c shows it)"),
    **dict.fromkeys(("malloc", "free", "calloc", "realloc", "aligned_alloc",
                     "posix_memalign"),
                    "static arrays (or memory from the mmap/brk system calls)"),
    **dict.fromkeys(("exit", "_exit", "abort", "atexit", "_Exit"),
                    "the exit system call, or return from main (tinyelf's start stub "
                    "exits with its value)"),
    "__stack_chk_fail": "nothing: compile with -fno-stack-protector",
    "__libc_start_main": "nothing: link objects compiled for a freestanding program "
                         "(-ffreestanding -nostdlib), with main or _start",
    "__errno_location": "the system call's return value (negative errno)",
}
#: other C library functions: define them yourself
_LIBC_OTHER = frozenset((
    "strcmp", "strncmp", "strcpy", "strncpy", "strcat", "strncat", "strchr", "strrchr",
    "strstr", "strdup", "strtol", "strtoul", "strtod", "atoi", "atol", "atof", "qsort",
    "bsearch", "rand", "srand", "time", "clock", "sleep", "usleep", "getenv", "open", "close",
    "fopen", "fclose", "fflush", "isdigit", "isalpha", "isspace", "toupper", "tolower",
    "abs", "labs", "memchr", "sqrt", "sin", "cos", "pow", "floor", "ceil"))
_BUILTINS = "memcpy, memmove, memset, memcmp, bcmp and strlen"


def is_std_symbol(name: str) -> bool:
    """A Rust symbol that lives in the crate ``std``."""
    return bool(_STD_SYMBOL.search(name))


def libc_hint(name: str) -> str | None:
    """Why ``name`` is undefined and what to use instead, when it is a C
    library name; else None."""
    instead = _LIBC_INSTEAD.get(name)
    if instead is None and name in _LIBC_OTHER:
        instead = (f"your own {name} (tinyelf brings only {_BUILTINS}, which compilers "
                   "call by themselves)")
    if instead is None:
        return None
    return f"{name} is a C library function and tinyelf links no C library: use {instead}"


def is_rust_symbol(name: str) -> bool:
    return name.startswith(("_R", "_ZN"))


def undefined_messages(undefined: dict) -> list:
    """One message per undefined name (``undefined``: name -> places that
    refer to it), except that a program using Rust's std gets one message
    for every Rust name (core and alloc ones follow from std's)."""
    msgs, std = [], []
    uses_std = any(is_std_symbol(n) for n in undefined)
    for name, refs in sorted(undefined.items()):
        if uses_std and is_rust_symbol(name):
            std.append((name, refs))
            continue
        more = f" and {len(refs) - 3} more" if len(refs) > 3 else ""
        line = f"undefined symbol: {name}, referenced from {', '.join(refs[:3])}{more}"
        hint = libc_hint(name)
        msgs.append(f"{line}; {hint}" if hint else line)
    if std:
        objs = sorted({ref.split(":", 1)[0] for _n, refs in std for ref in refs})
        what = (f"{len(std)} undefined Rust symbol{'s' if len(std) > 1 else ''} of std, "
                f"alloc and core, referenced from {', '.join(objs[:3])}")
        msgs.insert(0, STD_RUST.format(what=what))
    return msgs


def std_rlib(paths) -> str | None:
    """The ``libstd-*.rlib`` among a link line's inputs (rustc passes it for
    every program that uses std), or None."""
    for p in paths:
        base = os.path.basename(p)
        if base.startswith("libstd-") and base.endswith(".rlib"):
            return p
    return None
