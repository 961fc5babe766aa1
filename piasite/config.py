"""Read site.toml into a frozen SiteConfig; unknown keys get a "did you mean" hint."""

from __future__ import annotations

import difflib
from pathlib import Path, PurePosixPath

from .diagnostics import Diagnostic, Span, error
from .model import SiteConfig
from .source import parse_toml, read_source

_KEYS = {"title": str, "description": str, "base_url": str, "theme": str, "now": str}
_DIFF_KEYS = {"new_label": str, "old_label": str, "new_first": bool}


def suggest(word: str, candidates) -> str | None:
    """Return a Japanese "did you mean" hint for a near-miss key, like pypa/build's typo check."""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"「{close[0]}」の誤りではありませんか" if close else None


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
    data = doc.data
    values: dict = {}
    for k, v in data.items():
        line, col = doc.pos((k,))
        span = Span(rel, line, col)
        if k == "diff":
            if not isinstance(v, dict):
                diags.append(error("E102", "「diff」は表（テーブル）でなければなりません", span))
                continue
            for dk, dv in v.items():
                dl, dc = doc.pos((k, dk))
                if dk not in _DIFF_KEYS:
                    diags.append(error("E101", f"不明なキー「diff.{dk}」です", Span(rel, dl, dc),
                                       hint=suggest(dk, _DIFF_KEYS)))
                elif not isinstance(dv, _DIFF_KEYS[dk]) or (isinstance(dv, str) and not dv):
                    kind = "true か false" if _DIFF_KEYS[dk] is bool else "空でない文字列"
                    diags.append(error("E102", f"「diff.{dk}」は{kind}です", Span(rel, dl, dc)))
                else:
                    values[f"diff_{dk}"] = dv
            continue
        if k not in _KEYS:
            diags.append(error("E101", f"不明なキー「{k}」です", span, hint=suggest(k, _KEYS)))
            continue
        if not isinstance(v, _KEYS[k]):
            diags.append(error("E102", f"「{k}」は文字列でなければなりません", span))
            continue
        values[k] = v
    if values.get("now"):
        from .wareki import parse_date

        jd, _ = parse_date(values["now"])
        if jd is None or jd.day is None or jd.era is not None:
            line, col = doc.pos(("now",))
            diags.append(error("E301", f"「now」は YYYY-MM-DD の日付です: 「{values['now']}」",
                               Span(rel, line, col)))
            values.pop("now")
    values["base_url"] = values.get("base_url", SiteConfig().base_url).rstrip("/")
    return SiteConfig(**values), diags
