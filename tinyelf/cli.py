"""The ``tinyelf`` command line: a thin layer over the library.

Each subcommand lives in ``tinyelf/commands/<name>.py`` with ``register(sub)``
(add its argparse parser) and ``run(args) -> int``.  Errors from the library
become ``tinyelf: error: ...`` lines on stderr and exit status 1; no traceback
reaches the user (set TINYELF_DEBUG=1 to see one for an internal error).
"""
from __future__ import annotations

import argparse
import importlib
import os
import re
import sys

from .errors import TinyElfError

#: subcommand modules under tinyelf.commands, in --help order
COMMANDS = ("pack", "demo", "build", "new", "cargo", "inspect", "dis", "size")

#: subcommands that pass everything after ``--`` through (as ``args.extra``)
PASSTHROUGH = ("build",)

#: subcommands that get every argument after their name unparsed (as
#: ``args.raw``; ``-h``/``--help`` alone still shows tinyelf's help)
RAW = ("cargo",)


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, status 1, like every other error
        m = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)$", message)
        if m:
            choices = re.findall(r"'([^']*)'", m.group(2))
            message += did_you_mean(m.group(1), choices)
        raise _UsageExit(f"{message} (see '{self.prog} --help')")

    def parse_args(self, args=None, namespace=None):
        """As argparse's, but an unknown option is answered by the
        subcommand's parser: the nearest real option and its --help."""
        ns, extras = self.parse_known_args(args, namespace)
        if extras:
            parser = self._subcommand_parser(ns) or self
            message = f"unrecognized arguments: {' '.join(extras)}"
            options = [o for o in extras if o.startswith("-")]
            if options:
                message += did_you_mean(options[0].split("=", 1)[0],
                                        list(parser._option_string_actions))
            raise _UsageExit(f"{message} (see '{parser.prog} --help')")
        return ns

    def _subcommand_parser(self, ns):
        for action in self._subparsers._group_actions if self._subparsers else ():
            chosen = getattr(ns, action.dest, None)
            if chosen in getattr(action, "choices", {}):
                return action.choices[chosen]
        return None


def did_you_mean(word: str, candidates) -> str:
    """``"; did you mean --report?"`` for the nearest candidate, or ``""``."""
    import difflib
    near = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean {near[0]}?" if near else ""


class _UsageExit(Exception):
    pass


#: the libraries tinyelf runs on, for --version and bug reports
ENGINES = ("lief", "capstone", "keystone-engine")


def version_text() -> str:
    """``tinyelf 0.1.0 (lief 0.15.1, capstone 5.0.7, keystone-engine 0.9.2)``,
    read from the installed distributions' metadata (nothing is imported)."""
    from importlib.metadata import PackageNotFoundError, version

    from . import __version__
    parts = []
    for dist in ENGINES:
        try:
            parts.append(f"{dist} {version(dist)}")
        except PackageNotFoundError:
            parts.append(f"{dist} not installed")
    return f"tinyelf {__version__} ({', '.join(parts)})"


class _VersionAction(argparse.Action):
    def __call__(self, parser, namespace, values, option_string=None):
        print(version_text())
        raise _VersionExit()


class _VersionExit(Exception):
    pass


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line, or with ``only`` just that subcommand's parser
    (tinyelf runs inside builds: ``tinyelf pack`` should not import the
    modules behind ``build``, ``inspect`` and the rest)."""
    parser = _Parser(prog="tinyelf", description="Link x86-64 objects into the smallest "
                     "Linux executables that still run.")
    parser.add_argument("--version", action=_VersionAction, nargs=0,
                        help="print tinyelf's version and the engines it uses, then exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMANDS if only not in COMMANDS else (only,):
        mod = importlib.import_module(f".commands.{name}", __package__)
        p = mod.register(sub)
        p.set_defaults(_run=mod.run)
    return parser


def error(msg: str) -> None:
    for line in str(msg).splitlines() or [""]:
        print(f"tinyelf: error: {line}", file=sys.stderr)


def guarded(action) -> int:
    """Run ``action()`` and turn what it raises into what a user should see:
    ``tinyelf: error:`` lines and status 1 for TinyElfError (a compiler's own
    output first, as it printed it), 130 for ^C, one ``internal error`` line
    and status 2 for a bug (TINYELF_DEBUG=1 shows the traceback)."""
    try:
        return action()
    except _UsageExit as exc:
        error(str(exc))
        return 1
    except _VersionExit:
        return 0
    except TinyElfError as exc:
        detail = getattr(exc, "detail", "")
        if detail:   # a compiler's own messages, as it printed them
            sys.stderr.write(detail if detail.endswith("\n") else detail + "\n")
        for m in exc.messages:
            error(m)
        return 1
    except KeyboardInterrupt:
        print("tinyelf: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        error("out of memory (tinyelf holds every input and the whole output in memory)")
        return 1
    except BrokenPipeError:
        return 1
    except Exception as exc:  # a bug in tinyelf: one line, not a traceback
        if os.environ.get("TINYELF_DEBUG"):
            raise
        print(f"tinyelf: internal error: {type(exc).__name__}: {exc} "
              "(a bug in tinyelf; rerun with TINYELF_DEBUG=1 for details and please report it)",
              file=sys.stderr)
        return 2


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    extra = raw = None
    if argv and argv[0] in PASSTHROUGH and "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1:]
    if argv and argv[0] in RAW and argv[1:] not in (["-h"], ["--help"]):
        argv, raw = argv[:1], argv[1:]

    def action():
        args = build_parser(argv[0] if argv else None).parse_args(argv)
        if extra is not None:
            args.extra = extra
        if raw is not None:
            args.raw = raw
        return args._run(args)
    return guarded(action)


def exit_now(status: int) -> None:
    """End the process with ``status`` without the interpreter's teardown.

    Freeing a link's objects one by one at exit costs 20-40 ms on libcore
    (more than GNU ld's whole link); the output file is already written and
    closed, so flush the standard streams and leave.  Console scripts only:
    the library never exits."""
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):     # a closed or broken pipe
            status = status or 1
    os._exit(status)


def entry() -> None:  # console script
    exit_now(main())
