"""The command line builds only the subcommand it runs (issue 15, cold start).

``l2l3.cli.SUBCOMMANDS`` says which module registers each subcommand; these
tests hold the table to what the registering functions really add, so that
``main`` building one subcommand and ``--help`` building all agree.
"""

from __future__ import annotations

import argparse

import pytest

from l2l3 import cli


def _choices(p: argparse.ArgumentParser) -> list[str]:
    (sub,) = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
    return list(sub.choices)


def test_the_table_names_every_subcommand_in_help_order() -> None:
    assert _choices(cli.build_parser()) == list(cli.SUBCOMMANDS)


@pytest.mark.parametrize("name", sorted(cli.SUBCOMMANDS))
def test_building_one_subcommand_builds_it_and_its_siblings_only(name: str) -> None:
    built = _choices(cli.build_parser(name))
    assert name in built
    siblings = {n for n, where in cli.SUBCOMMANDS.items() if where == cli.SUBCOMMANDS[name]}
    assert set(built) == siblings


def test_the_first_word_picks_the_subcommand() -> None:
    assert cli.command_of(["check", "x.l2l3"]) == "check"
    assert cli.command_of(["verify-kernel", "x.l2l3"]) == "verify-kernel"
    # options before the subcommand, a typo, nothing at all: the whole parser answers
    assert cli.command_of(["--help"]) is None
    assert cli.command_of(["chekc", "x.l2l3"]) is None
    assert cli.command_of([]) is None


def test_a_typo_still_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["chekc", "x.l2l3"]) == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'chekc'" in err
    assert all(f"'{n}'" in err for n in cli.SUBCOMMANDS), err


def test_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(f"\n    {n} " in out for n in cli.SUBCOMMANDS), out


def test_a_subcommand_help_is_its_own(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["check", "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: l2l3 check ") and "--witness" in out
