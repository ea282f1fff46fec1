"""The one exception hierarchy of tinyelf.

The library raises these and never prints or exits; the command line turns
each into ``tinyelf: error: <message>`` lines and exit status 1.  Every message
is a single line that names the file (and section, symbol, offset) at fault
and, where it can, what to do about it.
"""


def _one_line(message: str) -> str:
    """A message as one printable line: names taken from a (possibly hostile)
    input file may hold line breaks or control characters; they are escaped."""
    message = str(message).replace("\n", " ")
    if message.isprintable():
        return message
    return "".join(c if c.isprintable() else
                   (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")
                   for c in message)


class TinyElfError(Exception):
    """Base class.  ``messages`` holds one line per problem found."""

    def __init__(self, *messages: str):
        if not messages:
            messages = ("unknown error",)
        self.messages = [_one_line(m) for m in messages]
        super().__init__(self.messages[0] if len(self.messages) == 1
                         else "\n".join(self.messages))


class UsageError(TinyElfError):
    """The command line or the library call is wrong."""


class InputError(TinyElfError):
    """An input file is unreadable, malformed or of the wrong kind."""


class LinkError(TinyElfError):
    """The inputs are well-formed but do not link: undefined or duplicate
    symbols, missing entry point.  May carry many problems at once."""


class RelocationError(LinkError):
    """A relocation overflows its field, has an unsupported type or lies
    outside its section."""


class UnsupportedError(LinkError):
    """The inputs need something tinyelf deliberately does not do (TLS,
    constructors, dynamic linking)."""


class LayoutError(TinyElfError):
    """No layout can hold the program under the requested constraints."""


class ToolchainError(TinyElfError):
    """An external compiler or assembler is missing or failed.  ``detail``
    holds what the compiler printed, unchanged (shown before the error)."""

    def __init__(self, *messages: str, detail: str = ""):
        super().__init__(*messages)
        self.detail = detail


class OutputError(TinyElfError):
    """The output file cannot be written."""
