"""``l2l3 completion``: the bash script completes subcommands, options and their choices."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from l2l3.cli import main


def _script(capsys: pytest.CaptureFixture[str], shell: str) -> str:
    assert main(["completion", shell]) == 0
    return capsys.readouterr().out


def _complete(script: Path, *words: str) -> list[str]:
    """What bash offers for the last of ``words`` (the script's function called as readline would)."""
    line = " ".join(words)
    arr = " ".join(f"'{w}'" for w in words)
    prog = (
        f"source {script}; COMP_WORDS=({arr}); COMP_CWORD={len(words) - 1}; "
        f"COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}; _shtab_l2l3; printf '%s\\n' \"${{COMPREPLY[@]}}\""
    )
    out = subprocess.run(["bash", "-c", prog], capture_output=True, text=True, check=True, timeout=30).stdout
    return [w for w in out.splitlines() if w]


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_completes_subcommands_options_and_choices(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = tmp_path / "l2l3.bash"
    script.write_text(_script(capsys, "bash"))
    assert set(_complete(script, "l2l3", "")) >= {"check", "diff", "graph", "trace", "matrix", "completion"}
    assert _complete(script, "l2l3", "di") == ["diff"]
    assert _complete(script, "l2l3", "check", "--wit") == ["--witness"]
    assert _complete(script, "l2l3", "check", "--witness", "") == ["violated", "all", "none"]
    assert _complete(script, "l2l3", "matrix", "FILE", "-o", "") == ["text", "json", "csv", "md", "dot"]


def test_zsh_script_and_file_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    zsh = _script(capsys, "zsh")
    assert zsh.startswith("#compdef l2l3") and "--strict" in zsh and "_files" in zsh
    bash = _script(capsys, "bash")
    assert "_shtab_l2l3_check_pos_0_COMPGEN=_shtab_compgen_files" in bash
