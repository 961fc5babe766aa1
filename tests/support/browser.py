"""Headless Chromium helpers for the accessibility tests.

Everything runs offline: the built site is served from 127.0.0.1, Chromium is the system
package (never `playwright install`), and axe-core comes from `node_modules/`.

Missing tools skip the tests on a developer machine but fail them when `CI` is set, so a
broken CI image can never turn the accessibility checks into a silent pass.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import shutil
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import quote, urlsplit

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = REPO_ROOT / "node_modules"
AXE_JS = NODE_MODULES / "axe-core" / "axe.min.js"

LOCAL_HOST = "127.0.0.1"

# The machine has no network except package registries: keep Chromium from calling home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

# Content types the site may publish. Text types carry an explicit charset so Japanese
# text never depends on sniffing.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".xml": "application/xml",
    ".svg": "image/svg+xml",
    ".ics": "text/calendar; charset=utf-8",
    ".wasm": "application/wasm",
    ".txt": "text/plain; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
}


# --------------------------------------------------------------------------- missing tools


def _missing(message: str) -> NoReturn:
    """Fail under CI (env `CI` non-empty), skip elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def chromium_path() -> str | None:
    """`$PIASITE_CHROMIUM`, else /usr/bin/chromium, else chromium/chromium-browser on PATH."""
    override = os.environ.get("PIASITE_CHROMIUM")
    if override:
        # An explicit setting that does not work is reported, not silently replaced.
        return shutil.which(override)
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def require_node_file(path: Path) -> Path:
    """A checker file installed by `npm ci` (package.json devDependencies)."""
    if not path.is_file():
        _missing(
            f"{path.relative_to(REPO_ROOT)} が見つかりません"
            "(リポジトリ直下で `npm ci` を実行してください)"
        )
    return path


