"""Full-text search: index the staged site with Pagefind, writing `pagefind/` beside the pages.

Runs between `write.stage` and `write.commit`, so a failed index leaves output/ untouched.
Which pages and which parts are indexed is decided by the templates (`data-pagefind-body`
only on the current version and open drafts of each assessment; see docs/search.md).

Two pitfalls of the Python API (shared/research/anchors.md §2.5) shape this module:
`get_files()` can deadlock on a large index, so it is never called — the service writes the
files itself; and its answer "written" can come before the last file is whole, which has left
files empty (`pagefind-entry.json` on a cold first run) or short (a UI stylesheet on a busy CI
machine, when the wrapper stopped the service at once). So the service is given a moment,
the bundle is checked — every compressed file must decompress whole — and the run is
repeated once. Pagefind's own UI bundles are removed: the search page
uses only the JavaScript API (themes/default/static/search.js), without a worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import re
import shutil
import subprocess
import threading
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from . import routes
from .diagnostics import Diagnostic, Span, error

BUNDLE = routes.PAGEFIND
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


WARM_UP = ('<html lang="ja"><body><main data-pagefind-body><h1>特定個人情報保護評価書</h1>'
           "<p>住民基本台帳に関する事務の全項目評価書。システムの名称はガバメントクラウドと"
           "中間サーバー・プラットフォーム、委託先は株式会社であり、再委託はしない。"
           "ひらがな、カタカナ、漢字、ABC 123。</p></main></body></html>")
"""Pagefind loads its Japanese dictionary on the first real text it segments (about 2 s);
this throwaway page makes that happen while piasite is still checking and rendering."""


class Indexer:
    """A Pagefind service started early, on an event loop of its own thread.

    Its own loop, because the caller may already run one (Playwright's sync API in tests, an
    embedding app); started early, because the dictionary load then overlaps the render stage
    (the whole bundled site went from 7.5 s to 6.0 s). It indexes once: the service is stopped
    before `index` returns, so nothing is still being written when the bundle is checked.
    """

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="pagefind", daemon=True)
        self._thread.start()
        self._service = asyncio.run_coroutine_threadsafe(self._launch(), self._loop)
        self._stopped = False

    async def _launch(self):
        # Imported here so that `piasite check` and the preview never need the binary.
        from pagefind.index import IndexConfig
        from pagefind.service import PagefindService

        problem = await asyncio.to_thread(_binary_problem)
        if problem:
            raise RuntimeError(problem)
        service = await PagefindService().launch()
        warm = await service.create_index(IndexConfig(force_language="ja"))
        await warm.add_html_file(content=WARM_UP, url="/")
        return service

    async def _index(self, site_dir: Path, bundle: Path) -> tuple[int, str]:
        from pagefind.index import IndexConfig

        service = await asyncio.wrap_future(self._service)
        index = await service.create_index(IndexConfig(output_path=str(bundle), force_language="ja"))
        # add_directory then write_files, never get_files(): the service writes the bundle.
        res = await index.add_directory(str(site_dir))
        await index.write_files()
        # The answer to WriteFiles can come before the last file is whole: give the service
        # a moment to finish before it is stopped (the bundle is checked after in any case).
        for _ in range(40):
            problem = bundle_problem(bundle)
            if not problem:
                break
            await asyncio.sleep(0.05)
        await self._stop()
        return int(res.get("page_count", 0)), problem

    async def _stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        try:
            service = await asyncio.wrap_future(self._service)
        except Exception:  # never launched: nothing to stop
            return
        await service.close()

    def index(self, site_dir: Path, bundle: Path) -> tuple[int, str]:
        """Index the pages under `site_dir` into `bundle`: the number of pages read, and why
        the bundle is incomplete ("" when it is whole; see `bundle_problem`)."""
        future = asyncio.run_coroutine_threadsafe(self._index(site_dir, bundle), self._loop)
        return future.result(TIMEOUT_SECONDS)

    def close(self) -> None:
        """Stop the service and the loop; safe to call more than once."""
        if self._loop.is_closed() or not self._thread.is_alive():
            return
        # A service that will not stop must not keep the build waiting.
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self._loop.close()


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


def index_site(site_dir: Path, indexer: Indexer | None = None) -> IndexResult:
    """Index every page under `site_dir` into `site_dir/pagefind/`; problems become diagnostics.

    `indexer` is a service the caller started early; without one, one is started here. Each
    attempt's service is closed before its bundle is used (a timed-out service must not write
    into the retry), and a second attempt always uses a fresh service.
    """
    bundle = site_dir / BUNDLE
    pages = 0
    last = ""
    for attempt in range(2):
        service = indexer if indexer is not None and attempt == 0 else Indexer()
        shutil.rmtree(bundle, ignore_errors=True)
        try:
            pages, last = service.index(site_dir, bundle)
        except Exception as exc:  # binary missing or broken, service error, timeout
            last = str(exc) if isinstance(exc, RuntimeError) else f"{type(exc).__name__}: {exc}"
        finally:
            service.close()
        if not last:
            _prune(bundle)
            write_words(bundle)
            return IndexResult(pages, [])
    return IndexResult(pages, [error(
        "E901", f"検索用の索引（Pagefind）を作れませんでした（{last}）。", _SPAN,
        hint="pip install 'pagefind[extended]' で Pagefind を入れ直し、もう一度ビルドしてください。"
             "output/ は変更していません。")])
