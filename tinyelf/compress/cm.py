"""Codec ``cm``: context mixing with a binary arithmetic coder (Crinkler-like).

Every bit of the program, most significant first, is predicted by up to
``MAX_MODELS`` context models and coded with a 32-bit range coder.  A model
is a byte ``mask`` over the 8 bytes before the current one (bit j selects the
byte 8 - j back: 0x80 is order 1, 0xC0 order 2, 0x00 order 0) and a
``weight`` (a shift).  Its counters are byte pairs ``(n0, n1)`` (how often a
0 and a 1 followed) in a table of its own.  The context is hashed once per
byte, not once per bit: ``h = (ctx & mask) * K mod 2**64 >> 46``; the byte's
bits then use slots ``h + c0`` (``c0``: the bits of the byte so far behind a
leading 1), so a byte's counters lie within 512 bytes (a few cache lines of
one or two pages) instead of at 8 random places.  The prediction
adds every model's counts shifted by its weight (plus one when one of the
two counts is zero: a deterministic context speaks louder),
``bound = range * (s1 + 1) // (s0 + s1 + 2)``; after the bit, the seen bit's
count grows by 1 (at most 255) and the other one, if above 2, becomes
n/2 + 1 (Crinkler's rule).

Payload: M, M pairs (mask, weight), then the coder's bytes.  The decoder reads
the 8 bytes before the one it decodes from its output (zero before the start).
See docs/compress.md.
"""
from __future__ import annotations

from math import log2
from operator import add, floordiv, sub

M64 = (1 << 64) - 1
K = 0x9E3779B97F4A7C15   # the hash multiplier (Fibonacci hashing)
SLOT_BITS = 18           # h: a model's slots h + c0 span 2**18 + 256 two-byte slots
TABLE_STRIDE = 1 << 20   # model i's table at __table + i MiB (touched: at most 513 KiB)
MAX_MODELS = 8
#: models tried by the compressor, best first in a greedy search (masks: bit j
#: keeps the byte 8 - j back, so 0b10000000 is order 1)
CANDIDATES = (0b10000000, 0b11000000, 0b11100000, 0b01000000, 0b10100000, 0b11110000,
              0b00100000, 0b10010000, 0b01010000, 0b10000100, 0b00000000, 0b01100000,
              0b11111100, 0b11111000, 0b11111111, 0b11010000, 0b10110000, 0b10001000,
              0b11001000, 0b11101000, 0b01001000, 0b00110000, 0b00010000, 0b00001000,
              0b10101000)


def table_bytes(n: int) -> int:
    return MAX_MODELS * TABLE_STRIDE


def _expand(mask: int) -> int:
    return sum(0xFF << (8 * j) for j in range(8) if mask >> j & 1)


def _slot_base(ctx: int) -> int:
    """The byte's slot base h for a masked context."""
    return (ctx * K & M64) >> (64 - SLOT_BITS)


def _boost(a: int, b: int) -> tuple:
    """The counts as the mixer weighs them: doubled when the other is zero."""
    return (a << 1, b << 1) if not (a and b) else (a, b)


def _update(slot: list, y: int) -> None:
    if slot[y] < 255:
        slot[y] += 1
    if slot[1 - y] > 2:
        slot[1 - y] = (slot[1 - y] >> 1) + 1


def _counts(data: bytes, mask: int):
    """The model's (n0, n1) before each bit, boosted: two lists.  The table is
    the decoder's: n0 of slot i at byte 2i, n1 at byte 2i + 1."""
    emask = _expand(mask)
    table = bytearray(2 << SLOT_BITS | 512)
    shift = 64 - SLOT_BITS
    n0s, n1s = [], []
    put0, put1 = n0s.append, n1s.append
    padded = bytes(8) + data
    for pos, byte in enumerate(data):
        # _slot_base, once per byte
        base = ((int.from_bytes(padded[pos:pos + 8], "little") & emask) * K & M64) >> shift
        c0 = 1
        for k in (7, 6, 5, 4, 3, 2, 1, 0):
            i = (base + c0) << 1
            a = table[i]
            b = table[i + 1]
            if a and b:
                put0(a)
                put1(b)
            else:
                put0(a << 1)
                put1(b << 1)
            y = byte >> k & 1
            i += y
            if table[i] < 255:
                table[i] += 1
            i ^= 1
            if table[i] > 2:
                table[i] = (table[i] >> 1) + 1
            c0 = c0 * 2 + y
    return n0s, n1s


