"""Where every byte goes: the size report of ``pack --report`` and ``tinyelf size``.

``link_report(link)`` works from the finished link model: every file byte is
attributed to exactly one owner (header, code, read-only data, data, GOT,
jump patches, alignment padding), header holes list what went into them, and
bss memory, the bytes saved by overlapping headers and by trimming trailing
zeros, what the size passes saved, and the layouts that were considered are
listed.  ``file_report(data)`` decodes an existing executable's headers only
(no link model): sizes of headers, overlap, segments and bss.  Both return
plain dicts (``render`` makes text or JSON of them); both warn about a
segment that is writable and executable.
"""
from __future__ import annotations

import json
import os
import tempfile

from ..elf.defs import EHDR64, PF_R, PF_W, PF_X, PHDR64, PT_LOAD
from ..linker.model import CLASS_BSS, CLASS_DATA, CLASS_RODATA, CLASS_TEXT
from ..linker.stub import STUB_NAME
from .kernelmap import PAGE, describe, kernel_view

_CLASS_KEY = {CLASS_TEXT: "code", CLASS_RODATA: "rodata", CLASS_DATA: "data"}
ORDER = ("header", "code", "rodata", "data", "got", "jumps", "padding")
def _flags(f: int) -> str:
    return ("R" if f & PF_R else "-") + ("W" if f & PF_W else "-") + ("X" if f & PF_X else "-")


def _wx_warnings(segments, layout: str = "") -> list:
    """For a file read back (no link model): the layout's wording, with the
    layout guessed from e_phoff."""
    from ..linker import layouts
    from ..linker.layout import WX_FORCED, WX_WARNING
    spec = layouts.every().get(layout)
    forced = spec is not None and spec.pic_only
    return [(WX_FORCED if forced and i == 0 else WX_WARNING).format(i=i, layout=layout)
            for i, s in enumerate(segments) if s["flags"] & PF_W and s["flags"] & PF_X]


def link_report(link, inputs=None, ld_baseline: bool = True) -> dict:
    """The full report of a finished link (``link.output`` set)."""
    lay = link.layout
    size = lay.file_size
    owner = ["padding"] * size
    for k in range(min(lay.header_size, size)):
        owner[k] = "header"
    sections = []
    in_holes = 0
    for sec in link.kept:
        cls = "got" if sec is link.got else _CLASS_KEY.get(sec.out_class, "bss")
        ranges = ([(f, n) for _s, n, _a, f in sec.pieces] if sec.pieces
                  else [(sec.offset, sec.size)] if sec.offset >= 0 else [])
        place = "bss" if sec.offset < 0 else ("split" if sec.pieces else
                                              "hole" if sec.offset < lay.header_size else "tail")
        for f, n in ranges:
            for k in range(f, min(f + n, size)):
                owner[k] = cls
                if k < lay.header_size:
                    in_holes += 1
        sections.append({"name": sec.where(), "class": cls, "size": sec.size,
                         "addr": sec.addr, "offset": sec.offset, "place": place,
                         "pieces": len(sec.pieces) if sec.pieces else 1})
    for foff, data, _what in lay.patches:
        for k in range(foff, min(foff + len(data), size)):
            owner[k] = "jumps"
    counts = {k: 0 for k in ORDER}
    for o in owner:
        counts[o] += 1
    nseg = len(lay.segments)
    page = getattr(link.arch, "page_size", PAGE)
    segments = [{"offset": s.offset, "vaddr": s.vaddr, "filesz": s.filesz, "memsz": s.memsz,
                 "flags": s.flags & 7, "perm": _flags(s.flags),
                 "kernel": kernel_view(s.offset, s.vaddr, s.filesz, s.memsz, size, page)}
                for s in lay.segments]
    bss_mem = sum(s.size for s in link.kept if s.out_class == CLASS_BSS)
    holes = []
    for h in lay.holes:
        used = sum(n for _o, n, _w in h.used)
        holes.append({"offset": h.offset, "size": h.size, "field": h.field, "used": used,
                      "contents": [{"offset": o, "size": n, "what": w} for o, n, w in h.used]})
    tail_overlap = max(0, lay.header_size - lay.content_start)
    es = lay.spec.es if lay.spec is not None else None
    ehsize = es.ehdr.size if es is not None else EHDR64.size
    phent = es.phdr.size if es is not None else PHDR64.size
    headers_end = min(lay.header_size, max(ehsize, lay.phoff + phent * nseg))
    rep = {
        "file": size,
        "layout": lay.name,
        "base": lay.base,
        "entry": lay.entry,
        "bytes": counts,
        "header": {"end": lay.header_size, "ehdr": ehsize, "phdrs": phent * nseg,
                   "overlap": ehsize + phent * nseg - headers_end,
                   # dyn68: the bytes between the headers and where its entry jump lands
                   "skipped": lay.header_size - headers_end,
                   "content_in_header": in_holes + sum(len(d) for f, d, _w in lay.patches
                                                      if f < lay.header_size),
                   "tail_overlap": tail_overlap,
                   "forced": [{"offset": o, "size": n, "what": w}
                              for o, n, w in _forced(lay.name)]},
        "holes": holes,
        "trimmed_zeros": lay.image_size - size if lay.image_size > size else 0,
        "bss_memory": bss_mem,
        "memory": lay.mem_end - lay.base,
        "segments": segments,
        "sections": sections,
        "passes": dict(getattr(link, "squeezed", {}) or {}),
        "considered": [{"layout": n, "size": s, "reason": r} for n, s, r in lay.considered],
        "warnings": list(lay.warnings),
    }
    if ld_baseline and inputs:
        rep["gnu_ld"], why = gnu_ld_baseline(inputs, link.options.entry, link)
        if why:
            rep["gnu_ld_missing"] = why
    return rep


