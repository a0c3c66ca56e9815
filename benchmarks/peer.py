"""The ``peer`` row: network-config-analyzer, in its own virtualenv, versus ``l2l3 matrix``.

The peer tool lives in ``benchmarks/.peer-venv`` (installed there with
``--peer install``, or by default at full scale), so that it never touches
the project's environment. Both tools answer the same cluster cold: NCA its
Kubernetes YAML (``--connectivity``), l2l3 the equivalent spec, both written
by :mod:`l2l3.generate_mix` (the realistic policy mix of issue 15); their
namespace-level answers are compared (pod-to-pod lines of NCA's output only).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from benchmarks.measure import median, run_child
from benchmarks.rows import TARGETS, Bench, Row
from l2l3.generate_mix import mix_plan, mix_spec, mix_yaml

#: ``$L2L3_PEER_VENV`` puts it elsewhere (outside the tree, so no tool of the
#: project walks its thousands of files)
PEER_VENV = Path(os.environ.get("L2L3_PEER_VENV") or Path(__file__).resolve().parent / ".peer-venv")
NCA = PEER_VENV / "bin" / "nca"


def install(bench: Bench) -> None:
    """Install network-config-analyzer into its own virtualenv; a failure is only reported."""
    bench.say(f"[peer] installing network-config-analyzer into {PEER_VENV}")
    try:
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True, capture_output=True)
        subprocess.run(
            [str(PEER_VENV / "bin" / "pip"), "install", "-q", "network-config-analyzer"],
            check=True,
            capture_output=True,
            timeout=900,
        )
    except (subprocess.SubprocessError, OSError) as e:
        bench.say(f"[peer] could not install network-config-analyzer: {e}")


def peer_row(bench: Bench) -> None:
    """Measure the ``peer`` row (or record it as skipped when the peer tool is absent)."""
    nodes, pods, ns, pols = bench.sizes.peer
    mode = bench.args.peer
    if mode == "auto":
        mode = "install" if bench.args.scale == "full" else "use"
    if not NCA.exists() and mode == "install":
        install(bench)
    p = mix_plan(nodes, pods, ns, pols)
    spec = bench.tmp / f"peer-{nodes}x{pods}.l2l3"
    spec.write_text(mix_spec(p))
    yaml = bench.tmp / f"peer-{nodes}x{pods}.yaml"
    yaml.write_text(mix_yaml(p))
    wl = f"{p.pod_count:,} pods, {len(p.namespaces)} namespaces, {len(p.policies)} NetworkPolicies of the realistic mix"
    if not NCA.exists():
        bench.rows.append(
            Row(
                "peer",
                wl,
                TARGETS["peer"],
                "skipped: network-config-analyzer is not installed in benchmarks/.peer-venv "
                "(python -m benchmarks.run --peer install)",
                "skipped",
            )
        )
        return
    bench.say(f"[peer] {wl}")
    peer_walls, peer_cpu = [], []
    peer_out = ""
    for i in range(bench.repeat):
        r = run_child([str(NCA), "--connectivity", "--resource_list", str(yaml)], bench.cap, bench.mem_cap)
        bench.say(f"    nca run {i + 1}: {r.status}, {r.wall:.2f} s")
        if r.status != "ok":
            break
        peer_walls.append(r.wall)
        peer_cpu.append(r.cpu)
        peer_out = r.stdout
        if r.wall > bench.args.repeat_under:
            break  # one long run tells enough
    ours = bench.repeated("matrix", spec, "--jobs", str(bench.args.jobs))
    ok = [r for r in ours if r.status == "ok" and r.done is not None]
    if not peer_walls or not ok:
        bench.rows.append(
            Row(
                "peer",
                wl,
                TARGETS["peer"],
                f"incomplete: peer {len(peer_walls)} runs, l2l3 {len(ok)} runs",
                "gap",
            )
        )
        return
    pw, lw = median(peer_walls), median([r.wall for r in ok])
    pc, lc = median(peer_cpu), median([r.cpu for r in ok])
    mx = ok[0].last("matrix") or {}
    agree = compare(peer_out, mx.get("cells", {}))
    ratio = min(pw / lw, pc / lc)
    bench.rows.append(
        Row(
            "peer",
            wl + f" (l2l3: calico bgp spec, {mx.get('classes')} classes, {mx.get('queries')} queries)",
            TARGETS["peer"],
            peer_result(pw, lw, pc, lc, agree),
            "met" if ratio >= 100 else "gap",
            {
                "peer_s": pw,
                "l2l3_s": lw,
                "peer_cpu_s": pc,
                "l2l3_cpu_s": lc,
                "ratio": ratio,
                "agreement": agree,
            },
        )
    )


def peer_result(pw: float, lw: float, pc: float, lc: float, agree: str) -> str:
    """The row's text: both tools' wall and CPU, and the ratio by each (the verdict takes the lower)."""
    ratio = min(pw / lw, pc / lc)
    return (
        f"network-config-analyzer {pw:.2f} s ({pc:.1f} s CPU), l2l3 matrix {lw:.2f} s ({lc:.1f} s CPU) "
        f"(cold starts, medians): l2l3 is {pw / lw:.0f}x faster by wall, {pc / lc:.0f}x by CPU"
        + ("" if ratio >= 100 else f", {100 / ratio:.1f}x short of 100x")
        + f"; namespace cells {agree}"
    )


def compare(nca_text: str, cells: dict[str, str]) -> str:
    """Compare namespace reachability: NCA's rules versus l2l3's cells (pod-to-pod only)."""
    allowed: set[tuple[str, str]] = set()
    for line in nca_text.splitlines():
        line = line.strip()
        if not line.startswith("src_ns:") or "dst_ns:" not in line:
            continue
        try:
            src = line.split("src_ns: [", 1)[1].split("]", 1)[0].split(",")
            dst = line.split("dst_ns: [", 1)[1].split("]", 1)[0].split(",")
        except IndexError:
            continue
        for a in src:
            for b in dst:
                allowed.add((a.strip(), b.strip()))
    if not allowed or not cells:
        return "not compared (no namespace rules parsed)"
    ours = {tuple(k.split("->", 1)) for k, v in cells.items() if v in ("all", "some")}
    keys = {tuple(k.split("->", 1)) for k in cells}
    diff = [k for k in keys if (k in ours) != (k in allowed)]
    return "agree with network-config-analyzer" if not diff else f"differ on {len(diff)} of {len(keys)} pairs"
