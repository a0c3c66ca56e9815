"""The inputs of ``l2l3 check`` and ``l2l3 import``: paths -> specs (LANGUAGE.md §5, §7).

:func:`load_inputs` implements the command-line contract:

- when every path is a ``.l2l3`` file, each is a spec of its own and is
  checked independently, as in version 1;
- otherwise every path together is ONE cluster: the manifests, CNI configs
  and directories (everything under them, recursively) and every ``.l2l3``
  file among them or named beside them. The ``.l2l3`` files give the checks
  (a file may hold only checks), the underlay segments and externals, maybe
  a ``cluster { cni … }`` block and hand-written nodes and policies; the
  Kubernetes objects give the namespaces, nodes, pods and NetworkPolicies.

The CNI comes from ``cni`` (``--cni PROFILE``), else from a ``cluster``
block with ``cni`` in a ``.l2l3`` input, else from the CNI configs among the
inputs; with none, the answer is an input error saying how to give one.

Every input error is a :class:`~l2l3.errors.SpecError` whose diagnostics
name FILE:LINE:COL and carry the line for the caret; the readers' notes
and the translation's notes and assumptions come back as diagnostics of
severity ``note`` beside the profile and validation warnings.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from l2l3.dsl import load_with_warnings, parse_with_warnings
from l2l3.dsl.resolve import diagnose
from l2l3.errors import Diagnostic, Severity, SpecError, source_lines
from l2l3.kube.errors import KubeError, Note
from l2l3.kube.provenance import Notes, input_error, kube_span, note_diagnostic, quiet_gc
from l2l3.model.types import Cluster, Span, Spec

# The readers (ruamel.yaml, the JSON reader, the CNI configs, the Windows state
# readers, the translation) are imported where a Kubernetes input is read: a
# check of .l2l3 files alone never loads them (tests/test_cold_start.py).
if TYPE_CHECKING:
    from l2l3.kube.cni import CniChoice
    from l2l3.kube.load import Cluster as KubeCluster
    from l2l3.kube.windows import NodeStates

__all__ = ["ClusterInput", "load_cluster", "load_inputs", "spec_only"]

SPEC_EXTENSION = ".l2l3"


@dataclass
class ClusterInput:
    """One cluster read from Kubernetes inputs.

    ``raw`` is the spec as ``l2l3 import`` writes it (profiles not expanded);
    ``spec`` is it expanded and validated, ready to check. ``notes`` holds
    what the readers and the translation skipped or assumed.
    """

    raw: Spec
    spec: Spec
    warnings: list[Diagnostic]
    notes: list[Note]
    kube: KubeCluster
    spec_files: tuple[str, ...] = ()
    cni: CniChoice | None = None
    texts: dict[str, str] = field(default_factory=dict)


def spec_only(paths: Sequence[str | os.PathLike[str]]) -> bool:
    """Whether every path is a ``.l2l3`` file (then each is checked on its own)."""
    return bool(paths) and all(
        os.fspath(p).lower().endswith(SPEC_EXTENSION) and not os.path.isdir(p) for p in paths
    )


def load_inputs(
    paths: Sequence[str | os.PathLike[str]], cni: str | None = None
) -> list[tuple[Spec, list[Diagnostic]]]:
    """The specs to check for ``paths``, each with its warnings and notes.

    Raises :class:`SpecError` with every input problem found.
    """
    if spec_only(paths):
        return _specs(paths, cni)
    got = load_cluster(paths, cni)
    return [(got.spec, got.warnings)]


# ---------------------------------------------------------------- .l2l3 files on their own


def _specs(paths: Sequence[str | os.PathLike[str]], cni: str | None) -> list[tuple[Spec, list[Diagnostic]]]:
    out: list[tuple[Spec, list[Diagnostic]]] = []
    errors: list[SpecError] = []
    words = _profile(cni, paths) if cni else None
    for p in paths:
        try:
            if words is None:
                out.append(load_with_warnings(os.fspath(p)))
                continue
            file = os.fspath(p)
            text = _read(file)
            raw, warns = parse_with_warnings(text, file, expand=False, validate=False)
            if raw.cluster is None:
                out.append(load_with_warnings(os.fspath(p)))
                out[-1][1].append(
                    Diagnostic(
                        Span(file, 1, 1),
                        f"--cni has no effect: {file} has no cluster block",
                        severity=Severity.WARNING,
                    )
                )
                continue
            block = replace(raw.cluster, cni=words[0], options=words[1] or raw.cluster.options)
            out.append(_finish(replace(raw, cluster=block), {file: text}, list(warns)))
        except SpecError as e:
            errors.append(e)
    if errors:
        raise _in_order(errors)
    return out


def _in_order(errors: list[SpecError]) -> SpecError:
    """One error of several files' errors, the files in the order named (as ``check`` reports them)."""
    if len(errors) == 1:
        return errors[0]
    e = SpecError([d for err in errors for d in err.diagnostics])
    e.diagnostics = [d for err in errors for d in err.diagnostics]
    e.args = ("\n".join(str(err) for err in errors),)
    return e


