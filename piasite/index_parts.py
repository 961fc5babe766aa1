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

Each part is read once (`scan`, the only step that decodes every location, in C), while
Pagefind indexes the next part; `merge` then copies each word's bytes from the parts, writing
anew only each part's first page number of the word, and compresses the chunks on every core.
A part holding anything else (a sort, a word's extra variants) is not merged: `scan` says so,
and the build reports it as E901 rather than publish an index that finds less.
"""

from __future__ import annotations

import gzip
import hashlib
import heapq
import io
import itertools
import json
import os
from array import array
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path

import cbor2

SIGNATURE = b"pagefind_dcd"
ENTRY = "pagefind-entry.json"
SHARED = ("pagefind.js", "wasm.unknown.pagefind")
"""The library and the WebAssembly every part has alike: the merged bundle takes part 0's."""
BATCH = 256
"""Word chunks hashed, compressed and written together (on every core: zlib and hashlib
release the GIL); only a batch of them is in memory at once."""


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


def _unpack(data: bytes, name: str) -> bytes:
    if not data.startswith(SIGNATURE):
        raise Unmergeable(f"{name} は Pagefind の形式ではありません")
    return data[len(SIGNATURE):]


def _raw(path: Path) -> bytes:
    """A Pagefind file's CBOR bytes."""
    return _unpack(gzip.decompress(path.read_bytes()), path.name)


def _read(path: Path):
    return cbor2.loads(_raw(path))


def _head(major: int, n: int) -> bytes:
    """A CBOR item's head, as short as the value allows (as Pagefind writes it)."""
    if n < 24:
        return bytes([major << 5 | n])
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if n < 1 << (8 * size):
            return bytes([major << 5 | info]) + n.to_bytes(size, "big")
    raise ValueError(n)


def _read_head(raw: bytes, pos: int, major: int) -> tuple[int, int]:
    """The count in the head of the item of type `major` at `pos`, and where its content
    starts."""
    first = raw[pos]
    if first >> 5 != major:
        raise Unmergeable("索引の塊の形が Pagefind 1.5.2 のものと違います")
    info = first & 31
    if info < 24:
        return info, pos + 1
    size = 1 << (info - 24)
    return int.from_bytes(raw[pos + 1:pos + 1 + size], "big"), pos + 1 + size


def _text(word: str) -> bytes:
    data = word.encode()
    return _head(3, len(data)) + data


_NUMBER, _LOCATIONS, _EXTRA = itemgetter(0), itemgetter(1), itemgetter(2)

WORDS, NUMBERS = "words.txt", "words.bin"
"""Beside a part's files: its words, one per line, and for each its `_FIELDS` numbers."""
_FIELDS = 7
"""Of each word: its chunk (position in meta[2]); where its CBOR item [word, pages, []] is in
the chunk's bytes after the signature, start and end; how many pages; its first and its last page's
number (in the part); its locations + 1 per page (what Pagefind adds up to cut chunks)."""
_BLOCK = 4096
"""Words read back at a time."""


@dataclass
class Scan:
    """What the merge needs of one part: its files' names, and, written beside them (`WORDS`,
    `NUMBERS`), each word in order with where its bytes are and what its pages add up to. Held
    here, the words and numbers of every part waited for the merge in the build's process
    while Pagefind indexed the next parts: at 1,000 versions 73 parts, 657,587 words, 24.5 MiB,
    and as much more for every 1,000 versions. On disk the merge reads a block of each part at
    a time."""

    folder: Path
    entry: dict
    language: str
    meta: list
    words: int = 0
    """How many."""

    def chunk_bytes(self, c: int) -> bytes:
        return _raw(self.folder / "index" / f"{self.meta[2][c][2]}.pf_index")


def scan(folder: Path) -> Scan:
    """Read a part Pagefind wrote into `folder`."""
    entry = json.loads((folder / ENTRY).read_text(encoding="utf-8"))
    ((language, info),) = entry["languages"].items()
    meta = _read(folder / f"pagefind.{info['hash']}.pf_meta")
    if len(meta) != 6 or any(meta[4:]):
        raise Unmergeable(f"索引の部分 {folder.name} のメタ情報に未知の項目があります")
    part = Scan(folder, entry, language, meta)
    numbers = array("i")
    with (open(folder / WORDS, "w", encoding="utf-8", newline="\n") as words,
          open(folder / NUMBERS, "wb") as table):
        for c in range(len(meta[2])):
            raw = part.chunk_bytes(c)
            one, pos = _read_head(raw, 0, 4)
            count, pos = _read_head(raw, pos, 4)
            if one != 1:
                raise Unmergeable("索引の塊の形が Pagefind 1.5.2 のものと違います")
            stream = io.BytesIO(raw)
            stream.seek(pos)
            decoder = cbor2.CBORDecoder(stream)
            for _ in range(count):
                start = stream.tell()
                item = decoder.decode()
                end = stream.tell()
                if (len(item) != 3 or item[2] or not item[1] or any(map(_EXTRA, item[1]))
                        or raw[end - 1] != 0x80 or "\n" in item[0]):
                    raise Unmergeable(f"語 {item[0]!r} に未知のデータがあります")
                word, pages = item[0], item[1]
                words.write(word + "\n")
                numbers.extend((c, start, end, len(pages), pages[0][0], sum(map(_NUMBER, pages)),
                                sum(map(len, map(_LOCATIONS, pages))) + len(pages)))
                part.words += 1
            numbers.tofile(table)
            del numbers[:]
    return part


Word = tuple[str, int, int, bytes, tuple[int, ...]]
"""A word of one part, as the merge takes it: the word, the part's number, its index in the
part, its item's bytes, and its numbers (`_FIELDS` but the first three)."""


def _stream(part: Scan, k: int) -> Iterator[Word]:
    """The part's words in order, one chunk's bytes and a block of the numbers in memory at
    a time."""
    c, raw = -1, b""
    i = 0
    with (open(part.folder / WORDS, encoding="utf-8", newline="\n") as words,
          open(part.folder / NUMBERS, "rb") as table):
        while i < part.words:
            block = array("i")
            block.fromfile(table, min(_BLOCK, part.words - i) * _FIELDS)
            for j in range(0, len(block), _FIELDS):
                chunk, start, end, *rest = block[j:j + _FIELDS]
                if chunk != c:
                    c = chunk
                    raw = part.chunk_bytes(c)
                yield next(words)[:-1], k, i, raw[start:end], tuple(rest)
                i += 1


def _merged_word(word: str, group: list[Word], offsets: list[int]) -> tuple[bytes, int]:
    """A word's item over every part that has it, and its size as Pagefind counts it.

    Page numbers are differences but for a word's first: each part's first page of the word
    is written anew (counted from the previous part's last page), the rest copied as it is."""
    _, k, _, raw, (_, _, _, size) = group[0]
    if len(group) == 1 and offsets[k] == 0:
        return raw, size
    text = _text(word)
    out = [b"\x83", text, _head(4, sum(numbers[0] for *_, numbers in group))]
    size = 0
    last = None
    for _, k, _, raw, (pages, first, last_page, locations) in group:
        base = offsets[k]
        at = 1 + len(text) + len(_head(4, pages))
        if raw[1:1 + len(text)] != text or raw[at] != 0x83:
            raise Unmergeable(f"語 {word!r} の形が Pagefind 1.5.2 のものと違います")
        number = base + first
        out.append(b"\x83" + _head(0, number if last is None else number - last))
        out.append(raw[at + 1 + len(_head(0, first)):-1])
        last = base + last_page
        size += locations
    out.append(b"\x80")
    return b"".join(out), size


class _Files:
    """Files named as Pagefind names them: the language and the start of the content's hash,
    longer where two would share a name."""

    def __init__(self, language: str):
        self.language = language
        self.taken: set[str] = set()

    def name(self, digest: str, digits: int = 7) -> str:
        name = f"{self.language}_{digest[:digits]}"
        while name in self.taken:
            digits += 1
            name = f"{self.language}_{digest[:digits]}"
        self.taken.add(name)
        return name

    def write(self, path_of, value, digits: int = 7) -> str:
        raw = SIGNATURE + cbor2.dumps(value)
        name = self.name(hashlib.sha256(raw).hexdigest(), digits)
        _put(path_of(name), raw)
        return name


def _put(path: Path, raw: bytes) -> None:
    # mtime 0: the same index is the same bytes.
    path.write_bytes(gzip.compress(raw, compresslevel=6, mtime=0))


def _prefixes(a: str, b: str) -> tuple[str, str]:
    """Two neighbouring chunks' bounds cut to one character past their common prefix."""
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n + 1], b[:n + 1]