def require_browser() -> str:
    """Path of a usable Chromium, plus Playwright and axe-core; skip/fail otherwise."""
    path = chromium_path()
    if path is None:
        override = os.environ.get("PIASITE_CHROMIUM")
        where = (
            f"PIASITE_CHROMIUM={override!r} は実行できません"
            if override
            else "/usr/bin/chromium も PATH 上の chromium / chromium-browser もありません"
        )
        _missing(
            f"Chromium が見つかりません({where})。"
            "Debian なら `apt-get install chromium`、または PIASITE_CHROMIUM に実行ファイルを指定"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("Python パッケージ playwright がありません(`pip install -e '.[test]'`)")
    require_node_file(AXE_JS)
    return path


def require_java() -> str:
    """Path of `java` (for the Nu HTML Checker); skip/fail otherwise."""
    java = shutil.which("java")
    if java is None:
        _missing(
            "Java が見つかりません(Nu HTML Checker に必要)。"
            "Debian なら `apt-get install default-jre-headless`"
        )
    return java


# --------------------------------------------------------------------------- HTTP server


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Static files only: no directory listings, no logging, explicit content types."""

    protocol_version = "HTTP/1.1"  # keep-alive: the browser reuses connections

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def guess_type(self, path: str | os.PathLike[str]) -> str:
        suffix = Path(os.fspath(path)).suffix.lower()
        return CONTENT_TYPES.get(suffix) or super().guess_type(path)

    def list_directory(self, path: str | os.PathLike[str]) -> None:
        # Like a real static host: a folder without index.html is a 404.
        self.send_error(404, "Not Found")
        return None


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The browser drops connections at will (navigation, cancelled fetches).
        pass


@contextlib.contextmanager
def serve_directory(path: str | os.PathLike[str]) -> Iterator[str]:
    """Serve `path` on 127.0.0.1 at a free port; yields the base URL (no trailing slash).

    `/dir/` maps to `/dir/index.html`; `/dir` redirects to `/dir/`.
    """
    root = Path(path).resolve()
    if not root.is_dir():
        raise FileNotFoundError(root)
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = _QuietServer((LOCAL_HOST, 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="piasite-test-http", daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host}:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def html_files(root: Path) -> list[Path]:
    """Every *.html under root, sorted by relative POSIX path."""
    return sorted(root.rglob("*.html"), key=lambda p: p.relative_to(root).as_posix())


def page_url(base_url: str, root: Path, file: Path) -> str:
    """URL of `file` under `base_url`; `x/index.html` becomes `x/` as a visitor sees it."""
    rel = file.relative_to(root).as_posix()
    if rel == "index.html":
        rel = ""
    elif rel.endswith("/index.html"):
        rel = rel[: -len("index.html")]
    return f"{base_url}/{quote(rel)}"


# --------------------------------------------------------------------------- browser + axe


def launch_browser(playwright: Any, **kwargs: Any) -> Any:
    """Headless system Chromium through Playwright (never downloads a browser)."""
    path = chromium_path()
    if path is None:
        raise RuntimeError("Chromium not found; call require_browser() first")
    return playwright.chromium.launch(
        executable_path=path, headless=True, args=list(CHROMIUM_ARGS), **kwargs
    )


@functools.cache
def _axe_source() -> str:
    return AXE_JS.read_text(encoding="utf-8")


_RUN_AXE = """
async (tags) => {
  const clip = (s, n) => (s.length > n ? s.slice(0, n) + '…' : s);
  const result = await axe.run(document, {
    runOnly: {type: 'tag', values: tags},
    resultTypes: ['violations'],
  });
  return result.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    helpUrl: v.helpUrl,
    nodes: v.nodes.map((n) => ({
      target: n.target.map((t) => (Array.isArray(t) ? t.join(' >>> ') : String(t))),
      html: clip(n.html.replace(/\\s+/g, ' '), 200),
    })),
  }));
}
"""


def prepare_axe(context: Any) -> None:
    """Optional speed-up: preload axe-core into every page of a Playwright context.

    Saves re-sending the 0.5 MB script per page; axe_violations() works without it.
    """
    context.add_init_script(path=str(AXE_JS))


def _load_failure(response: Any) -> dict | None:
    if response is not None and response.ok:
        return None
    status = "no response" if response is None else f"HTTP {response.status}"
    return {
        "id": "page-load",
        "impact": "critical",
        "help": f"page did not load ({status})",
        "helpUrl": "",
        "nodes": [],
    }


def axe_violations(page: Any, url: str | None, tags: list[str] | None = None) -> list[dict]:
    """Open `url` (None: use the page as it is), run axe-core, return WCAG 2.x A/AA violations.

    Each item: {id, impact, help, helpUrl, nodes: [{target: [...], html}]}. A page that does
    not load (HTTP >= 400) is reported as a pseudo-violation with id "page-load".
    """
    if url is not None:
        failure = _load_failure(page.goto(url, wait_until="load"))
        if failure:
            return [failure]
    # page.evaluate goes through DevTools, so a strict Content-Security-Policy on the
    # page cannot block the injection.
    if not page.evaluate("typeof window.axe === 'object' && typeof axe.run === 'function'"):
        page.evaluate(_axe_source())
    return page.evaluate(_RUN_AXE, tags or AXE_TAGS)


def is_local_url(url: str) -> bool:
    """True unless the URL would reach a host other than 127.0.0.1 over the network."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "ws", "wss"):
        return True  # data:, blob:, about:, … never reach the network
    return parts.hostname == LOCAL_HOST


@dataclass
class SiteAudit:
    """Result of visiting every page once: axe violations and load problems, by URL."""

    pages: list[str] = field(default_factory=list)
    violations: dict[str, list[dict]] = field(default_factory=dict)
    problems: dict[str, list[str]] = field(default_factory=dict)
    """Console errors, uncaught exceptions, failed/4xx/5xx requests, non-local requests."""


