"""Pass 1, read: input files -> ObjectFiles (and archives, loaded lazily).

Input: paths, ``(name, bytes)`` pairs, or ObjectFiles tinyelf made itself;
assembly sources (``.asm``, or text that reads like assembly) are assembled
by :mod:`tinyelf.asm`.  Output: ``link.objects`` (every
object given directly, in command-line order) and ``link.archives``.
Invariant: everything in the link model was validated by tinyelf; problems in
several inputs are reported together.
"""
from __future__ import annotations

import os
import stat

from ..errors import InputError
from .model import Link, ObjectFile

AR_MAGIC = b"!<arch>\n"

#: source files ``tinyelf build`` compiles (``.asm`` is read directly; a
#: ``.s`` that reads as Intel syntax too), and other languages' sources
BUILD_SOURCES = (".c", ".rs", ".S")
OTHER_SOURCES = (".cc", ".cpp", ".cxx", ".h", ".zig", ".go")
THIN_AR_MAGIC = b"!<thin>\n"


def load_input(item) -> tuple[str, bytes]:
    """A path or a ``(name, bytes)`` pair -> ``(name, bytes)``."""
    if isinstance(item, tuple):
        name, data = item
        return str(name), bytes(data)
    path = os.fspath(item)
    try:
        with open(path, "rb") as f:
            mode = os.fstat(f.fileno()).st_mode
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
                raise InputError(f"{path}: is a device, not an object file")
            return path, f.read()
    except MemoryError:
        raise InputError(f"{path}: too large to read into memory (tinyelf reads each input "
                         "whole)") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not an object file") from None
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None


def is_assembly(name: str, data: bytes) -> bool:
    """Assembly source: a ``.asm`` file, or text that reads like assembly."""
    if data.startswith(b"\x7fELF"):
        return False
    if name.lower().endswith(".asm"):
        return True
    from ..asm import looks_like_assembly
    return looks_like_assembly(data)


def source_message(name: str) -> str:
    """``pack`` (or ``tinyelf-ld``) was given a source file."""
    if name.endswith(BUILD_SOURCES):
        stem = os.path.splitext(os.path.basename(name))[0]
        return (f"{name}: a source file, not an object: tinyelf pack links objects and "
                f"archives; compile and link it in one step with "
                f"`tinyelf build {name} -o {stem}`")
    return (f"{name}: a source file, not an object: compile it to an object (.o) first; "
            "tinyelf build compiles .rs, .c, .s, .S and .asm files")


def read(link: Link, inputs) -> Link:
    """Read every input into the link model; ``link.arch`` becomes the
    inputs' machine (``--arch`` must agree; x86-64 when no input says)."""
    from ..elf import reader as lief_reader
    from .. import arch as archmod
    problems = []
    asm_arch = link.arch or archmod.get("x86_64")   # tinyelf's own assembler: x86-64 syntax
    for item in inputs:
        if isinstance(item, ObjectFile):   # made by tinyelf itself (tinyelf.elf.synth)
            link.objects.append(item)
            continue
        try:
            name, data = load_input(item)
            if data.startswith(AR_MAGIC) or data.startswith(THIN_AR_MAGIC):
                from ..elf import archive
                link.archives.append(archive.read_archive(name, data, link.options.lief))
            elif name.endswith(BUILD_SOURCES + OTHER_SOURCES) and \
                    not data.startswith(b"\x7fELF"):
                raise InputError(source_message(name))
            elif is_assembly(name, data):
                from .. import asm
                link.objects.append(asm.read_asm_file(name, data, asm_arch))
            else:
                link.objects.append(lief_reader.read_object(name, data,
                                                            cross_check=link.options.lief))
        except InputError as exc:
            problems.extend(exc.messages)
    if problems:
        raise InputError(*problems)
    if not link.objects and not link.archives:
        raise InputError("no input files")
    choose_arch(link)
    return link


def _first_member_machine(archive) -> int:
    for member in archive.members:
        data = archive.member_data(member)
        if bytes(data[:4]) == b"\x7fELF" and len(data) >= 20 and data[16] == 1:   # ET_REL
            return int.from_bytes(bytes(data[18:20]), "little")
    return 0


def choose_arch(link: Link) -> None:
    """Set ``link.arch`` from the inputs' e_machine and ``link.e_flags`` from
    their e_flags (the arch merges them); objects of two machines, or a
    machine other than ``--arch``'s, are an InputError naming them."""
    from .. import arch as archmod
    from ..elf.defs import EM_NAMES
    first = {}
    for obj in link.objects:
        if obj.machine:
            first.setdefault(obj.machine, obj.name)
    if not first:
        for ar in link.archives:
            m = _first_member_machine(ar)
            if m:
                first.setdefault(m, ar.name)
                break
    if link.arch is not None:
        first.setdefault(link.arch.e_machine, "--arch " + link.arch.name)
    if len(first) > 1:
        raise InputError("inputs for different machines: " + ", ".join(
            f"{name} is {EM_NAMES.get(m, 'machine %d' % m)}" for m, name in first.items())
            + "; link objects of one machine (compile every input for the same --arch)")
    if link.arch is None:
        link.arch = archmod.for_machine(next(iter(first))) if first else archmod.get("x86_64")
    link.e_flags = link.arch.merge_flags([o for o in link.objects if o.machine])


def check_member(link: Link, obj: ObjectFile) -> None:
    """An archive member pulled into the link must be of the link's machine."""
    if obj.machine and obj.machine != link.arch.e_machine:
        from ..elf.defs import EM_NAMES
        raise InputError(f"{obj.name} is {EM_NAMES.get(obj.machine, 'machine %d' % obj.machine)}, "
                         f"the other inputs are {link.arch.name}: link objects of one machine")
