"""Preview server for staff: build, watch, rebuild what changed, reload the tabs it changed.

Why not the `livereload` package: it polls every 800 ms (the 500 ms save-to-page target would
be out of reach) and injects an inline script, which the site's CSP forbids. This module is the
long-poll-free variant of MkDocs' design: a stdlib HTTP server, a watcher on the operating
system's change notifications (watchfiles: inotify, FSEvents, ReadDirectoryChangesW) with a
short debounce, and Server-Sent Events that tell open tabs to reload (an external script, no
inline code). Nothing stats the site's files in a loop: at 1,000 versions a 50 ms poll of every
file would cost more than the rebuild it waits for.

The preview is the same build as `piasite build`, with unpublished versions and without the
search index, into .piasite-cache/preview/site/ (never output/, so a preview that shows drafts
cannot be deployed by mistake): memory does not grow with the site, and a restart takes the
unchanged assessments from its cache. A save inside one assessment's folder is rebuilt in
place first (`pipeline.refresh`) and the tabs showing one of its changed pages reload at once;
the whole build that follows brings the site-wide pages up to date and reloads only the tabs
whose page it changed.
"""

from __future__ import annotations

import html
import os
import sys
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath

import watchfiles

from . import diagnostics, discover, pipeline, routes
from .diagnostics import Diagnostic

RELOAD_JS = b"""// piasite preview: reload this tab when a rebuild changes the page it shows.
(function () {
  var source = new EventSource("/__piasite/events?page=" + encodeURIComponent(location.pathname));
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


QUICK_MAX = 4
"""At most this many assessments changed by one save are rebuilt in place before the whole
build; more go straight to it."""
HISTORY = 64
"""Rebuilds remembered for the reload decision; a tab further behind simply reloads."""


@dataclass
class Preview:
    """What the server shows: the last good build (on disk, under .piasite-cache/preview/),
    or the diagnostics of a failed one."""

    root: Path
    now: str | None = None
    jobs: int | None = None
    errors: list[Diagnostic] = field(default_factory=list)
    generation: int = 0
    ready: bool = False
    """A good build is on disk."""
    last_changed: frozenset[str] = frozenset()
    """The files the last rebuild changed (paths under the site)."""
    last_seconds: float = 0.0
    quick: bool = False
    """The last rebuild was one assessment's, in place (`pipeline.refresh`)."""
    settled: int = 0
    """The generation of the last whole build (or of in-place errors, which end a rebuild)."""
    history: deque = field(default_factory=lambda: deque(maxlen=HISTORY))
    """(generation, files changed, or None for every page) of the latest rebuilds."""
    cond: threading.Condition = field(default_factory=threading.Condition)
    live: pipeline.Live | None = None
    progress: tuple[str, int, int] | None = None
    """How far the running whole build is (stage, done, total)."""
    _quick_errors: bool = False

    @property
    def out(self) -> Path:
        return pipeline.preview_folder(self.root) / "site"

    def rebuild(self, changed: Iterable[str] | None = None) -> None:
        """Rebuild after the files `changed` (None: anything). An edit inside one assessment's
        folder is rebuilt in place first and shown at once; the whole build that follows brings
        the site-wide pages (home, registry, comparisons) up to date."""
        t0 = time.perf_counter()
        folders = self._assessments(changed)
        # Many assessments at once (a git pull) build faster in the whole build's workers.
        if (folders and len(folders) <= QUICK_MAX and self.live is not None
                and (not self.errors or self._quick_errors)):
            quick = pipeline.refresh(self.live, folders)
            if quick is not None:
                errors = [d for d in quick[0] if d.severity is diagnostics.Severity.ERROR]
                self._publish(errors, quick[1], t0, quick=True)
                if errors:
                    return  # the whole build would only report them again
        result = pipeline.build(self.root, now=self.now, jobs=self.jobs, preview=True,
                                progress=self._progressed)
        self.progress = None
        if not result.ok:
            errors = [d for d in result.diagnostics if d.severity is diagnostics.Severity.ERROR]
            self.live = None
            self._publish(errors or result.diagnostics, frozenset(), t0)
            return
        self.live = result.live
        self._publish([], result.changed, t0)

    def _progressed(self, stage: str, done: int, total: int) -> None:
        self.progress = (stage, done, total)

    def _assessments(self, changed: Iterable[str] | None) -> list[Path] | None:
        """The assessment folders holding every changed file; None if one lies elsewhere."""
        if changed is None:
            return None
        content = self.root / "content"
        folders: set[Path] = set()
        for path in changed:
            parts = Path(os.path.relpath(path, self.root)).parts
            if len(parts) < 4 or parts[0] != "content" or parts[1] == discover.REGISTRY:
                return None
            folders.add(content / parts[1] / parts[2])
        return sorted(folders) or None

    def _publish(self, errors: list[Diagnostic], changed: frozenset[str], t0: float,
                 quick: bool = False) -> None:
        with self.cond:
            every = errors != self.errors or (not errors and not self.ready)
            self.errors = errors
            self._quick_errors = bool(errors) and quick
            self.ready = self.ready or not errors
            self.quick = quick
            self.last_changed = changed
            self.last_seconds = time.perf_counter() - t0
            self.generation += 1
            if not quick or errors:
                self.settled = self.generation
            self.history.append((self.generation, None if every else changed))
            self.cond.notify_all()

    def wait_for_change(self, seen: int, timeout: float) -> int:
        with self.cond:
            self.cond.wait_for(lambda: self.generation != seen, timeout=timeout)
            return self.generation

    def affects(self, key: PurePosixPath | None, seen: int) -> bool:
        """Whether the rebuilds since generation `seen` changed the page `key` (None: a page
        this server cannot name, which always reloads)."""
        with self.cond:
            missed = [(g, c) for g, c in self.history if g > seen]
            if not missed or missed[0][0] != seen + 1:
                return True  # fell out of the history
        name = key.as_posix() if key is not None else None
        return any(c is None or name is None or name in c for _, c in missed)

    def read(self, key: PurePosixPath) -> bytes | None:
        """A built file; None if the site has none. A whole build swaps the folder in at its
        end, so a read that falls in that instant is tried again."""
        path = self.out.joinpath(*key.parts)
        for _ in range(20):
            try:
                return path.read_bytes() if path.is_file() else None
            except OSError:
                pass
            if self.out.is_dir():
                return None
            time.sleep(0.01)
        return None


