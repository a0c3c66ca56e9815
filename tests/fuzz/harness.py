"""One fuzz input through the real pipeline, in-process: ``check``, ``expand``, ``trace``.

:func:`run_input` writes the input to a file in a scratch directory, runs
``l2l3.cli.main([...])`` for each command with ``L2L3_DEBUG=1`` (so that an
internal error arrives here as the exception itself, with its traceback,
rather than as exit 4), and returns one :class:`Run` per command.

What a run may end in (LANGUAGE.md §5): exit 0, 1, 2 or 3. Anything else is
a :class:`Problem`:

``crash``       an exception escaped ``main`` (the CLI would exit 4);
``hang``        the input's time ran out;
``contract``    exit 2 without a message, ``check`` exit 2 after printing
                results, a Python traceback printed, an exit status outside 0-3;
``diagnostic``  a ``FILE:LINE:COL`` error quotes a line that is not line LINE
                of the file, or puts its caret beyond it;
``round-trip``  ``expand`` printed a spec that does not load.

The test-suite fails on the first three; the standalone campaign counts all.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import os
import random
import re
import signal
import tempfile
import threading
import time
import traceback
import unicodedata
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.fuzz.inputs import FuzzInput

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = str(ROOT / "l2l3") + os.sep
COMMANDS = ("check", "expand", "trace")
#: seconds each check may take (l2l3 check --time-limit); beyond it the check is unknown
CHECK_TIME_LIMIT = 3
FAILING = ("crash", "hang", "contract")


class Hang(BaseException):
    """Raised by the alarm when an input's time is up (not an Exception: nothing may swallow it)."""


@dataclass
class Problem:
    category: str  # crash | hang | contract | diagnostic | round-trip
    #: what groups it: ``ExcType @ l2l3/path.py:LINE in func`` for a crash
    key: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.category}: {self.key}" + (f"\n{self.detail}" if self.detail else "")


@dataclass
class Run:
    command: str
    argv: list[str]
    exit: int | None = None
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    problems: list[Problem] = field(default_factory=list)


# ---------------------------------------------------------------- where an exception arose


def innermost_frame(tb: traceback.StackSummary) -> str:
    """``l2l3/…/file.py:LINE in func`` of the innermost l2l3 frame (else the innermost frame)."""
    ours = [f for f in tb if f.filename.startswith(PACKAGE)]
    f = ours[-1] if ours else (tb[-1] if len(tb) else None)
    if f is None:
        return "?"
    name = (
        os.path.relpath(f.filename, ROOT)
        if f.filename.startswith(str(ROOT))
        else os.path.basename(f.filename)
    )
    return f"{name}:{f.lineno} in {f.name}"


def crash_key(e: BaseException) -> str:
    return f"{type(e).__name__} @ {innermost_frame(traceback.extract_tb(e.__traceback__))}"


# ---------------------------------------------------------------- files


def materialize(inp: FuzzInput, directory: Path) -> str:
    """The path of a file (or not-a-file) holding ``inp``, made in ``directory``."""
    p = directory / "fuzz.l2l3"
    if inp.kind == "file":
        p.write_bytes(inp.data)
    elif inp.kind == "empty":
        p.write_bytes(b"")
    elif inp.kind == "fifo":
        os.mkfifo(p)
    elif inp.kind == "directory":
        p.mkdir()
    elif inp.kind == "dangling-symlink":
        p.symlink_to(directory / "missing")
    elif inp.kind == "symlink-loop":
        p.symlink_to(directory / "loop")
        (directory / "loop").symlink_to(p)
    elif inp.kind == "dev-null":
        return os.devnull
    else:
        raise ValueError(f"unknown kind of file {inp.kind!r}")
    return str(p)


# ---------------------------------------------------------------- time limits


