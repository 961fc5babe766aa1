"""Preview server for staff: build in memory, watch, rebuild what changed, reload the browser.

Why not the `livereload` package: it polls every 800 ms (the 500 ms save-to-page target would
be out of reach) and injects an inline script, which the site's CSP forbids. This module is the
long-poll-free variant of MkDocs' design: a stdlib HTTP server, a watcher on the operating
system's change notifications (watchfiles: inotify, FSEvents, ReadDirectoryChangesW) with a
short debounce, and Server-Sent Events that tell open tabs to reload (an external script, no
inline code). Nothing stats the site's files in a loop: at 1,000 versions a 50 ms poll of every
file would cost more than the rebuild it waits for. The last good build is kept in memory;
nothing is written to output/, so a preview that shows unpublished drafts can never be
deployed by mistake.
"""

from __future__ import annotations

import html
import os
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath

import watchfiles

from . import diagnostics, pipeline, routes
from .diagnostics import Diagnostic
from .diff import DiffCache
from .render import Rendered

RELOAD_JS = b"""// piasite preview: reload this tab when the site is rebuilt.
(function () {
  var source = new EventSource("/__piasite/events");
  source.addEventListener("reload", function () { window.location.reload(); });
})();
"""
_SCRIPT_TAG = b'<script src="/__piasite/reload.js" defer></script>'

# Editor noise that must not trigger a rebuild (zola's src/fs_utils.rs keeps the same list).
_IGNORED_SUFFIXES = (".swp", ".swx", ".swo", "~", ".tmp", ".kate-swp", ".part", ".crdownload")
_IGNORED_PREFIXES = (".#", "#", "~$")
_IGNORED_NAMES = {"4913", ".DS_Store"}

_TYPES = {
    ".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8", ".json": "application/json",
    ".xml": "application/xml; charset=utf-8", ".svg": "image/svg+xml",
    ".ics": "text/calendar; charset=utf-8", ".csv": "text/csv; charset=utf-8",
    ".wasm": "application/wasm", ".png": "image/png", ".ico": "image/x-icon",
}


def _ignored(name: str) -> bool:
    return (name in _IGNORED_NAMES or name.endswith(_IGNORED_SUFFIXES)
            or name.startswith(_IGNORED_PREFIXES) or "__jb_tmp__" in name
            or "__jb_old__" in name)


_WATCHED_DIRS = ("content", "themes", "forms")


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """(mtime, size) of every watched file: content/, themes/, forms/ and site.toml. Taken
    once before the first build and once when the watch is in place, so a save in between
    is not lost."""
    state: dict[str, tuple[int, int]] = {}
    for top in _WATCHED_DIRS:
        base = root / top
        if not base.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for f in filenames:
                if _ignored(f):
                    continue
                p = os.path.join(dirpath, f)
                try:
                    st = os.stat(p)
                except OSError:
                    continue
                state[p] = (st.st_mtime_ns, st.st_size)
    cfg = root / "site.toml"
    if cfg.exists():
        st = cfg.stat()
        state[str(cfg)] = (st.st_mtime_ns, st.st_size)
    return state


@dataclass
class Preview:
    """The state the server shows: the last good build, or the diagnostics of a failed one."""

    root: Path
    now: str | None = None
    rendered: Rendered | None = None
    errors: list[Diagnostic] = field(default_factory=list)
    generation: int = 0
    last_rendered: list[PurePosixPath] = field(default_factory=list)
    last_seconds: float = 0.0
    cond: threading.Condition = field(default_factory=threading.Condition)
    cache: DiffCache | None = None

    def rebuild(self) -> None:
        """Reload the whole model, then re-render only the pages whose inputs changed."""
        t0 = time.perf_counter()
        if self.cache is None:
            self.cache = DiffCache(self.root / ".piasite-cache" / "diff.json")
        result = pipeline.load_checked(self.root)
        errors = [d for d in result.diagnostics if d.severity is diagnostics.Severity.ERROR]
        if errors or result.site is None:
            with self.cond:
                self.errors = errors or result.diagnostics
                self.last_rendered = []
                self.generation += 1
                self.cond.notify_all()
            return
        rendered = pipeline.render_site(self.root, result.site, self.now, self.cache,
                                        result.links, previous=self.rendered, preview=True)
        with self.cond:
            self.rendered, self.errors = rendered, []
            self.last_rendered = rendered.rendered
            self.last_seconds = time.perf_counter() - t0
            self.generation += 1
            self.cond.notify_all()

    def wait_for_change(self, seen: int, timeout: float) -> int:
        with self.cond:
            self.cond.wait_for(lambda: self.generation != seen, timeout=timeout)
            return self.generation