def _forced(name):
    from ..linker import layouts
    spec = layouts.every().get(name)
    return spec.forced if spec is not None else ()


def gnu_ld_size(inputs, entry="_start"):
    """What GNU ld makes of the same inputs, or None (see :func:`gnu_ld_baseline`)."""
    return gnu_ld_baseline(inputs, entry)[0]


def gnu_ld_baseline(inputs, entry="_start", link=None):
    """``(size, None)`` for what GNU ld (tinyelf.tools.toolchain's baseline
    flags) makes of the same inputs, or ``(None, why)`` when there is nothing
    fair to compare: ld is missing or fails, or its output would not run
    (no entry symbol, so no entry point in its code: execve refuses it).
    ``link``: tinyelf's link, to say when tinyelf added its start stub."""
    from . import toolchain
    from ..errors import TinyElfError
    paths = [p for p in inputs if not isinstance(p, tuple)]
    arch = link.arch.name if link is not None else None
    try:
        toolchain.ld_command(arch)
    except TinyElfError as exc:
        return None, f"GNU ld is not installed ({exc.messages[0]})"
    if len(paths) != len(inputs) or any(str(p).endswith(".asm") for p in paths):
        return None, "some inputs are read by tinyelf itself (Intel-syntax assembly): GNU ld " \
                     "gets no object"
    with tempfile.TemporaryDirectory(prefix="tinyelf-ld-") as tmp:
        out, warnings = os.path.join(tmp, "a.out"), []
        try:
            size = toolchain.ld_baseline(paths, out, ["-e", entry], warnings=warnings, arch=arch)
        except TinyElfError as exc:
            detail = next((l for l in getattr(exc, "detail", "").splitlines()
                           if "error" in l or "undefined" in l), exc.messages[0])
            return None, f"GNU ld failed: {detail.strip()}"
        with open(out, "rb") as f:
            runs = _entry_in_code(f.read())
    if not runs:
        stub = link is not None and any(o.name == STUB_NAME for o in link.objects)
        why = (f"GNU ld found no entry symbol {entry}" + (
            " (tinyelf added its start stub for main; GNU ld has none)" if stub else ""))
        if not any("entry symbol" in w for w in warnings):
            why = "GNU ld's output has no entry point in its code"
        return None, why + ", so its output would not run"
    return size, None


def _entry_in_code(data: bytes) -> bool:
    """Whether an executable's entry point lies in an executable PT_LOAD
    (an ordinary ELF32 or ELF64 file, as GNU ld writes them)."""
    from ..elf.structs import structs_for
    if len(data) < 64 or data[:4] != b"\x7fELF" or data[4] not in (1, 2):
        return False
    es = structs_for(data[4])
    f = es.unpack_ehdr(data)
    e_entry, e_phoff, e_phnum = f["e_entry"], f["e_phoff"], f["e_phnum"]
    for i in range(e_phnum):
        off = e_phoff + i * es.phdr.size
        if off + es.phdr.size > len(data):
            return False
        p = es.unpack_phdr(data, off)
        if p["p_type"] == PT_LOAD and p["p_flags"] & PF_X and \
                p["p_vaddr"] <= e_entry < p["p_vaddr"] + p["p_memsz"]:
            return True
    return False


def _layout_names(buf, es) -> dict:
    """e_phoff -> the name of the layout that puts the program headers there,
    from the registry of the file's machine (the generic layouts of its class
    for a machine tinyelf does not know)."""
    from .. import arch as archmod
    from ..linker.layouts import for_arch, generic_for
    a = archmod.for_machine(int.from_bytes(buf[18:20], "little"))
    specs = for_arch(a) if a is not None else generic_for(1 if es.bits == 32 else 2)
    return {l.phoff: l.name for l in specs}


def _structs_of(buf):
    """The ELF class of an executable, from its e_machine (the kernel's view:
    golfed headers reuse EI_CLASS)."""
    from ..arch import executable_class
    from ..elf.structs import structs_for
    return structs_for(executable_class(buf))


