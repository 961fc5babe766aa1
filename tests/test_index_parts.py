"""The search index piasite writes in Pagefind 1.5.2's format (piasite/index_parts.py): it
must be the index Pagefind makes of the same records — the same words at the same places of
the same pages, the same filters and word counts — whether it is made at once or in parts
merged into one bundle, and a reader must get the same results from it."""

from __future__ import annotations

import errno
import gzip
import html
import itertools
import json
import os
import re
import subprocess
import threading
from pathlib import Path
from typing import Any
from unittest import mock

import cbor2
import pytest
from helpers import bigram_words, copy_site
from hypothesis import given, settings
from hypothesis import strategies as st
from test_search import _search

from piasite import index, index_parts, pipeline


def _read(path: Path):
    data = gzip.decompress(path.read_bytes())
    assert data.startswith(b"pagefind_dcd")
    return cbor2.loads(data[len(b"pagefind_dcd"):])


def _contents(bundle: Path, url: dict[str, str]) -> dict[str, Any]:
    """Each word's pages and locations, each filter value's pages and each page's word count,
    by the records' URLs (`url`: page id -> URL) rather than page ids and numbers."""
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
    return {"words": words, "filters": filters, "page_count": language["page_count"],
            "word_counts": sorted((url[i], n) for i, n in meta[1])}


def _decoded(bundle: Path) -> dict[str, Any]:
    """What a bundle holds (`_contents`), with each page's text file and manifest row, the
    chunks' bounds and the filter counts."""
    manifest = json.loads((bundle / "piasite.json").read_text(encoding="utf-8"))
    url = {page_id: row[0] for page_id, row in manifest["pages"].items()}
    return {
        **_contents(bundle, url),
        "texts": {url[i]: (bundle / "text" / f"{i}.json").read_text(encoding="utf-8")
                  for i in manifest["pages"]},
        "rows": sorted(manifest["pages"].values()),
        "chunks": manifest["chunks"],
        "filter_counts": manifest["filters"],
    }


