"""Rendering: the Markdown table (stdout and the README) and the full report (benchmarks/RESULTS.md)."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import time
from pathlib import Path

from benchmarks.measure import ROOT
from benchmarks.rows import Bench, Row

MARKS = {"met": "met", "gap": "**gap**", "skipped": "skipped"}


def machine() -> str:
    """The machine the run was on: cores and CPU model, Python, ``free -g``."""
    mem = ""
    if shutil.which("free"):
        mem = subprocess.run(["free", "-g"], capture_output=True, text=True).stdout.strip()
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"- nproc: {os.cpu_count()} ({cpu})\n"
        f"- python: {platform.python_version()} ({platform.python_implementation()}), {platform.platform()}\n"
        f"- commit: {_commit()}\n"
        f"- load average at the end of the run: {' '.join(f'{x:.1f}' for x in os.getloadavg())} "
        "(the machine is shared: other work ran beside every figure)\n"
        f"- free -g:\n\n```\n{mem}\n```\n"
    )


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
        )
    except OSError:
        return "unknown"
    return out.stdout.strip() or "unknown"


def table(rows: list[Row]) -> str:
    """The rows as a Markdown table: row, workload, target, result, verdict."""
    lines = ["| row | workload | target | result | |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.key} | {r.workload} | {r.target} | {r.result} | {MARKS[r.verdict]} |")
    return "\n".join(lines)


def report(bench: Bench) -> str:
    """The full Markdown report: command line, machine, table, growth points, details, profiles."""
    when = time.strftime("%Y-%m-%d %H:%M %Z")
    args = bench.args
    out = [
        "# l2l3 benchmark results",
        "",
        f"Latest run: `python -m benchmarks.run --scale {args.scale} --repeat {bench.repeat} "
        f"--cap {bench.cap:.0f} --mem-cap {args.mem_cap} --jobs {args.jobs}` on {when}.",
        "Every figure is a cold start in a fresh interpreter; times are medians over the repeats "
        "that finished; memory is the child's peak RSS.",
        "",
        "## Machine",
        "",
        machine(),
        "## Table",
        "",
        table(bench.rows),
        "",
    ]
    growth = next((r for r in bench.rows if r.key == "growth"), None)
    if growth and growth.details.get("points"):
        out += [
            "## Growth",
            "",
            "| pods | wall s | load s | classes | queries | query s | peak MiB |",
            "|---|---|---|---|---|---|---|",
        ]
        for p in growth.details["points"]:
            if "wall_s" in p:
                out.append(
                    f"| {p['pods']:,} | {p['wall_s']} | {p['load_s']} | {p['classes']} | {p['queries']} "
                    f"| {p['query_s']} | {p['peak_mib']} |"
                )
            else:
                out.append(f"| {p['pods']:,} | {p['status']} ({p['progress']}) | | | | | |")
        out.append("")
    for r in bench.rows:
        if r.key in ("check-10k", "audit-150k"):
            out += [
                f"## {r.key} details",
                "",
                "```",
                json.dumps(r.details, indent=1, default=str)[:4000],
                "```",
                "",
            ]
    for pods, texts, status, rss in bench.profiles:
        out += [f"## Profile at {pods:,} pods (profile run: {status}, peak RSS {rss / 1024:.2f} GiB)", ""]
        for e in texts:
            if e["event"] == "cprofile":
                how = (
                    "finished"
                    if e.get("finished")
                    else f"stopped after its {e.get('budget', 0):.0f} s budget"
                )
                out += [
                    f"cProfile, sorted by {e['sort']} ({how}; stages reached: "
                    f"{', '.join(e.get('stages') or ['none'])}):",
                    "",
                    "```",
                    e["text"].rstrip(),
                    "```",
                    "",
                ]
            else:
                out += [
                    f"tracemalloc while loading and building the network (reached: {e.get('reached')}): "
                    f"current {e['current_mb']} MiB, peak {e['peak_mb']} MiB; top allocation sites:",
                    "",
                    "```",
                    e["text"],
                    "```",
                    "",
                ]
    return "\n".join(out)
