"""The search index's files, written by piasite in Pagefind 1.5.2's format: the records'
words grouped part by part (numpy), each part's words on disk, and the parts merged into one
bundle.

Pagefind itself indexed the records until 2026-12-06: one run of its command over a synthetic
page per record, in parts of `index.PART_CHARS` characters because it holds a whole index in
memory (about 170 bytes per character). At 1,000 versions that was 40 CPU seconds of 265, and
reading its files back for the merge 6 more, for words piasite had already cut itself (one
bigram per character, `index.py`): Pagefind only had to group them. `write_part` does that with
numpy (a stable sort of the part's bigrams, then every CBOR head written at once), 0.1 s for a
part of 500,000 characters. Pagefind still makes what the search page runs — `pagefind.js`, its
WebAssembly and the entry file — from one run over a one-word page (`library`), so the reader's
side stays Pagefind's own.

The files are Pagefind 1.5.2's (the version pyproject.toml pins), as it writes them:

- each is gzip of `pagefind_dcd` followed by one CBOR value;
- the meta file: `[version, pages, chunks, filters, sorts, …]`, a page `[id, word count]`, a
  chunk `[first word, last word, file]` (the bounds cut to the shortest prefixes that still
  part two neighbouring chunks, unless that would put a chunk's end before its start), a
  filter `[name, file]`;
- a word chunk: `[[[word, [[page, locations, []], …], []], …]]`, the words in order, a word's
  pages in ascending order, each page number but a word's first written as the difference to
  the one before; a page's locations are the weight marker -25 (Pagefind's default weight 24,
  written as -(weight + 1)) and the word's positions, each but the first written as the
  difference to the one before; a chunk ends where its locations plus pages reach the chunk
  size;
- a filter: `[name, [[value, [page, …]], …]]`, values in order, page numbers as they are.

A chunk's words and page numbers are what one Pagefind run over every record gives, but for
the parts Pagefind added to a page's last word (its digits and letters apart: "01e" also as
"01"), words no query of the search page can ask for (tests/test_index_parts.py compares the
two).
"""

from __future__ import annotations

import gzip
import hashlib
import heapq
import itertools
import json
import os
import shutil
from array import array
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path

import cbor2

SIGNATURE = b"pagefind_dcd"
ENTRY = "pagefind-entry.json"
SHARED = ("pagefind.js", "wasm.unknown.pagefind")
"""The library and its WebAssembly, from Pagefind's run (`library`)."""
BATCH = 128
"""Word chunks hashed, compressed and written together (on every core: zlib and hashlib
release the GIL) while the next batch is gathered: two batches of them in memory at most."""
WEIGHT = 24
"""Pagefind's weight of a word in a page's text (1.0 × 24): what every word of ours has."""
_KEY_BITS = 22
"""A bigram's sort key: its first character's code point above these bits, the next one's
code point + 1 in them (0: the text's last character, alone). Code points are below 2²¹."""
_PACKED_BITS = 63
"""What a key and its index below it may take together in an int64 sorted as one number
(`write_part`)."""


class Unmergeable(Exception):
    """Pagefind's files are not what this module knows how to write beside."""


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


def _read(path: Path):
    data = gzip.decompress(path.read_bytes())
    if not data.startswith(SIGNATURE):
        raise Unmergeable(f"{path.name} は Pagefind の形式ではありません")
    return cbor2.loads(data[len(SIGNATURE):])


def _head(major: int, n: int) -> bytes:
    """A CBOR item's head, as short as the value allows (as Pagefind writes it)."""
    if n < 24:
        return bytes([major << 5 | n])
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if n < 1 << (8 * size):
            return bytes([major << 5 | info]) + n.to_bytes(size, "big")
    raise ValueError(n)


_INFO_OF_SIZE = (0, 0, 24, 25, 0, 26, 0, 0, 0, 27)
"""A head's additional information by its size in bytes."""


