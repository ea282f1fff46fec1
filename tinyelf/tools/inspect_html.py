"""``tinyelf inspect --html``: one self-contained page (no external files).

The hex dump and the disassembly are coloured by each byte's origin (header,
overlap, hole, code, read-only data, data, not loaded); hovering a byte or
an instruction shows who owns it in a details panel (and as a tooltip), and
hovering an instruction lights up its bytes in the hex dump.
"""
from __future__ import annotations

import html

from .inspect import ORIGIN_TEXT, ORIGINS

_CSS = """
body { font: 14px/1.35 system-ui, sans-serif; margin: 1.5em; color: #222; background: #fcfcfc; }
h1 { font-size: 1.3em; margin: 0 0 .3em; } h2 { font-size: 1.1em; margin: 1.2em 0 .4em; }
code, pre, td.mono { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 13px; }
table { border-collapse: collapse; } td, th { padding: 1px 8px; text-align: left; vertical-align: top; }
th { border-bottom: 1px solid #999; font-weight: 600; }
.note { color: #8a4b00; }
h1, .note, #legend { margin-right: 28em; }
#legend span { display: inline-block; padding: 2px 8px; margin: 0 6px 4px 0; border-radius: 3px; }
.o-header { background: #cfe8ff; } .o-overlap { background: #f5b3ff; font-weight: bold; }
.o-hole { background: #eeeeee; color: #999; } .o-code { background: #c9f2c7; }
.o-rodata { background: #fff1b8; } .o-data { background: #ffd7b0; } .o-other { background: #e4e4f4; color: #666; }
#hexdump span.b { cursor: default; padding: 0 1px; }
#hexdump span.b:hover, #hexdump span.hl { outline: 2px solid #d00; }
#disasm tr:hover td { outline: 1px solid #d00; }
#details { position: fixed; right: 1em; top: 1em; width: 26em; min-height: 3em; padding: .6em .8em;
           background: #fff; border: 1px solid #aaa; box-shadow: 0 2px 8px rgba(0,0,0,.15);
           font-size: 13px; white-space: pre-wrap; }
.ign { color: #888; }
"""

_JS = """
(function () {
  var panel = document.getElementById('details');
  function show(t) { panel.textContent = t; }
  document.querySelectorAll('[data-info]').forEach(function (el) {
    el.addEventListener('mouseenter', function () { show(el.getAttribute('data-info')); });
  });
  var bytes = document.querySelectorAll('#hexdump span.b');
  document.querySelectorAll('#disasm tr[data-off]').forEach(function (row) {
    var lo = +row.getAttribute('data-off'), n = +row.getAttribute('data-len');
    row.addEventListener('mouseenter', function () {
      for (var i = lo; i < lo + n && i < bytes.length; i++) bytes[i].classList.add('hl');
    });
    row.addEventListener('mouseleave', function () {
      for (var i = lo; i < lo + n && i < bytes.length; i++) bytes[i].classList.remove('hl');
    });
  });
})();
"""


def _e(s) -> str:
    return html.escape(str(s), quote=True)