@contextlib.contextmanager
def time_limit(seconds: float | None, *, cpu: bool = False) -> Iterator[None]:
    """Raise :class:`Hang` in the body after ``seconds`` (main thread only; no-op otherwise).

    ``cpu``: count the process's CPU time (user + system, ``ITIMER_PROF``)
    instead of wall time, so that a machine busy with other work does not
    turn slow-but-finite inputs into hangs.
    """
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def ring(_sig: int, _frame: object) -> None:
        raise Hang(f"no answer within {seconds:g} {'CPU ' if cpu else ''}s")

    sig, timer = (signal.SIGPROF, signal.ITIMER_PROF) if cpu else (signal.SIGALRM, signal.ITIMER_REAL)
    old = signal.signal(sig, ring)
    signal.setitimer(timer, max(seconds, 0.001))
    try:
        yield
    finally:
        signal.setitimer(timer, 0)
        signal.signal(sig, old)


# ---------------------------------------------------------------- arguments


def _rng(inp: FuzzInput) -> random.Random:
    return random.Random(zlib.crc32(inp.data) ^ zlib.crc32(inp.kind.encode()))


def check_argv(inp: FuzzInput, path: str) -> list[str]:
    r = _rng(inp)
    argv = ["check", path]
    fmt = r.choice(["text", "text", "json", "sarif", "junit"])
    if fmt != "text":
        argv += ["--format", fmt]
    if r.random() < 0.15:
        argv += ["--budget", str(r.choice([1, 2, 5, 50]))]
    # a limit gives unknown: each check answers well inside the input's time
    return [*argv, "--time-limit", str(CHECK_TIME_LIMIT)]


def trace_argv(inp: FuzzInput, path: str) -> list[str]:
    """A ``trace`` from an endpoint of the spec (when it loads) to an address it mentions."""
    r = _rng(inp)
    text = inp.data.decode("utf-8", "replace")
    senders: list[str] = []
    try:
        import l2l3

        spec = l2l3.loads(text, path)
        senders = [f"{n.name}/{p.name}" for n in spec.nodes for p in n.pods]
        senders += [f"node {n.name}" for n in spec.nodes] + [f"external {e.name}" for e in spec.externals]
    except Exception:  # a crash here shows again, inside main, as the check's
        pass
    addresses = re.findall(r"(?<![0-9.])(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?![0-9.])", text)
    valid = [a for a in addresses if all(int(o) < 256 for o in a.split("."))]
    senders += r.sample(valid, min(2, len(valid))) or ["a/b"]
    dst = r.choice(valid + ["10.9.9.9", "255.255.255.255", "0.0.0.0"])
    proto = r.choice(["icmp", "tcp", "udp"])
    argv = ["trace", path, "--from", r.choice(senders), "--to", dst, "--proto", proto]
    if proto != "icmp" and r.random() < 0.7:
        argv += ["--dport", str(r.choice([0, 53, 80, 443, 8080, 65535]))]
    return argv


def argv_for(command: str, inp: FuzzInput, path: str) -> list[str]:
    if command == "check":
        return check_argv(inp, path)
    if command == "trace":
        return trace_argv(inp, path)
    if command == "matrix":
        return ["matrix", path, "-q"]
    return [command, path]


# ---------------------------------------------------------------- the oracles

#: characters str.splitlines() breaks lines at, besides \n
_LINE_BREAKERS = "\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
_DIAG = re.compile(r"^(?P<file>.+?):(?P<line>[0-9]+):(?P<col>[0-9]+): (?:error|warning): ")


