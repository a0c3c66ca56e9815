"""Cold start: checking a plain ``.l2l3`` file loads only what the check needs (issue 15).

The Kubernetes readers (ruamel.yaml, the Windows state readers), pandas,
networkx and tqdm are imported only where an input or an option needs them;
the command line builds only the subcommand it runs (the other subcommands'
modules, the matrix, the generator, the kernel tools and shtab stay out), and
the report renders with its format's module alone (no XML for text).
Each case runs ``l2l3 check`` in a fresh interpreter, with standard error a
pipe (not a terminal), and lists the modules it ended with.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "l2bridge-vs-linux-bridge.l2l3"

#: Modules (and packages, with everything under them) a plain spec check must not import.
NOT_NEEDED = (
    *("ruamel", "l2l3.kube.windows", "l2l3.kube.source", "pandas", "networkx", "tqdm"),
    *("l2l3.cli.diff", "l2l3.cli.graph", "l2l3.cli.trace", "l2l3.cli.completion", "shtab"),
    *("l2l3.matrix", "l2l3.generate", "l2l3.kernel", "l2l3.diff", "l2l3.graph"),
    "l2l3.model.profiles",  # the example has no cluster block: no CNI profile to expand
    *("l2l3.incremental", "l2l3.model.update", "l2l3.model.footprint"),  # l2l3.Session's
)

#: ``--format`` -> the report modules rendering it (the other formats' modules stay out)
FORMAT_MODULES = {
    "text": {"l2l3.report.text"},
    "json": {"l2l3.report.json"},
    "sarif": {"l2l3.report.sarif"},
    "junit": {"l2l3.report.junit", "l2l3.report.text", "xml"},  # JUnit's messages are the text's
}

_PROBE = """
import json, sys
from l2l3.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as e:
    code = e.code
sys.stdout.flush()
sys.stderr.write("\\nMODULES " + json.dumps(sorted(sys.modules)) + " EXIT " + str(code) + "\\n")
"""


def _modules_after(*args: str) -> tuple[set[str], int]:
    run = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    tail = run.stderr.rsplit("\nMODULES ", 1)
    assert len(tail) == 2, run.stderr
    mods, code = tail[1].rsplit(" EXIT ", 1)
    return set(json.loads(mods)), int(code.strip())


def _prints_ok(code: str) -> None:
    """Run ``code`` in a fresh interpreter; it must succeed and print ``ok``."""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr


def _loaded(modules: set[str], name: str) -> list[str]:
    return sorted(m for m in modules if m == name or m.startswith(name + "."))


@pytest.mark.parametrize("fmt", sorted(FORMAT_MODULES))
def test_plain_spec_check_imports_no_reader(fmt: str) -> None:
    modules, code = _modules_after("check", "--format", fmt, str(EXAMPLE))
    assert code in (0, 1), code  # the example was checked (holds or violated), not refused
    assert "l2l3.checking" in modules and "l2l3.dsl" in modules  # the probe saw the real run
    found = {name: _loaded(modules, name) for name in NOT_NEEDED}
    assert not any(found.values()), {k: v for k, v in found.items() if v}
    mine = FORMAT_MODULES[fmt]
    assert mine <= modules, mine - modules
    others = {m for f, ms in FORMAT_MODULES.items() if f != fmt for m in ms} - mine
    assert not {m: _loaded(modules, m) for m in others if _loaded(modules, m)}


def test_z3_is_imported_only_when_a_check_searches() -> None:
    """Checks the probe packet and the policy screen settle never import the solver engine or z3.

    ``enforced`` (``no reach``) is refused by the ingress policy of every
    destination, ``scrape`` (``reach``) holds by its probe packet; the
    example's ``nat`` checks are searches, so there z3 comes in.
    """
    settled = ["--check", "enforced", "--check", "scrape"]
    modules, code = _modules_after("check", *settled, str(ROOT / "examples" / "policy-enforced.l2l3"))
    assert code == 0, code  # both checks hold
    assert "l2l3.checking.checker" in modules
    assert not _loaded(modules, "z3") and "l2l3.solver.engine" not in modules
    modules, code = _modules_after("check", "--check", "egress-nat", str(EXAMPLE))
    assert code == 0 and _loaded(modules, "z3") and "l2l3.solver.engine" in modules


def test_manifest_input_still_loads_the_readers(tmp_path: Path) -> None:
    """The lazy imports happen: a manifest among the inputs brings the YAML reader in."""
    manifest = tmp_path / "ns.yaml"
    manifest.write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n", encoding="utf-8")
    modules, code = _modules_after("check", str(manifest), str(EXAMPLE))
    assert _loaded(modules, "ruamel"), "reading a manifest did not import ruamel.yaml"
    assert code in (0, 1, 2), code


def test_package_names_resolve_lazily() -> None:
    """``from l2l3.kube import load`` is the reader function, even after ``l2l3.kube.load`` the module."""
    code = (
        "import l2l3.kube.translate, types\n"
        "from l2l3.kube import load, Cluster, KubeError\n"
        "assert callable(load) and not isinstance(load, types.ModuleType), load\n"
        "import l2l3.kube as k\n"
        "assert k.load is load and k.Cluster is Cluster\n"
        "print('ok')\n"
    )
    _prints_ok(code)


def test_the_package_imports_its_api_on_first_use() -> None:
    """``import l2l3`` (as every ``l2l3.…`` import does) brings neither the API nor the model in."""
    code = (
        "import sys, l2l3, l2l3.errors, l2l3.cli\n"
        "heavy = [m for m in sys.modules if m.startswith(('l2l3.api', 'l2l3.model', 'l2l3.checking', 'z3'))]\n"
        "assert not heavy, heavy\n"
        "from l2l3 import check, Verdict\n"
        "import l2l3.api as api\n"
        "assert l2l3.check is check is api.check and Verdict is api.Verdict\n"
        "assert 'l2l3.incremental' not in sys.modules\n"
        "from l2l3 import Session\n"
        "import l2l3.incremental as inc\n"
        "assert Session is inc.Session is api.Session\n"
        "assert l2l3.dsl is sys.modules['l2l3.dsl']  # a subpackage as an attribute, as before\n"
        "try:\n"
        "    l2l3.no_such_name\n"
        "except AttributeError:\n"
        "    print('ok')\n"
    )
    _prints_ok(code)