def waiting_page(preview: Preview) -> bytes:
    """What a tab shows until the first build is done: how far it is, looked at again every
    few seconds; the reload script brings the site (or its errors) when it is built."""
    stage = preview.progress
    labels = pipeline.PROGRESS_STAGES
    where = (f"<p>{labels[stage[0]]}: {stage[1]} / {stage[2]} 件</p>"
             if stage and stage[0] in labels else "")
    return f"""<!DOCTYPE html>
<html lang="ja">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="5">
<title>プレビューを準備しています｜piasite</title>
{_SCRIPT_TAG.decode()}
</head>
<body>
<main id="main">
<h1>プレビューを準備しています</h1>
<p>サイト全体をビルドしています。できあがると、このページは自動で表示が切り替わります。</p>
{where}
<p>評価書の多いサイトでは、初めての起動に数分かかります。2回目からは、変わっていない評価書を前回のビルドから使うので短くなります。</p>
</main>
</body>
</html>
""".encode()


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
        is_page = key.suffix in ("", ".html") or str(key).endswith("index.html")
        if pv.errors and (is_page or not pv.ready):
            return self._send(500, error_page(pv), _TYPES[".html"])
        if not pv.ready:
            return self._send(503, waiting_page(pv), _TYPES[".html"], {"Retry-After": "5"})
        body = pv.read(key)
        if body is None and key.suffix == "" and pv.read(key / "index.html") is not None:
            return self._send(301, b"", "text/plain", {"Location": path.rstrip("/") + "/"})
        if body is None:
            return self._send(404, _inject(pv.read(PurePosixPath("404.html")) or b""),
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
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        page = _resolve(query["page"][0]) if query.get("page") else None
        seen = self.preview.generation
        try:
            self.wfile.write(b"retry: 500\n\n")
            self.wfile.flush()
            while True:
                gen = self.preview.wait_for_change(seen, timeout=15)
                if gen == seen:
                    self.wfile.write(b": keep-alive\n\n")
                else:
                    if self.preview.affects(page, seen):
                        self.wfile.write(f"event: reload\ndata: {gen}\n\n".encode())
                    seen = gen
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
                 debounce: float = 0.05, on_first: Callable[[], None] | None = None):
        super().__init__(daemon=True, name="piasite-watcher")
        self.preview, self.debounce = preview, debounce
        self.state = state
        """The snapshot taken before the first build (None: nothing to compare)."""
        self.stop = threading.Event()
        self.watching = threading.Event()
        """Set once the operating system's watch is in place (a benchmark waits for it)."""
        self.on_first = on_first
        """Called after the first build, when this thread makes it (`make_server(build=False)`)."""

    def _wanted(self, _change: watchfiles.Change, path: str) -> bool:
        parts = os.path.relpath(path, self.preview.root).split(os.sep)
        return not _ignored(parts[-1]) and not any(p.startswith(".") for p in parts[:-1])

    def run(self) -> None:
        root = self.preview.root
        if self.preview.generation == 0:  # the server is already up, showing waiting_page
            self._rebuild(None)
            if self.on_first is not None:
                self.on_first()
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
                # Anything may have changed when site.toml was replaced, or when a save fell
                # between the snapshot before the first build and the watch; else the paths
                # tell the preview whether an assessment's rebuild in place will do.
                anything = now_config != config
                if not self.watching.is_set():
                    anything = anything or (self.state is not None and snapshot(root) != self.state)
                    self.state = None
                    self.watching.set()  # from here on, a save reports its own paths
                if anything:
                    self._rebuild(None)
                elif changes:
                    self._rebuild({p for _, p in changes})
                if (now_dirs, now_config) != (dirs, config):
                    break  # a folder appeared or went, or site.toml was replaced: watch anew

    def _rebuild(self, paths: set[str] | None) -> None:
        try:
            self.preview.rebuild(paths)
        except Exception as exc:  # a piasite bug: keep serving the last good build
            print(f"piasite の内部エラー: {type(exc).__name__}: {exc}", file=sys.stderr)


