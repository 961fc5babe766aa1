"""A large site's search index, made by Pagefind in parts and merged into one bundle
(piasite/index_parts.py): it must be the index one run over every record makes — the same
words at the same places of the same pages, the same filters, the same chunks for a reader to
load — and a reader must get the same results from it."""

from __future__ import annotations

import gzip
import json
import re
import threading
from pathlib import Path
from typing import Any

import cbor2
import pytest
from helpers import copy_site
from test_search import _search

from piasite import index, index_parts, pipeline


def _read(path: Path):
    data = gzip.decompress(path.read_bytes())
    assert data.startswith(b"pagefind_dcd")
    return cbor2.loads(data[len(b"pagefind_dcd"):])


def _decoded(bundle: Path) -> dict[str, Any]:
    """What a bundle holds, by the records' URLs rather than Pagefind's page ids and numbers:
    each word's pages and locations, each filter value's pages, each page's text file and
    manifest row, the chunks' bounds and the entry file's page count."""
    manifest = json.loads((bundle / "piasite.json").read_text(encoding="utf-8"))
    url = {page_id: row[0] for page_id, row in manifest["pages"].items()}
    entry = json.loads((bundle / "pagefind-entry.json").read_text(encoding="utf-8"))
    (language,) = entry["languages"].values()
    meta = _read(bundle / f"pagefind.{language['hash']}.pf_meta")
    ids = [page[0] for page in meta[1]]
    words: dict[str, dict[str, list[int]]] = {}
    for _, _, name in meta[2]:
        (chunk,) = _read(bundle / "index" / f"{name}.pf_index")
        for word, pages, extra in chunk:
            assert not extra
            number = 0
            found = {}
            for i, (step, locations, _) in enumerate(pages):
                number = step if i == 0 else number + step
                found[url[ids[number]]] = locations
            words[word] = found
    filters = {}
    for name, file in meta[3]:
        _, rows = _read(bundle / "filter" / f"{file}.pf_filter")
        filters[name] = {value: sorted(url[ids[n]] for n in numbers) for value, numbers in rows}
    return {
        "words": words,
        "filters": filters,
        "texts": {url[i]: (bundle / "text" / f"{i}.json").read_text(encoding="utf-8")
                  for i in manifest["pages"]},
        "rows": sorted(manifest["pages"].values()),
        "chunks": manifest["chunks"],
        "page_count": language["page_count"],
        "word_counts": sorted((url[i], n) for i, n in meta[1]),
        "filter_counts": manifest["filters"],
    }


def test_split_keeps_order_and_never_makes_a_part_without_text() -> None:
    assert index_parts.split([5, 5, 5], 10) == [range(0, 2), range(2, 3)]
    assert index_parts.split([20, 0, 0, 3], 10) == [range(0, 3), range(3, 4)]
    assert index_parts.split([0, 0], 10) == [range(0, 2)]
    assert index_parts.split([], 10) == [range(0, 0)]


