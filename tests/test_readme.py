"""The README a newcomer reads (issue 15): short, with a table of contents and
troubleshooting, its links valid, and every file it tells a user to copy a
real file in samples/ that a test builds and runs."""
from __future__ import annotations

import re

import pytest

from conftest import ROOT, SAMPLES, run_exe, run_tinyelf

README = (ROOT / "README.md").read_text()
FILE_BLOCK = re.compile(r"<!-- file: (\S+) -->\n```\w*\n(.*?)```\n", re.S)


def test_short_with_contents_and_troubleshooting():
    assert len(README.splitlines()) <= 320
    for heading in ("## Contents", "## Quick start: a cargo project", "## Quick start: C",
                    "## Quick start: assembly", "## Commands", "## Sizes", "## Troubleshooting",
                    "## Further reading"):
        assert heading in README
    for anchor in re.findall(r"\]\(#([^)]+)\)", README):
        title = next((h for h in re.findall(r"(?m)^## (.*)$", README)
                      if re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") == anchor), None)
        assert title, anchor


def test_fresh_machine_commands_and_size_markers():
    assert ("python3 -m venv .venv && .venv/bin/pip install -q . && .venv/bin/tinyelf demo "
            "samples/hello.rs") in README
    assert ("python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]' && "
            ".venv/bin/python -m pytest") in README
    assert README.count("<!-- sizes:begin -->") == 1 and README.count("<!-- sizes:end -->") == 1


def test_files_to_copy_are_the_samples():
    blocks = FILE_BLOCK.findall(README)
    assert {p for p, _ in blocks} >= {"samples/cargo-hello/Cargo.toml",
                                      "samples/cargo-hello/.cargo/config.toml",
                                      "samples/cargo-hello/src/main.rs",
                                      "samples/hello.c", "samples/hello.asm"}
    for path, text in blocks:
        assert (ROOT / path).read_text() == text, f"README's copy of {path} differs"


def test_local_links_exist():
    links = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", README)
    assert any(l.startswith("docs/") for l in links)
    for link in links:
        assert (ROOT / link).exists(), link
    for doc in (ROOT / "docs").glob("*.md"):
        for link in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", doc.read_text()):
            assert (doc.parent / link).exists(), f"{doc.name}: {link}"


@pytest.mark.parametrize("source, output", [("hello.c", b"Hello, world!\n"),
                                            ("hello.asm", b"Hello from asm!\n")])
def test_quick_start_builds_and_runs(tmp_path, build_dir, source, output):
    out = build_dir / f"quickstart-{source.replace('.', '-')}"
    proc = run_tinyelf("build", SAMPLES / source, "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert run_exe(out, as_nobody=True) == (output, 0)


def readme_cargo_size() -> int:
    """The size the README's cargo quick start shows (`wc -c`)."""
    m = re.search(r"\$ wc -c < target/release/cargo-hello\n\s+(\d+)\n", README)
    assert m, "the cargo quick start shows no size"
    return int(m.group(1))
