"""Helpers for the readers' tests: objects without their spans, text at a span."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from l2l3.kube import FrozenMap, Span

DATA = Path(__file__).parent / "data"


def plain(obj: Any) -> Any:
    """``obj`` as plain values, every ``span``/``option_spans`` left out (to compare YAML with JSON)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {
            f.name: plain(getattr(obj, f.name))
            for f in dataclasses.fields(obj)
            if f.name not in ("span", "option_spans")
        }
    if isinstance(obj, FrozenMap | dict):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, tuple | list):
        return [plain(v) for v in obj]
    return obj


def line_at(span: Span) -> str:
    """The source line a span points into."""
    text = Path(span.file).read_text(encoding="utf-8-sig")
    return text.split("\n")[span.line - 1].rstrip("\r")


def text_at(span: Span, n: int = 40) -> str:
    """The ``n`` characters of the source from the span's column on."""
    return line_at(span)[span.col - 1 : span.col - 1 + n]


def yaml_to_json(src: Path, dst: Path) -> None:
    """Write the YAML file as JSON, indented as kubectl writes it (4 spaces)."""
    data = YAML(typ="safe").load(src.read_text())
    dst.write_text(json.dumps(data, indent=4, default=str) + "\n")