def file_report(data: bytes) -> dict:
    """Decode an executable's headers (no link model): sizes and segments."""
    from ..errors import InputError
    if len(data) < 4 or data[:4] != b"\x7fELF":
        raise InputError("not an ELF file (no \\x7fELF magic)")
    buf = bytes(data[:256]).ljust(256, b"\0")        # what the kernel reads
    es = _structs_of(buf)
    f = es.unpack_ehdr(buf)
    e_entry, e_phoff, e_phentsize, e_phnum = f["e_entry"], f["e_phoff"], f["e_phentsize"], f["e_phnum"]
    phent = es.phdr.size
    if e_phentsize != phent or not 1 <= e_phnum <= 64 or \
            e_phoff + phent * e_phnum > len(data):
        raise InputError(f"program header table (e_phoff {e_phoff:#x}, e_phnum {e_phnum}, "
                         f"e_phentsize {e_phentsize}) is not a valid {es.bits}-bit one")
    segments = []
    for i in range(e_phnum):
        p = es.unpack_phdr(buf if e_phoff + (i + 1) * phent <= 256 else data, e_phoff + i * phent)
        if p["p_type"] != PT_LOAD:
            segments.append({"type": p["p_type"]})
            continue
        segments.append({"offset": p["p_offset"], "vaddr": p["p_vaddr"], "filesz": p["p_filesz"],
                         "memsz": p["p_memsz"], "flags": p["p_flags"] & 7,
                         "perm": _flags(p["p_flags"]),
                         "kernel": kernel_view(p["p_offset"], p["p_vaddr"], p["p_filesz"],
                                               p["p_memsz"], len(data))})
    loads = [s for s in segments if "perm" in s]
    ehsize = es.ehdr.size
    header_end = max(ehsize, e_phoff + phent * e_phnum)
    bss = sum(max(0, s["memsz"] - s["filesz"]) for s in loads)
    names = _layout_names(buf, es)
    return {
        "file": len(data),
        "layout": names.get(e_phoff, f"phdr at {e_phoff:#x}"),
        "entry": e_entry,
        "header": {"end": header_end, "ehdr": ehsize, "phdrs": phent * e_phnum,
                   "overlap": ehsize + phent * e_phnum - header_end},
        "after_header": max(0, len(data) - header_end),
        "bss_memory": bss,
        "segments": segments,
        "warnings": _wx_warnings(loads, names.get(e_phoff, "")),
        "note": "decoded from the headers only; `tinyelf pack --report` shows what went where",
    }


def render(rep: dict, as_json: bool = False) -> str:
    if as_json:
        return json.dumps(rep, indent=2, sort_keys=True)
    out = []
    h = rep["header"]
    out.append(f"{rep['file']} bytes, layout {rep['layout']}, entry {rep['entry']:#x}")
    skipped = (f", + {h['skipped']} bytes the entry jump skips" if h.get("skipped") else "")
    out.append(f"  headers      {h['end']:>6}  (ELF header {h['ehdr']} + program headers "
               f"{h['phdrs']} - {h['overlap']} overlapped{skipped})")
    if "bytes" in rep:
        b = rep["bytes"]
        for f in h.get("forced", ()):
            out.append(f"  overlap {f['offset']:#04x}+{f['size']}  {f['what']}")
        out.append(f"  in headers   {h['content_in_header']:>6}  content in bytes the kernel ignores")
        for k in ORDER[1:]:
            if b[k] or k in ("code",):
                out.append(f"  {k:<12} {b[k]:>6}")
        out.append(f"  {'= file':<12} {rep['file']:>6}  (header-only bytes {b['header']})")
        out.append(f"  bss memory   {rep['bss_memory']:>6}  trailing zeros made bss: "
                   f"{rep['trimmed_zeros']}")
        for hole in rep["holes"]:
            what = ", ".join(f"{c['what']} ({c['size']})" for c in hole["contents"]) or "-"
            out.append(f"  hole {hole['offset']:#04x} {hole['field']:<28} {hole['used']:>2}/"
                       f"{hole['size']:<2} {what}")
        for k, v in sorted(rep["passes"].items()):
            out.append(f"  pass {k}: {v}")
        for c in rep["considered"]:
            if c["layout"] != rep["layout"]:
                out.append(f"  other layout {c['layout']}: "
                           + (f"{c['size']} bytes" if c["size"] is not None else c["reason"]))
        if "gnu_ld" in rep:
            ld = rep["gnu_ld"]
            out.append(f"  GNU ld       {ld:>6}  (same inputs, -static -nostdlib -n -N -s "
                       "--gc-sections --build-id=none)" if ld is not None
                       else f"  GNU ld           -  (no comparison: {rep.get('gnu_ld_missing')})")
    else:
        out.append(f"  after them   {rep['after_header']:>6}  (code and data, maybe also in the "
                   "headers' ignored bytes)")
        out.append(f"  bss memory   {rep['bss_memory']:>6}")
        out.append(f"  ({rep['note']})")
    for i, s in enumerate(rep["segments"]):
        if "perm" in s:
            out.append(f"  LOAD {i} {s['perm']} offset {s['offset']:#x} vaddr {s['vaddr']:#x} "
                       f"filesz {s['filesz']:#x} memsz {s['memsz']:#x}")
            out.append(f"         {describe(s['kernel'], rep['file'])}")
    for n in rep.get("notes", ()):
        out.append(f"  {n}")
    for w in rep["warnings"]:
        out.append(f"warning: {w}")
    return "\n".join(out)
