"""tinyelf: link x86-64 relocatable objects into the smallest ELF executables
that still run.

Library use::

    import tinyelf
    data = tinyelf.link(["hello.o"])          # -> bytes of the executable

Errors are :class:`tinyelf.TinyElfError` subclasses; the library never prints
or exits.  Heavy modules (lief, capstone, keystone) are imported only when a
function needs them.
"""
from .errors import (InputError, LayoutError, LinkError, OutputError, RelocationError,
                     TinyElfError, ToolchainError, UnsupportedError, UsageError)

__version__ = "0.1.0"

__all__ = ["link", "TinyElfError", "InputError", "LinkError", "RelocationError",
           "UnsupportedError", "LayoutError", "ToolchainError", "OutputError", "UsageError",
           "__version__"]


def link(inputs, **options) -> bytes:
    """Link ``inputs`` (paths or ``(name, bytes)`` pairs) and return the
    executable's bytes.  Options: entry, base, gc_sections, arch, and the
    size options layout, wx, holes, split_code, merge_strings, fold_functions,
    squeeze_align, every_byte, trim_zeros (see tinyelf.linker.model.LinkOptions)."""
    from .linker.driver import link as _link
    return _link(inputs, **options)
