"""What compression did, for ``--report`` / ``--json``: the codec chosen,
every codec's whole-file size, stub and payload, and what each input section
and symbol of the program costs after compression (bits under the codec's
model, as Crinkler's report shows them)."""
from __future__ import annotations

from . import codec_module

#: how many symbols the text report lists (JSON lists all)
TOP_SYMBOLS = 15


def compression_report(lk) -> dict:
    info = {k: v for k, v in (lk.compression or {}).items() if not k.startswith("_")}
    inner = lk.inner
    if inner is None or "_payload" not in (lk.compression or {}):
        return info
    data, start = lk.compression["_data"], info["start"]
    costs = codec_module(info["codec"]).byte_costs(data, lk.compression["_payload"])

    def bits(addr, size):
        a = max(0, addr - start)
        return sum(costs[a:max(a, addr + size - start)])
    sections = []
    for sec in inner.kept:
        if sec.is_nobits or sec.addr < 0 or sec.size == 0:
            continue
        b = bits(sec.addr, sec.size)
        sections.append({"name": sec.where(), "size": sec.size, "bits": round(b, 1),
                         "bits_per_byte": round(b / sec.size, 2)})
    from ..tools.linkmap import map_symbols
    symbols = []
    for addr, size, _t, _b, name, obj in map_symbols(inner):
        if size and start <= addr < start + len(data):
            b = bits(addr, size)
            symbols.append({"name": name, "object": obj, "size": size, "bits": round(b, 1),
                            "bits_per_byte": round(b / size, 2)})
    info.update(sections=sorted(sections, key=lambda s: -s["bits"]),
                symbols=sorted(symbols, key=lambda s: -s["bits"]),
                program_bits=round(sum(costs), 1))
    return info


def render_lines(c: dict) -> list:
    out = [f"compression: codec {c.get('codec')} (asked: {c.get('requested')})"]
    sizes = c.get("sizes", {})
    if sizes:
        out.append("  whole file by codec: " + ", ".join(f"{k} {v}" for k, v in sizes.items()))
    if "stub" in c:
        out.append(f"  decompressor stub {c['stub']} bytes, payload {c['payload']} bytes "
                   f"for a program of {c['program']} bytes at {c['start']:#x} "
                   f"({c['payload'] * 8 / max(1, c['program']):.2f} bits per byte); "
                   f"working memory {c['table'] >> 20} MiB")
    for n in c.get("notes", ()):
        out.append(f"  note: {n}")
    if c.get("sections"):
        out.append("  cost after compression (bytes = bits / 8):")
        for s in c["sections"]:
            out.append(f"    {s['bits'] / 8:8.1f} of {s['size']:6}  {s['bits_per_byte']:5.2f} b/B  "
                       f"{s['name']}")
    if c.get("symbols"):
        out.append(f"  symbols, costliest first (of {len(c['symbols'])}):")
        for s in c["symbols"][:TOP_SYMBOLS]:
            out.append(f"    {s['bits'] / 8:8.1f} of {s['size']:6}  {s['bits_per_byte']:5.2f} b/B  "
                       f"{s['name']}")
    return out