def _profile(
    cni: str, paths: Sequence[str | os.PathLike[str]]
) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    from l2l3.kube.cni import parse_profile

    try:
        return parse_profile(cni)
    except ValueError as e:
        first = os.fspath(paths[0]) if paths else "<command line>"
        raise SpecError([Diagnostic(Span(first, 1, 1), f"--cni: {e}")]) from None


# ---------------------------------------------------------------- one cluster


def _read(file: str) -> str:
    """A ``.l2l3`` file's text (regular files only, UTF-8)."""
    try:
        mode = os.stat(file).st_mode
        if not stat.S_ISREG(mode):
            raise input_error(Span(file, 1, 1), "not a regular file")
        return Path(file).read_text(encoding="utf-8-sig")
    except OSError as e:
        raise input_error(Span(file, 1, 1), f"cannot read the file: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise input_error(
            Span(file, 1, 1), f"the file is not UTF-8 text (bad byte at offset {e.start})"
        ) from None


def _kube_error(e: KubeError) -> SpecError:
    diags = [Diagnostic(Span(d.file, d.line, d.col), d.message, d.line_text) for d in e.diagnostics]
    if e.more and diags:
        diags.append(Diagnostic(diags[-1].span, f"… and {e.more} more errors not shown"))
    return SpecError(diags)


class _Lines:
    """The source lines of the files diagnostics point into, read once each."""

    def __init__(self, texts: dict[str, str]) -> None:
        self.texts = texts
        self.cache: dict[str, list[str]] = {}

    def line(self, span: Span) -> str:
        if span.line <= 0:
            return ""
        lines = self.cache.get(span.file)
        if lines is None:
            text = self.texts.get(span.file)
            if text is None:
                from l2l3.kube.source import read_text

                try:  # UTF-8 with or without BOM, UTF-16/32 with BOM (PowerShell's dumps)
                    text = read_text(span.file)
                except KubeError:
                    try:
                        text = Path(span.file).read_text(encoding="utf-8-sig", errors="replace")
                    except (OSError, ValueError):
                        text = ""
            lines = self.cache[span.file] = source_lines(text)
        return lines[span.line - 1] if span.line <= len(lines) else ""

    def fill(self, diags: Iterable[Diagnostic]) -> list[Diagnostic]:
        return [d if d.line_text else replace(d, line_text=self.line(d.span)) for d in diags]


def _merge_blocks(raws: list[Spec]) -> Cluster | None:
    blocks = [r.cluster for r in raws if r.cluster is not None]
    if not blocks:
        return None
    with_cni = [b for b in blocks if b.cni]
    for b in with_cni[1:]:
        first = with_cni[0]
        if (b.cni, b.options) != (first.cni, first.options):
            raise input_error(
                b.span,
                f"a second cluster block with cni {' '.join(b.cni)} (the first, at {first.span.file}:"
                f"{first.span.line}, says cni {' '.join(first.cni)}); one cluster has one CNI",
            )
    main = with_cni[0] if with_cni else blocks[0]
    pod = next((b.pod_cidr for b in blocks if b.pod_cidr is not None), None)
    svc = next((b.service_cidr for b in blocks if b.service_cidr is not None), None)
    return replace(main, pod_cidr=pod, service_cidr=svc)