def render_html(rep: dict) -> str:
    data = rep["_bytes"]
    origins = rep["origins"]
    size = rep["size"]
    owner_at = [None] * size
    for r in rep["regions"]:
        text = "; ".join(r["owners"]) or ORIGIN_TEXT[r["origin"]]
        for o in range(r["start"], r["end"]):
            owner_at[o] = (r["origin"], text)
    out = ["<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>",
           f"<title>tinyelf inspect: {_e(rep['file'])}</title>", f"<style>{_CSS}</style></head><body>"]
    out.append(f"<h1 id='title'>{_e(rep['file'])}: {size} bytes, {_e(rep['kind'])}</h1>")
    for n in rep["notes"]:
        out.append(f"<p class='note'>{_e(n)}</p>")
    out.append("<div id='details'>Hover over a byte or an instruction.</div>")

    counts = {o: origins.count(o) for o in ORIGINS}
    out.append("<div id='legend'>")
    for o in ORIGINS:
        out.append(f"<span class='o-{o}' data-origin='{o}'>{_e(ORIGIN_TEXT[o])}: {counts[o]} bytes</span>")
    out.append("</div>")

    # headers
    out.append("<h2>ELF header</h2><table id='ehdr'><tr><th>offset</th><th>field</th>"
               "<th>bytes</th><th>value</th><th>meaning</th></tr>")
    for r in rep["elf_header"]:
        out.append(_field_row(r, origins, size))
    out.append("</table>")
    for k, rows in enumerate(rep["program_headers"]):
        out.append(f"<h2>Program header {k}</h2><table class='phdr' id='phdr{k}'><tr><th>offset</th>"
                   "<th>field</th><th>bytes</th><th>value</th><th>meaning</th></tr>")
        for r in rows:
            out.append(_field_row(r, origins, size))
        out.append("</table>")
    out.append("<h2>Segments</h2><table id='segments'><tr><th>#</th><th>type</th><th>flags</th>"
               "<th>file</th><th>memory</th></tr>")
    for s in rep["segments"]:
        out.append(f"<tr><td>{s['index']}</td><td>{_e(s['type'])}</td><td>{s['flags']}</td>"
                   f"<td class='mono'>{s['offset']:#x}..{s['offset'] + s['filesz']:#x}</td>"
                   f"<td class='mono'>{s['vaddr']:#x}..{s['vaddr'] + s['memsz']:#x}</td></tr>")
    out.append("</table>")
    if rep["shared"]:
        out.append("<h2>Shared bytes</h2><ul id='shared'>")
        for r in rep["shared"]:
            out.append(f"<li><code>{r['start']:#x}..{r['end']:#x}</code> {_e(' = '.join(r['owners']))}</li>")
        out.append("</ul>")

    # hex dump
    out.append("<h2>Hex dump</h2><pre id='hexdump'>")
    for line in range(0, size, 16):
        cells = []
        for o in range(line, min(line + 16, size)):
            origin, text = owner_at[o]
            cells.append(f"<span class='b o-{origin}' data-off='{o}' "
                         f"data-info='{_e(f'{o:#x}: {text}')}' title='{_e(f'{o:#x}: {text}')}'>"
                         f"{data[o]:02x}</span>")
        asc = "".join(chr(b) if 32 <= b < 127 else "." for b in data[line:line + 16])
        out.append(f"{line:08x}  {' '.join(cells)}{'   ' * (16 - len(cells))}  {_e(asc)}")
    out.append("</pre>")

    # disassembly
    out.append("<h2>Disassembly</h2><table id='disasm'><tr><th>address</th><th>bytes</th>"
               "<th>instruction</th></tr>")
    for ins in rep["disassembly"]:
        if ins["label"]:
            out.append(f"<tr class='label'><td colspan='3' class='mono'><b>&lt;{_e(ins['label'])}&gt;:</b></td></tr>")
        n = len(ins["bytes"].split())
        o = ins["offset"]
        kinds = {origins[i] for i in range(o, min(o + n, size))}
        origin = "overlap" if "overlap" in kinds else "code"
        owners = sorted({owner_at[i][1] for i in range(o, min(o + n, size))})
        text = f"{ins['mnemonic']} {ins['op_str']}".strip()
        if ins["target_name"]:
            text += f"  <{ins['target_name']}>"
        if ins.get("syscall"):
            text += f"    ; {ins['syscall']}"
        info = f"{ins['address']:#x} (file offset {o:#x}): " + "; ".join(owners)
        out.append(f"<tr class='insn o-{origin}' data-off='{o}' data-len='{n}' data-info='{_e(info)}' "
                   f"title='{_e(info)}'><td class='mono'>{ins['address']:x}</td>"
                   f"<td class='mono'>{_e(ins['bytes'])}</td><td class='mono'>{_e(text)}</td></tr>")
    if not rep["disassembly"]:
        out.append("<tr><td colspan='3'>no code found</td></tr>")
    out.append("</table>")
    out.append(f"<script>{_JS}</script></body></html>")
    return "\n".join(out) + "\n"


def _field_row(r, origins, size) -> str:
    o = r["offset"]
    kinds = {origins[i] for i in range(o, min(o + r["size"], size))} or {"hole"}
    origin = "overlap" if "overlap" in kinds else "header" if "header" in kinds else "hole"
    ign = " <span class='ign'>(kernel ignores)</span>" if r["kernel_ignores"] else ""
    info = f"{r['field']} at {o:#x}, {r['size']} bytes" + (
        "; past the end of the file, reads as zero" if o + r["size"] > size else "")
    return (f"<tr class='field o-{origin}' data-info='{_e(info)}' title='{_e(info)}'>"
            f"<td class='mono'>{o:#x}</td><td class='mono'>{_e(r['field'])}</td>"
            f"<td class='mono'>{_e(r['hex'])}</td><td class='mono'>{r['value']:#x}</td>"
            f"<td>{_e(r['meaning'])}{ign}</td></tr>")