def _heads(major, count):
    """CBOR heads (major type, count), each as short as its count allows, written one after
    another: their bytes, and where each starts (numpy arrays in, bytes and an array out)."""
    import numpy as np

    size = (1 + (count >= 24) + (count >= 256) + 2 * (count >= 1 << 16)).astype(np.uint8)
    if count.dtype == np.int64:
        size += 4 * (count >= 1 << 32).astype(np.uint8)
    starts = np.cumsum(size, dtype=np.int64)
    out = np.zeros(int(starts[-1]) if len(starts) else 0, np.uint8)
    starts -= size
    first = np.where(count < 24, count, np.array(_INFO_OF_SIZE, count.dtype)[size])
    first |= major.astype(count.dtype) << 5
    out[starts] = first
    del first
    for n in (2, 3, 5, 9):  # the count's bytes after the first, big-endian
        at = np.flatnonzero(size == n)
        value = count[at]
        at = starts[at]
        for b in range(n - 1):
            out[at + 1 + b] = (value >> (8 * (n - 2 - b))) & 255
    return out.tobytes(), starts


WORDS, NUMBERS, ITEMS = "words.txt", "words.bin", "items.bin"
"""A part's files: its words, one per line; for each word its `_FIELDS` numbers; the words'
CBOR items [word, pages, []] one after another."""
_FIELDS = 5
"""Of each word: its item's length in bytes; how many pages; its first and its last page's
number (in the part); its locations + 1 per page (what Pagefind adds up to cut chunks)."""
_BLOCK = 4096
"""Words read back at a time."""


@dataclass
class Part:
    """What the merge needs of one part: its pages ([id, word count]), each filter's values
    and their pages, and, in `folder` (`WORDS`, `NUMBERS`, `ITEMS`), its words in order with
    their items: the merge reads a block of each part at a time."""

    folder: Path
    pages: list[list] = field(default_factory=list)
    filters: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    words: int = 0
    """How many."""


