"""Codec ``lz``: tinyelf's LZ77 format (ZX0-like), compressor and reference decoder.

The stream mixes bytes (literals, offsets' low bytes) and bits (flags and
Elias-gamma numbers) in one byte sequence: a bit is taken from a bit buffer
byte, and a new buffer byte is read from the stream, at its current position,
when the 8 bits of the previous one are used up (the decoder's ``getbit``:
``add al,al; jnz; lodsb; adc al,al``).  Bits go most significant first.

``gamma(v)`` (v >= 1), interleaved Elias gamma: for each bit of v below its
leading 1, most significant first, a 0 then the bit; then a 1.

Tokens::

    literals   gamma(n), n bytes                   (first token, and after a match after flag 0)
    rep match  gamma(len): copy len bytes from the last offset   (after literals, flag 0)
    new match  gamma(hi + 1), byte lo, gamma(len - 1): offset = hi*256 + lo,
               copy len >= 2 bytes from dst - offset (flag 1, after literals or a match)
    end        a new match whose offset is 0 (gamma(1), byte 0)

After a literal run: flag 0 = rep match, 1 = new match (two literal runs never
follow each other).  After a match: flag 0 = literals, 1 = new match.
Offsets are 1..65535.  See docs/compress.md.
"""
from __future__ import annotations

from ..errors import LinkError

MAX_OFFSET = 0xFFFF
#: candidates examined per position by the match finder
CHAIN = 48
#: longest literal run the parser considers from one position
MAX_LIT = 16
#: a match this long ends the search at a position, and the parser considers
#: only its full length beyond it
LONG = 40


def gamma_bits(v: int) -> int:
    return 2 * v.bit_length() - 1


class _Writer:
    def __init__(self):
        self.out = bytearray()
        self.bitpos = -1       # index of the current bit-buffer byte
        self.nbits = 8

    def bit(self, b: int) -> None:
        if self.nbits == 8:
            self.bitpos = len(self.out)
            self.out.append(0)
            self.nbits = 0
        if b:
            self.out[self.bitpos] |= 0x80 >> self.nbits
        self.nbits += 1

    def gamma(self, v: int) -> None:
        n = v.bit_length()
        for i in range(n - 2, -1, -1):
            self.bit(0)
            self.bit((v >> i) & 1)
        self.bit(1)

    def byte(self, b: int) -> None:
        self.out.append(b)


def _extend(data: bytes, j: int, i: int, length: int, cap: int = 4096) -> int:
    """How far data[j:] and data[i:] agree (they do for ``length`` bytes), up to ``cap``."""
    n = len(data)
    step = 64
    while length < cap and i + length < n:
        end = min(length + step, n - i, cap)
        if data[j + length:j + end] == data[i + length:i + end]:
            length = end
            continue
        while data[j + length] == data[i + length]:
            length += 1
        return length
    return length


def _matches(data: bytes):
    """For each position: [(length, offset)] with strictly increasing length
    and, for each length, the smallest offset reaching it (longest first)."""
    n = len(data)
    heads: dict = {}
    result = [None] * n
    skip_to = 0
    for i in range(n):
        found = []
        if i < skip_to:       # inside a long match: only remember the position
            heads.setdefault(data[i:i + 2], []).append(i)
            result[i] = found
            continue
        if i + 2 <= n:
            key = data[i:i + 2]
            chain = heads.get(key)
            if chain:
                best = 1
                for j in reversed(chain[-CHAIN:]):
                    off = i - j
                    if off > MAX_OFFSET:
                        break
                    if i + best >= n or data[j + best] != data[i + best]:
                        continue
                    length = _extend(data, j, i, 2)
                    if length > best:
                        found.append((length, off))
                        best = length
                        if i + length >= n or length >= LONG:
                            break
                chain.append(i)
            else:
                heads[key] = [i]
        result[i] = found
        if found and found[-1][0] >= LONG:
            skip_to = i + found[-1][0]
    return result


def _lengths(lo: int, hi: int):
    """The match lengths the parser tries: all up to LONG, then only the longest."""
    yield from range(lo, min(hi, LONG) + 1)
    if hi > LONG:
        yield hi


def compress(data: bytes) -> bytes:
    return encode(data, parse(data))


def byte_costs(data: bytes, payload: bytes | None = None) -> list:
    """Bits each byte of ``data`` costs: a literal its 8 bits and its share of
    the run's length and flag, a match's bytes an equal share of its flag,
    offset and length."""
    costs = []
    prev = None
    for kind, L, off in parse(data):
        flag = 0 if prev is None else 1
        if kind == "lit":
            share = (flag + gamma_bits(L)) / L
            costs += [8 + share] * L
        elif kind == "rep":
            costs += [(1 + gamma_bits(L)) / L] * L
        else:
            costs += [(1 + gamma_bits((off >> 8) + 1) + 8 + gamma_bits(L - 1)) / L] * L
        prev = kind
    return costs


