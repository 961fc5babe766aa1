"""Full-text search: index the staged site with Pagefind, writing `pagefind/` beside the pages.

Runs between `write.stage` and `write.commit`, so a failed index leaves output/ untouched.
Which pages and which parts are indexed is decided by the templates (`data-pagefind-body`
only on the current version and open drafts of each assessment; see docs/search.md).

Two pitfalls of the Python API (shared/research/anchors.md §2.5) shape this module:
`get_files()` can deadlock on a large index, so it is never called — the service writes the
files itself; and the service is stopped as soon as it answers "written", which has left
files empty (`pagefind-entry.json` on a cold first run) or short (a UI stylesheet on a busy CI
machine). So the bundle is checked after every run — every compressed file must decompress
whole — and the run is repeated once. Pagefind's own UI bundles are removed: the search page
uses only the JavaScript API (themes/default/static/search.js), without a worker.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import shutil
import subprocess
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .diagnostics import Diagnostic, Span, error

BUNDLE = "pagefind"
ENTRY = "pagefind-entry.json"
UNUSED = ("pagefind-ui.js", "pagefind-ui.css", "pagefind-modular-ui.js", "pagefind-modular-ui.css",
          "pagefind-component-ui.js", "pagefind-component-ui.css", "pagefind-highlight.js",
          "pagefind-worker.js")
"""Pagefind's ready-made interfaces and its worker: search.js uses none of them (noWorker)."""
WORDS = "piasite-words.json"
SIGNATURE = b"pagefind_dcd"
WORD_BREAK = re.compile(r"[\u200b\s]+")
JAPANESE_WORD = re.compile(r"[ぁ-ゖァ-ヺー\u3400-\u9fff々]+")
EXPORTS_AT_END = re.compile(r"export\s*\{[^{}]*\}\s*;?\s*$")
TIMEOUT_SECONDS = 180
"""Indexing the bundled site takes about 4 s; a service that stops answering is a failure."""
_SPAN = Span(PurePosixPath(BUNDLE))


@dataclass
class IndexResult:
    pages: int = 0
    """HTML files Pagefind read (pages without data-pagefind-body are read but not indexed)."""
    diagnostics: list[Diagnostic] = field(default_factory=list)


async def _run(site_dir: Path, bundle: Path) -> int:
    # Imported here so that `piasite check` and the preview never need the binary.
    from pagefind.index import IndexConfig, PagefindIndex

    config = IndexConfig(output_path=str(bundle), force_language="ja")
    async with PagefindIndex(config=config) as index:
        # add_directory, not get_files(): leaving the exit to call write_files() makes the
        # service write the bundle straight to disk.
        res = await index.add_directory(str(site_dir))
    return int(res.get("page_count", 0))


def _in_own_loop(site_dir: Path, bundle: Path) -> int:
    """Run the indexing in a fresh event loop on its own thread: the caller may already be
    inside a running loop (Playwright's sync API in tests, an embedding app)."""
    def work() -> int:
        return asyncio.run(asyncio.wait_for(_run(site_dir, bundle), TIMEOUT_SECONDS))

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(work).result()


def entry_ok(bundle: Path) -> bool:
    """True when the bundle's entry file is non-empty valid JSON naming at least one language."""
    try:
        data = json.loads((bundle / ENTRY).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and bool(data.get("languages"))


def bundle_problem(bundle: Path) -> str:
    """Why the bundle is incomplete, or "" when every file the search page loads is whole."""
    if not entry_ok(bundle):
        return f"{ENTRY} が空か、JSON として読めません"
    for name in ("pagefind.js", "wasm.unknown.pagefind"):
        path = bundle / name
        if not path.is_file() or path.stat().st_size == 0:
            return f"{name} がないか空です"
    # The module's last statement is its export list: a cut-off file lacks it.
    if not EXPORTS_AT_END.search((bundle / "pagefind.js").read_text(encoding="utf-8", errors="replace")):
        return "pagefind.js が途中で切れています"
    for path in sorted([*bundle.rglob("*.pf_*"), *bundle.glob("wasm.*.pagefind")]):
        try:
            gzip.decompress(path.read_bytes())
        except (OSError, EOFError, zlib.error):
            return f"{path.relative_to(bundle).as_posix()} が途中で切れています"
    return ""


def _prune(bundle: Path) -> None:
    for name in UNUSED:
        (bundle / name).unlink(missing_ok=True)


def write_words(bundle: Path) -> int:
    """Write the Japanese words as the index cut them, for the search page's last try.

    Pagefind cuts Japanese with a dictionary when indexing but with the browser's segmenter
    when searching, and the two disagree on compounds (its issue #1237: ガバメントクラウド is
    one query word but two index words). The fragments keep the index's cuts as zero-width
    spaces; the search page splits a query that found nothing into these words.
    """
    words: set[str] = set()
    for path in sorted((bundle / "fragment").glob("*.pf_fragment")):
        content = json.loads(gzip.decompress(path.read_bytes())[len(SIGNATURE):])["content"]
        words.update(w for w in WORD_BREAK.split(content) if JAPANESE_WORD.fullmatch(w))
    (bundle / WORDS).write_text(json.dumps(sorted(words), ensure_ascii=False, separators=(",", ":")),
                                encoding="utf-8")
    return len(words)


def _binary_problem() -> str:
    """Why the Pagefind binary cannot run, or "" when it answers `--version`.

    The Python wrapper waits forever on a service process that died at start (a broken or
    wrong PAGEFIND_BINARY_PATH), so the binary is tried once, with a time limit, first.
    """
    from pagefind.service import get_executable

    exe = get_executable()
    if exe is None:
        return "Pagefind の実行ファイルが見つかりません"
    try:
        proc = subprocess.run([str(exe), "--version"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{exe}: {type(exc).__name__}"
    if proc.returncode != 0 or b"pagefind" not in proc.stdout.lower():
        return f"{exe} --version が失敗しました（終了コード {proc.returncode}）"
    return ""


def index_site(site_dir: Path) -> IndexResult:
    """Index every page under `site_dir` into `site_dir/pagefind/`; problems become diagnostics."""
    bundle = site_dir / BUNDLE
    pages = 0
    last = _binary_problem()
    if last:
        return IndexResult(0, [error(
            "E901", f"検索用の索引（Pagefind）を作れませんでした（{last}）。", _SPAN,
            hint="pip install 'pagefind[extended]' で Pagefind を入れ直し、もう一度ビルドしてください。"
                 "output/ は変更していません。")])
    for _attempt in range(2):
        shutil.rmtree(bundle, ignore_errors=True)
        try:
            pages = _in_own_loop(site_dir, bundle)
        except Exception as exc:  # binary missing, service error, timeout
            last = f"{type(exc).__name__}: {exc}"
            continue
        last = bundle_problem(bundle)
        if not last:
            _prune(bundle)
            write_words(bundle)
            return IndexResult(pages, [])
    return IndexResult(pages, [error(
        "E901", f"検索用の索引（Pagefind）を作れませんでした（{last}）。", _SPAN,
        hint="pip install 'pagefind[extended]' で Pagefind を入れ直し、もう一度ビルドしてください。"
             "output/ は変更していません。")])
