"""The search index made in parts and merged into one bundle, so that Pagefind's memory does
not grow with the site.

Pagefind holds a whole index in memory while it builds it: about 170 bytes per character of
normalised text, 5.7 GB for a site of 1,000 versions (docs/benchmarks.md). `index.py` runs it
over consecutive parts of at most `index.PART_CHARS` characters, one after another, and `merge`
joins the parts' files into the bundle one run over every record would have written: one meta
file, one set of word chunks cut by Pagefind's rule, one file per filter. A reader still loads
one index; loading the parts side by side instead (Pagefind's `mergeIndex`) multiplied a
search's requests and bytes by the number of parts (docs/search.md, 索引を分けたとき).

The files are Pagefind 1.5.2's (the version pyproject.toml pins), as it writes them:

- each is gzip of `pagefind_dcd` followed by one CBOR value;
- the meta file: `[version, pages, chunks, filters, sorts, …]`, a page `[id, word count]`, a
  chunk `[first word, last word, file]` (the bounds cut to the shortest prefixes that still
  part two neighbouring chunks, unless that would put a chunk's end before its start), a
  filter `[name, file]`;
- a word chunk: `[[[word, [[page, locations, []], …], []], …]]`, its pages in ascending order
  and each page number but a word's first written as the difference to the one before (the
  locations are a page's own, left as they are);
- a filter: `[name, [[value, [page, …]], …]]`, page numbers as they are.

A part holding anything else (a sort, a word's extra variants) is not merged: `merge` says so,
and the build reports it as E901 rather than publish an index that finds less.
"""

from __future__ import annotations

import gzip
import hashlib
import heapq
import itertools
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cbor2

SIGNATURE = b"pagefind_dcd"
ENTRY = "pagefind-entry.json"
SHARED = ("pagefind.js", "wasm.unknown.pagefind")
"""The library and the WebAssembly every part has alike: the merged bundle takes part 0's."""


class Unmergeable(Exception):
    """A part's files are not what `merge` knows how to join."""


def split(lengths: list[int], limit: int) -> list[range]:
    """Consecutive groups of the records (by their normalised lengths) of at most `limit`
    characters each; a record longer than `limit` is a group of its own."""
    groups: list[range] = []
    start = total = 0
    for i, n in enumerate(lengths):
        # A record without text never starts a part: a part is never empty of text.
        if total and n and total + n > limit:
            groups.append(range(start, i))
            start, total = i, 0
        total += n
    if start < len(lengths) or not groups:
        groups.append(range(start, len(lengths)))
    return groups


@dataclass
class _Part:
    folder: Path
    entry: dict
    language: str
    meta: list
    offset: int
    """Page numbers of the parts before this one: its page n is page offset + n merged."""


def _read(path: Path):
    data = gzip.decompress(path.read_bytes())
    if not data.startswith(SIGNATURE):
        raise Unmergeable(f"{path.name} は Pagefind の形式ではありません")
    return cbor2.loads(data[len(SIGNATURE):])


def _open(folder: Path, offset: int) -> _Part:
    entry = json.loads((folder / ENTRY).read_text(encoding="utf-8"))
    ((language, info),) = entry["languages"].items()
    return _Part(folder, entry, language, _read(folder / f"pagefind.{info['hash']}.pf_meta"),
                 offset)


def _words(part: _Part, k: int) -> Iterator[tuple[str, int, list]]:
    """The part's words in order: (word, part number, pages)."""
    for _, _, name in part.meta[2]:
        (words,) = _read(part.folder / "index" / f"{name}.pf_index")
        for word in words:
            if len(word) != 3 or word[2] or any(page[2] for page in word[1]):
                raise Unmergeable(f"語 {word[0]!r} に未知のデータがあります")
            yield word[0], k, word[1]


class _Files:
    """Files named as Pagefind names them: the language and the start of the content's hash,
    longer where two would share a name."""

    def __init__(self, language: str):
        self.language = language
        self.taken: set[str] = set()

    def write(self, path_of, value, digits: int = 7) -> str:
        raw = SIGNATURE + cbor2.dumps(value)
        digest = hashlib.sha256(raw).hexdigest()
        name = f"{self.language}_{digest[:digits]}"
        while name in self.taken:
            digits += 1
            name = f"{self.language}_{digest[:digits]}"
        self.taken.add(name)
        path = path_of(name)
        path.parent.mkdir(exist_ok=True)
        # mtime 0: the same index is the same bytes.
        path.write_bytes(gzip.compress(raw, compresslevel=6, mtime=0))
        return name


