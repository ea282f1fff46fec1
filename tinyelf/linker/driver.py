"""The link driver: the passes, in order.  Read this file to see tinyelf.

    read -> stub -> resolve -> collect -> merge -> scan -> squeeze -> layout -> relax -> relocate -> write

(``stub`` adds a ``_start`` that calls ``main`` when only ``main`` exists;
``relax`` asks the arch to shorten code from the addresses and lays out again.)
Each pass is a function ``Link -> Link`` in a module of its own, with a
docstring that states what it takes, what it fills in and what holds after.
"""
from __future__ import annotations

import gc
from time import perf_counter

from .. import arch as archmod
from .collect import collect
from .layout import layout
from .merge import merge
from .model import Link, LinkOptions
from .read import read
from .relax import relax
from .relocate import relocate
from .resolve import resolve
from .scan import scan
from .squeeze import squeeze
from .stub import add_start_stub
from .write import write

PASSES = (add_start_stub, resolve, collect, merge, scan, squeeze, layout, relax, relocate, write)
#: function name -> pass name, where they differ
PASS_NAMES = {"add_start_stub": "stub"}


def run(inputs, options: LinkOptions) -> Link:
    """Link ``inputs``; with ``options.compress`` (not "none") the result is
    the compressed executable (tinyelf.compress), its ``inner`` the program."""
    if options.compress != "none":
        from ..compress import link_compressed
        return link_compressed(inputs, options, run_passes)
    return run_passes(inputs, options)


def run_passes(inputs, options: LinkOptions) -> Link:
    """Run every pass and return the finished link model (``.output`` holds
    the file's bytes).

    The cyclic garbage collector is paused meanwhile: a link allocates tens of
    thousands of small objects (libcore's sections and symbols) and frees
    almost none, so collections found nothing and cost 8% of the time."""
    paused = gc.isenabled()
    gc.disable()
    try:
        t0 = perf_counter()
        lk = Link(options=options, arch=archmod.get(options.arch) if options.arch else None)
        lk = read(lk, inputs)
        times = [("read", perf_counter() - t0)]
        for p in PASSES:
            t0 = perf_counter()
            lk = p(lk)
            times.append((PASS_NAMES.get(p.__name__, p.__name__), perf_counter() - t0))
        lk.timings = times
        return lk
    finally:
        if paused:
            gc.enable()


def link(inputs, *, entry: str = "_start", base: int | None = None,
         gc_sections: bool = True, arch: str | None = None, **squeeze) -> bytes:
    """Link ``inputs`` (paths, or ``(name, bytes)`` pairs) into an executable
    and return its bytes.  ``squeeze``: the LinkOptions size fields (layout,
    wx, holes, split_code, merge_strings, fold_functions, squeeze_align, every_byte,
    trim_zeros).  Raises :class:`tinyelf.errors.TinyElfError`."""
    from dataclasses import fields

    from ..errors import UsageError
    known = {f.name for f in fields(LinkOptions)}
    unknown = sorted(set(squeeze) - known)
    if unknown:
        raise UsageError(f"unknown link option(s): {', '.join(unknown)}")
    opts = LinkOptions(entry=entry, base=base, gc_sections=gc_sections, arch=arch, **squeeze)
    return run(inputs, opts).output