def test_an_index_made_in_parts_is_the_index_made_at_once(built_site: Path, tmp_path: Path,
                                                          monkeypatch) -> None:
    records = index.collect(built_site)
    assert index.write_bundle(records, tmp_path / "once", "d") == ""
    total = sum(len(index.normalise(r.text)) for r in records)
    # About six parts for the bundled site's 234,000 characters.
    monkeypatch.setattr(index, "PART_CHARS", total // 6)
    calls = []
    real = index._index_one
    monkeypatch.setattr(index, "_index_one", lambda *a, **kw: calls.append(a[2]) or real(*a, **kw))
    assert index.write_bundle(records, tmp_path / "parts", "d") == ""
    assert len(calls) >= 5
    once, parts = _decoded(tmp_path / "once"), _decoded(tmp_path / "parts")
    for key in once:
        assert parts[key] == once[key], key
    # Nothing of the parts is left beside the bundle, and only what a reader loads is in it.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["once", "parts"]

    def files(bundle: Path) -> list[str]:
        return sorted(re.sub(r"_[0-9a-f]+\.", "_.", p.relative_to(bundle).as_posix())
                      for p in bundle.rglob("*") if p.is_file())

    assert files(tmp_path / "parts") == files(tmp_path / "once")
    # The merged files are the same bytes whenever they are made from the same records.
    assert index.write_bundle(records, tmp_path / "again", "d") == ""
    for path in sorted((tmp_path / "parts").rglob("*")):
        if path.is_file():
            assert path.read_bytes() == (tmp_path / "again" / path.relative_to(
                tmp_path / "parts")).read_bytes(), path


def test_parts_indexed_at_once_merge_into_the_same_bytes(built_site: Path, tmp_path: Path,
                                                         monkeypatch) -> None:
    """Several Pagefind runs at once (a build's `-j`) finish in any order; the bundle must be
    the one a run after another makes, byte for byte."""
    records = index.collect(built_site)
    monkeypatch.setattr(index, "PART_CHARS", sum(len(index.normalise(r.text))
                                                  for r in records) // 6)
    assert index.write_bundle(records, tmp_path / "one", "d", runs=1) == ""
    lock = threading.Lock()
    busy = [0, 0]  # running now, most at once
    real = index._index_one

    def counted(*a, **kw):
        with lock:
            busy[0] += 1
            busy[1] = max(busy)
        try:
            return real(*a, **kw)
        finally:
            with lock:
                busy[0] -= 1

    monkeypatch.setattr(index, "_index_one", counted)
    assert index.write_bundle(records, tmp_path / "three", "d", runs=3) == ""
    assert busy[1] >= 2
    one = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*"))
    assert one == sorted(p.relative_to(tmp_path / "three")
                         for p in (tmp_path / "three").rglob("*"))
    for rel in one:
        if (tmp_path / "one" / rel).is_file():
            assert (tmp_path / "one" / rel).read_bytes() == (
                tmp_path / "three" / rel).read_bytes(), rel


def test_a_failed_part_stops_the_parts_not_yet_started(built_site: Path, tmp_path: Path,
                                                       monkeypatch) -> None:
    records = index.collect(built_site)
    monkeypatch.setattr(index, "PART_CHARS", sum(len(index.normalise(r.text))
                                                  for r in records) // 8)
    calls = []
    real = index._index_one

    def first_fails(records, texts, bundle, names, prefix, **kw):
        calls.append(prefix)
        return "Pagefind が止まりました" if prefix == "r0-" else real(records, texts, bundle,
                                                                  names, prefix, **kw)

    monkeypatch.setattr(index, "_index_one", first_fails)
    parts = len(index_parts.split([len(index.normalise(r.text)) for r in records],
                                  index.PART_CHARS))
    assert parts >= 7
    assert index.write_bundle(records, tmp_path / "b", runs=2) == "Pagefind が止まりました"
    assert len(calls) < parts  # typically 3: the failed part, the one beside it, the next
    assert list(tmp_path.iterdir()) == []  # neither the bundle nor the parts' folder


def _with_a_sort(monkeypatch) -> None:
    real = index_parts._read

    def with_a_sort(path: Path):
        value = real(path)
        if path.suffix == ".pf_meta":
            value[4] = [["date", [0]]]  # a sort Pagefind would write for data-pagefind-sort
        return value

    monkeypatch.setattr(index_parts, "_read", with_a_sort)


def _with_a_cut_off_chunk(monkeypatch) -> None:
    # A part's word chunks are checked by the merge that reads them, not once more before.
    real = index._index_one

    def cut_off(records, texts, bundle, names, prefix, **kw):
        made = real(records, texts, bundle, names, prefix, **kw)
        if prefix == "r1-":
            chunk = max((bundle / "index").iterdir(), key=lambda p: p.stat().st_size)
            chunk.write_bytes(chunk.read_bytes()[:-20])
        return made

    monkeypatch.setattr(index, "_index_one", cut_off)


@pytest.mark.parametrize("fault", [_with_a_sort, _with_a_cut_off_chunk])
def test_a_part_the_merge_cannot_join_is_reported_not_published(built_site: Path,
                                                                tmp_path: Path, monkeypatch,
                                                                fault) -> None:
    records = index.collect(built_site)
    monkeypatch.setattr(index, "PART_CHARS", 60_000)
    fault(monkeypatch)
    problem = index.write_bundle(records, tmp_path / "parts")
    assert "索引の部分をまとめられませんでした" in problem
    assert list(tmp_path.iterdir()) == []


@pytest.mark.browser
def test_a_reader_finds_in_a_merged_index_what_one_index_gives(chromium: Any, tmp_path: Path,
                                                               monkeypatch) -> None:
    from support.browser import serve_directory

    sites = {}
    for name, part_chars in (("parts", 30_000), ("once", index.PART_CHARS)):
        monkeypatch.setattr(index, "PART_CHARS", part_chars)
        site = copy_site(tmp_path / name, ("midori", "asahikawa", "toyonaka"))
        assert pipeline.build(site, site / "output", now="2025-11-22").wrote
        sites[name] = site / "output"
    queries = [("中間サーバー", {}), ("住基ネット", {}), ("市", {}), ("委託 個人番号", {}),
               ("委託", {"団体": "旭川市"}), ("", {"状態": "公表中"}), ("住民", {"種類": "評価書"})]
    seen: dict[str, list] = {}
    for name, out in sites.items():
        context = chromium.new_context(locale="ja-JP")
        pg = context.new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
        with serve_directory(out) as url:
            seen[name] = [[(r["url"], r["sections"], r["marks"]) for r in _search(pg, url, q, **f)]
                          for q, f in queries]
            seen[name].append(pg.locator("#search-filter-1 option").all_inner_texts())
        context.close()
        assert not errors, errors
    assert seen["parts"] == seen["once"]
    assert all(seen["once"][:5]), "each query finds something"


def test_parts_read_from_the_records_cache_are_the_records_in_order(built_site: Path,
                                                                    tmp_path: Path) -> None:
    # While Pagefind runs, the build holds one part's records, read back from the records
    # cache (Collected.source); cut anywhere, even between two records of one page, the
    # parts put together are every record with its text, in site order.
    whole = index.Collected(built_site)
    records = whole.records()
    texts = whole.texts(records)
    index.Collected(built_site, tmp_path)  # fills the records cache
    source = index.Collected(built_site, tmp_path).source()
    assert source.lengths == [len(t) for t in texts]
    pages = [f.page for f in whole.found]
    for limit in (1, 5_000, 40_000, 10**9):
        groups = index_parts.split(source.lengths, limit)
        assert any(pages[g.start] == pages[g.start - 1] for g in groups[1:]) or limit > 5_000
        got_records: list = []
        got_texts: list = []
        for g in groups:
            rs, ts = source.part(g)
            assert len(rs) == len(ts) == len(g)
            got_records += rs
            got_texts += ts
        assert got_records == records and got_texts == texts, limit
