"""Compressed executables (``--compress``): the generic part.

The program is linked as usual (strict layout, no header holes: its headers
are never needed in memory), its memory image from the end of its headers to
the end of its file-backed bytes is compressed, and a second, outer link makes
the file: headers + the arch's decompressor stub (``Arch.decompressor``) +
payload, with a bss that reserves the inner program's memory (and the codec's
tables).  The outer file loads at ``OUTER_BASE``, below the program; the stub
decodes the program to the addresses it was linked for and jumps to its entry
with rsp and rdx as the kernel gave them.  The outer link is an ordinary link
of an object made here (tinyelf.elf.synth): the layout search and header holes
treat the stub as code like any other.  Format details: docs/compress.md.
"""
from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

from ..errors import LayoutError, LinkError, UsageError

CODECS = ("lz", "cm")
CHOICES = ("none", "auto") + CODECS
#: where the outer file loads: the lowest address every stock kernel lets a
#: user map (vm.mmap_min_addr <= 65536)
OUTER_BASE = 0x10000
PF_X = 1


def codec_module(name: str):
    from importlib import import_module
    return import_module(f".{name}", __name__)


def inner_options(options):
    """The program's own link: headers never reach memory, so no content in them."""
    return replace(options, layout="strict", holes=False, split_code=False, compress="none")


