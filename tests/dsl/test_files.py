"""Loading spec files: only regular files are read, and never block.

A FIFO, a socket or a device is refused before it is opened (``open()`` on a
FIFO without a writer would wait forever); a directory goes to the one hook
that will give it a meaning; unreadable or undecodable files are spec errors.
"""

from __future__ import annotations

import io
import os
import socket
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import l2l3.dsl as dsl
from l2l3.cli import main
from l2l3.dsl import load, load_with_warnings
from l2l3.errors import SpecError
from l2l3.model.types import Span, Spec
from tests.dsl.helpers import BASE


def _within(seconds: float, fn: Callable[[], Any], unblock: Callable[[], None] | None = None) -> Any:
    """``fn()``, failing (not hanging) the test if it takes longer than ``seconds``."""
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed to the test below
            out["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    if t.is_alive():
        if unblock is not None:
            unblock()
        t.join(5)
        pytest.fail(f"blocked for more than {seconds} s")
    if "error" in out:
        raise out["error"]
    return out.get("value")


def _open_writer(path: Path) -> Callable[[], None]:
    """Open the FIFO for writing, which releases a reader blocked in open()."""

    def unblock() -> None:
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))

    return unblock


def _error(path: str | Path) -> str:
    with pytest.raises(SpecError) as info:
        load(path)
    (d,) = info.value.diagnostics
    assert d.span == Span(str(path), 1, 1)
    assert d.render().startswith(f"{path}:1:1: error: ")
    return d.message


def test_a_fifo_is_refused_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fifo = tmp_path / "spec.l2l3"
    os.mkfifo(fifo)
    opened: list[object] = []
    real_open = os.open

    def spy(p: Any, *a: Any, **kw: Any) -> int:
        opened.append(p)
        return real_open(p, *a, **kw)

    monkeypatch.setattr(os, "open", spy)
    with pytest.raises(SpecError) as info:
        _within(5, lambda: load(fifo), _open_writer(fifo))
    assert info.value.diagnostics[0].message == "not a regular file (a FIFO)"
    assert str(fifo) not in map(str, opened)  # refused on its stat, never opened


def test_a_fifo_swapped_in_after_the_stat_does_not_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fifo = tmp_path / "spec.l2l3"
    os.mkfifo(fifo)
    monkeypatch.setattr(dsl, "_stat_mode", lambda path, file: stat.S_IFREG | 0o644)  # a stale stat
    with pytest.raises(SpecError) as info:
        _within(5, lambda: load(fifo), _open_writer(fifo))
    assert info.value.diagnostics[0].message == "not a regular file (a FIFO)"


def test_a_socket_and_a_device_are_refused(tmp_path: Path) -> None:
    with socket.socket(socket.AF_UNIX) as s:
        path = tmp_path / "s.l2l3"
        s.bind(str(path))
        assert _error(path) == "not a regular file (a socket)"
    assert _error(os.devnull) == "not a regular file (a character device)"


def test_a_directory_is_refused(tmp_path: Path) -> None:
    assert _error(tmp_path) == "not a regular file (a directory); give the .l2l3 files in it"


def test_directories_have_one_hook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def hook(path: str | Path) -> tuple[Spec, list[object]]:
        seen.append(str(path))
        return Spec(file=str(path)), []

    monkeypatch.setattr(dsl, "_load_directory", hook)
    assert load(tmp_path) == Spec(file=str(tmp_path)) and seen == [str(tmp_path)]
    assert load_with_warnings(tmp_path) == (Spec(file=str(tmp_path)), [])


def test_symlinks_are_followed(tmp_path: Path) -> None:
    real = tmp_path / "real.l2l3"
    real.write_text(BASE)
    (tmp_path / "link.l2l3").symlink_to(real)
    assert load(tmp_path / "link.l2l3").nodes[0].name == "a"
    (tmp_path / "dangling.l2l3").symlink_to(tmp_path / "missing")
    assert _error(tmp_path / "dangling.l2l3") == "cannot read the file: No such file or directory"
    (tmp_path / "loop.l2l3").symlink_to(tmp_path / "loop.l2l3")
    assert _error(tmp_path / "loop.l2l3") == "cannot read the file: Too many levels of symbolic links"


def test_an_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "x.l2l3"
    f.write_text(BASE)

    # chmod 000 does not stop root; make the open fail as it would for a user
    def denied(*a: Any, **kw: Any) -> int:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "open", denied)
    assert _error(f) == "cannot read the file: Permission denied"


def test_a_read_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "x.l2l3"
    f.write_text(BASE)

    class Failing(io.FileIO):
        def read(self, size: int | None = -1) -> bytes:
            raise OSError(5, "Input/output error")

    monkeypatch.setattr(dsl, "open", lambda fd, mode: Failing(fd, "r"), raising=False)
    assert _error(f) == "cannot read the file: Input/output error"


@pytest.mark.parametrize("name", ["nul\x00byte.l2l3", "lone\ud800surrogate.l2l3"])
def test_an_impossible_path(name: str) -> None:
    assert _error(name) == "cannot read the file: not a valid path"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff\xfes\x00e\x00g\x00", "this is a binary file, not a spec (it contains NUL bytes)"),  # UTF-16
        (b"segment l\xe4n 10.0.0.0/24\n", "the file is not UTF-8 text (bad byte at offset 9)"),
        (b"# \xed\xa0\x80 a surrogate\n", "the file is not UTF-8 text (bad byte at offset 2)"),
        (b"# cut short \xe2\x82", "the file is not UTF-8 text (bad byte at offset 12)"),
    ],
)
def test_undecodable_files(tmp_path: Path, data: bytes, message: str) -> None:
    f = tmp_path / "x.l2l3"
    f.write_bytes(data)
    assert _error(f) == message


def test_an_empty_file_is_an_empty_spec(tmp_path: Path) -> None:
    f = tmp_path / "x.l2l3"
    f.write_bytes(b"")
    assert load(f) == Spec(file=str(f))


def test_the_cli_refuses_a_fifo_with_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fifo = tmp_path / "spec.l2l3"
    os.mkfifo(fifo)
    assert _within(5, lambda: main(["check", str(fifo)]), _open_writer(fifo)) == 2
    err = capsys.readouterr().err
    assert err == f"{fifo}:1:1: error: not a regular file (a FIFO)\n"
