"""Same input, same bytes: two builds of the bundled site are identical (see docs/determinism.md).

The two builds differ in everything that must not matter: the process (and its
PYTHONHASHSEED, so set and dict orders that depend on string hashes change), the site folder
(a copy with a cold diff cache and no themes/ folder versus the repository with its cache and
its themes/default/) and the output folder.

Every file must be byte-identical, the search index's included: piasite writes it, filters
in the order of their names and values (Pagefind wrote them in the order of a hash map seeded
at random, and those files were compared by content until 2026-12-06).
"""

from __future__ import annotations

import os
import shutil
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


def test_every_file_is_byte_identical(two_builds) -> None:
    stable_a, stable_b = (stable_files(x) for x in two_builds)
    assert sorted(stable_a) == sorted(stable_b)
    differ = [k for k in stable_a if stable_a[k] != stable_b[k]]
    assert differ == [], f"files that differ between two builds: {differ}"
    assert sum(k.endswith(".html") for k in stable_a) > 60
    assert any(k.startswith("pagefind/text/") for k in stable_a), "search index missing"
    assert any(k.startswith("pagefind/index/") for k in stable_a)
    assert any(k.startswith("pagefind/filter/") for k in stable_a)
