"""Hole planning, unit by unit: ``plan_chunks`` on hand-made code.

The code is described as the arch's decoder would describe it,
``(start, end, mnemonic, relative targets)`` per instruction, and turned
into a ``CodeInfo`` by ``holes.code_info``; no bytes are decoded, so these
tests hold for any architecture.  Properties checked: the pieces tile the
section from the start position, each piece fits its hole with the bytes of
the jump that continues it, a piece placed in a hole ends with a terminator
or a jump (a section that may fall off its end keeps its last instruction in
the tail), no relative reference crosses a split, ``first_hole`` is obeyed,
the answer moves the most bytes possible (against brute force), and
memoised answers are equal and independent.
"""
from __future__ import annotations

import itertools
import random

import pytest

from tinyelf import arch as archmod
from tinyelf.linker import holes

#: a mnemonic that ends straight-line code, and one that does not
TERM = "ret"
PLAIN = "add"
#: sizes of the jump that continues a piece: every registered arch's
#: shortest, and 4 (a fixed-width machine's branch)
JUMPS = sorted({archmod.get(a).jump_sizes[0] for a in archmod.names()
                if archmod.get(a).jump_sizes} | {4})


@pytest.fixture(params=JUMPS, ids=lambda j: f"jump{j}")
def jump(request):
    return request.param


def info_of(lengths, mnemonics=None, targets=None, fields=(), jump=2):
    """CodeInfo for instructions of the given lengths; ``mnemonics``: index
    -> mnemonic (default PLAIN); ``targets``: index -> [target offsets]."""
    insns, pos = [], 0
    for k, n in enumerate(lengths):
        insns.append((pos, pos + n, (mnemonics or {}).get(k, PLAIN), (targets or {}).get(k, [])))
        pos += n
    info = holes.code_info(bytes(pos), insns, list(fields))
    assert info is not None
    info.terminators = frozenset({TERM})
    info.jump = jump
    return info


def check_plan(info, free, start, end_pos, pieces, first_hole=None):
    """Every rule a plan must keep; returns the bytes it moved."""
    pos = start
    used = set()
    for a, b, h, jmp in pieces:
        assert a == pos and a < b <= info.size, pieces
        assert b in info.bounds, (b, info.bounds)
        assert h not in used, pieces          # one piece per hole
        used.add(h)
        term = info.terminator_before(b)
        assert jmp == (not term), pieces
        assert (b - a) + (info.jump if jmp else 0) <= free[h][1], (pieces, free)
        if b == info.size:
            assert term, "a piece that may fall off the section's end left the tail"
        for src, dst in info.intra:           # no relative reference crosses a split
            assert (a <= src < b) == (a <= dst < b), ((a, b), (src, dst))
        pos = b
    assert end_pos == pos
    if first_hole is not None and pieces:
        assert pieces[0][2] == first_hole
    return end_pos - start


def test_whole_section_with_its_terminator_needs_no_jump():
    info = info_of([3, 2, 1], {2: TERM})
    assert holes.plan_chunks(info, [[10, 6]]) == (6, [(0, 6, 0, False)])


def test_section_that_may_fall_off_its_end_keeps_its_last_piece_in_the_tail(jump):
    """No terminator at the end: the last instruction never goes to a hole,
    however much room there is."""
    info = info_of([3, 2, 1], jump=jump)
    end, pieces = holes.plan_chunks(info, [[10, 100]])
    assert end < info.size and end in info.bounds
    assert pieces == [(0, end, 0, True)]
    assert end == 5


def test_jump_bytes_are_counted(jump):
    """A 3-byte piece that continues elsewhere needs 3 + the jump's bytes."""
    info = info_of([3, 8, 1], {2: TERM}, jump=jump)
    j = info.jump
    assert holes.plan_chunks(info, [[0, 3 + j - 1]]) == (0, [])
    assert holes.plan_chunks(info, [[0, 3 + j]]) == (3, [(0, 3, 0, True)])
    # two holes: the first piece continues with a jump, the last ends in ret
    free = [[0, 3 + j], [40, 9]]
    end, pieces = holes.plan_chunks(info, free)
    check_plan(info, free, 0, end, pieces)
    assert end == 12 and [p[:2] for p in pieces] == [(0, 3), (3, 12)], pieces
    assert pieces[0][3] and not pieces[1][3]


def test_a_terminator_inside_ends_a_piece_without_a_jump():
    info = info_of([2, 1, 4, 1], {1: TERM, 3: TERM})
    # [0, 3) ends with ret: it fits a 3-byte hole exactly, no jump needed
    end, pieces = holes.plan_chunks(info, [[0, 3]])
    assert (end, pieces) == (3, [(0, 3, 0, False)])


