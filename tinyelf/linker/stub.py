"""Pass 1b, stub: a start-up stub for programs written with ``main``.

Input: the objects read.  Output: when the entry is the default ``_start``,
no input (object or archive member) defines ``_start`` and some object or
archive member defines ``main``, ``link.objects`` gets one more object, ``<start stub>``: the
architecture's start stub (``Arch.start_stub``: assembly source, kept
assembled in the arch's prebuilt table).  It passes argc, argv and envp to ``main`` per the SysV ABI and
exits with main's return value.  Invariant: the inputs are untouched; a
program that has its own ``_start`` is linked exactly as before.
"""
from __future__ import annotations

from .model import Link

STUB_NAME = "<start stub>"


def _defines(obj, name: str) -> bool:
    return any(s.name == name and not s.is_undefined and not s.is_local for s in obj.symbols)


def add_start_stub(link: Link) -> Link:
    if link.options.entry != "_start":
        return link
    if any(_defines(o, "_start") for o in link.objects):
        return link
    if any(ar.defines("_start") for ar in link.archives):
        return link
    if not (any(_defines(o, "main") for o in link.objects)
            or any(ar.defines("main") for ar in link.archives)):
        return link
    stub = link.arch.start_stub_object(STUB_NAME)
    if stub is not None:
        link.objects.append(stub)
    return link