def _bits(data: bytes) -> list:
    return [b >> k & 1 for b in data for k in range(7, -1, -1)]


def _sums(models, counts, n):
    s0, s1 = [0] * n, [0] * n
    for m, w in models:
        n0s, n1s = counts[m]
        s0 = [x + (a << w) for x, a in zip(s0, n0s)]
        s1 = [x + (b << w) for x, b in zip(s1, n1s)]
    return s0, s1


def _probs(models, counts):
    """p1 (in 1/65536) before each bit for models [(mask, weight)]."""
    n = len(counts[models[0][0]][0])
    s0, s1 = _sums(models, counts, n)
    return [((b + 1) << 16) // (a + b + 2) for a, b in zip(s0, s1)]


_LOG: list = []


def _cost(seen, total) -> float:
    """Bits the coder spends on bits whose seen bit's count sum + 1, times
    65536, is ``seen`` and whose count sum s0 + s1 + 2 is ``total`` (iterables):
    the sum of -log2((s_y + 1) / (s0 + s1 + 2)).  C-level maps: this is the
    compressor's inner loop."""
    if not _LOG:
        _LOG.extend([16.0] + [16 - log2(p) for p in range(1, 65536)])
    return sum(map(_LOG.__getitem__, map(floordiv, seen, total)))


def models_of(payload: bytes) -> list:
    """The (mask, weight) pairs at the start of a payload."""
    return [(payload[1 + 2 * i], payload[2 + 2 * i]) for i in range(payload[0])]


def byte_costs(data: bytes, payload: bytes | None = None) -> list:
    """Bits each byte of ``data`` costs under the model (for the report); the
    models are the payload's, or searched when no payload is given."""
    models = models_of(payload) if payload else choose_models(data)
    counts = {m: _counts(data, m) for m, _ in models}
    bits = _bits(data)
    out, acc = [], 0.0
    for t, (p, y) in enumerate(zip(_probs(models, counts), bits)):
        acc -= log2(((p if y else 65536 - p) or 1) / 65536)
        if t % 8 == 7:
            out.append(acc)
            acc = 0.0
    return out


#: (input size up to, candidate models, weights tried when adding one, weight
#: tuning rounds, candidates kept after each greedy round, weight changes tried in tuning)
SEARCH = ((3072, CANDIDATES, (0, 2, 4), 2, 16, (-2, -1, 1, 2)),
          (1 << 62, CANDIDATES[:12], (2,), 2, 8, (-2, -1, 1, 2)))
#: a quicker search (8 candidates, 1/6 of the evaluations: a few times faster,
#: a few % larger): the differential tests use it on every corpus variant
QUICK_SEARCH = ((1 << 62, CANDIDATES[:8], (1, 3), 1, 4, (-1, 1)),)
#: the search judges a model set by the cost of at most this many bits (every k-th)
SAMPLE = 24000


def choose_models(data: bytes, full: dict | None = None):
    """Greedy: add the (mask, weight) that saves most, while it saves 2 bytes
    or more; then tune each weight in turn.  Smaller search on large inputs.
    ``full`` (if given) receives every candidate's counts (for encode)."""
    bits = _bits(data)
    stride = -(-len(bits) // SAMPLE)
    ys = bits[::stride]
    n = len(ys)
    for limit, cands, weights, rounds, keep, tune in SEARCH:
        if len(data) <= limit:
            break
    full = {} if full is None else full
    per = {}            # mask -> (the seen bit's count, n0 + n1), per sampled bit
    for m in cands:
        n0s, n1s = full[m] = _counts(data, m)
        n0s, n1s = n0s[::stride], n1s[::stride]
        per[m] = ([b if y else a for a, b, y in zip(n0s, n1s, ys)], list(map(add, n0s, n1s)))
    shifted: dict = {}

    def term(m, w):
        """Model m's share of (seen, total) at weight w."""
        if (m, w) not in shifted:
            seen, tot = per[m]
            shifted[m, w] = ([x << (w + 16) for x in seen], [x << w for x in tot])
        return shifted[m, w]

    def cost_with(seen, total, m, w):
        a, b = term(m, w)
        return _cost(map(add, seen, a), map(add, total, b))

    models, seen, total = [], [1 << 16] * n, [2] * n
    best = _cost(seen, total)
    while len(models) < MAX_MODELS:
        step = None
        ranked = []
        for m in cands:
            if any(m == x for x, _ in models):
                continue
            mine = None
            for w in weights:
                c = cost_with(seen, total, m, w)
                mine = c if mine is None else min(mine, c)
                if step is None or c < step[0]:
                    step = (c, (m, w))
            ranked.append((mine, m))
        if step is None or step[0] > best - 16:
            break
        best, (m, w) = step
        a, b = term(m, w)
        seen, total = list(map(add, seen, a)), list(map(add, total, b))
        models.append((m, w))
        cands = [m for _c, m in sorted(ranked)[:keep]]   # the promising ones only
    for _ in range(rounds):
        changed = False
        for i, (m, w0) in enumerate(models):
            a, b = term(m, w0)
            seen0, total0 = list(map(sub, seen, a)), list(map(sub, total, b))
            for w in [w0 + d for d in tune]:
                if not 0 <= w <= 7 or w == models[i][1]:
                    continue
                c = cost_with(seen0, total0, m, w)
                if c < best - 1:
                    best, changed = c, True
                    a, b = term(m, w)
                    seen, total = list(map(add, seen0, a)), list(map(add, total0, b))
                    models[i] = (m, w)
        if not changed:
            break
    return models or [(0x80, 0)]


def encode(data: bytes, models, counts: dict | None = None) -> bytes:
    counts = counts or {}
    counts = {m: counts.get(m) or _counts(data, m) for m, _ in models}
    s0s, s1s = _sums(models, counts, 8 * len(data))
    head = bytearray([len(models)])
    for m, w in models:
        head += bytes([m, w])
    out = bytearray()           # the coder's bytes so far; low: the next 4
    low, rng = 0, 0xFFFFFFFF
    for s0, s1, y in zip(s0s, s1s, _bits(data)):
        bound = rng * (s1 + 1) // (s0 + s1 + 2)
        if y:
            rng = bound
        else:
            low += bound
            rng -= bound
            if low >> 32:       # the carry goes into the bytes already out
                low &= 0xFFFFFFFF
                i = len(out) - 1
                while out[i] == 255:
                    out[i] = 0
                    i -= 1
                out[i] += 1
        while rng < 1 << 24:
            out.append(low >> 24)
            low = low << 8 & 0xFFFFFFFF
            rng <<= 8
    # the decoder reads len(out) + 4 bytes: any value in [low, low + rng) (as
    # the last 4 bytes, carry included) ends it right; the one with most
    # trailing zero bytes (they may become bss at the file's end)
    n = len(out) + 4
    low = int.from_bytes(out, "big") << 32 | low
    # (rng < 2**32: rounding low up to more than 5 zero bytes passes the end)
    code = max((-(-low >> 8 * z) << 8 * z for z in range(6)),
               key=lambda c: (c < low + rng, (c & -c).bit_length() if c else 8 * n))
    return bytes(head) + code.to_bytes(n, "big")


def compress(data: bytes) -> bytes:
    counts: dict = {}
    models = choose_models(data, counts)
    return encode(data, models, counts)


def decompress(stream: bytes, size: int) -> bytes:
    """The reference decoder (what the x86-64 stub does); ``size`` bytes out."""
    m = stream[0]
    models = models_of(stream)
    src = iter(stream[1 + 2 * m:])
    value = int.from_bytes(bytes(next(src, 0) for _ in range(4)), "big")
    rng = 0xFFFFFFFF
    tables = [dict() for _ in models]
    emasks = [_expand(mk) for mk, _ in models]
    out = bytearray(8)
    for _ in range(size):
        ctx = int.from_bytes(out[-8:], "little")
        bases = [_slot_base(ctx & e) for e in emasks]
        c0 = 1
        while c0 < 256:
            s0 = s1 = 0
            slots = []
            for (mk, w), base, table in zip(models, bases, tables):
                slot = table.setdefault(base + c0, [0, 0])
                slots.append(slot)
                a, b = _boost(*slot)
                s0 += a << w
                s1 += b << w
            bound = rng * (s1 + 1) // (s0 + s1 + 2)
            if value < bound:
                y, rng = 1, bound
            else:
                y, value, rng = 0, value - bound, rng - bound
            while rng < 1 << 24:
                rng <<= 8
                value = (value << 8 & 0xFFFFFFFF) | next(src, 0)
            for slot in slots:
                _update(slot, y)
            c0 = c0 * 2 + y
        out.append(c0 & 0xFF)
    return bytes(out[8:])
