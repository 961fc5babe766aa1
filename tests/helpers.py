"""Small helpers shared by the test modules (not fixtures)."""

from __future__ import annotations

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


def soup(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def text(el) -> str:
    """Visible text of an element with whitespace folded."""
    return " ".join(el.get_text(" ").split())
