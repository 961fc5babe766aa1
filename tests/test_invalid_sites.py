"""Broken content trees: each gets its exact diagnostic, exit 1, no traceback, output/ untouched.

tests/sites/invalid/_base/ is a minimal valid site (one kiso version of みどり市). Each other
folder there holds the files that differ from it (copied over the base) and `expected.txt`,
the diagnostic lines the build must print. Cases that cannot be committed (a 50 MB file, a
symlink) are made by the functions in MAKE.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import REPO_ROOT

CASES = REPO_ROOT / "tests" / "sites" / "invalid"
BASE = CASES / "_base"
REV = Path("content/midori/juki/2025-12-12.md")


def _huge_file(site: Path, tmp: Path) -> None:
    # 50 MB of valid UTF-8 front matter: it must be refused by size, not read into memory.
    with (site / REV).open("w", encoding="utf-8") as f:
        f.write("+++\n")
        block = "# " + "あ" * 1000 + "\n"
        for _ in range(50 * 1024 * 1024 // len(block.encode())):
            f.write(block)
        f.write("+++\n")


def _symlink_out(site: Path, tmp: Path) -> None:
    # Outside content/: a valid version and a whole municipality, plus a private file.
    outside = tmp / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text((BASE / REV).read_text(encoding="utf-8").replace(
        "令和7年12月12日", "令和8年1月1日"), encoding="utf-8")
    shutil.copytree(BASE / "content/midori", outside / "muni")
    (site / "content/midori/juki/2026-01-01.md").symlink_to(outside / "secret.md")
    (site / "content/evil").symlink_to(outside / "muni", target_is_directory=True)
    (site / "content/midori/juki/2025-12-12.changes.toml").symlink_to("/etc/passwd")


MAKE: dict[str, Callable[[Path, Path], None]] = {
    "huge-file": _huge_file,
    "symlink-out": _symlink_out,
}


def _cases() -> list[str]:
    return sorted(p.name for p in CASES.iterdir() if p.is_dir() and not p.name.startswith("_"))


def _snapshot(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_every_case_has_expected_lines() -> None:
    cases = _cases()
    assert len(cases) >= 10
    for c in cases:
        assert (CASES / c / "expected.txt").read_text(encoding="utf-8").strip(), c


def test_base_site_is_valid() -> None:
    proc = subprocess.run([sys.executable, "-m", "piasite", "check", "--site", str(BASE)],
                          capture_output=True, text=True, encoding="utf-8", cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "error[" not in proc.stderr


@pytest.mark.parametrize("case", _cases())
def test_broken_site_is_reported_and_output_untouched(case: str, tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(BASE, site)
    shutil.copytree(CASES / case, site, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("expected.txt"))
    if case in MAKE:
        MAKE[case](site, tmp_path)
    out = tmp_path / "output"
    (out / "midori").mkdir(parents=True)
    (out / "index.html").write_text("<!doctype html><title>前回のビルド</title>", encoding="utf-8")
    (out / "midori" / "index.html").write_bytes(b"previous build\n")
    before = _snapshot(out)

    proc = subprocess.run(
        [sys.executable, "-m", "piasite", "build", "--site", str(site), "--out", str(out),
         "--now", "2026-01-15"],
        capture_output=True, text=True, encoding="utf-8", errors="replace", cwd=REPO_ROOT,
        env={**os.environ, "PIASITE_DEBUG": ""}, timeout=120)

    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "内部エラー" not in proc.stderr, proc.stderr
    got = proc.stderr.splitlines()
    expected = (CASES / case / "expected.txt").read_text(encoding="utf-8").splitlines()
    missing = [line for line in expected if line not in got]
    assert not missing, f"missing lines:\n{chr(10).join(missing)}\n--- stderr ---\n{proc.stderr}"
    assert _snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["site", "output", *(["outside"] if case == "symlink-out" else [])]), "stray files beside output/"


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "piasite", *args], capture_output=True,
                          text=True, encoding="utf-8", errors="replace", cwd=REPO_ROOT,
                          env={**os.environ, "PIASITE_DEBUG": ""}, timeout=120)


def test_a_cache_folder_that_cannot_be_written(tmp_path: Path) -> None:
    """A check writes nothing but caches that spare work: where .piasite-cache cannot be
    written (here a file stands in its place; a read-only checkout is the same) it checks
    everything and reports as always. A build says what it could not write."""
    plain = shutil.ignore_patterns(".piasite-cache", "output")
    fine = shutil.copytree(BASE, tmp_path / "fine", ignore=plain)
    site = shutil.copytree(BASE, tmp_path / "site", ignore=plain)
    (site / ".piasite-cache").write_bytes(b"")
    expected = _cli("check", "--site", str(fine))
    for _ in range(2):
        proc = _cli("check", "--site", str(site))
        assert proc.returncode == expected.returncode == 0, proc.stderr
        assert (proc.stdout, proc.stderr) == (expected.stdout, expected.stderr)
    built = _cli("build", "--site", str(site), "--now", "2026-01-15")
    assert built.returncode == 1
    assert "Traceback" not in built.stderr and "内部エラー" not in built.stderr, built.stderr
    assert "ファイルを読み書きできませんでした" in built.stderr
    assert str(site / ".piasite-cache") in built.stderr
    assert not (site / "output").exists()
