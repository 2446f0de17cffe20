"""Atomic file replacement: a reader of the destination sees the old file or the new one, never half.

The new content goes to a temporary file in the destination's directory (so the final rename
stays on one file system), which `os.replace` renames over the destination once it is complete.
On any error the temporary file is removed and the destination is left as it was.

Used for every file kubefort writes for others to read: reports and Prometheus textfiles
(`--output`), baselines, generated NetworkPolicies, node dumps, the CVE database cache, cluster
snapshots. Errors are OSErrors naming the destination; the commands turn them into one line
and exit 2 (`kubefort.cli.params.FileError`).
"""

from __future__ import annotations

import io
import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

__all__ = ["AtomicFile", "write_atomically"]

_TEMP_ATTEMPTS = 100


def _create_temp(directory: Path, prefix: str, suffix: str) -> tuple[str, int]:
    """A new, exclusively created file (name, descriptor), with the mode `open()` would give it
    (0666 less the umask)."""
    for _ in range(_TEMP_ATTEMPTS):
        name = os.path.join(directory, f"{prefix}{secrets.token_hex(4)}{suffix}")
        try:
            return name, os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary file name in {directory} after {_TEMP_ATTEMPTS} attempts")


def _renamed(exc: OSError, dest: Path) -> OSError:
    """The same error (same class and errno), naming `dest` instead of a temporary file."""
    if exc.errno is None:
        return exc
    return type(exc)(exc.errno, exc.strerror, str(dest))


class AtomicFile:
    """A binary file written under a temporary name next to `dest` and renamed over it by
    :meth:`commit` (:meth:`abort` removes it instead).

    Used as a context manager, it commits when the block ends normally and aborts when it
    raises. `perms` sets the file's mode before the rename (default: 0666 less the umask, as a
    plain `open()` would create it); `prefix`/`suffix` shape the temporary name (default
    `.<name>.`); `make_parents` creates missing parent directories first.
    """

    def __init__(
        self,
        dest: str | os.PathLike[str],
        *,
        perms: int | None = None,
        prefix: str | None = None,
        suffix: str = "",
        make_parents: bool = False,
    ) -> None:
        self.dest = Path(dest)
        directory = self.dest.parent  # Path("x").parent is Path("."): the current directory
        if make_parents:
            directory.mkdir(parents=True, exist_ok=True)
        self.perms = perms
        try:
            self.tmp, fd = _create_temp(directory, f".{self.dest.name}." if prefix is None else prefix, suffix)
        except OSError as exc:  # name the destination the caller knows, not the temporary file
            raise _renamed(exc, self.dest) from None
        try:
            self.file: BinaryIO = os.fdopen(fd, "wb")
        except BaseException:
            os.close(fd)
            os.unlink(self.tmp)
            raise

    def commit(self) -> None:
        """Close the temporary file and rename it over the destination."""
        try:
            self.file.close()
            if self.perms is not None:
                os.chmod(self.tmp, self.perms)
            os.replace(self.tmp, self.dest)
        except OSError as exc:
            self.abort()
            raise _renamed(exc, self.dest) from None
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Close and remove the temporary file; the destination is not touched."""
        try:
            self.file.close()
        finally:
            Path(self.tmp).unlink(missing_ok=True)

    def __enter__(self) -> AtomicFile:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def write_atomically(
    dest: str | os.PathLike[str],
    text: str | Iterable[str],
    *,
    perms: int | None = 0o644,
    prefix: str | None = None,
    suffix: str = "",
    make_parents: bool = False,
    special_directly: bool = True,
) -> None:
    """Write `text` (one string or an iterable of chunks, UTF-8) to `dest` atomically.

    With `special_directly` (the default), an existing destination that is not a regular file
    (a character device such as /dev/null, a FIFO) is written in place: it cannot be replaced,
    and its readers expect the bytes. Other arguments as for :class:`AtomicFile`; the file is
    mode 0644 unless `perms` says otherwise (None: 0666 less the umask)."""
    parts: Iterable[str] = (text,) if isinstance(text, str) else text
    path = Path(dest)
    if special_directly and path.exists() and not path.is_file():
        with path.open("w", encoding="utf-8") as fh:
            fh.writelines(parts)
        return
    with AtomicFile(path, perms=perms, prefix=prefix, suffix=suffix, make_parents=make_parents) as out:
        wrapper = io.TextIOWrapper(out.file, encoding="utf-8")
        wrapper.writelines(parts)
        wrapper.flush()
        wrapper.detach()  # the AtomicFile closes the binary file itself