def audit_site(browser: Any, base_url: str, root: Path, settle_seconds: float = 3.0) -> SiteAudit:
    """Visit every *.html under `root` (sorted) in ONE page; run axe and watch the network.

    Requests to any host but 127.0.0.1 are recorded as problems and aborted, so nothing
    waits on the absent network. After `load`, requests still in flight (script fetches)
    get up to `settle_seconds` to finish before axe runs.
    """
    audit = SiteAudit()
    current = [""]
    pending: set[Any] = set()

    def report(text: str) -> None:
        audit.problems.setdefault(current[0], []).append(text)

    def on_request(request: Any) -> None:
        pending.add(request)
        if not is_local_url(request.url):
            report(f"external request: {request.method} {request.url}")

    def on_finished(request: Any) -> None:
        pending.discard(request)

    def on_failed(request: Any) -> None:
        pending.discard(request)
        # External requests are already reported (we blocked them). net::ERR_ABORTED is a
        # cancellation (navigating away, e.g. from a late favicon fetch, or after a 4xx/5xx
        # that on_response reports): not a problem of the page by itself.
        failure = request.failure or ""
        if is_local_url(request.url) and "ERR_ABORTED" not in failure:
            report(f"request failed: {request.url} ({failure})")

    def on_response(response: Any) -> None:
        if response.status >= 400:
            report(f"HTTP {response.status}: {response.url}")

    def on_console(message: Any) -> None:
        if message.type == "error":
            loc = message.location or {}
            if "ERR_BLOCKED_BY_CLIENT" in message.text and not is_local_url(loc.get("url", "")):
                return  # our own blocking of an external request, reported already
            where = f" ({loc.get('url')}:{loc.get('lineNumber')})" if loc.get("url") else ""
            report(f"console error: {message.text}{where}")

    context = browser.new_context(locale="ja-JP", timezone_id="Asia/Tokyo")
    try:
        context.route(
            lambda url: not is_local_url(url), lambda route: route.abort("blockedbyclient")
        )
        prepare_axe(context)
        context.on("request", on_request)
        context.on("requestfinished", on_finished)
        context.on("requestfailed", on_failed)
        context.on("response", on_response)
        page = context.new_page()
        page.on("console", on_console)
        page.on("pageerror", lambda error: report(f"uncaught exception: {error}"))
        for file in html_files(root):
            url = page_url(base_url, root, file)
            current[0] = url
            audit.pages.append(url)
            failure = _load_failure(page.goto(url, wait_until="load"))
            if failure:
                audit.violations[url] = [failure]
                continue
            deadline = time.monotonic() + settle_seconds
            while pending and time.monotonic() < deadline:
                page.wait_for_timeout(20)
            audit.violations[url] = axe_violations(page, None)
    finally:
        context.close()
    return audit


def format_problems(problems_by_page: Mapping[str, list[str]]) -> str:
    """Readable report of SiteAudit.problems."""
    pages = [(url, items) for url, items in problems_by_page.items() if items]
    lines = [f"{len(pages)} page(s) with console errors or bad requests:"]
    for url, items in pages:
        lines.append(url)
        lines.extend(f"  {item}" for item in items)
    return "\n".join(lines)


def format_violations(violations_by_page: Mapping[str, list[dict]], max_nodes: int = 3) -> str:
    """Readable report: per page URL, each rule id, impact, help and the first targets."""
    lines: list[str] = []
    total = 0
    for url, violations in violations_by_page.items():
        if not violations:
            continue
        lines.append(f"{url}")
        for v in violations:
            total += 1
            nodes = v.get("nodes", [])
            lines.append(f"  [{v.get('impact')}] {v['id']}: {v.get('help', '')} ({len(nodes)})")
            for node in nodes[:max_nodes]:
                target = ", ".join(node.get("target", []))
                lines.append(f"      {target}")
                if node.get("html"):
                    lines.append(f"        {node['html']}")
            if len(nodes) > max_nodes:
                lines.append(f"      … and {len(nodes) - max_nodes} more")
            if v.get("helpUrl"):
                lines.append(f"      {v['helpUrl']}")
    pages = sum(1 for vs in violations_by_page.values() if vs)
    return f"{total} axe violation(s) on {pages} page(s):\n" + "\n".join(lines)
