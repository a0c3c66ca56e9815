"""`l2l3 expand`: profiles printed as primitives, with comments, parse back to the same model."""

from __future__ import annotations

from pathlib import Path

import pytest

import l2l3
from l2l3.cli import main
from l2l3.dsl import parse

ROOT = Path(__file__).resolve().parents[1]
PROFILE_EXAMPLES = sorted((ROOT / "examples").glob("profile-*.l2l3")) + sorted(
    (ROOT / "examples").glob("windows-cni-*.l2l3")
)


@pytest.mark.parametrize("example", PROFILE_EXAMPLES, ids=lambda p: p.stem)
def test_expand_output_parses_back_to_the_same_model(
    example: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["expand", str(example)]) == 0
    text = capsys.readouterr().out
    again = parse(text, str(example))
    assert again == l2l3.load(example)
    assert "#" in text  # generated lines say what they stand for


def test_expand_names_the_real_chains_and_policies(capsys: pytest.CaptureFixture[str]) -> None:
    main(["expand", str(ROOT / "examples/profile-flannel-host-gw.l2l3")])
    out = capsys.readouterr().out
    assert "FLANNEL-POSTRTG" in out
    main(["expand", str(ROOT / "examples/profile-win-bridge.l2l3")])
    out = capsys.readouterr().out
    assert "OutBoundNAT" in out and "l2bridge" in out
