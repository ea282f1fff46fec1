"""``tinyelf new NAME [--lang rust|c]``: a project that builds tiny from the start.

Rust: a cargo project (no_std, no_main, a panic handler, a ``sys`` module
with read/write/exit, ``main(argc, argv, envp)`` reached through tinyelf's
start stub, size-first profiles, ``.cargo/config.toml`` naming tinyelf-ld);
``cargo build --release`` makes a 137-byte hello.  C: ``main.c`` and a
Makefile running ``tinyelf build``.  The files are in
:mod:`tinyelf.tools.templates`.
"""
from __future__ import annotations

import os
import re

from ..errors import UsageError

#: what cargo accepts as a package name, minus names that clash with the sysroot's crates
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_RESERVED = frozenset({"core", "std", "alloc", "test", "proc_macro", "compiler_builtins",
                       "self", "super", "crate", "main"})


def register(sub):
    p = sub.add_parser("new", help="start a Rust (cargo) or C project that builds into a tiny "
                       "executable",
                       description="Write a new project in directory NAME: Rust (default) is a "
                       "no_std cargo project whose 'cargo build --release' links with tinyelf-ld; "
                       "C is main.c and a Makefile running 'tinyelf build'.  Both print "
                       "'Hello, world!' through raw system calls, with main(argc, argv, envp) "
                       "called by tinyelf's start stub.")
    p.add_argument("name", metavar="NAME",
                   help="the project directory to create; its last part names the program")
    p.add_argument("--lang", choices=("rust", "c"), default="rust",
                   help="the project's language (default: rust)")
    return p


def check_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise UsageError(f"{name!r}: not a usable program name (letters, digits, '_' and '-', "
                         "not starting with a digit or '-')")
    if name in _RESERVED:
        raise UsageError(f"{name!r}: clashes with a Rust crate or keyword; pick another name")


def _command(tool: str) -> tuple[str, str | None]:
    """How the project should run ``tool`` (tinyelf, tinyelf-ld): by name when
    it is on PATH, else by the path of the one installed beside this Python
    (a virtual environment that is not activated), with a note saying so."""
    import shutil
    import sys
    if shutil.which(tool):
        return tool, None
    beside = os.path.join(os.path.dirname(sys.executable), tool)
    if os.access(beside, os.X_OK):
        return beside, f"{tool} is not on PATH: the project runs {beside}"
    return tool, f"{tool} is not on PATH: install tinyelf (pip install tinyelf) before building"


def create(directory: str, lang: str) -> tuple[str, list, list]:
    """Write the project; return (program name, files written, notes)."""
    from ..tools.output import write_atomic
    from ..tools.templates import render
    name = os.path.basename(os.path.normpath(directory))
    check_name(name)
    if os.path.lexists(directory) and (not os.path.isdir(directory) or os.listdir(directory)):
        raise UsageError(f"{directory}: already exists; give a new directory name")
    linker, note_ld = _command("tinyelf-ld")
    tinyelf, note_te = _command("tinyelf")
    notes = [n for n in ((note_ld if lang == "rust" else note_te),) if n]
    files = render(lang, name, linker=linker, tinyelf=tinyelf)
    for path, text in files:
        full = os.path.join(directory, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        write_atomic(full, text.encode("utf-8"), mode=0o644)
    return name, [p for p, _t in files], notes


def run(args) -> int:
    from ..tools.templates import NEXT
    try:
        name, files, notes = create(args.name, args.lang)
    except OSError as exc:
        raise UsageError(f"{args.name}: cannot create the project: {exc.strerror or exc}") from None
    kind = "Rust (cargo, no_std)" if args.lang == "rust" else "C (freestanding)"
    print(f"created {args.name}/: {kind} project: {', '.join(files)}")
    for n in notes:
        print(f"note: {n}")
    print(f"next: {NEXT[args.lang].format(dir=args.name, name=name)}")
    return 0
