"""The scale corpus (benchmarks/corpus.py): valid like the bundled site, different copy to copy."""

from __future__ import annotations

import collections
import sys
from pathlib import Path

import pytest
from helpers import REPO_ROOT

from piasite import lgcode, pipeline
from piasite.load import load
from piasite.normalize import item_text

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
import corpus

VERSIONS = 16  # every bundled municipality twice (7 + 7), then 旭川市 a third time (2)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    site = tmp_path_factory.mktemp("corpus") / "site"
    copies = corpus.generate(REPO_ROOT, site, VERSIONS, seed=7)
    return site, copies


def _by_copy(diags, root_slug) -> dict[str, collections.Counter]:
    out: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for d in diags:
        parts = Path(d.span.path).parts
        slug = root_slug(parts[1]) if len(parts) > 2 else ""
        out[slug][(d.code, *parts[2:], d.span.line)] += 1
    return out


def test_every_copy_checks_like_its_template(generated):
    site, copies = generated
    assert sum(c.versions for c in copies) == VERSIONS
    assert {c.template for c in copies} == {"asahikawa", "midori", "okayama", "toyonaka",
                                            "yatsushiro"}
    result = pipeline.check(site)
    errors = [d.format() for d in result.diagnostics if d.severity.value == "error"]
    assert errors == []
    bundled = _by_copy(pipeline.check(REPO_ROOT).diagnostics, lambda s: s)
    got = _by_copy(result.diagnostics, lambda s: s)
    for c in copies:
        # the same warnings, at the same file and line, as the municipality it was copied from
        assert got[c.slug] == bundled[c.template], c.slug
    assert sum(got[c.slug].total() for c in copies) > 0  # the bundled warnings came along


def test_copies_are_new_municipalities_with_valid_codes(generated):
    site, copies = generated
    s, _ = load(site)
    munis = {m.slug: m for m in s.municipalities}
    assert len({c.name for c in copies}) == len(copies)
    assert len({c.code for c in copies}) == len(copies)
    for c in copies:
        m = munis[c.slug]
        assert lgcode.problem(m.code) is None and m.code == c.code
        assert (m.name, m.prefecture) == (c.name, c.prefecture)
        assert m.agency == "" or c.name in m.agency
    # the systems registry is there once, drafts keep their comment periods
    assert len(s.systems) == len(load(REPO_ROOT)[0].systems)
    bundled = collections.Counter(a.muni for a in load(REPO_ROOT)[0].affairs()
                                  for r in a.revisions if r.comment is not None)
    drafts = [r for a in s.affairs() for r in a.revisions if r.comment is not None]
    assert len(drafts) == sum(bundled[c.template] for c in copies) > 0


def test_copies_of_one_template_write_different_text(generated):
    site, copies = generated
    s, _ = load(site)
    texts: dict[str, dict[tuple, str]] = {}
    for a in s.affairs():
        for r in a.revisions:
            for it in r.walk():
                if not it.children and it.present and len(item_text(it)) >= 40:
                    texts.setdefault(a.muni, {})[(a.slug, r.id, it.anchor)] = item_text(it)
    first, second, *_ = (c.slug for c in copies if c.template == "asahikawa")
    common = texts[first].keys() & texts[second].keys()
    same = sum(texts[first][k] == texts[second][k] for k in common)
    assert len(common) > 300
    assert same / len(common) < 0.10  # the few left are sentences with little to vary


def test_same_seed_same_bytes_other_seed_other_text(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    corpus.generate(REPO_ROOT, a, 3, seed=1)
    corpus.generate(REPO_ROOT, b, 3, seed=1)
    corpus.generate(REPO_ROOT, c, 3, seed=2)

    def files(root):
        return {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()}

    assert files(a) == files(b)
    assert files(a) != files(c)


def test_one_edit_changes_one_sentence_of_one_version(tmp_path):
    site = tmp_path / "site"
    corpus.generate(REPO_ROOT, site, 7, seed=1)
    before = {p: p.read_bytes() for p in site.rglob("*") if p.is_file()}
    path, original = corpus.edit(site, 3)
    after = {p: p.read_bytes() for p in site.rglob("*") if p.is_file()}
    assert [p for p in before if before[p] != after[p]] == [path]
    assert original == before[path]
    old, new = original.decode(), path.read_text(encoding="utf-8")
    assert len(new) - len(old) == len("（第3回の修正で文言を改めた）")
    assert not [d for d in pipeline.check(site).diagnostics if d.severity.value == "error"]


def test_markdown_export_has_every_version_with_its_items(generated, tmp_path):
    site, copies = generated
    hugo = tmp_path / "hugo"
    assert corpus.export_markdown(site, hugo) == VERSIONS
    assert 'languageCode = "ja"' in (hugo / "hugo.toml").read_text(encoding="utf-8")
    assert '<html lang="ja">' in (hugo / "layouts" / "single.html").read_text(encoding="utf-8")
    c = next(c for c in copies if c.template == "midori")
    page = (hugo / "content" / c.slug / "juki" / "2025-12-12.md").read_text(encoding="utf-8")
    assert c.name in page
    # a form heading, then the version's value under it, in form order
    assert page.index("評価実施機関名") < page.index(f"{c.prefecture}{c.name}長")
    assert page.index("① 事務の名称") < page.index("② 事務の概要")
    assert "1万人以上10万人未満" in page  # a selection, as chosen
