"""The on-disk LALR tables: a changed grammar never reads the old tables; bad files are rebuilt."""

import os
from pathlib import Path

import pytest
from lark import Lark
from lark.exceptions import UnexpectedInput

from l2l3.dsl import grammar_cache
from l2l3.dsl.grammar_cache import cache_dir, cached_lark

G1 = 'start: "a" NAME\nNAME: /[a-z]+/\n%ignore " "\n'
G2 = 'start: "a" NAME | "b" NAME\nNAME: /[a-z]+/\n%ignore " "\n'
OPTS = {"parser": "lalr", "propagate_positions": True}


def _files(d: Path) -> list[Path]:
    return sorted(d.glob("grammar-*.lark"))


class _NoBuild(Lark):
    def __init__(self, *a: object, **k: object) -> None:
        raise AssertionError("built although the tables were on disk")


def test_tables_are_written_then_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = cached_lark(G1, tmp_path, **OPTS)
    assert p.parse("a x").children[0] == "x"
    (only,) = _files(tmp_path)
    monkeypatch.setattr(grammar_cache, "Lark", _NoBuild)
    again = cached_lark(G1, tmp_path, **OPTS)
    assert again.parse("a yz").children[0] == "yz"
    assert again.options.propagate_positions
    assert again.grammar is not None  # kept for tools that read it (hypothesis.extra.lark)
    assert _files(tmp_path) == [only]


def test_a_changed_grammar_invalidates_the_tables(tmp_path: Path) -> None:
    """The cached parser of G1 rejects ``b x``; after the grammar changes the new rule parses."""
    old = cached_lark(G1, tmp_path, **OPTS)
    with pytest.raises(UnexpectedInput):
        old.parse("b x")
    new = cached_lark(G2, tmp_path, **OPTS)
    assert new.parse("b x").children[0] == "x"
    assert len(_files(tmp_path)) == 2
    # and options count: the same grammar without positions is another entry
    cached_lark(G2, tmp_path, parser="lalr")
    assert len(_files(tmp_path)) == 3


def test_a_corrupt_file_is_rebuilt(tmp_path: Path) -> None:
    cached_lark(G1, tmp_path, **OPTS)
    (f,) = _files(tmp_path)
    f.write_bytes(f.read_bytes()[:100])
    assert cached_lark(G1, tmp_path, **OPTS).parse("a q").children[0] == "q"
    assert cached_lark(G1, tmp_path, **OPTS).parse("a r").children[0] == "r"  # rewritten whole


def test_a_shared_directory_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = tmp_path / "c"
    monkeypatch.setenv("L2L3_CACHE_DIR", str(d))
    assert cache_dir() == d
    os.chmod(d, 0o777)
    assert cache_dir() is None
    monkeypatch.setenv("L2L3_CACHE_DIR", "")
    assert cache_dir() is None


def test_no_directory_builds_in_memory() -> None:
    assert cached_lark(G1, None, **OPTS).parse("a x").children[0] == "x"


def test_stale_tables_of_other_grammars_are_pruned(tmp_path: Path) -> None:
    cached_lark(G1, tmp_path, **OPTS)
    (f,) = _files(tmp_path)
    os.utime(f, (1, 1))
    cached_lark(G2, tmp_path, **OPTS)
    assert f not in _files(tmp_path) and len(_files(tmp_path)) == 1
    assert grammar_cache.STALE_S > 0


def test_the_project_grammar_round_trips(tmp_path: Path) -> None:
    """The real grammar loaded from the cache parses a spec exactly as a fresh build does."""
    text = (Path(grammar_cache.__file__).with_name("l2l3.lark")).read_text()
    spec = "segment lan 10.0.0.0/24\nnode a linux {\n  nic eth0 ip 10.0.0.2/24 on lan\n}\n"
    fresh = cached_lark(text, tmp_path, **OPTS).parse(spec)
    cached = cached_lark(text, tmp_path, **OPTS).parse(spec)
    assert fresh == cached