def _choose_cni(cni: str | None, block: Cluster | None, kc: KubeCluster, paths: Sequence[str]) -> CniChoice:
    """The CNI by precedence: ``--cni``, a ``.l2l3`` cluster block, the CNI configs among the inputs."""
    from l2l3.kube.cni import PROFILE_HELP, CniChoice, from_configs

    notes = Notes()
    configs: CniChoice | None = None
    if kc.cni_configs or kc.flannel_configs:
        try:
            configs = from_configs(kc.cni_configs, kc.flannel_configs)
        except SpecError as e:
            if not cni and not (block is not None and block.cni):
                raise
            d = e.diagnostics[0]
            notes.add(d.span, f"CNI config not used ({d.message})", "no-effect")
    if cni:
        words, options = _profile(cni, paths)
        if configs is not None:
            if configs.words == words and not options:
                options = configs.options
            notes.add(
                configs.span or Span(paths[0], 1, 1),
                f"--cni {' '.join(words)} is used, not the {configs.source}",
                "no-effect",
            )
        same = configs is not None and configs.words == words
        return CniChoice(
            words=words,
            options=options,
            pod_cidr=block.pod_cidr
            if block and block.pod_cidr
            else configs.pod_cidr
            if same and configs
            else None,
            service_cidr=block.service_cidr
            if block and block.service_cidr
            else configs.service_cidr
            if same and configs
            else None,
            windows_routes=configs.windows_routes if same and configs else (),
            ipam_subnet=configs.ipam_subnet if configs else None,
            source="--cni",
            span=block.span if block is not None else None,
            notes=tuple(notes.items) + (configs.notes if same and configs else ()),
        )
    if block is not None and block.cni:
        if configs is not None:
            notes.add(
                configs.span or block.span,
                f"the cluster block at {block.span.file}:{block.span.line} gives the CNI: the {configs.source} is not used",
                "no-effect",
            )
        return CniChoice(
            words=block.cni,
            options=block.options,
            pod_cidr=block.pod_cidr,
            service_cidr=block.service_cidr,
            ipam_subnet=configs.ipam_subnet if configs else None,
            source=f"cluster block {block.span.file}:{block.span.line}",
            span=kube_span(block.span),
            notes=tuple(notes.items),
        )
    if configs is not None:
        if block is not None:
            configs = replace(
                configs,
                pod_cidr=block.pod_cidr or configs.pod_cidr,
                service_cidr=block.service_cidr or configs.service_cidr,
            )
        return configs
    where = paths[0] if paths else "<input>"
    raise SpecError(
        [
            Diagnostic(
                Span(where, 1, 1),
                "no CNI among the inputs, so l2l3 cannot tell how pods are connected; give one: "
                f"--cni PROFILE ({PROFILE_HELP}), a `cluster NAME {{ cni PROFILE }}` block in a .l2l3 "
                "file among the inputs, or the node's CNI network config (/etc/cni/net.d/*.conflist)",
            )
        ]
    )


def load_cluster(paths: Sequence[str | os.PathLike[str]], cni: str | None = None) -> ClusterInput:
    """Read ``paths`` as one cluster: translated, merged with the ``.l2l3`` inputs, expanded, validated."""
    with quiet_gc():
        return _load_cluster(paths, cni)


def _load_cluster(paths: Sequence[str | os.PathLike[str]], cni: str | None) -> ClusterInput:
    from l2l3.kube.load import load
    from l2l3.kube.translate import translate
    from l2l3.kube.windows import node_states

    names = [os.fspath(p) for p in paths]
    try:
        kc = load(names)
    except KubeError as e:
        raise _fill_error(_kube_error(e), {}) from None
    texts: dict[str, str] = {}
    raws: list[Spec] = []
    warnings: list[Diagnostic] = []
    errors: list[Diagnostic] = []
    for f in kc.spec_files:
        try:
            texts[f] = _read(f)
            raw, warns = parse_with_warnings(texts[f], f, expand=False, validate=False)
            raws.append(raw)
            warnings += warns
        except SpecError as e:
            errors += e.diagnostics
    if errors:
        raise SpecError(errors)
    first = kc.spec_files[0] if len(kc.spec_files) == 1 else (names[0] if names else "<kubernetes>")
    try:
        block = _merge_blocks(raws)
        segments = tuple(s for r in raws for s in r.segments)
        try:  # a Windows node's HNS / docker / Get-NetRoute JSON (l2l3.kube.windows)
            state = node_states(kc, segments)
        except KubeError as e:
            raise _kube_error(e) from None
        kc = state.kube
        if not _has_kubernetes(kc) or state.alone(cni, block):  # nothing for a CNI to translate
            return _specs_as_one(kc, raws, block, cni, first, texts, warnings, state)
        choice = _choose_cni(cni, block, kc, names)
        tr = translate(kc, choice, segments, name=block.name if block is not None else "kubernetes")
        if state:
            tr.spec, tr.notes = state.merge(tr.spec, tr.notes)
    except SpecError as e:
        raise _fill_error(e, texts) from None
    t = tr.spec
    raw = Spec(
        file=first,
        cluster=t.cluster,
        namespaces=t.namespaces + tuple(n for r in raws for n in r.namespaces),
        segments=tuple(s for r in raws for s in r.segments) + t.segments,
        externals=tuple(e for r in raws for e in r.externals),
        nodes=t.nodes + tuple(n for r in raws for n in r.nodes),
        policies=t.policies + tuple(p for r in raws for p in r.policies),
        services=t.services + tuple(s for r in raws for s in r.services),
        checks=tuple(c for r in raws for c in r.checks),
        source="",
    )
    spec, warns = _expand_validate(raw, texts)
    notes = [note_diagnostic(n) for n in tr.notes]
    lines = _Lines(texts)
    return ClusterInput(
        raw=raw,
        spec=spec,
        warnings=lines.fill(warnings + warns + notes),
        notes=tr.notes,
        kube=kc,
        spec_files=kc.spec_files,
        cni=choice,
        texts=texts,
    )


