"""Static archives (``.a``, Rust ``.rlib``): members loaded only when needed.

Reads System V / GNU ``ar`` archives: the long-name table ``//``, the symbol
index ``/`` (32-bit offsets) and ``/SYM64/`` (64-bit offsets), and the BSD
forms (``#1/LEN`` names stored after the header, ``__.SYMDEF`` index).  Thin
archives (``!<thin>``) are refused: their members live in other files.

:func:`read_archive` validates every member header at once (cheap: no member
is parsed).  :meth:`Archive.lookup` hands the resolve pass the member that
defines a name, converted to an :class:`ObjectFile` on first use and never
twice.  Without a symbol index, the defined global names of each ELF member
are read straight from its symbol table with ``struct`` (no lief) the first
time a lookup needs them.  Members that are not ELF objects (an rlib's
``lib.rmeta``, text files) are never loaded.
"""
from __future__ import annotations

import os
import struct

from .structs import structs_for

from .defs import ELFMAG
from ..errors import InputError
from ..linker.model import ObjectFile

AR_MAGIC = b"!<arch>\n"
THIN_AR_MAGIC = b"!<thin>\n"
_HDR = struct.Struct("16s12s6s6s8s10s2s")
assert _HDR.size == 60
_FMAG = b"`\n"

# ELF64 little-endian pieces needed to list a member's defined globals
_SHT_SYMTAB = 2


class Member:
    """One archive member: where its bytes are, and (once loaded) its object."""
    __slots__ = ("name", "header_offset", "offset", "size", "loaded")

    def __init__(self, name: str, header_offset: int, offset: int, size: int):
        self.name = name
        self.header_offset = header_offset
        self.offset = offset
        self.size = size
        self.loaded = False

    def __repr__(self) -> str:
        return f"<Member {self.name} at {self.header_offset:#x}>"


class Archive:
    """A validated archive whose members are converted lazily."""

    def __init__(self, name: str, data: bytes, members: list, index: dict | None,
                 cross_check: bool = False):
        self.name = name
        #: members are cross-checked with lief when loaded (LinkOptions.lief, --verify)
        self.cross_check = cross_check
        self.data = data
        self.members = members
        #: symbol name -> member indices, from the archive's own index (or
        #: built on first lookup by scanning the members' symbol tables)
        self.index = index
        self.has_index = index is not None
        self.display = os.path.basename(name) or name
        #: members pulled into the link, in the order they were pulled
        self.pulled: list[ObjectFile] = []

    def __repr__(self) -> str:
        return f"<Archive {self.name}: {len(self.members)} members>"

    def member_name(self, member: Member) -> str:
        """How a member is named in messages and maps: ``libfoo.a(foo.o)``."""
        return f"{self.display}({member.name})"

    def member_data(self, member: Member) -> memoryview:
        return memoryview(self.data)[member.offset:member.offset + member.size]

    def _ensure_index(self) -> dict:
        if self.index is None:
            self.index = self._scan_members()
        return self.index

    def defines(self, symbol: str) -> bool:
        """Whether some member of this archive defines ``symbol`` (by the
        archive's index, or by the members' symbol tables when it has none).
        Pulls nothing in: a later :meth:`lookup` still hands the member out."""
        return bool(self._ensure_index().get(symbol))

    def lookup(self, symbol: str) -> ObjectFile | None:
        """The not-yet-loaded member that defines ``symbol``, converted to an
        ObjectFile, or None.  Each member is returned at most once."""
        for i in self._ensure_index().get(symbol, ()):
            member = self.members[i]
            if member.loaded:
                continue
            member.loaded = True
            obj = self._load(member)
            if obj is not None:
                self.pulled.append(obj)
                return obj
        return None

    def _load(self, member: Member) -> ObjectFile | None:
        data = self.member_data(member)
        if bytes(data[:4]) != ELFMAG:
            return None     # an index pointing at a non-object: nothing to link
        from . import reader as lief_reader
        return lief_reader.read_object(self.member_name(member), bytes(data), from_archive=True,
                                       cross_check=self.cross_check)

    def _scan_members(self) -> dict:
        """name -> [member index] for every global or weak symbol that an ELF
        member defines (the index ``ar s`` would have written)."""
        index: dict[str, list[int]] = {}
        for i, member in enumerate(self.members):
            for name in _defined_globals(self.member_data(member), self.member_name(member)):
                index.setdefault(name, []).append(i)
        return index


