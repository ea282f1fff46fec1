"""A GNU ld script that reproduces tinyelf's placement of a finished link.

``tinyelf pack --emit-ld-script FILE`` writes it; linking the same inputs
(same file names, same order) with

    ld -static -nostdlib -N --no-warn-rwx-segments -T FILE -o OUT INPUTS...

gives the same loaded bytes, code and data, at the same addresses: every kept
input section is named by a ``KEEP("file"("section"))`` pattern at the offset
tinyelf gave it inside one output section per run of one class (code,
read-only data, data, bss), gaps are filled with zeros (``=0``: ld would pad
code with NOPs), everything else goes to ``/DISCARD/``.  What tinyelf makes
itself is expressed the way ld can take it: COMMON symbols and the
linker-defined symbols (``_end``, ...) become symbol assignments with
tinyelf's addresses, tinyelf's GOT becomes ld's ``.got`` at the same address.

The differential tests compare the two outputs segment by segment; a
difference is a bug in one of the two linkers.
"""
from __future__ import annotations

from ..elf.defs import SHF_MERGE
from ..errors import UsageError
from ..linker.model import CLASS_BSS, CLASS_DATA, CLASS_RODATA, CLASS_TEXT, Link

_OUT_NAMES = {CLASS_TEXT: ".text", CLASS_RODATA: ".rodata", CLASS_DATA: ".data",
              CLASS_BSS: ".bss"}

LD_COMMAND = "ld -static -nostdlib -N --no-warn-rwx-segments -T {script} -o OUT INPUTS..."


def _ld_command(arch) -> str:
    """LD_COMMAND for ``arch``: its cross ld (aarch64-linux-gnu-ld, ...), with
    the flags it needs (i386: ``-m elf_i386``; riscv64: ``--no-relax``, since
    relaxing would move what the script places)."""
    from .toolchain import CROSS_PREFIX, LD_ARCH_FLAGS
    name = getattr(arch, "name", None)
    ld = " ".join([CROSS_PREFIX.get(name, "") + "ld", *LD_ARCH_FLAGS.get(name, ())])
    return LD_COMMAND.format(script="THIS_FILE").replace("ld ", ld + " ", 1)


def _quote(text: str, what: str) -> str:
    if '"' in text or "\n" in text:
        raise UsageError(f"--emit-ld-script: {what} {text!r} cannot be written in a GNU ld script")
    return f'"{text}"'


_PLAIN = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-+/$~")


def file_pattern(obj) -> str:
    """How an ld script names the file a section comes from: the path as
    given on the command line, or ``*ARCHIVE:MEMBER`` for an archive member
    (tinyelf names members ``libx.a(member.o)`` by the archive's base name,
    so the archive part is matched with a wildcard in front)."""
    name = obj.name
    if obj.from_archive and name.endswith(")") and "(" in name:
        archive, member = name[:-1].split("(", 1)
        pattern = f"{archive}:{member}"
        if not set(pattern) - _PLAIN - {":"}:
            return pattern if "/" in archive else "*" + pattern
        raise UsageError(f"--emit-ld-script: archive member {name!r} cannot be named in a "
                         "GNU ld script")
    return _quote(name, "file name")


def made_by_tinyelf(obj) -> bool:
    """Objects tinyelf makes itself (builtins such as memcpy, assembled
    stubs) come from no file that ld could read."""
    return obj.name.startswith("<")


def _spelled_out(sec, assignments) -> list[str]:
    """A section of a tinyelf-made object as ld data statements, its global
    symbols as assignments (possible when nothing in it needs relocating)."""
    if sec.relocs:
        raise UsageError(f"--emit-ld-script: {sec.where()} is made by tinyelf and has "
                         "relocations; a GNU ld script cannot reproduce it")
    lines = [f"    /* {sec.where()}: {sec.size} bytes made by tinyelf */"]
    data = bytes(sec.data) if not sec.is_nobits else bytes(sec.size)
    for i in range(0, len(data), 16):
        lines.append("    " + " ".join(f"BYTE({b:#04x});" for b in data[i:i + 16]))
    for sym in sec.obj.symbols:
        if sym.section is sec and sym.name and not sym.is_local:
            assignments.append((sym.name, sec.addr + sym.value))
    return lines


