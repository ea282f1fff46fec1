"""keystone, one text at a time (imported lazily: only when assembly is needed).

``assemble(text)`` turns assembly into machine code for an architecture; the
keystone arch and mode come from ``arch.keystone``.  Errors become
:class:`tinyelf.errors.InputError` naming the source.
"""
from __future__ import annotations

import re

from ..errors import InputError, ToolchainError

_engines: dict = {}

# keystone 0.9.2 reads unprefixed numbers as hexadecimal once any option is
# set (a symbol resolver included): keystone-engine/keystone#436, #538.  So
# every decimal literal is rewritten as 0x... before keystone sees it; string
# literals are left alone.  (In keystone's Intel mode ';' separates
# statements rather than starting a comment, so numbers after it count.)
_TOKEN = re.compile(r"""("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')"""   # string
                    r"|(?<![\w.$@])(\d+)(?![\w.])")                    # decimal number


def hexify(text: str) -> str:
    """Rewrite decimal literals as hexadecimal so that keystone's radix
    setting cannot change their meaning."""
    def sub(m):
        if m.group(2) is None:
            return m.group(0)
        return hex(int(m.group(2)))
    return _TOKEN.sub(sub, text)


def _engine(arch):
    eng = _engines.get(arch.name)
    if eng is None:
        if not getattr(arch, "keystone", None):
            raise InputError(f"tinyelf cannot assemble {arch.name} code (no keystone mode "
                             "for it); give an object file instead")
        try:
            import keystone
        except ImportError:  # pragma: no cover - a declared dependency
            raise ToolchainError("the keystone-engine package is not installed "
                                 "(pip install keystone-engine)") from None
        ks_arch, ks_mode = (getattr(keystone, n) for n in arch.keystone)
        eng = _engines[arch.name] = keystone.Ks(ks_arch, ks_mode)
    return eng


def default_arch(arch):
    """``arch``, or x86-64 for callers that name none (the original target)."""
    if arch is not None:
        return arch
    from .. import arch as archmod
    return archmod.get("x86_64")


def assemble(text: str, arch=None, address: int = 0, resolver=None, name: str = "<asm>") -> bytes:
    """Assemble ``text`` as if placed at ``address``; return the bytes.

    ``resolver(symbol_name) -> int | None`` gives values for symbols the text
    does not define; without one, such symbols are an error.
    """
    arch = default_arch(arch)
    eng = _engine(arch)
    import keystone
    missing = []

    def _resolve(sym, value):
        n = sym.decode("utf-8", "replace")
        v = resolver(n) if resolver else None
        if v is None:
            missing.append(n)
            return False
        value[0] = v
        return True

    eng.sym_resolver = _resolve
    try:
        encoding, _count = eng.asm(hexify(text), address)
    except keystone.KsError as exc:
        if missing:
            raise InputError(f"{name}: undefined symbol{'s' if len(missing) > 1 else ''} "
                             f"{', '.join(sorted(set(missing)))}") from None
        raise InputError(f"{name}: keystone cannot assemble it: {exc}") from None
    return bytes(encoding or b"")