def _diagnostic_problem(run: Run, path: str, data: bytes) -> Problem | None:
    """The first ``FILE:LINE:COL`` diagnostic must quote line LINE and put the caret on it."""
    lines = run.stderr.split("\n")
    m = _DIAG.match(lines[0]) if lines else None
    if m is None or m.group("file") != path or len(lines) < 3 or not lines[1].startswith("    "):
        return None
    try:
        text = data.decode("utf-8").removeprefix("\ufeff").replace("\r\n", "\n")
    except UnicodeDecodeError:
        return None
    n, col = int(m.group("line")), int(m.group("col"))
    file_lines = text.split("\n")
    if not 1 <= n <= len(file_lines):
        return Problem("diagnostic", "line number beyond the file", f"line {n} of {len(file_lines)}")
    quoted, caret = lines[1][4:], lines[2][4:]
    # as the renderer shows it: odd characters as U+FFFD (one for one), then tabs expanded
    want = "".join(
        "\ufffd" if c != "\t" and unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp", "Cs") else c
        for c in file_lines[n - 1]
    ).expandtabs()
    # the excerpt shows unprintable characters as U+FFFD, one for one
    shown = re.compile("".join("." if c == "\ufffd" else re.escape(c) for c in quoted), re.DOTALL)
    if not shown.search(want):
        odd = sorted({f"{ord(c):#x}" for c in text if c in _LINE_BREAKERS})
        return Problem(
            "diagnostic",
            f"quotes a line that is not line LINE (the file has {', '.join(odd) or 'no odd line breaks'})",
            f"line {n} is {want[:120]!r}, quoted {quoted[:120]!r}; col {col}",
        )
    if caret.strip() != "^" or len(caret) - 1 > len(quoted):
        return Problem("diagnostic", "caret beyond the quoted line", f"{quoted[:120]!r}\n{caret[:124]!r}")
    return None


def _contract_problems(run: Run) -> list[Problem]:
    out = []
    if run.exit is not None and run.exit not in (0, 1, 2, 3):
        out.append(Problem("contract", f"{run.command} exit {run.exit}", run.stderr[-2000:]))
    if "Traceback (most recent call last)" in run.stderr + run.stdout:
        out.append(Problem("contract", f"{run.command} printed a traceback", run.stderr[-4000:]))
    if run.exit == 2 and not run.stderr.strip():
        out.append(Problem("contract", f"{run.command} exit 2 without a message"))
    if run.command == "check" and run.exit == 2 and run.stdout:
        fmt = run.argv[run.argv.index("--format") + 1] if "--format" in run.argv else "text"
        if fmt not in ("sarif", "junit"):  # those two still write a valid file holding the error
            out.append(Problem("contract", "check exit 2 after printing results", run.stdout[:2000]))
        elif not _valid_error_file(fmt, run.stdout):
            out.append(Problem("contract", f"check exit 2 wrote an invalid {fmt} file", run.stdout[:2000]))
    return out


def _valid_error_file(fmt: str, text: str) -> bool:
    """The SARIF log or JUnit report an invalid input still yields: parseable, with an error in it."""
    import json
    import xml.etree.ElementTree as ET

    try:
        if fmt == "sarif":
            log = json.loads(text)
            return any(r.get("level") == "error" for run in log["runs"] for r in run["results"])
        return ET.fromstring(text).find(".//error") is not None
    except (ValueError, KeyError, TypeError, ET.ParseError):
        return False


def _round_trip_problem(run: Run) -> Problem | None:
    if run.command != "expand" or run.exit != 0:
        return None
    import l2l3
    from l2l3.errors import SpecError

    try:
        l2l3.loads(run.stdout, "<expanded>")
    except SpecError as e:
        first = str(e).split("\n", 1)[0]
        return Problem("round-trip", "expand printed a spec that does not load", first[:300])
    except Exception as e:
        return Problem("round-trip", f"loading expand's output raised {crash_key(e)}")
    return None


# ---------------------------------------------------------------- one input


def _is_hang(e: BaseException) -> bool:
    """The alarm, seen through a wrapper: ctypes turns an exception raised while it
    converts an argument (the alarm ringing inside a z3 call) into ArgumentError."""
    seen = 0
    cur: BaseException | None = e
    while cur is not None and seen < 20:
        if isinstance(cur, Hang) or (isinstance(cur, ctypes.ArgumentError) and ": Hang: " in str(cur)):
            return True
        cur = cur.__cause__ or cur.__context__
        seen += 1
    return False