def render(link: Link) -> str:
    """The ld script for a link that has been laid out."""
    lay = link.layout
    if lay is None:
        raise UsageError("--emit-ld-script needs a finished layout")
    # what a linker script cannot say: contents inside the ELF and program
    # headers or code split across header holes (squeeze's layouts), and
    # references redirected to tinyelf's merged strings or folded functions
    beyond, flags = [], []
    content_start = getattr(lay, "content_start", 0) or lay.header_size
    if (content_start < lay.header_size or getattr(lay, "patches", None)
            or any(getattr(s, "pieces", None) for s in link.kept)):
        beyond.append(f"the {getattr(lay, 'name', '')} layout puts code or data inside the "
                      "ELF headers")
        flags += ["--layout strict", "--no-holes"]
    else:
        spec = getattr(lay, "spec", None)
        if spec is not None and (spec.entry_offset is not None or spec.pic_only):
            # dyn68: execution enters through the ELF magic, the file is ET_DYN
            beyond.append(f"the {lay.name} layout starts the program inside the ELF header")
            flags.append("--layout strict")
    squeezed = getattr(link, "squeezed", None) or {}
    if squeezed.get("merge_strings"):
        beyond.append("tinyelf merged strings")
        flags.append("--no-merge-strings")
    if squeezed.get("fold_functions"):
        beyond.append("tinyelf folded identical functions")
        flags.append("--no-fold-functions")
    if beyond:
        raise UsageError(f"--emit-ld-script: {', '.join(beyond)}, which GNU ld cannot reproduce; "
                         f"add {' '.join(flags)} for a comparable output")
    synth = link.synthetic
    secs = sorted(link.kept, key=lambda s: s.addr)
    fmt, arch = link.arch.bfd
    out = [
        "/* Written by tinyelf pack --emit-ld-script: GNU ld places every section",
        "   where tinyelf did.  Link the same inputs, in the same order, with:",
        "     " + _ld_command(link.arch),
        "   (put several archives between --start-group and --end-group). */",
    ]
    if fmt:
        out.append(f'OUTPUT_FORMAT("{fmt}")')
    if arch:
        out.append(f"OUTPUT_ARCH({arch})")
    out.append(f"ENTRY({link.options.entry})")
    out.append("")
    # tinyelf's program headers, so that ld's headers have the same size and
    # the first segment maps them like tinyelf's does
    out.append("PHDRS")
    out.append("{")
    for i, seg in enumerate(lay.segments):
        headers = " FILEHDR PHDRS" if seg.offset == 0 else ""
        out.append(f"  seg{i} PT_LOAD{headers} FLAGS({seg.flags});")
    out.append("}")
    out.append("")
    out.append("SECTIONS")
    out.append("{")
    assignments = []
    runs: list[list] = []
    for sec in secs:
        if sec.obj is synth:
            if sec is link.got:
                runs.append(["got", sec])
                continue
            # COMMON symbols: tinyelf's own zero-filled sections -> symbol assignments
            for sym in synth.symbols:
                if sym.section is sec:
                    assignments.append((sym.name, sec.addr + sym.value))
            if runs and runs[-1][0] == sec.out_class:
                runs[-1].append(sec)   # keeps the output section covering it
            else:
                runs.append([sec.out_class, sec])
            continue
        merge = bool(sec.flags & SHF_MERGE)
        if runs and runs[-1][0] == sec.out_class and not merge and not runs[-1][-1].flags & SHF_MERGE:
            runs[-1].append(sec)
        else:
            # mergeable sections get an output section each: ld merges equal
            # constants and strings within an output section, tinyelf does not
            runs.append([sec.out_class, sec])
    used_names = {}
    seen = set()

    def segment_of(addr):
        for i, seg in enumerate(lay.segments):
            if seg.vaddr <= addr < seg.vaddr + max(seg.memsz, 1):
                return f":seg{i}"
        return ""

    for run in runs:
        kind, members = run[0], run[1:]
        start = members[0].addr
        if kind == "got":
            out.append(f"  .got {start:#x} : {{ *(.got) *(.igot) }} {segment_of(start)}")
            continue
        base_name = _OUT_NAMES[kind]
        n = used_names.get(base_name, 0)
        used_names[base_name] = n + 1
        name = base_name if n == 0 else f"{base_name}.{n}"
        noload = " (NOLOAD)" if kind == CLASS_BSS else ""
        # SUBALIGN(1): the offsets below already say where each section goes
        # (tinyelf may have dropped code alignment padding)
        out.append(f"  {name} {start:#x}{noload} : SUBALIGN(1) {{")
        for sec in members:
            off = sec.addr - start
            if off:
                out.append(f"    . = {off:#x};")
            if sec.obj is synth:
                out.append(f"    /* {sec.name}: {sec.size} bytes made by tinyelf */")
                out.append(f"    . = {off + sec.size:#x};")
                continue
            if made_by_tinyelf(sec.obj):
                out.extend(_spelled_out(sec, assignments))
                continue
            key = (id(sec.obj), sec.name)
            if key in seen:
                # the pattern above already placed it (ld cannot tell equal names apart)
                out.append(f"    /* {sec.where()} (again) */")
                continue
            seen.add(key)
            out.append(f"    KEEP({file_pattern(sec.obj)}({_quote(sec.name, 'section name')}))")
        end = members[-1].addr + members[-1].size - start
        out.append(f"    . = {end:#x};")
        out.append("  } " + segment_of(start) + ("" if kind == CLASS_BSS else " =0"))
    if link.got is not None:
        # ld's own reserved GOT words (and its _GLOBAL_OFFSET_TABLE_), out of the way
        out.append("  .got.plt : { *(.got.plt) *(.igot.plt) }")
    out.append("  /DISCARD/ : { *(*) }")
    out.append("}")
    out.append("")
    for sym in synth.symbols:
        if sym.section is None and sym.name and sym.name != "_GLOBAL_OFFSET_TABLE_":
            assignments.append((sym.name, sym.value))
    for name, value in assignments:
        out.append(f"{name} = {value:#x};")
    return "\n".join(out) + "\n"