def error_page(preview: Preview) -> bytes:
    """A Japanese page listing every diagnostic with its file, line and source line."""
    items = []
    for d in preview.errors:
        line = ""
        try:
            text = (preview.root / d.span.path).read_text(encoding="utf-8", errors="replace")
            lines = text.split("\n")
            if 0 < d.span.line <= len(lines):
                line = lines[d.span.line - 1]
        except OSError:
            pass
        hint = f"<p>ヒント: {html.escape(d.hint)}</p>" if d.hint else ""
        src = (f'<pre><code><span class="lineno">{d.span.line}</span> {html.escape(line)}</code></pre>'
               if line else "")
        items.append(f"<li><p><code>{html.escape(str(d.span))}</code> "
                     f"<strong>{html.escape(d.severity.value)}[{html.escape(d.code)}]</strong>: "
                     f"{html.escape(d.message)}</p>{hint}{src}</li>")
    body = "\n".join(items)
    return f"""<!DOCTYPE html>
<html lang="ja">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>内容にエラーがあります｜piasite プレビュー</title>
<link rel="stylesheet" href="{routes.static("style.css")}">
{_SCRIPT_TAG.decode()}
</head>
<body>
<main id="main" class="wrap">
<h1>内容にエラーがあります</h1>
<p>次の{len(preview.errors)}件を直して保存すると、このページは自動で元の表示に戻ります。</p>
<ol class="error-list">
{body}
</ol>
</main>
</body>
</html>
""".encode()