def _pagefind_index(records: list[index.Record], out: Path) -> dict[str, Any]:
    """What Pagefind 1.5.2 itself makes of `records` (as piasite had it index them until
    2026-12-06: one page per record holding its words and filters), by the records' URLs."""
    site = out / "site"
    site.mkdir(parents=True)
    names = index._filter_names(index._filters(r) for r in records)
    kept = [(r, t) for r in records if (t := index.normalise(r.text))]
    for n, (record, text) in enumerate(kept):
        tags = "".join(f'<i data-pagefind-filter="{html.escape(k)}:{html.escape(v)}"></i>'
                       for k, v in index._page_filters(record, names))
        (site / f"r{n:06d}.html").write_text(
            f'<!doctype html><html lang="zxx"><head><meta charset="utf-8"></head>'
            f'<body>{tags}<p>{" ".join(bigram_words(text))}</p></body></html>', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAGEFIND_")}
    env["PAGEFIND_UNSTABLE_INDEX_CHUNK_SIZE"] = str(index.CHUNK_SIZE)
    subprocess.run([str(index.executable()), "--site", str(site), "--output-path",
                    str(out / "bundle"), "--force-language", "zxx", "--quiet"],
                   env=env, check=True, capture_output=True)
    url = {}
    for path in (out / "bundle" / "fragment").iterdir():
        with gzip.open(path) as f:
            fragment = json.loads(f.read()[len(b"pagefind_dcd"):])
        url[path.name.removesuffix(".pf_fragment")] = kept[int(fragment["url"][2:8])][0].url
    return _contents(out / "bundle", url)


def _assert_same_files(a: Path, b: Path) -> None:
    """The two folders hold the same files, byte for byte."""
    names = sorted(p.relative_to(a) for p in a.rglob("*"))
    assert names == sorted(p.relative_to(b) for p in b.rglob("*"))
    for rel in names:
        if (a / rel).is_file():
            assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


def test_split_keeps_order_and_never_makes_a_part_without_text() -> None:
    assert index_parts.split([5, 5, 5], 10) == [range(0, 2), range(2, 3)]
    assert index_parts.split([20, 0, 0, 3], 10) == [range(0, 3), range(3, 4)]
    assert index_parts.split([0, 0], 10) == [range(0, 2)]
    assert index_parts.split([], 10) == [range(0, 0)]


def _part_words(part: index_parts.Part) -> dict[str, list]:
    """A written part's words, read back: word -> [[page, locations, []], …] as stored."""
    out = {}
    with open(part.folder / index_parts.ITEMS, "rb") as items:
        decoder = cbor2.CBORDecoder(items)
        for line in (part.folder / index_parts.WORDS).read_text(encoding="utf-8").splitlines():
            word, pages, extra = decoder.decode()
            assert word == line and extra == []
            out[word] = pages
    assert len(out) == part.words
    return out


def test_heads_are_written_as_short_as_cbor_writes_them() -> None:
    import numpy as np

    values = [0, 23, 24, 255, 256, 65_535, 65_536, 2**31 - 1]
    for dtype, more in ((np.int32, []), (np.int64, [2**32 - 1, 2**32, 2**40])):
        counts = np.array(values + more, dtype)
        for major, encode in ((0, lambda v: v), (1, lambda v: -1 - v), (4, lambda v: [0] * v)):
            if major == 4:
                counts = counts[counts < 300]  # an array head: its items are not written here
            raw, starts = index_parts._heads(np.full(len(counts), major, np.uint8), counts)
            expected = [cbor2.dumps(encode(int(v))) for v in counts]
            if major == 4:
                expected = [e[:len(e) - int(v)] for e, v in zip(expected, counts, strict=True)]
            assert raw == b"".join(expected)
            assert starts.tolist() == list(itertools.accumulate([0] + [len(e) for e in expected]))[:-1]


_TEXT = st.text(st.characters(categories=("L", "N")), min_size=1, max_size=30)


@pytest.mark.parametrize("packed_bits", [index_parts._PACKED_BITS, 0])
@settings(max_examples=60, deadline=None)
@given(st.lists(_TEXT, min_size=1, max_size=6))
def test_a_part_holds_each_bigram_at_its_positions(tmp_path_factory, packed_bits: int,
                                                   texts: list[str]) -> None:
    """Every word (helpers.bigram_words) of every page at the positions it has there, the words in
    order, a word's pages ascending and each page number and position but the first written
    as the difference to the one before, after Pagefind's weight marker. The same whether the
    bigrams are ordered by one sort of their keys with their indexes or (0 bits for both: a
    part too long for that) by a stable sort."""
    folder = tmp_path_factory.mktemp("part") / "p"
    with mock.patch.object(index_parts, "_PACKED_BITS", packed_bits):
        part = index_parts.write_part(folder, [f"p{i}" for i in range(len(texts))], texts,
                                      [[("種類", "評価書")]] * len(texts), index._CODES.__getitem__)
    expected: dict[str, dict[int, list[int]]] = {}
    for page, text in enumerate(texts):
        for position, word in enumerate(bigram_words(text)):
            expected.setdefault(word, {}).setdefault(page, []).append(position)
    got = _part_words(part)
    assert list(got) == sorted(expected)
    for word, pages in got.items():
        number, decoded = 0, {}
        for i, (step, locations, extra) in enumerate(pages):
            number = step if i == 0 else number + step
            assert locations[0] == -25 and extra == []
            positions = list(itertools.accumulate(locations[1:]))
            decoded[number] = positions
        assert decoded == expected[word], word
    assert part.pages == [[f"p{i}", len(t)] for i, t in enumerate(texts)]
    assert part.filters == {"種類": {"評価書": list(range(len(texts)))}}


def test_the_index_is_the_one_pagefind_makes_of_the_same_records(built_site: Path,
                                                                tmp_path: Path) -> None:
    """The bundled site's records, indexed by piasite and by Pagefind 1.5.2 over a page per
    record: the same words at the same positions of the same pages, the same filters and
    word counts. Pagefind also files a page's last word's digits and letters apart ("01e"
    also as "01"): words that are no character's code, which no query asks for."""
    records = index.collect(built_site)
    assert index.write_bundle(records, tmp_path / "ours", "d") == ""
    ours = _decoded(tmp_path / "ours")
    theirs = _pagefind_index(records, tmp_path / "pagefind")
    tokens = {w for r in records for w in bigram_words(index.normalise(r.text))}
    extra = set(theirs["words"]) - tokens
    assert extra and all(len(w) < 5 for w in extra)  # pieces of a 3- or 5-character code
    assert ours["words"] == {w: pages for w, pages in theirs["words"].items() if w in tokens}
    for key in ("filters", "page_count", "word_counts"):
        assert ours[key] == theirs[key], key


def test_an_index_made_in_parts_is_the_index_made_at_once(built_site: Path, tmp_path: Path,
                                                          monkeypatch) -> None:
    records = index.collect(built_site)
    assert index.write_bundle(records, tmp_path / "once", "d") == ""
    total = sum(len(index.normalise(r.text)) for r in records)
    # About six parts for the bundled site's 234,000 characters.
    monkeypatch.setattr(index, "PART_CHARS", total // 6)
    calls = []
    real = index_parts.write_part
    monkeypatch.setattr(index_parts, "write_part",
                        lambda folder, *a: calls.append(folder) or real(folder, *a))
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
    assert not [f for f in files(tmp_path / "once")
                if f.startswith("fragment/") or f in index.UNUSED]
    # The merged files are the same bytes whenever they are made from the same records.
    assert index.write_bundle(records, tmp_path / "again", "d") == ""
    _assert_same_files(tmp_path / "parts", tmp_path / "again")


def test_parts_joined_in_rounds_merge_into_the_same_bytes(built_site: Path, tmp_path: Path,
                                                          monkeypatch) -> None:
    """A national site has more parts than files a process may hold open: they are joined a
    few at a time first (index_parts.MAX_OPEN_PARTS), into the same bundle byte for byte."""
    records = index.collect(built_site)
    monkeypatch.setattr(index, "PART_CHARS", sum(len(index.normalise(r.text))
                                                  for r in records) // 7)
    assert index.write_bundle(records, tmp_path / "flat", "d") == ""
    joined = []
    real = index_parts._join
    monkeypatch.setattr(index_parts, "_join", lambda parts, folder: joined.append(
        len(parts)) or real(parts, folder))
    monkeypatch.setattr(index_parts, "MAX_OPEN_PARTS", 2)
    assert index.write_bundle(records, tmp_path / "rounds", "d") == ""
    assert len(joined) >= 4 and max(joined) == 2  # 7 or 8 parts: two rounds of joins
    _assert_same_files(tmp_path / "flat", tmp_path / "rounds")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flat", "rounds"]


def test_parts_written_at_once_merge_into_the_same_bytes(built_site: Path, tmp_path: Path,
                                                         monkeypatch) -> None:
    """Several parts written at once (a build's `-j`) finish in any order; the bundle must be
    the one written a part after another, byte for byte."""
    records = index.collect(built_site)
    monkeypatch.setattr(index, "PART_CHARS", sum(len(index.normalise(r.text))
                                                  for r in records) // 6)
    assert index.write_bundle(records, tmp_path / "one", "d", runs=1) == ""
    lock = threading.Lock()
    busy = [0, 0]  # running now, most at once
    real = index_parts.write_part

    def counted(*a, **kw):
        with lock:
            busy[0] += 1
            busy[1] = max(busy)
        try:
            return real(*a, **kw)
        finally:
            with lock:
                busy[0] -= 1

    monkeypatch.setattr(index_parts, "write_part", counted)
    assert index.write_bundle(records, tmp_path / "three", "d", runs=3) == ""
    assert busy[1] >= 2
    _assert_same_files(tmp_path / "one", tmp_path / "three")


def test_chunks_packed_while_the_next_are_gathered_are_the_same_bytes(
        built_site: Path, tmp_path: Path, monkeypatch) -> None:
    """The merge packs a batch of word chunks on the pool while it gathers the next: in
    batches of three (dozens of them), the bundle is the one made in a single batch, its
    chunks named in their order."""
    records = index.collect(built_site)
    monkeypatch.setattr(index_parts, "BATCH", 10**9)
    assert index.write_bundle(records, tmp_path / "single", "d") == ""
    packed = []
    real = index_parts._pack_all
    monkeypatch.setattr(index_parts, "_pack_all", lambda raws: packed.append(len(raws))
                        or real(raws))
    monkeypatch.setattr(index_parts, "BATCH", 3)
    assert index.write_bundle(records, tmp_path / "batches", "d") == ""
    assert len(packed) >= 20 and max(packed) <= 3  # a batch of three, sliced per core
    assert sum(packed) == len(json.loads((tmp_path / "batches" / index.MANIFEST).read_text(
        encoding="utf-8"))["chunks"])
    _assert_same_files(tmp_path / "single", tmp_path / "batches")


def test_a_chunk_that_cannot_be_written_is_reported_not_published(built_site: Path,
                                                                  tmp_path: Path,
                                                                  monkeypatch) -> None:
    records = index.collect(built_site)
    monkeypatch.setattr(index_parts, "BATCH", 3)
    writes = []
    real = index_parts._write_all

    def full_disk(files):
        writes.append(len(files))
        if len(writes) == 4:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(files)

    monkeypatch.setattr(index_parts, "_write_all", full_disk)
    problem = index.write_bundle(records, tmp_path / "b")
    assert problem.startswith("索引の部分をまとめられませんでした") and "No space left" in problem
    assert list(tmp_path.iterdir()) == []  # neither the bundle nor the parts' folder


def test_a_part_that_cannot_be_written_is_reported_not_published(built_site: Path,
                                                                 tmp_path: Path,
                                                                 monkeypatch) -> None:
    records = index.collect(built_site)
    monkeypatch.setattr(index, "PART_CHARS", sum(len(index.normalise(r.text))
                                                  for r in records) // 8)
    calls = []
    real = index_parts.write_part

    def full_disk(folder, *a):
        calls.append(folder.name)
        if folder.name == "0":
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(folder, *a)

    monkeypatch.setattr(index_parts, "write_part", full_disk)
    parts = len(index_parts.split([len(index.normalise(r.text)) for r in records],
                                  index.PART_CHARS))
    assert parts >= 7
    problem = index.write_bundle(records, tmp_path / "b", runs=2)
    assert problem.startswith("索引を書けませんでした") and "No space left" in problem
    assert len(calls) < parts  # typically 3: the failed part, the one beside it, the next
    assert list(tmp_path.iterdir()) == []  # neither the bundle nor the parts' folder


def test_a_pagefind_whose_files_piasite_does_not_know_is_reported(built_site: Path,
                                                                  tmp_path: Path,
                                                                  monkeypatch) -> None:
    # Another Pagefind's meta file (here with a sort) may mean another format: piasite does
    # not write beside it an index its library might read otherwise.
    real = index_parts._read

    def with_a_sort(path: Path):
        value = real(path)
        if path.suffix == ".pf_meta":
            value[4] = [["date", [0]]]  # a sort Pagefind would write for data-pagefind-sort
        return value

    monkeypatch.setattr(index_parts, "_read", with_a_sort)
    problem = index.write_bundle(index.collect(built_site), tmp_path / "b")
    assert "Pagefind の出力を読めませんでした" in problem
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
