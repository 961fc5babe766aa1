"""The route table owns every URL the site writes, and content may not take the names it uses.

A municipality folder named like a page of the site (`search`, `pagefind`, …) or a document
named like a page of its assessment (`changes`, a version's date) would be overwritten by that
page, or overwrite it: each is error E013 at the folder or file, never a crash or lost pages.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import REPO_ROOT, copy_site

from piasite import pipeline, routes
from piasite.diagnostics import Severity

TOP = [n for n in routes.TOP_LEVEL if routes.SLUG.match(n)]
IN_AFFAIR = [n for n in routes.IN_AFFAIR if routes.SLUG.match(n)]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_site(tmp_path_factory.mktemp("routes") / "site", ("midori",))


def _e013(site: Path) -> list:
    result = pipeline.check(site)
    assert not result.ok
    return [d for d in result.diagnostics if d.severity is Severity.ERROR]


def test_the_reserved_names_are_the_sites_own():
    assert {"search", "systems", "comments", "pagefind", "schema", "accessibility", "compare",
            "static", "feed.xml", "sitemap.xml", "404.html"} <= set(routes.TOP_LEVEL)
    assert {"changes", "changes.csv", "diff"} <= set(routes.IN_AFFAIR)
    assert routes.collides(("muni", "affair"), "doc", "2025-12-12") is not None
    assert routes.collides(("muni", "affair"), "doc", "gaiyo") is None
    assert routes.collides((), "muni", "midori") is None


@pytest.mark.parametrize("name", TOP)
def test_a_municipality_named_like_a_page_of_the_site_is_an_error(site: Path, name: str):
    folder = site / "content" / name
    existed = folder.exists()  # content/systems/ is the registry
    shutil.copytree(site / "content/midori", folder, dirs_exist_ok=True)
    try:
        errors = _e013(site)
    finally:
        if existed:
            (folder / "_municipality.toml").unlink()
            shutil.rmtree(folder / "juki")
        else:
            shutil.rmtree(folder)
    assert [(str(d.span.path), d.span.line, d.code) for d in errors] == [
        (f"content/{name}", 1, "E013")], [str(d) for d in errors]
    assert f"「{name}」は使えません" in errors[0].message


@pytest.mark.parametrize("name", [*IN_AFFAIR, "2025-12-12", "2031-04-01"])
def test_a_document_named_like_a_page_of_its_assessment_is_an_error(site: Path, name: str):
    page = site / "content/midori/juki/_pages" / f"{name}.md"
    page.parent.mkdir(exist_ok=True)
    page.write_text('+++\ntitle = "資料"\n+++\n本文\n', encoding="utf-8")
    try:
        errors = _e013(site)
    finally:
        shutil.rmtree(page.parent)
    assert [(str(d.span.path), d.code) for d in errors] == [
        (f"content/midori/juki/_pages/{name}.md", "E013")], [str(d) for d in errors]


def _snapshot(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("name", ["search", "pagefind"])
def test_the_build_stops_before_a_content_folder_overwrites_a_page(tmp_path: Path, name: str):
    # search/ used to end in an internal error; pagefind/ in a site whose pages it had lost.
    site = copy_site(tmp_path / "site", ("midori",))
    shutil.copytree(site / "content/midori", site / "content" / name)
    out = tmp_path / "output"
    out.mkdir()
    (out / "index.html").write_text("前回のビルド", encoding="utf-8")
    before = _snapshot(out)
    proc = subprocess.run([sys.executable, "-m", "piasite", "build", "--site", str(site),
                           "--out", str(out)], capture_output=True, text=True,
                          encoding="utf-8", cwd=REPO_ROOT, timeout=300)
    assert proc.returncode == 1, proc.stderr
    assert "内部エラー" not in proc.stderr and "Traceback" not in proc.stderr
    assert f"content/{name}:1:1: error[E013]: 団体のフォルダ名「{name}」は使えません" in proc.stderr
    assert _snapshot(out) == before


def _pattern(route: routes.Route) -> re.Pattern:
    path = routes.output_path(route.pattern).as_posix()
    parts = re.split(r"(\{[a-z_]+\})", path)
    return re.compile("".join(".+" if p == "{file}" else "[^/]+" if p.startswith("{")
                              else re.escape(p) for p in parts))


def test_every_file_of_the_built_site_is_a_route_and_every_route_is_used(built_site: Path):
    patterns = {r.name: _pattern(r) for r in routes.ROUTES}
    used: set[str] = set()
    for p in sorted(built_site.rglob("*")):
        if not p.is_file():
            continue
        rel = p.relative_to(built_site).as_posix()
        hits = [name for name, rx in patterns.items() if rx.fullmatch(rel)]
        assert hits, f"{rel} is written by no route of piasite/routes.py"
        used.update(hits)
    unused = {r.name for r in routes.ROUTES if not r.planned and not r.at_scale} - used
    assert not unused, f"routes the bundled site never writes: {sorted(unused)}"
    # A route only a large site writes is not written here (test_compare builds one).
    assert not used & {r.name for r in routes.ROUTES if r.at_scale}


def test_templates_ask_the_route_table_for_urls():
    spelled: Iterator[str] = (
        f"{p.name}: {m.group(0)}"
        for p in sorted((REPO_ROOT / "themes/default/templates").glob("*.html"))
        for m in re.finditer(r'(?:href|src|action)="/[^"]*"|changes/|\.json"|changes\.csv|diff/',
                             p.read_text(encoding="utf-8")))
    assert list(spelled) == []