def merge(parts: list[Scan], bundle: Path, chunk_size: int) -> list[dict[str, str]]:
    """Join the Pagefind bundles `parts` (scanned, in the records' order) into `bundle`.

    Returns, for each part, its page ids that had to be renamed because an earlier part
    already used them (old -> new); every other id stays as Pagefind made it. `chunk_size` is
    the locations per word chunk Pagefind was told (`PAGEFIND_UNSTABLE_INDEX_CHUNK_SIZE`).
    Raises Unmergeable when the parts do not fit together.
    """
    first = parts[0]
    if any(p.language != first.language or p.meta[0] != first.meta[0] for p in parts):
        raise Unmergeable("索引の部分の言語か版が違います")
    bundle.mkdir(parents=True, exist_ok=True)
    (bundle / "index").mkdir()
    (bundle / "filter").mkdir()
    files = _Files(first.language)

    offsets: list[int] = []
    pages: list[list] = []
    renames: list[dict[str, str]] = []
    seen: set[str] = set()
    for k, part in enumerate(parts):
        offsets.append(len(pages))
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
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        batch: list[tuple[str, str, bytes]] = []

        def flush() -> None:
            digests = list(pool.map(lambda c: hashlib.sha256(c[2]).hexdigest(), batch))
            names = [files.name(d) for d in digests]
            chunks.extend([a, b, n] for (a, b, _), n in zip(batch, names, strict=True))
            list(pool.map(lambda c, n: _put(bundle / "index" / f"{n}.pf_index", c[2]),
                          batch, names))
            batch.clear()

        chunk: list[bytes] = []
        bounds: list[str] = []
        size = 0

        def cut() -> None:
            """The words so far as one chunk file's bytes: [[word, …]]."""
            batch.append((bounds[0], bounds[-1], b"".join(
                [SIGNATURE, _head(4, 1), _head(4, len(chunk)), *chunk])))

        streams = [_stream(p, k) for k, p in enumerate(parts)]
        for word, group in itertools.groupby(heapq.merge(*streams), key=itemgetter(0)):
            raw, n = _merged_word(word, list(group), offsets)
            chunk.append(raw)
            bounds.append(word)
            size += n
            if size >= chunk_size:
                cut()
                chunk, bounds, size = [], [], 0
                if len(batch) >= BATCH:
                    flush()
        if chunk:
            cut()
        flush()
    for a, b in itertools.pairwise(chunks):
        last, b[0] = _prefixes(a[1], b[0])
        if last >= a[0]:  # as Pagefind: a bound cut below its own chunk's start stays whole
            a[1] = last

    values: dict[str, dict[str, list[int]]] = {}
    for part, base in zip(parts, offsets, strict=True):
        for name, file in part.meta[3]:
            filter_name, rows = _read(part.folder / "filter" / f"{file}.pf_filter")
            if filter_name != name:
                raise Unmergeable(f"絞り込み {name} のファイルが名前と合いません")
            row = values.setdefault(name, {})
            for value, numbers in rows:
                row.setdefault(value, []).extend(base + n for n in numbers)
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