def call_main(argv: list[str]) -> tuple[int | None, str, str, BaseException | None]:
    """``l2l3.cli.main(argv)`` with its output captured: (exit, stdout, stderr, exception)."""
    from l2l3.cli import main

    out, err = io.StringIO(), io.StringIO()
    old = os.environ.get("L2L3_DEBUG")
    os.environ["L2L3_DEBUG"] = "1"
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc: int | None = main(argv)
                exc: BaseException | None = None
            except (Hang, KeyboardInterrupt):
                raise
            except BaseException as e:  # SystemExit too: main returns its status
                rc, exc = None, e
    finally:
        if old is None:
            os.environ.pop("L2L3_DEBUG", None)
        else:
            os.environ["L2L3_DEBUG"] = old
    return rc, out.getvalue(), err.getvalue(), exc


def run_input(
    inp: FuzzInput,
    *,
    commands: tuple[str, ...] = COMMANDS,
    seconds: float | None = None,
    cpu: bool = False,
    oracles: bool = True,
    on_start: Callable[[str], None] | None = None,
    on_run: Callable[[Run], None] | None = None,
) -> list[Run]:
    """Every command on ``inp``; ``seconds`` bounds them all together (a hang stops the rest),
    in CPU seconds of this process when ``cpu`` (see :func:`time_limit`), else wall seconds.

    ``on_start(command)`` is called before each command, ``on_run(run)`` after it.
    """
    runs: list[Run] = []
    clock = time.process_time if cpu else time.monotonic
    deadline = clock() + seconds if seconds else None
    with tempfile.TemporaryDirectory(prefix="l2l3fuzz") as d:
        path = materialize(inp, Path(d))
        for command in commands:
            run = Run(command, [command, path])
            runs.append(run)
            if on_start is not None:
                on_start(command)
            t0 = time.monotonic()
            left = None if deadline is None else deadline - clock()
            try:
                if left is not None and left <= 0:
                    raise Hang("no time left")
                with time_limit(left, cpu=cpu):
                    run.argv = argv_for(command, inp, path)
                    rc, run.stdout, run.stderr, exc = call_main(run.argv)
            except Hang as e:
                run.seconds = time.monotonic() - t0
                where = innermost_frame(traceback.extract_tb(e.__traceback__))
                run.problems.append(Problem("hang", f"{command} @ {where}", str(e)))
                if on_run is not None:
                    on_run(run)
                break
            run.seconds = time.monotonic() - t0
            run.exit = rc
            if exc is not None and _is_hang(exc):
                where = innermost_frame(traceback.extract_tb(exc.__traceback__))
                run.exit = None
                run.problems.append(Problem("hang", f"{command} @ {where}", str(exc)))
                if on_run is not None:
                    on_run(run)
                break
            if exc is not None:
                if isinstance(exc, SystemExit):
                    run.problems.append(
                        Problem("contract", f"{command}: SystemExit({exc.code}) escaped main")
                    )
                else:
                    tb = "".join(traceback.format_exception(exc))
                    run.problems.append(Problem("crash", crash_key(exc), tb))
            else:
                run.problems += _contract_problems(run)
                if oracles:
                    for p in (_diagnostic_problem(run, path, inp.data), _round_trip_problem(run)):
                        if p is not None:
                            run.problems.append(p)
            if on_run is not None:
                on_run(run)
    return runs


def failures(runs: list[Run], categories: tuple[str, ...] = FAILING) -> list[tuple[Run, Problem]]:
    return [(r, p) for r in runs for p in r.problems if p.category in categories]


def explain(inp: FuzzInput, bad: list[tuple[Run, Problem]]) -> str:
    """A failure message naming the input and each failing command with its traceback."""
    parts = [f"input: {inp.show()}"]
    for run, p in bad:
        parts.append(f"--- {' '.join(run.argv)}\n{p}")
    return "\n".join(parts)
