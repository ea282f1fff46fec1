"""Mutations of relocatable objects and archives for fuzzing tinyelf.

Every mutation is a pure function of the input bytes and a ``random.Random``,
so a case is reproduced from (seed set, case number) alone.  Besides blind
ones (truncation, bit flips, byte runs) the mutators know the ELF64, ELF32
(i386: REL entries, 16-byte symbols) and ar formats: they pick a header field, a section header field, a symbol, a
relocation, a group word or an archive member header and set it to a value
from the places where parsers go wrong: 0, 1, -1, the file size and its
neighbours, section ends, 2**31, 2**32, 2**63, huge counts.
"""
from __future__ import annotations

import random
import struct

SHT_SYMTAB, SHT_STRTAB, SHT_RELA, SHT_REL, SHT_GROUP = 2, 3, 4, 9, 17


class Fmt:
    """Where the fields of one ELF class are: header fields, section header,
    symbol and relocation entries (field name -> (offset, size))."""

    def __init__(self, ehdr, shoff, shnum, shdr, shdr_fields, sym, sym_fields, rels):
        self.ehdr_fields = ehdr
        self.shoff, self.shnum = shoff, shnum      # (offset, size) in the ELF header
        self.shdr = shdr                           # name, type, flags, addr, offset, size, ...
        self.shdr_fields = shdr_fields
        self.sym_size, self.sym_fields = sym, sym_fields
        self.rels = rels                           # sh_type -> (entry size, fields)


_IDENT = {"ei_class": (4, 1), "ei_data": (5, 1)}
ELF64 = Fmt({"e_type": (16, 2), "e_machine": (18, 2), "e_shoff": (40, 8), "e_flags": (48, 4),
             "e_ehsize": (52, 2), "e_shentsize": (58, 2), "e_shnum": (60, 2),
             "e_shstrndx": (62, 2), **_IDENT},
            (40, 8), (60, 2), struct.Struct("<IIQQQQIIQQ"),
            {"sh_name": (0, 4), "sh_type": (4, 4), "sh_flags": (8, 8), "sh_offset": (24, 8),
             "sh_size": (32, 8), "sh_link": (40, 4), "sh_info": (44, 4),
             "sh_addralign": (48, 8), "sh_entsize": (56, 8)},
            24, {"st_name": (0, 4), "st_info": (4, 1), "st_other": (5, 1), "st_shndx": (6, 2),
                 "st_value": (8, 8), "st_size": (16, 8)},
            {SHT_RELA: (24, {"r_offset": (0, 8), "r_type": (8, 4), "r_sym": (12, 4),
                             "r_addend": (16, 8)}),
             SHT_REL: (16, {"r_offset": (0, 8), "r_type": (8, 4), "r_sym": (12, 4)})})
#: ELF32 (i386): REL entries keep the addend in the field; r_info is sym << 8 | type
ELF32 = Fmt({"e_type": (16, 2), "e_machine": (18, 2), "e_shoff": (32, 4), "e_flags": (36, 4),
             "e_ehsize": (40, 2), "e_shentsize": (46, 2), "e_shnum": (48, 2),
             "e_shstrndx": (50, 2), **_IDENT},
            (32, 4), (48, 2), struct.Struct("<IIIIIIIIII"),
            {"sh_name": (0, 4), "sh_type": (4, 4), "sh_flags": (8, 4), "sh_offset": (16, 4),
             "sh_size": (20, 4), "sh_link": (24, 4), "sh_info": (28, 4),
             "sh_addralign": (32, 4), "sh_entsize": (36, 4)},
            16, {"st_name": (0, 4), "st_value": (4, 4), "st_size": (8, 4), "st_info": (12, 1),
                 "st_other": (13, 1), "st_shndx": (14, 2)},
            {SHT_RELA: (12, {"r_offset": (0, 4), "r_type": (4, 1), "r_sym": (5, 3),
                             "r_addend": (8, 4)}),
             SHT_REL: (8, {"r_offset": (0, 4), "r_type": (4, 1), "r_sym": (5, 3)})})


def fmt_of(buf) -> Fmt:
    """The layout of ``buf``'s class (EI_CLASS 1: ELF32; anything else: ELF64)."""
    return ELF32 if len(buf) > 4 and buf[4] == 1 else ELF64


