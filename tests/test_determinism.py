"""Same input, same bytes: two builds of the bundled site are identical (see docs/determinism.md).

The two builds differ in everything that must not matter: the process (and its
PYTHONHASHSEED, so set and dict orders that depend on string hashes change), the site folder
(a copy with a cold diff cache and no themes/ folder versus the repository with its cache and
its themes/default/) and the output folder.

Pagefind writes its filter index in hash-map order, which changes from run to run; those three
files (pagefind/filter/*.pf_filter, pagefind/pagefind.*.pf_meta, pagefind/pagefind-entry.json)
are compared by content instead of by bytes. Every other file must be byte-identical.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO_ROOT, stable_files

NOW = "2026-01-15"


def _build(site: Path, out: Path, seed: str, jobs: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "piasite", "build", "--site", str(site), "--out", str(out),
         "--now", NOW, "-j", jobs],
        capture_output=True, text=True, encoding="utf-8", errors="replace", cwd=REPO_ROOT,
        env={**os.environ, "PYTHONHASHSEED": seed}, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("determinism")
    copy = tmp / "site"
    copy.mkdir()
    shutil.copy(REPO_ROOT / "site.toml", copy / "site.toml")
    shutil.copytree(REPO_ROOT / "content", copy / "content")
    # The site's accessibility record; no themes/: the copy gets the default theme from piasite.
    (copy / "docs").mkdir()
    shutil.copy(REPO_ROOT / "docs/accessibility-results.json", copy / "docs")
    a, b = tmp / "a" / "output", tmp / "b" / "output"
    # One process builds every assessment in turn; the other, two worker processes at once.
    _build(copy, a, "1", "1")
    _build(REPO_ROOT, b, "2", "2")
    return a, b


def test_every_file_is_byte_identical_except_pagefind_filters(two_builds) -> None:
    stable_a, stable_b = (stable_files(x) for x in two_builds)
    assert sorted(stable_a) == sorted(stable_b)
    differ = [k for k in stable_a if stable_a[k] != stable_b[k]]
    assert differ == [], f"files that differ between two builds: {differ}"
    assert sum(k.endswith(".html") for k in stable_a) > 60
    assert any(k.startswith("pagefind/text/") for k in stable_a), "search index missing"
    assert any(k.startswith("pagefind/index/") for k in stable_a)


def test_pagefind_filters_have_the_same_content(two_builds) -> None:
    a, b = (_search_filters(x) for x in two_builds)
    assert a == b
    assert {"団体", "事務"} <= set(a["filters"])


# --- Pagefind's files are gzip + "pagefind_dcd" + CBOR; a small decoder is enough to compare them.


def _pf(path: Path):
    data = gzip.decompress(path.read_bytes())
    assert data[:12] == b"pagefind_dcd", path
    value, end = _cbor(data, 12)
    assert end == len(data)
    return value


def _search_filters(out: Path) -> dict:
    """The filter index and the meta file, with hash-named references and orders removed."""
    bundle = out / "pagefind"
    entry = json.loads((bundle / "pagefind-entry.json").read_text(encoding="utf-8"))
    (lang,) = entry["languages"].values()
    meta = _pf(bundle / f"pagefind.{lang['hash']}.pf_meta")
    version, pages, chunks, filters, sorts, *rest = meta
    decoded = {}
    for name, ref in filters:
        fname, values = _pf(bundle / "filter" / f"{ref}.pf_filter")
        assert fname == name
        decoded[name] = {v: tuple(p) for v, p in sorted(values)}
    lang = {k: v for k, v in lang.items() if k != "hash"}
    return {"entry": {**entry, "languages": lang}, "version": version, "pages": pages,
            "chunks": chunks, "sorts": sorts, "rest": rest, "filters": decoded}


def _cbor(b: bytes, i: int):
    head = b[i]
    i += 1
    major, info = head >> 5, head & 31
    if major == 7:
        simple = {20: False, 21: True, 22: None}
        if info in simple:
            return simple[info], i
        size, fmt = {25: (2, ">e"), 26: (4, ">f"), 27: (8, ">d")}[info]
        return struct.unpack(fmt, b[i:i + size])[0], i + size
    if info < 24:
        n = info
    else:
        size = {24: 1, 25: 2, 26: 4, 27: 8}[info]
        n, i = int.from_bytes(b[i:i + size], "big"), i + size
    if major == 0:
        return n, i
    if major == 1:
        return -1 - n, i
    if major in (2, 3):
        raw = b[i:i + n]
        return (raw.decode() if major == 3 else raw), i + n
    if major == 4:
        out = []
        for _ in range(n):
            v, i = _cbor(b, i)
            out.append(v)
        return out, i
    if major == 5:
        m = {}
        for _ in range(n):
            k, i = _cbor(b, i)
            m[k], i = _cbor(b, i)
        return m, i
    return _cbor(b, i)  # a tag: its value