def write_part(folder: Path, ids: list[str], texts: list[str],
               filters: list[list[tuple[str, str]]], code: Callable[[int], str]) -> Part:
    """Index one part's pages into `folder`: page `i` has the id `ids[i]`, the normalised text
    `texts[i]` (not empty), whose words are each character with the next one (the last
    alone) written with `code` (a code point's prefix-free code, in code point order), and the
    filter values `filters[i]` ((name, value) pairs).

    The words are ordered by their characters' code points (with a text's last character
    first, alone), which is the order of their codes; a word's pages and positions come out
    of a stable sort in ascending order."""
    # Here only: numpy's 20 MB stay out of the processes that never write an index.
    import numpy as np

    folder.mkdir(parents=True)
    part = Part(folder, [[page_id, len(text)] for page_id, text in zip(ids, texts, strict=True)])
    for page, pairs in enumerate(filters):
        for name, value in pairs:
            numbers = part.filters.setdefault(name, {}).setdefault(value, [])
            if not numbers or numbers[-1] != page:
                numbers.append(page)
    lengths = np.fromiter(map(len, texts), np.int64, len(texts))
    n = int(lengths.sum())
    ends = np.cumsum(lengths)
    key = np.frombuffer("".join(texts).encode("utf-32-le"), "<u4").astype(np.int64)
    key <<= _KEY_BITS
    key[:-1] |= (key[1:] >> _KEY_BITS) + 1
    key[ends - 1] &= ~((1 << _KEY_BITS) - 1)  # a text's last character has no next one
    at_bits = max(n - 1, 1).bit_length()
    if 21 + _KEY_BITS + at_bits <= _PACKED_BITS:
        # Each key with its index below it: a plain sort of unique numbers gives the stable
        # order, quicker than a stable argsort (30 against 52 ms for 600,000 characters).
        packed = np.sort((key << at_bits) | np.arange(n, dtype=np.int64))
        order = packed & ((1 << at_bits) - 1)
        key = packed >> at_bits
        del packed
    else:  # a part of more than a million characters (one long page)
        order = np.argsort(key, kind="stable")
        key = key[order]
    # 32 bits where they suffice: a part holds 500,000 characters (about 60 bytes each here).
    page = np.repeat(np.arange(len(texts), dtype=np.int32), lengths)[order]
    position = (np.arange(n, dtype=np.int32)
                - np.repeat((ends - lengths).astype(np.int32), lengths))[order]
    del order
    new_word = np.ones(n, bool)
    new_word[1:] = key[1:] != key[:-1]
    new_pair = new_word.copy()  # a word's positions in one page
    new_pair[1:] |= page[1:] != page[:-1]
    pair_at = np.flatnonzero(new_pair)
    pairs = len(pair_at)
    pair_len = np.diff(np.append(pair_at, n)).astype(np.int32)
    pair_page = page[pair_at]
    del page
    first_pair = new_word[pair_at]  # of its word
    del new_word
    step = pair_page.copy()
    step[1:] -= np.where(first_pair[1:], 0, pair_page[:-1])
    position[1:] -= np.where(new_pair[1:], 0, position[:-1])
    # Each pair is [step, [-25, position, …], []]: five heads besides its positions.
    slot = pair_at + 5 * np.arange(pairs)
    heads = n + 5 * pairs
    major = np.zeros(heads, np.uint8)
    count = np.zeros(heads, np.int32)
    major[slot] = 4
    count[slot] = 3
    count[slot + 1] = step
    del step
    major[slot + 2] = 4
    count[slot + 2] = pair_len + 1
    major[slot + 3] = 1
    count[slot + 3] = WEIGHT
    at = np.cumsum(new_pair, dtype=np.int64)
    del new_pair
    at *= 5
    at += np.arange(n) - 1
    count[at] = position
    del at, position
    major[slot + 4 + pair_len] = 4  # [] after the positions
    raw, starts = _heads(major, count)
    del major, count
    word_pair = np.flatnonzero(first_pair)
    word_end = np.append(word_pair[1:], pairs)
    byte_at = np.append(starts[slot], len(raw))
    sizes = np.concatenate([[0], np.cumsum(pair_len + 2)])
    words = key[pair_at[word_pair]]
    low = (1 << _KEY_BITS) - 1
    items = []
    names = []
    for k, a, b, pages in zip(words.tolist(), byte_at[word_pair].tolist(),
                              byte_at[word_end].tolist(), (word_end - word_pair).tolist(),
                              strict=True):
        after = k & low
        word = code(k >> _KEY_BITS) + (code(after - 1) if after else "")
        encoded = word.encode()
        items.append(b"".join((b"\x83", _head(3, len(encoded)), encoded, _head(4, pages),
                               raw[a:b], b"\x80")))
        names.append(word)
    numbers = np.stack([np.fromiter(map(len, items), np.int64, len(items)),
                        word_end - word_pair, pair_page[word_pair], pair_page[word_end - 1],
                        sizes[word_end] - sizes[word_pair]], axis=1).astype(np.int64)
    (folder / ITEMS).write_bytes(b"".join(items))
    (folder / WORDS).write_text("".join(w + "\n" for w in names), encoding="utf-8",
                                newline="\n")
    numbers.tofile(folder / NUMBERS)
    part.words = len(items)
    return part


Word = tuple[str, int, int, bytes, tuple[int, ...]]
"""A word of one part, as the merge takes it: the word, the part's number, its index in the
part, its item's bytes, and its numbers (`_FIELDS` but the first)."""


def _stream(part: Part, k: int) -> Iterator[Word]:
    """The part's words in order, a block of their numbers in memory at a time."""
    i = 0
    with (open(part.folder / WORDS, encoding="utf-8", newline="\n") as words,
          open(part.folder / NUMBERS, "rb") as table,
          open(part.folder / ITEMS, "rb") as items):
        while i < part.words:
            block = array("q")  # not a list of lists: 73 parts' blocks at 1,000 versions
            block.fromfile(table, min(_BLOCK, part.words - i) * _FIELDS)
            for j in range(0, len(block), _FIELDS):
                size, *rest = block[j:j + _FIELDS]
                yield next(words)[:-1], k, i, items.read(size), tuple(rest)
                i += 1


def _merged_word(word: str, group: list[Word], offsets: list[int]) -> tuple[bytes, int]:
    """A word's item over every part that has it, and its size as Pagefind counts it.

    Page numbers are differences but for a word's first: each part's first page of the word
    is written anew (counted from the previous part's last page), the rest copied as it is."""
    _, k, _, raw, (_, _, _, size) = group[0]
    if len(group) == 1 and offsets[k] == 0:
        return raw, size
    text = _head(3, len(word.encode())) + word.encode()
    out = [b"\x83", text, _head(4, sum(numbers[0] for *_, numbers in group))]
    size = 0
    last = None
    for _, k, _, raw, (pages, first, last_page, locations) in group:
        base = offsets[k]
        at = 1 + len(text) + len(_head(4, pages))
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
    path.write_bytes(_packed(raw))


