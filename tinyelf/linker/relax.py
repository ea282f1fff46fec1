"""Pass 5b, relax: the machine's linker relaxation, iterated with the layout.

Input: a laid-out link.  Output: the same link, its kept sections possibly
shorter (instruction sequences rewritten into shorter forms, bytes deleted,
symbols, relocation offsets and references into the sections moved with
them) and laid out again for their new sizes.  The arch decides what to
rewrite (``Arch.relax``: riscv's call -> jal, lui/auipc pairs ->
gp-relative or compressed forms, alignment padding cut); this pass
only repeats "relax from the addresses the layout gave, then lay out again"
until the arch changes nothing.  The layout stays the one place addresses
are decided.  With ``LinkOptions.relax`` False (``--no-relax``) the arch
makes no rewrites; riscv still cuts alignment padding to its boundary (the
assembler left the most it may need) and drops the start stub's unused gp
setup.

Invariant: when the pass ends, every rewrite the arch made holds for the
final addresses (it checked them on the last round), and relocate range-
checks every field as always.
"""
from __future__ import annotations

from ..errors import LinkError
from .layout import layout
from .model import Link

#: rounds of relax + layout before giving up (each rewrite is made at most
#: once and withdrawn at most once, so real programs settle in a few)
MAX_ROUNDS = 40


def relax(link: Link) -> Link:
    arch = link.arch
    for _ in range(MAX_ROUNDS):
        if not arch.relax(link):
            return link
        layout(link)
    raise LinkError(f"linker relaxation did not settle after {MAX_ROUNDS} rounds of layout; "
                    "link with --no-relax")