def _defined_globals(data: memoryview, name: str):
    """Names of the global/weak symbols defined in a little-endian ELF
    relocatable member (either class); nothing for any other kind of member.
    Malformed tables are an InputError naming the member."""
    if len(data) < 52 or bytes(data[:4]) != ELFMAG or data[4] not in (1, 2) or data[5] != 1:
        return []
    es = structs_for(data[4], data[5])
    if len(data) < es.ehdr.size:
        return []
    eh = es.unpack_ehdr(data)
    e_shoff, e_shentsize, e_shnum = eh["e_shoff"], eh["e_shentsize"], eh["e_shnum"]
    _SHDR, _SYM = es.shdr, es.sym
    if e_shnum == 0 or e_shentsize != _SHDR.size or e_shoff + e_shnum * _SHDR.size > len(data):
        raise InputError(f"{name}: section header table is outside the member: corrupt object")
    names = []
    for s in range(e_shnum):
        sh = _SHDR.unpack_from(data, e_shoff + s * _SHDR.size)
        if sh[1] != _SHT_SYMTAB:
            continue
        sym_off, sym_size, link, entsize = sh[4], sh[5], sh[6], sh[9]
        if entsize != _SYM.size or sym_off + sym_size > len(data) or link >= e_shnum:
            raise InputError(f"{name}: symbol table is outside the member: corrupt object")
        st = _SHDR.unpack_from(data, e_shoff + link * _SHDR.size)
        str_off, str_size = st[4], st[5]
        if str_off + str_size > len(data):
            raise InputError(f"{name}: string table is outside the member: corrupt object")
        strtab = bytes(data[str_off:str_off + str_size])
        first = min(sh[7], sym_size // _SYM.size)      # sh_info: first non-local symbol
        raw = data[sym_off + first * _SYM.size:sym_off + sym_size - sym_size % _SYM.size]
        for k, (st_name, st_info, _other, st_shndx, _v, _sz) in enumerate(es.iter_syms(raw),
                                                                          start=first):
            if st_shndx == 0 or (st_info >> 4) == 0:
                continue
            end = strtab.find(b"\0", st_name)
            if st_name >= len(strtab) or end < 0:
                raise InputError(f"{name}: symbol {k} has a name outside the string table: corrupt object")
            names.append(strtab[st_name:end].decode("utf-8", "replace"))
    return names


def _num(field: bytes, what: str, where: str, base: int = 10) -> int:
    text = field.decode("ascii", "replace").strip()
    try:
        return int(text, base) if text else 0
    except ValueError:
        raise InputError(f"{where}: bad {what} field {text!r} in a member header: "
                         "malformed archive") from None


def read_archive(name: str, data: bytes, cross_check: bool = False) -> Archive:
    """Validate an archive's member headers and index; load no member."""
    if data.startswith(THIN_AR_MAGIC):
        raise InputError(f"{name}: is a thin archive (its members are stored in other files); "
                         "tinyelf reads regular archives only: recreate it without 'T' "
                         "(e.g. ar rcs) or pass the object files")
    if not data.startswith(AR_MAGIC):
        raise InputError(f"{name}: not an ar archive (no !<arch> magic)")
    members: list[Member] = []
    long_names = None
    raw_index = None        # (kind, bytes)
    pos = len(AR_MAGIC)
    n = len(data)
    while pos < n:
        if pos == n - 1 and data[pos:pos + 1] == b"\n":
            break  # trailing padding byte
        if pos + _HDR.size > n:
            raise InputError(f"{name}: truncated member header at offset {pos:#x}: malformed archive")
        raw_name, _date, _uid, _gid, _mode, size_f, fmag = _HDR.unpack_from(data, pos)
        if fmag != _FMAG:
            raise InputError(f"{name}: bad member header at offset {pos:#x} (no `\\n terminator): "
                             "malformed archive")
        size = _num(size_f, "size", name)
        start = pos + _HDR.size
        if start + size > n:
            raise InputError(f"{name}: member at offset {pos:#x} claims {size} bytes but the file "
                             f"ends after {n - start}: truncated archive")
        rname = raw_name.decode("utf-8", "replace").rstrip(" ")
        body_off, body_size = start, size
        if rname == "/" or rname == "/SYM64/":
            if raw_index is None:
                raw_index = (rname, data[start:start + size])
        elif rname == "//":
            long_names = data[start:start + size]
        elif rname in ("__.SYMDEF", "__.SYMDEF SORTED"):
            if raw_index is None:
                raw_index = ("bsd", data[start:start + size])
        else:
            if rname.startswith("#1/"):          # BSD: the name follows the header
                ln = _num(raw_name[3:], "BSD name length", name)
                if ln > size:
                    raise InputError(f"{name}: member name at offset {pos:#x} is longer than the "
                                     "member: malformed archive")
                mname = data[start:start + ln].rstrip(b"\0").decode("utf-8", "replace")
                body_off, body_size = start + ln, size - ln
                if mname in ("__.SYMDEF", "__.SYMDEF SORTED"):
                    if raw_index is None:
                        raw_index = ("bsd", data[body_off:body_off + body_size])
                    pos = start + size + (size & 1)
                    continue
            elif rname.startswith("/") and rname[1:].isdigit():   # GNU long name
                off = int(rname[1:])
                if long_names is None or off >= len(long_names):
                    raise InputError(f"{name}: member at offset {pos:#x} refers to long name "
                                     f"{off}, outside the name table: malformed archive")
                end = long_names.find(b"/\n", off)
                if end < 0:
                    end = long_names.find(b"\n", off)
                if end < 0:
                    end = len(long_names)
                mname = long_names[off:end].decode("utf-8", "replace")
            else:
                mname = rname[:-1] if rname.endswith("/") else rname
            members.append(Member(mname, pos, body_off, body_size))
        pos = start + size + (size & 1)
    index = _parse_index(name, raw_index, members) if raw_index is not None else None
    if not index:
        index = None   # no index, or an empty one: scan the members when asked
    return Archive(name, data, members, index, cross_check)


def _parse_index(name: str, raw_index, members: list) -> dict:
    kind, blob = raw_index
    by_header = {m.header_offset: i for i, m in enumerate(members)}
    pairs = []   # (symbol name, member header offset)
    bad = f"{name}: symbol index is truncated or corrupt: malformed archive (rebuild it with ar s)"
    if kind == "bsd":
        if len(blob) < 4:
            raise InputError(bad)
        rsize, = struct.unpack_from("<I", blob, 0)
        if rsize % 8 or 4 + rsize + 4 > len(blob):
            raise InputError(bad)
        ssize, = struct.unpack_from("<I", blob, 4 + rsize)
        strs = blob[8 + rsize:8 + rsize + ssize]
        for k in range(rsize // 8):
            strx, off = struct.unpack_from("<II", blob, 4 + 8 * k)
            end = strs.find(b"\0", strx)
            if strx >= len(strs) or end < 0:
                raise InputError(bad)
            pairs.append((strs[strx:end], off))
    else:
        w, fmt = (4, ">I") if kind == "/" else (8, ">Q")
        if len(blob) < w:
            raise InputError(bad)
        count, = struct.unpack_from(fmt, blob, 0)
        if w + count * w > len(blob):
            raise InputError(bad)
        offsets = struct.unpack_from(f">{count}{fmt[1]}", blob, w)
        names = blob[w + count * w:].split(b"\0")
        if len(names) < count:
            raise InputError(bad)
        pairs = list(zip(names, offsets))
    index: dict[str, list[int]] = {}
    for sname, off in pairs:
        i = by_header.get(off)
        if i is None:
            raise InputError(f"{name}: symbol index entry {sname.decode('utf-8', 'replace')} points "
                             f"at offset {off:#x}, which is not a member: malformed archive "
                             "(rebuild the index with ranlib)")
        index.setdefault(sname.decode("utf-8", "replace"), []).append(i)
    return index