def _prefixes(a: str, b: str) -> tuple[str, str]:
    """Two neighbouring chunks' bounds cut to one character past their common prefix."""
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n + 1], b[:n + 1]


def merge(parts: list[Path], bundle: Path, chunk_size: int) -> list[dict[str, str]]:
    """Join the Pagefind bundles in `parts` (in the records' order) into `bundle`.

    Returns, for each part, its page ids that had to be renamed because an earlier part
    already used them (old -> new); every other id stays as Pagefind made it. `chunk_size` is
    the locations per word chunk Pagefind was told (`PAGEFIND_UNSTABLE_INDEX_CHUNK_SIZE`).
    Raises Unmergeable when a part holds what the merge does not know.
    """
    opened: list[_Part] = []
    offset = 0
    for folder in parts:
        part = _open(folder, offset)
        if len(part.meta) != 6 or any(part.meta[4:]):
            raise Unmergeable(f"索引の部分 {folder.name} のメタ情報に未知の項目があります")
        opened.append(part)
        offset += len(part.meta[1])
    first = opened[0]
    if any(p.language != first.language or p.meta[0] != first.meta[0] for p in opened):
        raise Unmergeable("索引の部分の言語か版が違います")
    bundle.mkdir(parents=True, exist_ok=True)
    files = _Files(first.language)

    pages: list[list] = []
    renames: list[dict[str, str]] = []
    seen: set[str] = set()
    for k, part in enumerate(opened):
        renamed = {}
        for page_id, words in part.meta[1]:
            new = page_id
            while new in seen:  # Pagefind's short ids are unique within one run only
                new = f"{new}-{k}"
            if new != page_id:
                renamed[page_id] = new
            seen.add(new)
            pages.append([new, words])
        renames.append(renamed)

    chunks: list[list[str]] = []
    chunk: list[list] = []
    size = 0

    def flush() -> None:
        nonlocal chunk, size
        name = files.write(lambda n: bundle / "index" / f"{n}.pf_index", [chunk])
        chunks.append([chunk[0][0], chunk[-1][0], name])
        chunk, size = [], 0

    streams = [_words(p, k) for k, p in enumerate(opened)]
    for word, group in itertools.groupby(heapq.merge(*streams, key=lambda w: (w[0], w[1])),
                                         key=lambda w: w[0]):
        merged: list[list] = []
        last = None
        for _, k, word_pages in group:
            base = opened[k].offset
            number = base + word_pages[0][0]
            head = [number if last is None else number - last, *word_pages[0][1:]]
            merged.append(head)
            merged.extend(word_pages[1:])
            last = base + sum(page[0] for page in word_pages)
        chunk.append([word, merged, []])
        size += sum(len(page[1]) + 1 for page in merged)
        if size >= chunk_size:
            flush()
    if chunk:
        flush()
    for a, b in itertools.pairwise(chunks):
        last, b[0] = _prefixes(a[1], b[0])
        if last >= a[0]:  # as Pagefind: a bound cut below its own chunk's start stays whole
            a[1] = last

    values: dict[str, dict[str, list[int]]] = {}
    for part in opened:
        for name, file in part.meta[3]:
            filter_name, rows = _read(part.folder / "filter" / f"{file}.pf_filter")
            if filter_name != name:
                raise Unmergeable(f"絞り込み {name} のファイルが名前と合いません")
            row = values.setdefault(name, {})
            for value, numbers in rows:
                row.setdefault(value, []).extend(part.offset + n for n in numbers)
    filters = [[name, files.write(lambda n: bundle / "filter" / f"{n}.pf_filter",
                                  [name, [[v, row[v]] for v in sorted(row)]])]
               for name, row in sorted(values.items())]

    meta = [first.meta[0], pages, chunks, filters, [], []]
    meta_name = files.write(lambda n: bundle / f"pagefind.{n}.pf_meta", meta, digits=11)
    entry = dict(first.entry)
    entry["languages"] = {first.language: {**first.entry["languages"][first.language],
                                           "hash": meta_name, "page_count": len(pages)}}
    for name in SHARED:
        os.replace(first.folder / name, bundle / name)
    (bundle / ENTRY).write_text(json.dumps(entry, ensure_ascii=False, separators=(",", ":")),
                                encoding="utf-8")
    return renames
