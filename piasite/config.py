"""Read site.toml into a frozen SiteConfig (its keys: `schema.SITE`)."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from . import schema
from .diagnostics import Diagnostic, Span, error
from .model import SiteConfig
from .source import parse_toml, read_source


def load_config(root: Path) -> tuple[SiteConfig, list[Diagnostic]]:
    rel = PurePosixPath("site.toml")
    if not (root / rel).is_file():
        return SiteConfig(), [error("E010", "site.toml がありません", Span(rel))]
    src, diags = read_source(root, rel)
    if src is None:
        return SiteConfig(), diags
    doc, err = parse_toml(src.text)
    if err is not None:
        return SiteConfig(), [
            error("E001", f"TOML の構文エラー: {err.message}", Span(rel, err.line, err.col))
        ]
    checked = schema.validate_doc(doc, rel, schema.SITE)
    diags.extend(checked.diagnostics)
    values: dict = dict(checked.value or {})  # type: ignore[call-overload]
    for k, v in values.pop("diff", {}).items():
        values[f"diff_{k}"] = v
    values["base_url"] = values.get("base_url", SiteConfig().base_url).rstrip("/")
    return SiteConfig(**values), diags