def make_server(root: Path, host: str = "127.0.0.1", port: int = 8000,
                now: str | None = None, jobs: int | None = None, build: bool = True
                ) -> tuple[ThreadingHTTPServer, Preview, Watcher]:
    """The server, its preview and its watcher. With `build`, the first build is made here;
    without, the watcher makes it when started, and pages wait for it (waiting_page)."""
    preview = Preview(root=root, now=now, jobs=jobs)
    # Taken before the first build, so a save during that build still triggers a rebuild.
    state = snapshot(root)
    if build:
        preview.rebuild()
    handler = type("Handler", (_Handler,), {"preview": preview})
    httpd = ThreadingHTTPServer((host, port), handler)
    httpd.daemon_threads = True
    watcher = Watcher(preview, state)
    return httpd, preview, watcher


def serve(root: Path, host: str, port: int, now: str | None) -> int:
    # The server answers at once: a large site's first build takes minutes, and a tab opened
    # meanwhile shows that it is being prepared, then the site.
    httpd, preview, watcher = make_server(root, host, port, now, build=False)
    url = f"http://{host}:{httpd.server_address[1]}/"

    def first_build_done() -> None:
        for d in preview.errors:
            print(d.format(), file=sys.stderr)
        print(f"{url} でプレビューしています。content/・themes/・site.toml の変更を監視し、"
              "保存すると自動で再表示します（Ctrl+C で終了）", file=sys.stderr)

    watcher.on_first = first_build_done
    print(f"{url} でプレビューを準備しています（初回のビルド中。開いておくと、できあがり次第表示します）",
          file=sys.stderr)
    watcher.start()
    try:
        httpd.serve_forever()
    finally:
        watcher.stop.set()
        httpd.server_close()
    return 0
