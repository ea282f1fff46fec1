"""Label offsets: an instruction's size depends on where its target is
(short or near jumps), and the targets' offsets depend on the sizes.  Lay the
sections out, assemble every instruction at its offsets, repeat until no
size changes."""
from __future__ import annotations

from ..errors import InputError

ROUNDS = 12


def _item_size(item, sizes) -> int:
    if item.kind in ("data", "space"):
        return item.size
    if item.kind == "string":
        return len(item.data)
    return sizes.get(id(item), 1)          # an instruction: its size in the last round


def place(sec, sizes) -> bool:
    """Give every item of ``sec`` its offset; True if the section's size changed."""
    off = 0
    for item in sec.items:
        item.offset = off
        if item.kind == "align":
            off += (-off) % item.size
        elif item.kind != "label":
            off += _item_size(item, sizes)
    changed = sec.size != off
    sec.size = off
    return changed


def settle(name: str, secs, size_of) -> None:
    """Offsets for every item of ``secs``; ``size_of(sec, item)`` assembles
    one instruction at the current offsets and gives its length."""
    sizes = {}
    for _round in range(ROUNDS):
        changed = False
        for sec in secs:
            changed |= place(sec, sizes)
        new_sizes = {id(item): size_of(sec, item)
                     for sec in secs for item in sec.items if item.kind == "insn"}
        if new_sizes == sizes and not changed:
            return
        sizes = new_sizes
    raise InputError(f"{name}: instruction sizes do not settle (jumps at the edge "
                     "of short range); use explicit 'near' jumps")
