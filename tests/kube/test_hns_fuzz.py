"""Bad HNS, docker and Get-NetRoute JSON is an input error, never a traceback (issue 13; LANGUAGE.md §7).

Every leaf of the samples (tests/kube/samples/hns, written from hcsshim's
field names) is replaced, one at a time, by values of every JSON type; the
read either succeeds or raises SpecError with FILE:LINE:COL diagnostics.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from l2l3.errors import SpecError
from l2l3.kube.inputs import load_cluster

SAMPLES = Path(__file__).parent / "samples" / "hns"
FILES = [
    ("win-l2bridge-v1", "win1/endpoints.json"),
    ("win-l2bridge-v1", "win1/policylists.json"),
    ("win-overlay", "win3/networks.json"),
    ("win-overlay", "win4/hcn-network.json"),
    ("win-l2bridge-v1", "win1/networks.json"),
    ("win-l2bridge-v1", "win1/routes.json"),
    ("win-l2bridge-v2", "win2/hcn-endpoints.json"),
    ("win-l2bridge-v2", "win2/hcn-network.json"),
    ("docker-l2bridge", "win1/network.json"),
]
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 70000),
    st.sampled_from(
        ["", "x", "10.0.0.1", "10.0.0.0/8", "::1", "00-15-5D-00-00-01", "In", "Allow", "6,17", "1-2", "256"]
    ),
    st.just([]),
    st.just({}),
    st.just(["10.1.0.0/16"]),
)


def _leaves(v: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(v, dict):
        return [p for k, x in v.items() for p in _leaves(x, path + (k,))] + ([path] if path else [])
    if isinstance(v, list):
        return [p for i, x in enumerate(v) for p in _leaves(x, path + (i,))] + ([path] if path else [])
    return [path]


def _set(v: Any, path: tuple[Any, ...], new: Any) -> Any:
    for k in path[:-1]:
        v = v[k]
    v[path[-1]] = new
    return v


def _load(path: Path) -> Any:
    data = path.read_bytes()
    for enc in ("utf-16", "utf-8-sig"):
        try:
            return json.loads(data.decode(enc))
        except (UnicodeDecodeError, json.JSONDecodeError):
            continue
    raise AssertionError(path)


def _check(tmp_path_factory: pytest.TempPathFactory, which: int, pick: int, value: Any) -> None:
    sample, rel = FILES[which]
    tmp = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(SAMPLES / sample, tmp / sample)
    f = tmp / sample / rel
    doc = _load(f)
    leaves = _leaves(doc)
    _set(doc, leaves[pick % len(leaves)], value)
    f.write_text(json.dumps(doc, indent=1))
    try:
        load_cluster([str(tmp / sample)])
    except SpecError as e:
        assert e.diagnostics and all(d.span.line >= 1 for d in e.diagnostics)


QUICK = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
LONG = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@QUICK
@given(which=st.integers(0, len(FILES) - 1), pick=st.integers(0, 10**6), value=VALUES)
def test_any_bad_value_is_an_input_error(
    tmp_path_factory: pytest.TempPathFactory, which: int, pick: int, value: Any
) -> None:
    _check(tmp_path_factory, which, pick, value)


@pytest.mark.slow
@LONG
@given(which=st.integers(0, len(FILES) - 1), pick=st.integers(0, 10**6), value=VALUES)
def test_any_bad_value_is_an_input_error_long(
    tmp_path_factory: pytest.TempPathFactory, which: int, pick: int, value: Any
) -> None:
    _check(tmp_path_factory, which, pick, value)