def test_relative_reference_never_crosses_a_split(jump):
    """A loop from instruction 2 back to 0: [0, 2) alone would cut it."""
    info = info_of([2, 2, 2, 1], {3: TERM}, {2: [0]}, jump=jump)
    j = info.jump
    end, pieces = holes.plan_chunks(info, [[0, 2 + j], [20, 100]])
    check_plan(info, [[0, 2 + j], [20, 100]], 0, end, pieces)
    assert (end, pieces) == (7, [(0, 7, 1, False)])
    # a hole too small for the loop plus its jump: no part of the loop moves
    # ([0, 2) and [0, 4) would separate the branch at 4 from its target 0)
    hole = min(4 + j, 6)
    assert holes.plan_chunks(info, [[0, hole]]) == (0, [])
    # without the loop (and without a terminator at the end), [0, 4) and a
    # jump fill a hole of 4 + jump bytes
    assert holes.plan_chunks(info_of([2, 2, 2, 1], jump=j), [[0, 4 + j]]) == \
        (4, [(0, 4, 0, True)])


def test_targets_of_relocated_instructions_are_not_intra_references():
    """An instruction whose field is relocated refers through the relocation
    (fixed up wherever the piece goes), so it does not tie pieces together."""
    insns = [(0, 2, PLAIN, []), (2, 7, PLAIN, [0]), (7, 8, TERM, [])]
    assert holes.code_info(bytes(8), insns, [(3, 7)]).intra == []
    assert holes.code_info(bytes(8), insns, []).intra == [(2, 0)]


def test_code_info_refuses_gaps_and_straddling_fields():
    assert holes.code_info(bytes(4), [(0, 2, PLAIN, []), (3, 4, TERM, [])], []) is None
    assert holes.code_info(bytes(5), [(0, 2, PLAIN, []), (2, 4, TERM, [])], []) is None
    insns = [(0, 2, PLAIN, []), (2, 4, TERM, [])]
    assert holes.code_info(bytes(4), insns, [(1, 3)]) is None        # field across two
    assert holes.code_info(bytes(4), insns, [(0, 2)]) is not None


def test_first_hole_gets_the_first_piece_or_nothing(jump):
    info = info_of([3, 3, 1], {2: TERM}, jump=jump)
    j = info.jump
    free = [[0, 1], [10, 3 + j], [30, 4]]
    end, pieces = holes.plan_chunks(info, free, first_hole=1)
    check_plan(info, free, 0, end, pieces, first_hole=1)
    assert pieces[0][0] == 0 and pieces[0][2] == 1
    # hole 0 holds no instruction: with first_hole=0 nothing is placed
    assert holes.plan_chunks(info, free, first_hole=0) == (0, [])


def test_start_position_continues_a_section():
    info = info_of([3, 3, 1], {2: TERM})
    assert holes.plan_chunks(info, [[0, 4]], start_pos=3) == (7, [(3, 7, 0, False)])


def test_memoised_answers_are_equal_and_independent():
    info = info_of([2, 2, 2, 1], {3: TERM})
    free = [[0, 4], [50, 5]]
    first = holes.plan_chunks(info, free)
    first[1].append("caller's own change")
    again = holes.plan_chunks(info, free)
    assert again == holes.plan_chunks(info_of([2, 2, 2, 1], {3: TERM}), free)
    assert "caller's own change" not in again[1]
    # only the sizes of the holes matter, not where they are
    assert holes.plan_chunks(info, [[100, 4], [7, 5]]) == again
    # another start is another question
    assert holes.plan_chunks(info, free, start_pos=2) != again


def _brute_best(info, free, start):
    """The most bytes any valid plan moves, by trying every sequence of cut
    points and hole assignments."""
    j = info.jump
    best = 0
    cuts = [b for b in info.bounds if b > start]
    for k in range(1, len(free) + 1):
        for ends in itertools.combinations(cuts, k):
            for hs in itertools.permutations(range(len(free)), k):
                pos, ok = start, True
                for e, h in zip(ends, hs):
                    term = info.terminator_before(e)
                    if (e == info.size and not term) or \
                            (e - pos) + (0 if term else j) > free[h][1] or \
                            not info.piece_ok(pos, e):
                        ok = False
                        break
                    pos = e
                if ok:
                    best = max(best, pos - start)
    return best


@pytest.mark.parametrize("seed", range(60))
def test_random_plans_keep_every_rule_and_move_the_most(seed, jump):
    rnd = random.Random(seed)
    n = rnd.randint(1, 6)
    lengths = [rnd.randint(1, 5) for _ in range(n)]
    mn = {k: TERM for k in range(n) if rnd.random() < 0.3}
    size = sum(lengths)
    starts = list(itertools.accumulate([0] + lengths[:-1]))
    targets = {k: [rnd.choice(starts)] for k in range(n) if rnd.random() < 0.3}
    info = info_of(lengths, mn, targets, jump=jump)
    free = [[rnd.randint(0, 60), rnd.randint(1, 9)] for _ in range(rnd.randint(1, 3))]
    start = rnd.choice(starts)
    end, pieces = holes.plan_chunks(info, free, start_pos=start)
    moved = check_plan(info, free, start, end, pieces)
    assert moved == _brute_best(info, free, start), (lengths, mn, targets, free, start, pieces)
    assert size >= end
