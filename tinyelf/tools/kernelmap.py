"""What the kernel maps for a PT_LOAD: the page-rounded view beside the header's numbers.

A program header says ``offset 0x18 vaddr 0x500000018 filesz 0x1 memsz 0x1``
(overlap80 needs those numbers), and a reader thinks one byte is loaded.
Linux (fs/binfmt_elf.c) maps whole pages: from the page holding p_vaddr to
the page end after p_vaddr + max(p_filesz, p_memsz), with the file's bytes
from the page holding p_offset on; in the last file page, bytes past the
end of the file read as zero, and when p_memsz > p_filesz the kernel zeroes
the rest of that page after p_filesz (bss).  So a 101-byte overlap80 file is
in memory whole.  :func:`kernel_view` computes that view;
:func:`describe` says it in one line for ``size``, ``--report``, the link
map and ``inspect``.
"""
from __future__ import annotations

#: the page size the kernel maps with (x86-64, and the other machines
#: tinyelf links, use 4 KiB pages; callers pass the arch's when they have one)
PAGE = 4096


def kernel_view(offset: int, vaddr: int, filesz: int, memsz: int, file_size: int,
                page: int = PAGE) -> dict:
    """The memory one PT_LOAD occupies and the file bytes visible in it."""
    down = lambda x: x - x % page          # noqa: E731
    up = lambda x: -(-x // page) * page    # noqa: E731
    start, end = down(vaddr), up(vaddr + max(filesz, memsz, 1))
    file_start = down(offset)
    if filesz == 0:
        file_end = file_start
    elif memsz > filesz:                   # the rest of the page is zeroed
        file_end = min(file_size, offset + filesz)
    else:
        file_end = min(file_size, up(offset + filesz))
    file_end = max(file_end, file_start)
    return {"start": start, "end": end, "file_start": file_start, "file_end": file_end,
            "zero_from": start + (file_end - file_start)}


def describe(view: dict, file_size: int) -> str:
    """``kernel maps 0x500000000-0x500001000: file bytes 0x0-0x65 (the whole
    file), zeros after``."""
    n = view["file_end"] - view["file_start"]
    whole = " (the whole file)" if view["file_start"] == 0 and view["file_end"] >= file_size \
        else f" ({n} bytes)"
    files = (f"file bytes {view['file_start']:#x}-{view['file_end']:#x}{whole}" if n
             else "no file bytes")
    zeros = ", zeros after" if view["zero_from"] < view["end"] else ""
    return f"kernel maps {view['start']:#x}-{view['end']:#x} (whole pages): {files}{zeros}"