def parse(data: bytes) -> list:
    """Optimal-ish parse by dynamic programming (the state after each position:
    'after literals' or 'after a match', with the last offset of the best path
    into it) and encode."""
    n = len(data)
    if n == 0:
        raise LinkError("lz: nothing to compress (an empty program)")
    INF = float("inf")
    G = [0] + [gamma_bits(v) for v in range(1, n + 2)]
    # cost[k][i]: bits to reach position i with state k (0 after literals, 1 after a match)
    cost = [[INF] * (n + 1), [INF] * (n + 1)]
    back = [[None] * (n + 1), [None] * (n + 1)]
    last = [[0] * (n + 1), [0] * (n + 1)]
    matches = _matches(data)
    # where a literal run may end beyond MAX_LIT: before a match of 3 or more, or at the end
    stops = [i for i in range(n) if matches[i] and matches[i][-1][0] >= 3] + [n]

    def run_lengths(i):
        yield from range(1, min(MAX_LIT, n - i) + 1)
        from bisect import bisect_right
        k = bisect_right(stops, i + MAX_LIT)
        for s in stops[k:k + 8]:
            yield s - i
    # the stream starts with literals (no flag)
    for L in run_lengths(0):
        c = G[L] + 8 * L
        cost[0][L] = c
        back[0][L] = ("lit", 0, L, -1)
    for i in range(1, n):
        for k in (0, 1):
            c0 = cost[k][i]
            if c0 == INF:
                continue
            lo = last[k][i]
            if k == 1:   # literals after a match
                for L in run_lengths(i):
                    c = c0 + 1 + G[L] + 8 * L
                    if c < cost[0][i + L]:
                        cost[0][i + L] = c
                        back[0][i + L] = ("lit", k, L, lo)
                        last[0][i + L] = lo
            elif lo:       # rep match after literals
                length = _extend(data, i - lo, i, 0, 256) if data[i] == data[i - lo] else 0
                for L in _lengths(1, length):
                    c = c0 + 1 + G[L]
                    if c < cost[1][i + L]:
                        cost[1][i + L] = c
                        back[1][i + L] = ("rep", k, L, lo)
                        last[1][i + L] = lo
            prev = 1
            for length, off in matches[i]:
                oc = c0 + 1 + G[(off >> 8) + 1] + 8
                for L in _lengths(prev + 1, length):
                    c = oc + G[L - 1]
                    if c < cost[1][i + L]:
                        cost[1][i + L] = c
                        back[1][i + L] = ("new", k, L, off)
                        last[1][i + L] = off
                prev = length
    k = 0 if cost[0][n] <= cost[1][n] else 1
    tokens = []
    i = n
    while i > 0:
        kind, pk, L, off = back[k][i]
        tokens.append((kind, L, off))
        i -= L
        k = pk
    tokens.reverse()
    return tokens


def encode(data: bytes, tokens) -> bytes:
    w = _Writer()
    pos = 0
    prev_kind = None
    for kind, L, off in tokens:
        if kind == "lit":
            if prev_kind is not None:
                w.bit(0)
            w.gamma(L)
            for b in data[pos:pos + L]:
                w.byte(b)
        elif kind == "rep":
            w.bit(0)
            w.gamma(L)
        else:
            w.bit(1)
            w.gamma((off >> 8) + 1)
            w.byte(off & 0xFF)
            w.gamma(L - 1)
        pos += L
        prev_kind = kind
    w.bit(1)
    w.gamma(1)
    w.byte(0)
    return bytes(w.out)


class _Reader:
    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0
        self.buf = 0x80

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise ValueError("lz: stream ends early")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def bit(self) -> int:
        self.buf = (self.buf << 1) & 0x1FF
        cf = self.buf >> 8
        self.buf &= 0xFF
        if self.buf == 0:
            b = self.byte()
            cf = b >> 7
            self.buf = ((b << 1) | 1) & 0xFF
        return cf

    def gamma(self) -> int:
        v = 1
        while not self.bit():
            v = (v << 1) | self.bit()
            if v > 1 << 32:
                raise ValueError("lz: gamma number too long")
        return v


def decompress(stream: bytes, limit: int = 1 << 26) -> bytes:
    """The reference decoder (what the x86-64 stub does)."""
    r = _Reader(stream)
    out = bytearray()
    last = 0
    kind = "lit"
    while True:
        if kind == "lit":
            L = r.gamma()
            for _ in range(L):
                out.append(r.byte())
            kind = "new" if r.bit() else "rep"
            if kind == "rep":
                L = r.gamma()
                off = last
        if kind == "new":
            hi = r.gamma() - 1
            off = (hi & 0xFF) << 8 | r.byte()
            if off == 0:
                return bytes(out)
            last = off
            L = r.gamma() + 1
        if off > len(out):
            raise ValueError("lz: offset before the start")
        for _ in range(L):
            out.append(out[-off])
        if len(out) > limit:
            raise ValueError("lz: output too long")
        kind = "new" if r.bit() else "lit"


def table_bytes(n: int) -> int:
    """Working memory the decoder needs beyond the program's own: none."""
    return 0
