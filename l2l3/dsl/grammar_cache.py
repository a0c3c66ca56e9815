"""The LALR tables of ``l2l3.lark``, built once per grammar and kept on disk.

Building the LALR tables from the grammar costs a few hundred milliseconds
on every start; loading them back costs about a tenth of that. The tables
are stored under a name that is the SHA-256 of everything they depend on
(the grammar text, the lark version, the Python version, the parser
options), so a changed grammar finds no file of its own and is built anew:
a stale table can never be read for a new grammar.

The file is a pickle (lark's own ``Lark.save``), so it is only read from a
directory that belongs to the current user and that nobody else may write
(``$L2L3_CACHE_DIR``, else ``$XDG_CACHE_HOME/l2l3``, else ``~/.cache/l2l3``).
Anything wrong with the directory or the file -- missing, not ours, shared,
truncated, unreadable -- means building in memory, as before, never an
error. Writes go to a temporary file renamed into place, so a concurrent
start sees the whole file or none. ``L2L3_CACHE_DIR=""`` turns the cache off.
"""

from __future__ import annotations

import hashlib
import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any

import lark
from lark import Lark

__all__ = ["cache_dir", "cache_key", "cached_lark"]

#: what the file holds (the tables and the grammar); a new value makes every old file stale
FORMAT = "l2l3-lark-tables-2"


def cache_key(grammar: str, options: dict[str, Any]) -> str:
    """The SHA-256 naming the tables of ``grammar`` built with ``options``."""
    parts = [
        FORMAT,
        grammar,
        lark.__version__,
        "{}.{}".format(*sys.version_info[:2]),
        repr(sorted(options.items())),
    ]
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()


def cache_dir() -> Path | None:
    """The user's cache directory for l2l3 (created 0700), or None if unusable."""
    env = os.environ.get("L2L3_CACHE_DIR")
    if env is not None:
        if not env:
            return None
        path = Path(env)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        path = Path(base) / "l2l3"
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return path if _private(st) else None


def _private(st: os.stat_result) -> bool:
    """Owned by us and writable by nobody else (pickles are only read from there)."""
    owner = getattr(os, "getuid", None)
    if owner is not None and st.st_uid != owner():
        return False
    return not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def cached_lark(grammar: str, directory: Path | None, **options: Any) -> Lark:
    """``Lark(grammar, **options)``, its tables read from / written to ``directory``."""
    if directory is None:
        return Lark(grammar, **options)
    file = directory / f"grammar-{cache_key(grammar, options)}.lark"
    loaded = _read(file)
    if loaded is not None:
        return loaded
    built = Lark(grammar, **options)
    _write(built, directory, file)
    return built


def _read(file: Path) -> Lark | None:
    try:
        fd = os.open(file, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        with open(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode) or not _private(os.fstat(f.fileno())):
                return None
            return Lark.load(f)
    except Exception:  # a truncated or foreign file: build anew
        return None


def _write(parser: Lark, directory: Path, file: Path) -> None:
    try:
        fd, tmp = tempfile.mkstemp(prefix=".grammar-", dir=directory)
    except OSError:
        return
    if "grammar" not in parser.__serialize_fields__:  # keep the grammar itself too (lark's cache_grammar),
        parser.__serialize_fields__ = [
            *parser.__serialize_fields__,
            "grammar",
        ]  # as tools read it (hypothesis)
    try:
        with open(fd, "wb") as f:
            parser.save(f)
        os.replace(tmp, file)
    except Exception:  # a full disk, say: the parser in memory is fine
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return
    _prune(directory, keep=file)


#: Tables of other grammars unused for this long are removed when a new one is written.
STALE_S = 7 * 24 * 3600


def _prune(directory: Path, keep: Path) -> None:
    """Remove the tables of other grammars that nobody has written for STALE_S."""
    try:
        old = [p for p in directory.glob("grammar-*.lark") if p != keep]
        now = keep.stat().st_mtime
        for p in old:
            if now - p.stat().st_mtime > STALE_S:
                p.unlink()
    except OSError:
        pass