def _has_kubernetes(kc: KubeCluster) -> bool:
    """Whether the inputs hold any Kubernetes object or CNI config (not only .l2l3 files)."""
    return bool(
        kc.nodes
        or kc.pods
        or kc.policies
        or kc.services
        or kc.endpoint_slices
        or kc.cni_configs
        or kc.flannel_configs
        or any(n.declared for n in kc.namespaces)
    )


def _specs_as_one(
    kc: KubeCluster,
    raws: list[Spec],
    block: Cluster | None,
    cni: str | None,
    first: str,
    texts: dict[str, str],
    warnings: list[Diagnostic],
    state: NodeStates | None = None,
) -> ClusterInput:
    """Several .l2l3 files found in a directory (and node states): one spec of all their statements."""
    if cni:
        if block is not None:
            words, options = _profile(cni, [first])
            block = replace(block, cni=words, options=options or block.options)
        else:
            warnings.append(
                Diagnostic(
                    Span(first, 1, 1), "--cni has no effect: no cluster block", severity=Severity.WARNING
                )
            )
    st_ns, st_pol, st_notes = state.kubernetes() if state else ((), (), [])
    raw = Spec(
        file=first,
        cluster=block,
        namespaces=st_ns + tuple(n for r in raws for n in r.namespaces),
        segments=tuple(s for r in raws for s in r.segments) + tuple(state.segments if state else ()),
        externals=tuple(e for r in raws for e in r.externals),
        nodes=tuple(state.nodes if state else ()) + tuple(n for r in raws for n in r.nodes),
        policies=st_pol + tuple(state.policies if state else ()) + tuple(p for r in raws for p in r.policies),
        services=tuple(state.services if state else ()) + tuple(s for r in raws for s in r.services),
        checks=tuple(c for r in raws for c in r.checks),
        source="",
    )
    spec, warns = _expand_validate(raw, texts)
    all_notes = list(kc.notes) + st_notes + (state.notes if state else [])
    notes = [note_diagnostic(n) for n in all_notes]
    return ClusterInput(
        raw=raw,
        spec=spec,
        warnings=_Lines(texts).fill(warnings + warns + notes),
        notes=all_notes,
        kube=kc,
        spec_files=kc.spec_files,
        texts=texts,
    )


def _fill_error(e: SpecError, texts: dict[str, str]) -> SpecError:
    return SpecError(_Lines(texts).fill(e.diagnostics))


def _expand_validate(raw: Spec, texts: dict[str, str]) -> tuple[Spec, list[Diagnostic]]:
    """Expand the profile and validate, as the DSL does for a file; diagnostics get their lines."""
    from l2l3.model.profiles import expand  # a plain .l2l3 file without a cluster block needs none

    try:
        spec, warns = expand(replace(raw, source=""))
    except SpecError as e:
        raise _fill_error(e, texts) from None
    source = texts.get(raw.file, "")
    spec = replace(spec, source=source)
    found = diagnose(spec, source_lines(source), has_cluster=raw.cluster is not None)
    errors = [d for d in found if d.severity == "error"]
    if errors:
        raise _fill_error(SpecError(errors), texts)
    return spec, list(warns) + [d for d in found if d.severity != "error"]


def _finish(raw: Spec, texts: dict[str, str], warnings: list[Diagnostic]) -> tuple[Spec, list[Diagnostic]]:
    spec, warns = _expand_validate(raw, texts)
    return spec, _Lines(texts).fill(warnings + warns)
