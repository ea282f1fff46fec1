"""GNU ld side of the differential corpus (needs no tinyelf).

Every non-rejected variant must build, link with GNU ld + baseline.ld
reproducibly, run deterministically, exit with its expected status, and print
the same as the other variants of its program.  Must-reject variants must
build, and their objects must really contain what tinyelf has to reject.

The whole corpus is built once per session, in parallel, in a temp dir
(about 30-60 s on 2 cores).  Run: python3 -m pytest tests/corpus -q
"""

import os
import shutil
import subprocess
import sys

import pytest

# (no conftest.py here: a second conftest module would replace tests/conftest.py
# in sys.modules and break every `from conftest import ...` collected after it)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus  # noqa: E402


@pytest.fixture(scope="session")
def results(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("corpus"))
    return {r.variant.name: r for r in corpus.check_all(corpus.VARIANTS, workdir)}, workdir


def test_corpus_size():
    names = [v.name for v in corpus.VARIANTS]
    assert len(names) == len(set(names))
    assert len([v for v in corpus.VARIANTS if not v.reject]) >= 40
    assert any(v.reject for v in corpus.VARIANTS)


@pytest.mark.parametrize("name", [v.name for v in corpus.VARIANTS if not v.reject])
def test_links_and_runs_with_ld(results, name):
    r = results[0][name]
    assert r.ok, r.note
    assert r.status == r.variant.expect_status


# What each must-reject program leaves in its objects.
REJECT_MARKERS = {"ctor": (".init_array", ".fini_array"), "tls": (".tdata", ".tbss"),
                  "cxx_ctors": (".ctors", ".preinit_array")}


@pytest.mark.parametrize("name", [v.name for v in corpus.VARIANTS if v.reject])
def test_rejected_variant_builds_with_marker_sections(results, name):
    r = results[0][name]
    assert r.ok, r.note
    obj = next(o for o in r.objs if os.path.basename(o) == corpus._obj_name(r.variant.sources[0]))
    sections = subprocess.run(["readelf", "-SW", obj], capture_output=True, text=True,
                              check=True).stdout
    for marker in REJECT_MARKERS[r.variant.program]:
        assert marker in sections, (marker, name)


def test_baseline_discards_unwind_and_notes(results):
    """-s output of baseline.ld has only the wanted sections."""
    exe = os.path.join(results[1], "prodfactors_rs.z", "prog")
    out = subprocess.run(["readelf", "-SW", exe], capture_output=True, text=True, check=True).stdout
    for bad in (".eh_frame", ".comment", ".note", ".init_array", ".llvmbc"):
        assert bad not in out
    assert ".text" in out


@pytest.mark.skipif(shutil.which("readelf") is None, reason="readelf missing")
def test_keepinit_script_keeps_init_array(tmp_path):
    v = next(v for v in corpus.VARIANTS if v.name == "ctor.O2")
    objs, archives = corpus.build_objects(v, str(tmp_path))
    exe = corpus.link_with_ld(objs, archives, str(tmp_path / "prog"), script=corpus.KEEPINIT_LD)
    out = subprocess.run(["readelf", "-SW", exe], capture_output=True, text=True, check=True).stdout
    assert ".init_array" in out and ".fini_array" in out
    # Nothing runs the constructors: main sees ready == 0.
    stdout, status = corpus.run(exe, v)
    assert (stdout, status) == (b"ready=0\n", 0)
    exe2 = corpus.link_with_ld(objs, archives, str(tmp_path / "prog2"))
    out2 = subprocess.run(["readelf", "-SW", exe2], capture_output=True, text=True,
                          check=True).stdout
    assert ".init_array" not in out2