def _interesting(rng: random.Random, size: int, near=()) -> int:
    """A value for a field of ``size`` bytes: boundaries, or close to ``near``."""
    top = (1 << (8 * size)) - 1
    choices = [0, 1, 2, 3, 4, 7, 8, 16, 24, 64, 0x7F, 0x80, 0xFF, 0x100, 0xFFFF, 0xFF00, 0xFFF1,
               0xFFF2, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 1 << 32, (1 << 63) - 1, 1 << 63,
               top, top - 1, rng.randrange(top + 1)]
    for n in near:
        choices += [n - 1, n, n + 1, n * 2, n + 4096, n - 4]
    return rng.choice(choices) & top


def _put(buf: bytearray, off: int, size: int, value: int) -> None:
    if 0 <= off and off + size <= len(buf):
        buf[off:off + size] = value.to_bytes(size, "little")


def _get(buf, off, size) -> int:
    return int.from_bytes(buf[off:off + size], "little")


class ElfView:
    """Where the interesting fields of an ELF32 or ELF64 object are (best
    effort: the input may itself be a mutant)."""

    def __init__(self, buf: bytes):
        self.fmt = f = fmt_of(buf)
        self.ok = len(buf) >= 52 and buf[:4] == b"\x7fELF"
        self.shdrs = []
        if not self.ok:
            return
        shoff, shnum = _get(buf, *f.shoff), _get(buf, *f.shnum)
        for i in range(min(shnum, 4096)):
            off = shoff + i * f.shdr.size
            if off + f.shdr.size > len(buf):
                break
            self.shdrs.append((off, f.shdr.unpack_from(buf, off)))

    def tables(self, sh_type):
        return [(o, h) for o, h in self.shdrs if h[1] == sh_type]


