"""Writing the output file: atomically, executable, never over an input."""
from __future__ import annotations

import os

from ..errors import OutputError


def _mkstemp(directory: str):
    """``tempfile.mkstemp(prefix=".tinyelf-", dir=directory)`` without
    importing tempfile (and shutil, random): 4-5 ms of every link."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = os.path.join(directory, f".tinyelf-{os.urandom(6).hex()}")
        try:
            return os.open(tmp, flags, 0o600), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name in {directory}")


def check_not_input(output, inputs) -> None:
    """Refuse an output path that names one of the inputs."""
    out = os.path.abspath(os.fspath(output))
    for item in inputs:
        if isinstance(item, tuple):
            continue
        path = os.fspath(item)
        same = os.path.abspath(path) == out
        if not same and os.path.exists(out) and os.path.exists(path):
            try:
                same = os.path.samefile(path, out)
            except OSError:
                same = False
        if same:
            raise OutputError(f"output {output} is also an input; refusing to overwrite it")


def write_atomic(path, data: bytes, mode: int = 0o755) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same
    directory and a rename: readers see the old file or the whole new one,
    never a partial file."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise OutputError(f"cannot write {path}: directory {directory} does not exist "
                          "(create it first)")
    if os.path.isdir(path):
        raise OutputError(f"cannot write {path}: it is a directory; name the output file")
    try:
        fd, tmp = _mkstemp(directory)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
