"""Small helpers shared by the test modules (not fixtures)."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

from bs4 import BeautifulSoup

REPO_ROOT = Path(__file__).resolve().parents[1]


def copy_site(dest: Path, munis: tuple[str, ...] = ("midori",)) -> Path:
    """Copy site.toml, themes/ and the named municipalities of the bundled site to `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO_ROOT / "site.toml", dest / "site.toml")
    shutil.copytree(REPO_ROOT / "themes", dest / "themes")
    for m in munis:
        shutil.copytree(REPO_ROOT / "content" / m, dest / "content" / m)
    if "systems" not in munis and (REPO_ROOT / "content" / "systems").is_dir():
        shutil.copytree(REPO_ROOT / "content" / "systems", dest / "content" / "systems")
    return dest


def bigram_words(normalised: str) -> list[str]:
    """The words the search index holds for a normalised text (docs/search.md), spelled out
    apart from piasite's own numpy grouping: one per character, the code of it and the next
    one, the last character alone."""
    from piasite import index

    codes = [index._code(ord(c)) for c in normalised]
    return [a + b for a, b in itertools.pairwise(codes)] + codes[-1:]


def stable_files(root: Path) -> dict[str, bytes]:
    """Every file under `root` ('/'-separated path -> bytes): what two builds of the same site
    must write byte for byte."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def soup(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def text(el) -> str:
    """Visible text of an element with whitespace folded."""
    return " ".join(el.get_text(" ").split())


def build_copy(tmp_path_factory, munis: tuple[str, ...], now: str = "2025-11-22") -> Path:
    """Build a copy holding only `munis` (and the systems registry); return its output folder."""
    from piasite import pipeline

    site = copy_site(tmp_path_factory.mktemp("build") / "site", munis)
    out = site / "output"
    result = pipeline.build(site, out, now=now)
    assert result.wrote, [str(d) for d in result.diagnostics]
    return out


def field(page, anchor: str):
    """The element with id `anchor`, failing the test when the page lacks it."""
    el = page.find(id=anchor)
    assert el is not None, anchor
    return el


def selected(page, anchor: str) -> str:
    """The chosen option of a selection item, as printed in its brackets."""
    return text(field(page, anchor).select_one("p.selected"))


def row(page, n: int) -> list[str]:
    """The cells of 変更箇所 row `n` (its id is change-n), as text."""
    tr = page.find(id=f"change-{n}")
    assert tr is not None, n
    return [text(c) for c in tr.find_all(["th", "td"])]