class _Handler(BaseHTTPRequestHandler):
    preview: Preview
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def _send(self, status: int, body: bytes, ctype: str, extra: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        path = urllib.parse.urlsplit(self.path).path
        if path == "/__piasite/reload.js":
            return self._send(200, RELOAD_JS, _TYPES[".js"])
        if path == "/__piasite/events":
            return self._events()
        key = _resolve(path)
        if key is None:
            return self._send(400, "不正なパスです".encode(), "text/plain; charset=utf-8")
        pv = self.preview
        rendered = pv.rendered
        is_page = key.suffix in ("", ".html") or str(key).endswith("index.html")
        if pv.errors and (is_page or rendered is None):
            return self._send(500, error_page(pv), _TYPES[".html"])
        if rendered is None:
            return self._send(503, "準備中です".encode(), "text/plain; charset=utf-8")
        body = rendered.files.get(key)
        if body is None and key.suffix == "" and (key / "index.html") in rendered.files:
            return self._send(301, b"", "text/plain", {"Location": path.rstrip("/") + "/"})
        if body is None:
            return self._send(404, _inject(rendered.files.get(PurePosixPath("404.html"), b"")),
                              _TYPES[".html"])
        ctype = _TYPES.get(key.suffix, "application/octet-stream")
        if key.suffix == ".html":
            body = _inject(body)
        return self._send(200, body, ctype)

    def _events(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        seen = self.preview.generation
        try:
            self.wfile.write(b"retry: 500\n\n")
            self.wfile.flush()
            while True:
                gen = self.preview.wait_for_change(seen, timeout=15)
                if gen == seen:
                    self.wfile.write(b": keep-alive\n\n")
                else:
                    seen = gen
                    self.wfile.write(f"event: reload\ndata: {gen}\n\n".encode())
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            return


def _resolve(path: str) -> PurePosixPath | None:
    """URL path -> key in the built files; None for anything that tries to leave the site."""
    raw = urllib.parse.unquote(path)
    if "\0" in raw or "\\" in raw:
        return None
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if ".." in parts:
        return None
    key = PurePosixPath(*parts) if parts else PurePosixPath("index.html")
    if raw.endswith("/") and parts:
        key = key / "index.html"
    return key


def _inject(body: bytes) -> bytes:
    return body.replace(b"</head>", _SCRIPT_TAG + b"\n</head>", 1)


def _watched(root: Path) -> tuple[tuple[str, ...], tuple[int, int, int] | None]:
    """The folders to watch that exist, and site.toml's (inode, mtime, size) if it exists."""
    dirs = tuple(str(root / d) for d in _WATCHED_DIRS if (root / d).is_dir())
    try:
        st = (root / "site.toml").stat()
    except OSError:
        return dirs, None
    return dirs, (st.st_ino, st.st_mtime_ns, st.st_size)


class Watcher(threading.Thread):
    """Rebuild when the operating system reports a change under content/, themes/, forms/ or
    to site.toml, once the files have been quiet for `debounce` seconds."""

    WAKE_MS = 500
    """How often the watch wakes without a change: to see a watched folder appear or site.toml
    be replaced (an editor that saves by renaming a new file over the old one)."""
    GROUP_MS = 1_600
    """Changes that keep coming are still rebuilt after this long."""

    def __init__(self, preview: Preview, state: dict[str, tuple[int, int]] | None = None,
                 debounce: float = 0.05):
        super().__init__(daemon=True, name="piasite-watcher")
        self.preview, self.debounce = preview, debounce
        self.state = state
        """The snapshot taken before the first build (None: nothing to compare)."""
        self.stop = threading.Event()
        self.watching = threading.Event()
        """Set once the operating system's watch is in place (a benchmark waits for it)."""

    def _wanted(self, _change: watchfiles.Change, path: str) -> bool:
        parts = os.path.relpath(path, self.preview.root).split(os.sep)
        return not _ignored(parts[-1]) and not any(p.startswith(".") for p in parts[:-1])

    def run(self) -> None:
        root = self.preview.root
        while not self.stop.is_set():
            dirs, config = _watched(root)
            paths = [*dirs, str(root / "site.toml")] if config else list(dirs)
            if not paths:  # nothing to watch yet: look again later
                self.stop.wait(self.WAKE_MS / 1000)
                continue
            for changes in watchfiles.watch(
                    *paths, watch_filter=self._wanted, step=round(self.debounce * 1000),
                    debounce=self.GROUP_MS, stop_event=self.stop, rust_timeout=self.WAKE_MS,
                    yield_on_timeout=True, raise_interrupt=False):
                now_dirs, now_config = _watched(root)
                changed = bool(changes) or now_config != config
                if not self.watching.is_set():
                    self.watching.set()
                    # A save between the snapshot before the first build and the watch.
                    changed = changed or (self.state is not None and snapshot(root) != self.state)
                    self.state = None
                if changed:
                    self._rebuild()
                if (now_dirs, now_config) != (dirs, config):
                    break  # a folder appeared or went, or site.toml was replaced: watch anew

    def _rebuild(self) -> None:
        try:
            self.preview.rebuild()
        except Exception as exc:  # a piasite bug: keep serving the last good build
            print(f"piasite の内部エラー: {type(exc).__name__}: {exc}", file=sys.stderr)


def make_server(root: Path, host: str = "127.0.0.1", port: int = 8000,
                now: str | None = None) -> tuple[ThreadingHTTPServer, Preview, Watcher]:
    preview = Preview(root=root, now=now)
    # Taken before the first build, so a save during that build still triggers a rebuild.
    state = snapshot(root)
    preview.rebuild()
    handler = type("Handler", (_Handler,), {"preview": preview})
    httpd = ThreadingHTTPServer((host, port), handler)
    httpd.daemon_threads = True
    watcher = Watcher(preview, state)
    return httpd, preview, watcher


def serve(root: Path, host: str, port: int, now: str | None) -> int:
    httpd, preview, watcher = make_server(root, host, port, now)
    for d in preview.errors:
        print(d.format(), file=sys.stderr)
    watcher.start()
    print(f"http://{host}:{httpd.server_address[1]}/ でプレビューしています。content/・themes/・site.toml "
          "の変更を監視し、保存すると自動で再表示します（Ctrl+C で終了）", file=sys.stderr)
    try:
        httpd.serve_forever()
    finally:
        watcher.stop.set()
        httpd.server_close()
    return 0