def _packed(raw: bytes) -> bytes:
    # mtime 0: the same index is the same bytes.
    return gzip.compress(raw, compresslevel=6, mtime=0)


def _pack_all(raws: list[bytes]) -> list[tuple[str, bytes]]:
    """Each chunk's digest (which names its file) and its file's bytes."""
    return [(hashlib.sha256(raw).hexdigest(), _packed(raw)) for raw in raws]


def _write_all(files: list[tuple[Path, bytes]]) -> None:
    for path, data in files:
        path.write_bytes(data)


def _prefixes(a: str, b: str) -> tuple[str, str]:
    """Two neighbouring chunks' bounds cut to one character past their common prefix."""
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n + 1], b[:n + 1]


@dataclass
class Library:
    """What Pagefind wrote for a site of one page: the search page's library (`SHARED`), the
    entry file, the index's language and Pagefind's version."""

    folder: Path
    entry: dict
    language: str
    version: str


def library(folder: Path) -> Library:
    """Read what Pagefind wrote into `folder` (`Library`)."""
    entry = json.loads((folder / ENTRY).read_text(encoding="utf-8"))
    ((language, info),) = entry["languages"].items()
    meta = _read(folder / f"pagefind.{info['hash']}.pf_meta")
    if len(meta) != 6 or any(meta[4:]) or not isinstance(meta[0], str):
        raise Unmergeable("Pagefind のメタ情報の形が 1.5.2 のものと違います")
    return Library(folder, entry, language, meta[0])


MAX_OPEN_PARTS = 256
"""Parts merged at once, each with three files open: a national site has thousands of parts
(about 6,800 at 100,000 versions), past the usual limit of 1,024 open files. More are first
joined, this many at a time, into larger parts (`_join`): the same bundle, byte for byte."""


def _offsets(parts: list[Part]) -> list[int]:
    """Each part's first page number in the parts put together."""
    return list(itertools.accumulate((len(p.pages) for p in parts[:-1]), initial=0))


def _words(parts: list[Part]) -> Iterator[tuple[str, bytes, tuple[int, int, int, int]]]:
    """Every word of `parts` (in the records' order) in order, with its item over all of
    them and its numbers there (`_FIELDS` but the first)."""
    offsets = _offsets(parts)
    streams = [_stream(p, k) for k, p in enumerate(parts)]
    for word, group in itertools.groupby(heapq.merge(*streams), key=itemgetter(0)):
        group = list(group)
        raw, size = _merged_word(word, group, offsets)
        (_, k0, _, _, (_, first, _, _)), (_, k1, _, _, (_, _, last, _)) = group[0], group[-1]
        yield word, raw, (sum(g[4][0] for g in group), offsets[k0] + first, offsets[k1] + last,
                          size)


def _filters(parts: list[Part]) -> dict[str, dict[str, list[int]]]:
    """Each filter's values and their pages over `parts` put together."""
    values: dict[str, dict[str, list[int]]] = {}
    for part, base in zip(parts, _offsets(parts), strict=True):
        for name, rows in part.filters.items():
            row = values.setdefault(name, {})
            for value, numbers in rows.items():
                row.setdefault(value, []).extend(base + n for n in numbers)
    return values


def _join(parts: list[Part], folder: Path) -> Part:
    """`parts` (consecutive, in order) as one part in `folder`; their own folders removed."""
    folder.mkdir()
    joined = Part(folder, [page for p in parts for page in p.pages], _filters(parts))
    numbers = array("q")
    with (open(folder / WORDS, "w", encoding="utf-8", newline="\n") as words,
          open(folder / NUMBERS, "wb") as table, open(folder / ITEMS, "wb") as items):
        for word, raw, rest in _words(parts):
            words.write(word + "\n")
            items.write(raw)
            numbers.extend((len(raw), *rest))
            joined.words += 1
            if len(numbers) >= _BLOCK * _FIELDS:
                numbers.tofile(table)
                del numbers[:]
        numbers.tofile(table)
    for part in parts:
        shutil.rmtree(part.folder)
    return joined