def m_truncate(buf: bytearray, rng, ctx) -> bytearray:
    n = len(buf)
    if n == 0:
        return buf
    view = ElfView(buf)
    cuts = [rng.randrange(n), n - 1, n // 2, 64, 63, 4]
    for _o, h in view.shdrs:
        cuts += [h[4], h[4] + h[5] - 1]  # at a section's start, inside its last byte
    cut = rng.choice([c for c in cuts if 0 <= c < n] or [0])
    return buf[:cut]


def m_bitflip(buf, rng, ctx):
    for _ in range(rng.choice((1, 1, 2, 4, 16))):
        if buf:
            i = rng.randrange(len(buf))
            buf[i] ^= 1 << rng.randrange(8)
    return buf


def m_bytes(buf, rng, ctx):
    if buf:
        i = rng.randrange(len(buf))
        n = rng.choice((1, 2, 4, 8, 32))
        fill = rng.choice((b"\0", b"\xff", b"\x7f", b"\x80", bytes([rng.randrange(256)])))
        buf[i:i + n] = fill * min(n, len(buf) - i)
    return buf


def m_splice(buf, rng, ctx):
    """Copy a run of bytes from one place of the file to another."""
    if len(buf) > 16:
        a, b = rng.randrange(len(buf)), rng.randrange(len(buf))
        n = rng.randrange(1, 64)
        chunk = buf[a:a + n][:len(buf) - b]
        buf[b:b + len(chunk)] = chunk
    return buf


def m_ehdr(buf, rng, ctx):
    fields = fmt_of(buf).ehdr_fields
    name = rng.choice(list(fields))
    off, size = fields[name]
    near = [len(buf), _get(buf, off, size)]
    if name == "e_shnum":
        near += [65535, 0xFF00]
    _put(buf, off, size, _interesting(rng, size, near))
    return buf


def m_shdr(buf, rng, ctx):
    view = ElfView(buf)
    if not view.shdrs:
        return m_ehdr(buf, rng, ctx)
    hoff, h = rng.choice(view.shdrs)
    fields = view.fmt.shdr_fields
    name = rng.choice(list(fields))
    off, size = fields[name]
    near = [len(buf), _get(buf, hoff + off, size), len(view.shdrs)]
    if name == "sh_size":
        near += [len(buf) - h[4]]
    if name == "sh_type":
        near = [1, 2, 3, 4, 8, 9, 14, 17, 18, 0x70000001]
    _put(buf, hoff + off, size, _interesting(rng, size, near))
    return buf


def _entries(buf, view, sh_type, entsize):
    out = []
    for _o, h in view.tables(sh_type):
        start, sz = h[4], h[5]
        for e in range(start, min(start + sz, len(buf)) - entsize + 1, entsize):
            out.append((e, h))
    return out


def m_symbol(buf, rng, ctx):
    view = ElfView(buf)
    syms = _entries(buf, view, SHT_SYMTAB, view.fmt.sym_size)
    if not syms:
        return m_shdr(buf, rng, ctx)
    e, symtab = rng.choice(syms)
    fields = view.fmt.sym_fields
    name = rng.choice(list(fields))
    off, size = fields[name]
    near = [_get(buf, e + off, size), len(view.shdrs)]
    if name == "st_name":
        link = symtab[6]
        if link < len(view.shdrs):
            near.append(view.shdrs[link][1][5])   # its string table's size: at and past the end
    _put(buf, e + off, size, _interesting(rng, size, near))
    return buf


def m_rela(buf, rng, ctx):
    """A field of a RELA or REL entry (ELF32 REL: r_info's type byte or its
    24-bit symbol index)."""
    view = ElfView(buf)
    relas = [(e, h, fields) for sh_type, (entsize, fields) in view.fmt.rels.items()
             for e, h in _entries(buf, view, sh_type, entsize)]
    if not relas:
        return m_shdr(buf, rng, ctx)
    e, rtab, fields = rng.choice(relas)
    name = rng.choice(list(fields))
    off, size = fields[name]
    near = [_get(buf, e + off, size)]
    if name == "r_offset" and rtab[7] < len(view.shdrs):
        tsize = view.shdrs[rtab[7]][1][5]
        near += [tsize, tsize - 1, tsize - 2, tsize - 4, tsize - 8, tsize - 3]  # at/past the end
    if name == "r_type":
        near = list(range(0, 43))
    if name == "r_sym":
        symtabs = view.tables(SHT_SYMTAB)
        if symtabs:
            near.append(symtabs[0][1][5] // view.fmt.sym_size)
    _put(buf, e + off, size, _interesting(rng, size, near))
    return buf


def m_group(buf, rng, ctx):
    view = ElfView(buf)
    words = _entries(buf, view, SHT_GROUP, 4)
    if not words:
        return m_rela(buf, rng, ctx)
    e, _h = rng.choice(words)
    _put(buf, e, 4, _interesting(rng, 4, [len(view.shdrs)]))
    return buf


def m_strtab(buf, rng, ctx):
    """Overwrite the terminating NULs of a string table, or its bytes."""
    view = ElfView(buf)
    tabs = view.tables(SHT_STRTAB)
    if not tabs:
        return m_bitflip(buf, rng, ctx)
    _o, h = rng.choice(tabs)
    start, end = h[4], min(h[4] + h[5], len(buf))
    if end <= start:
        return buf
    if rng.random() < 0.5:
        for i in range(start, end):
            if buf[i] == 0 and rng.random() < 0.5:
                buf[i] = 0x41
    else:
        buf[end - 1] = 0x41
    return buf


def m_duplicate_section(buf, rng, ctx):
    """Make one section header a copy of another (overlapping contents,
    duplicated symbol tables)."""
    view = ElfView(buf)
    if len(view.shdrs) < 2:
        return m_shdr(buf, rng, ctx)
    (a, _), (b, _) = rng.sample(view.shdrs, 2)
    n = view.fmt.shdr.size
    buf[b:b + n] = buf[a:a + n]
    return buf


ELF_MUTATORS = [m_truncate, m_bitflip, m_bytes, m_splice, m_ehdr, m_shdr, m_shdr, m_symbol,
                m_symbol, m_rela, m_rela, m_rela, m_group, m_strtab, m_duplicate_section]


# --- archives -----------------------------------------------------------------

AR_MAGIC = b"!<arch>\n"


def ar_members(buf: bytes):
    """(header offset, name field, size) of each member, as far as it parses."""
    out, pos = [], 8
    while pos + 60 <= len(buf) and len(out) < 1000:
        hdr = buf[pos:pos + 60]
        try:
            size = int(hdr[48:58].decode("ascii").strip() or "0")
        except ValueError:
            break
        out.append((pos, hdr[:16], size))
        pos += 60 + size + (size & 1)
    return out


def m_ar_header(buf, rng, ctx):
    mem = ar_members(buf)
    if not mem:
        return m_bitflip(buf, rng, ctx)
    pos, name, size = rng.choice(mem)
    what = rng.choice(("size", "size", "name", "fmag", "longname", "truncate"))
    if what == "size":
        val = rng.choice([b"-1", b"0", b"99999999999", b"x12", b"", str(size + 1).encode(),
                          str(size - 1).encode(), str(len(buf)).encode(), b"4294967296",
                          str(rng.randrange(1 << 20)).encode()])
        buf[pos + 48:pos + 58] = val.ljust(10)[:10]
    elif what == "name":
        val = rng.choice([b"/", b"//", b"/999999", b"/-5", b"/0", b"#1/20", b"#1/99999999",
                          b"a" * 16, b"/SYM64/"])
        buf[pos:pos + 16] = val.ljust(16)[:16]
    elif what == "fmag":
        buf[pos + 58:pos + 60] = b"\0\0"
    elif what == "longname":
        buf[pos:pos + 16] = f"/{rng.choice([0, 1, len(buf), 1 << 31])}".encode().ljust(16)[:16]
    else:
        buf = buf[:pos + rng.randrange(60 + size)]
    return buf


def m_ar_symtab(buf, rng, ctx):
    """Absurd counts and offsets in the archive symbol table ("/" member):
    members pointing at themselves, at the symbol table, past the end."""
    mem = ar_members(buf)
    if not mem or mem[0][1].strip() not in (b"/", b"/SYM64/"):
        return m_ar_header(buf, rng, ctx)
    pos, _name, size = mem[0]
    body = pos + 60
    if size < 4:
        return buf
    count = int.from_bytes(buf[body:body + 4], "big")
    what = rng.choice(("count", "offset", "offset", "strings"))
    if what == "count":
        buf[body:body + 4] = (rng.choice([0, 1, count + 1, 0xFFFFFFFF, 0x7FFFFFFF,
                                          size]) & 0xFFFFFFFF).to_bytes(4, "big")
    elif what == "offset" and count:
        i = rng.randrange(min(count, (size - 4) // 4))
        o = body + 4 + 4 * i
        targets = [0, 8, pos, pos + 1, len(buf), len(buf) - 1, 0xFFFFFFFF]
        targets += [m[0] for m in mem]
        buf[o:o + 4] = rng.choice(targets).to_bytes(4, "big")
    else:
        strings = body + 4 + 4 * count
        for i in range(strings, min(body + size, len(buf))):
            if buf[i] == 0:
                buf[i] = 0x41
    return buf


def m_ar_member(buf, rng, ctx):
    """Mutate the ELF object inside one archive member."""
    mem = [m for m in ar_members(buf) if m[1].strip() not in (b"/", b"//", b"/SYM64/")
           and m[0] + 60 + m[2] <= len(buf)]      # (a mutated size may claim gigabytes)
    if not mem:
        return m_ar_header(buf, rng, ctx)
    pos, _name, size = rng.choice(mem)
    body = bytearray(buf[pos + 60:pos + 60 + size])
    body = rng.choice(ELF_MUTATORS)(body, rng, ctx)
    body = body[:size].ljust(size, b"\0")
    buf[pos + 60:pos + 60 + size] = body
    return buf


AR_MUTATORS = [m_ar_header, m_ar_header, m_ar_symtab, m_ar_symtab, m_ar_member, m_ar_member,
               m_ar_member, m_truncate, m_bitflip]


#: no mutator may grow an input beyond this
MAX_MUTANT = 1 << 20


def mutate(data: bytes, rng: random.Random, rounds: int | None = None) -> tuple[bytes, list[str]]:
    """Apply 1 to 4 mutations; return the mutant and the mutators' names."""
    buf = bytearray(data)
    names = []
    table = AR_MUTATORS if data.startswith(AR_MAGIC) else ELF_MUTATORS
    for _ in range(rounds or rng.choice((1, 1, 1, 2, 2, 3, 4))):
        m = rng.choice(table)
        buf = m(buf, rng, None)
        names.append(m.__name__[2:])
        assert len(buf) <= max(len(data), MAX_MUTANT), (m.__name__, len(buf))
    return bytes(buf), names


def make_case(seeds: list, seed: int, index: int):
    """Case number ``index`` of a run: pick a seed (a list of (name, bytes)
    inputs), mutate one of its files.  Returns (inputs, description)."""
    rng = random.Random(seed * 1_000_003 + index)
    label, files = seeds[rng.randrange(len(seeds))]
    files = list(files)
    k = rng.randrange(len(files))
    name, data = files[k]
    mutant, names = mutate(data, rng)
    files[k] = (name, mutant)
    return files, f"{label}[{name}]: {'+'.join(names)}"