def memory_image(lk) -> dict:
    """The program as the kernel would map it: ``start`` (first byte after its
    headers), ``data`` (file-backed bytes up to the last, gaps zero), ``end``
    (end of its memory, bss included), ``entry`` and ``text`` (page range of
    its executable segments)."""
    lay = lk.layout
    start = lay.base + lay.header_size
    hi = max(s.vaddr + s.filesz for s in lay.segments)
    data = bytearray(max(0, hi - start))
    for s in lay.segments:
        chunk = lk.output[s.offset:s.offset + s.filesz]
        at = s.vaddr - start
        if at < 0:
            chunk, at = chunk[-at:], 0
        data[at:at + len(chunk)] = chunk
    page = lk.arch.page_size
    text = [(s.vaddr // page * page, -(-(s.vaddr + s.memsz) // page) * page)
            for s in lay.segments if s.flags & PF_X]
    end = max(s.vaddr + s.memsz for s in lay.segments)
    return {"start": start, "data": bytes(data), "end": end, "entry": lay.entry,
            "text": (min(t[0] for t in text), max(t[1] for t in text)) if text else (start, start)}


def link_compressed(inputs, options, run_passes):
    """The compressed link (options.compress = "auto" or a codec).  ``auto``
    also links the plain program and keeps the smallest file; a codec that
    cannot hold the program is then a note in the report, not an error."""
    choice = options.compress
    if choice not in CHOICES:
        raise UsageError(f"unknown --compress value '{choice}' (choose from {', '.join(CHOICES)})")
    codecs = CODECS if choice == "auto" else (choice,)
    results, notes = [], []
    inner = run_passes(inputs, inner_options(options))
    arch = inner.arch               # the machine the inputs (or --arch) said
    if choice != "auto" and arch.decompressor(choice, options.wx) is None:
        raise UsageError(f"--compress={choice}: tinyelf has no {choice} decompressor for "
                         f"{arch.name} (leave --compress out, or use --compress=auto, "
                         "which leaves the file uncompressed there)")
    image = memory_image(inner)
    sizes = {}
    for name in codecs:
        if arch.decompressor(name, options.wx) is None:
            notes.append(f"codec {name}: no {arch.name} decompressor")
            continue
        try:
            outer = pack(inner, image, name, options, run_passes)
        except (LinkError, UsageError) as exc:
            if choice != "auto":
                raise
            notes.append(f"codec {name}: not used: {exc}")
            continue
        sizes[name] = len(outer.output)
        results.append(outer)
    if choice == "auto":
        plain = run_passes(inputs, replace(options, compress="none"))
        sizes["none"] = len(plain.output)
        results.append(plain)
    best = min(results, key=lambda l: len(l.output))
    info = {"requested": choice, "codec": best.compression["codec"] if best.compression else "none",
            "sizes": sizes, "notes": notes,
            # every candidate file, by codec (the tests run them all from one link)
            "_outputs": {(l.compression or {}).get("codec", "none"): l.output for l in results}}
    if best.compression:
        best.compression.update(info)
    else:
        best.compression = info
        best.inner = None
    return best


@lru_cache(maxsize=8)
def _compressed(codec: str, data: bytes) -> bytes:
    """The codec's output (kept: ``auto``, ``build``'s two compilations and the
    tests compress the same program more than once in one process)."""
    return codec_module(codec).compress(data)


def _overlap80_too(outer, obj, outer_opts, run_passes):
    """--wx: the stub maps the program's memory itself and is position-
    independent, so its file may also load above 4 GiB at the base layout
    overlap80 forces (80 bytes of headers); the smaller file wins."""
    try:
        high = run_passes([obj], replace(outer_opts, base=None, layout="overlap80"))
    except (LayoutError, LinkError, UsageError):
        return outer
    return high if len(high.output) < len(outer.output) else outer


def pack(inner, image: dict, codec: str, options, run_passes):
    """The outer link for one codec: stub + payload + the reserved memory."""
    from ..elf.defs import STB_GLOBAL, STT_FUNC, STT_NOTYPE, STT_OBJECT
    from ..elf.synth import DATA, RODATA, TEXT, make_object
    from ..linker.model import LinkOptions
    arch = inner.arch
    mod = codec_module(codec)
    data = image["data"]
    if not data:
        raise LinkError(f"--compress={codec}: the program has no bytes to compress")
    page = arch.page_size
    table = -(-image["end"] // page) * page
    mem_end = table + mod.table_bytes(len(data))
    if mem_end >= 1 << 31:
        raise LinkError(f"--compress={codec}: the program is linked at {image['start']:#x}; "
                        f"the {arch.name} decompressor needs it (and its "
                        f"{mod.table_bytes(len(data)) >> 20} MiB of tables) below 2 GiB "
                        "(use a lower --base, or leave --compress out)")
    limit = getattr(mod, "MAX_SIZE", None)
    if limit and len(data) > limit:
        raise LinkError(f"--compress={codec}: the program's {len(data)} bytes exceed the "
                        f"codec's limit of {limit}")
    payload = _compressed(codec, data)
    code, relocs = arch.decompressor(codec, options.wx)
    text_lo, text_hi = image["text"]
    reserve = image["start"] // page * page
    absolutes = {"__dest": image["start"], "__entry": image["entry"],
                 "__end": image["start"] + len(data), "__table": table,
                 "__text": text_lo, "__text_len": text_hi - text_lo,
                 "__reserve": reserve, "__reserve_len": mem_end - reserve}
    symbols = [("_start", ".text.unpack", 0, STB_GLOBAL, STT_FUNC, len(code)),
               ("__payload", ".rodata.payload", 0, STB_GLOBAL, STT_OBJECT, len(payload))]
    symbols += [(n, None, v, STB_GLOBAL, STT_NOTYPE, 0) for n, v in absolutes.items()]
    sections = [{"name": ".text.unpack", "flags": TEXT, "data": code, "relocs": relocs},
                {"name": ".rodata.payload", "flags": RODATA, "data": payload}]
    if not options.wx:
        # one RWX segment whose bss covers the program's memory and the tables
        sections.append({"name": ".bss.program", "flags": DATA, "nobits": True,
                         "size": mem_end - OUTER_BASE, "align": 1})
    # --wx: the file is one R+X segment without bss (the kernel maps bss
    # writable whatever p_flags says); the stub maps the program's memory
    # read+write itself (enter_wx), then makes its code R+X (exit_wx)
    obj = make_object(f"<{codec} decompressor>", sections, symbols)
    outer_opts = LinkOptions(entry="_start", base=OUTER_BASE, gc_sections=False, arch=options.arch,
                             lief=False, layout=options.layout, holes=options.holes,
                             split_code=options.split_code,
                             trim_zeros=options.trim_zeros and not options.wx)
    outer = run_passes([obj], outer_opts)
    if options.wx and options.layout == "auto":
        outer = _overlap80_too(outer, obj, outer_opts, run_passes)
    lay = outer.layout
    file_end = max(s.vaddr + s.filesz for s in lay.segments)
    # the file's pages must not meet the program's (it lies below them, or
    # above 4 GiB with layout overlap80 under --wx)
    if lay.base < mem_end and -(-file_end // page) * page > image["start"] // page * page:
        raise LinkError(f"--compress={codec}: the program at {image['start']:#x} collides "
                        f"with the decompressor's file at {OUTER_BASE:#x}-{file_end:#x} "
                        "(link it higher with --base)")
    if not options.wx and lay.mem_end < mem_end:   # pragma: no cover - sized to reach it
        raise AssertionError("outer bss does not reach the program's end")
    outer.inner = inner
    outer.compression = {"codec": codec, "stub": len(code), "payload": len(payload),
                         "program": len(data), "start": image["start"],
                         "table": mod.table_bytes(len(data)), "_payload": payload, "_data": data}
    return outer