def merge(parts: list[Part], lib: Library, bundle: Path, chunk_size: int) -> None:
    """Join `parts` (in the records' order) into `bundle`, with the library and entry
    of `lib`. `chunk_size`: the locations per word chunk (Pagefind's
    `PAGEFIND_UNSTABLE_INDEX_CHUNK_SIZE`)."""
    while len(parts) > MAX_OPEN_PARTS:
        parts = [_join(group, group[0].folder.with_name(f"{group[0].folder.name}-{len(group)}"))
                 for group in (parts[i:i + MAX_OPEN_PARTS]
                               for i in range(0, len(parts), MAX_OPEN_PARTS))]
    bundle.mkdir(parents=True, exist_ok=True)
    (bundle / "index").mkdir()
    (bundle / "filter").mkdir()
    files = _Files(lib.language)

    chunks: list[list[str]] = []
    cores = os.cpu_count() or 1
    with ThreadPoolExecutor(cores) as pool:
        batch: list[tuple[str, str, bytes]] = []
        # A batch is hashed and compressed on the pool (in a slice per core) while the words
        # of the next are gathered here (this loop holds the GIL; zlib and hashlib let it
        # go): waiting for each batch before gathering the next left a core idle, 1.3 of the
        # merge's 4.9 s at 1,000 versions. Names are given in the chunks' order (a name may
        # be lengthened by one given before it), once a batch is packed; its files are
        # written on the pool, one batch at a time. At most two batches are in memory.
        packing: deque[tuple[list[tuple[str, str, bytes]], list[Future]]] = deque()
        writing: list[Future] = []

        def settle(keep: int) -> None:
            while len(packing) > keep:
                done, futures = packing.popleft()
                packed = [p for future in futures for p in future.result()]
                names = [files.name(digest) for digest, _ in packed]
                chunks.extend([a, b, n] for (a, b, _), n in zip(done, names, strict=True))
                if writing:
                    writing.pop().result()  # a failed write (OSError) raises here
                writing.append(pool.submit(_write_all, [
                    (bundle / "index" / f"{n}.pf_index", data)
                    for n, (_, data) in zip(names, packed, strict=True)]))

        def flush() -> None:
            raws = [raw for _, _, raw in batch]
            step = -(-len(raws) // cores)
            packing.append((batch[:], [pool.submit(_pack_all, raws[i:i + step])
                                       for i in range(0, len(raws), step)]))
            batch.clear()
            settle(1)

        chunk: list[bytes] = []
        bounds: list[str] = []
        size = 0

        def cut() -> None:
            """The words so far as one chunk file's bytes: [[word, …]]."""
            batch.append((bounds[0], bounds[-1], b"".join(
                [SIGNATURE, _head(4, 1), _head(4, len(chunk)), *chunk])))

        try:
            for word, raw, (_, _, _, n) in _words(parts):
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
            if batch:
                flush()
            settle(0)
            if writing:
                writing.pop().result()
        finally:  # after a failure, the batches not yet started are not packed nor written
            for future in (*(f for _, fs in packing for f in fs), *writing):
                future.cancel()
    for a, b in itertools.pairwise(chunks):
        last, b[0] = _prefixes(a[1], b[0])
        if last >= a[0]:  # as Pagefind: a bound cut below its own chunk's start stays whole
            a[1] = last

    values = _filters(parts)
    filters = [[name, files.write(lambda n: bundle / "filter" / f"{n}.pf_filter",
                                  [name, [[v, row[v]] for v in sorted(row)]])]
               for name, row in sorted(values.items())]

    meta = [lib.version, [page for p in parts for page in p.pages], chunks, filters, [], []]
    meta_name = files.write(lambda n: bundle / f"pagefind.{n}.pf_meta", meta, digits=11)
    entry = dict(lib.entry)
    entry["languages"] = {lib.language: {**lib.entry["languages"][lib.language],
                                         "hash": meta_name, "page_count": len(meta[1])}}
    for name in SHARED:
        os.replace(lib.folder / name, bundle / name)
    (bundle / ENTRY).write_text(json.dumps(entry, ensure_ascii=False, separators=(",", ":")),
                                encoding="utf-8")
