"""The pytest plugin: every ``check`` of a ``.l2l3`` file is a test item.

Registered through the ``pytest11`` entry point ``l2l3``: ``pytest`` in a
directory holding ``.l2l3`` files collects their checks. A project whose tree
holds specs that are not meant as tests (examples with deliberately violated
checks, as this repository's) turns it off, and ``--l2l3`` turns it back on
for one run::

    # in pytest.ini / [tool.pytest.ini_options]:
    l2l3_collect = false
    l2l3_files = *.l2l3 specs/*.net    # globs (default *.l2l3)
    pytest --l2l3                      # this run, whatever l2l3_collect says

Each item is named after its check and reported at the check's file:line.
A violated check fails with its witness (where its packets die, or the packet
that gets through); ``unknown`` fails too, with its reason. A spec that does
not load is one failing item listing every diagnostic; an endpoint the spec
does not have fails that check's item only. The ini option ``l2l3_budget``
caps the solver checks of each search, as ``l2l3 check --budget`` does.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # l2l3 itself is imported only once a spec is collected
    from l2l3.api import CheckResult
    from l2l3.checking import Checker
    from l2l3.errors import SpecError
    from l2l3.model.types import Check, Spec

__all__ = [
    "CheckFailed",
    "CheckItem",
    "InputItem",
    "SpecFile",
    "pytest_addoption",
    "pytest_collect_file",
]

#: lines of the witness shown for a failing item
MAX_LINES = 120


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--l2l3`` and the ini options ``l2l3_collect``, ``l2l3_files``, ``l2l3_budget``."""
    group = parser.getgroup("l2l3", "l2l3 network checks")
    group.addoption(
        "--l2l3",
        action="store_true",
        default=False,
        help="collect the checks of .l2l3 files (the l2l3_files globs) as test items",
    )
    parser.addini(
        "l2l3_collect", "collect .l2l3 checks (default true; --l2l3 forces it)", type="bool", default=True
    )
    parser.addini("l2l3_files", "globs of spec files to collect", type="args", default=["*.l2l3"])
    parser.addini("l2l3_budget", "solver checks per search (beyond: unknown)", default="")


def _enabled(config: pytest.Config) -> bool:
    return bool(config.getoption("l2l3", default=False)) or bool(config.getini("l2l3_collect"))


def _matches(config: pytest.Config, path: Path) -> bool:
    rel = path.as_posix()
    try:
        rel = path.relative_to(config.rootpath).as_posix()
    except ValueError:
        pass
    for glob in config.getini("l2l3_files"):
        if "/" in glob:
            if fnmatch.fnmatch(rel, glob):
                return True
        elif fnmatch.fnmatch(path.name, glob):
            return True
    return False


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> SpecFile | None:
    """A :class:`SpecFile` for a file matching ``l2l3_files``, when collection is on."""
    if _enabled(parent.config) and _matches(parent.config, file_path):
        return SpecFile.from_parent(parent, path=file_path)
    return None


class CheckFailed(Exception):
    """A check that did not hold, or could not be asked: its message is ready to show."""

    def __init__(self, text: str, result: CheckResult | None = None) -> None:
        super().__init__(text)
        self.text = text
        self.result = result


class SpecFile(pytest.File):
    """One spec file: an item per ``check``, or one :class:`InputItem` when it does not load."""

    spec: Spec | None = None
    #: the spec's policy warnings (a policy no node enforces), shown with each failing check
    warnings: tuple[str, ...] = ()
    _checker: Checker | None = None

    def collect(self) -> Iterator[pytest.Item]:
        from l2l3.api import load
        from l2l3.errors import SpecError

        try:  # spans (and so messages) name the file as the command line would
            shown = self.path.relative_to(Path.cwd())
        except ValueError:
            shown = self.path
        try:
            self.spec = load(shown)
        except SpecError as e:
            yield InputItem.from_parent(self, name="[input error]", error=e)
            return
        if not self.spec.checks:
            return
        for c in self.spec.checks:
            yield CheckItem.from_parent(self, name=c.name, check=c)

    def checker(self) -> Checker:
        """The checker of this file's network, built once for all its items."""
        if self._checker is None:
            from l2l3.api import Network, policy_warnings
            from l2l3.checking import Checker

            assert self.spec is not None
            budget = str(self.config.getini("l2l3_budget")).strip()
            net = Network(self.spec)
            self._checker = Checker(net, budget=int(budget) if budget else None)
            self.warnings = tuple(policy_warnings(net))
        return self._checker


class CheckItem(pytest.Item):
    """One check; passes when it holds."""

    def __init__(self, *, check: Check, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check = check
        self.result: CheckResult | None = None

    def runtest(self) -> None:
        from l2l3.api import CheckResult, Verdict
        from l2l3.errors import QueryError, SpecError
        from l2l3.testing import describe_failure

        parent = self.parent
        assert isinstance(parent, SpecFile)
        c = self.check
        where = f"{c.span.file}:{c.span.line}:{c.span.column}"
        try:
            r = parent.checker().evaluate(c.query)
        except (QueryError, SpecError) as e:  # an endpoint the spec does not have, a malformed query
            raise CheckFailed(f"{where}: error: check {c.name}: {e}") from e
        r = CheckResult(r.query, r.status, r.explanation, r.witness, c, r.pairs, r.warnings, r.answer)
        self.result = r
        notes = [*parent.warnings, *(f"{where}: warning: check {c.name}: {w}" for w in r.warnings)]
        if notes:
            self.add_report_section("call", "l2l3 warnings", "\n".join(notes))
        if r.status is not Verdict.HOLDS:
            raise CheckFailed(describe_failure(r, max_lines=MAX_LINES), r)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, CheckFailed):
            return excinfo.value.text
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int, str]:
        # pytest counts lines from 0 and shows them from 1
        return self.path, max(self.check.span.line - 1, 0), f"l2l3 check {self.check.name}"


class InputItem(pytest.Item):
    """A spec that does not load: one failing item with every diagnostic."""

    def __init__(self, *, error: SpecError, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.error = error

    def runtest(self) -> None:
        n = len(self.error.diagnostics)
        head = f"{self.path.name}: {n} input error{'s' if n != 1 else ''}, nothing was checked"
        raise CheckFailed(head + "\n" + str(self.error))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, CheckFailed):
            return excinfo.value.text
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int, str]:
        d = self.error.diagnostics
        line = d[0].span.line if d and Path(d[0].span.file).name == self.path.name else 1
        return self.path, max(line - 1, 0), "l2l3 input error"
