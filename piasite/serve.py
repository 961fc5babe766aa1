"""Preview server: build once, then serve the output folder on localhost.

Live reload and incremental rebuilds arrive with the staff-preview work; this serves the
built site only, never a file outside the output folder (http.server's translate_path
drops `..` segments).
"""

from __future__ import annotations

import functools
import sys
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from . import pipeline


class _Handler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass

    def send_error(self, code, message=None, explain=None):
        page = Path(self.directory) / "404.html"
        if code == 404 and page.is_file():
            body = page.read_bytes()
            self.send_response(404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            return
        super().send_error(code, message, explain)


def serve(root: Path, host: str, port: int, now: str | None) -> int:
    out = root / "output"
    result = pipeline.build(root, out, now)
    for d in result.diagnostics:
        print(d.format(), file=sys.stderr)
    if not result.wrote:
        print("ビルドに失敗しました。内容を直してから再度実行してください。", file=sys.stderr)
        return 1
    handler = functools.partial(_Handler, directory=str(out.resolve()))
    with ThreadingHTTPServer((host, port), handler) as httpd:
        print(f"http://{host}:{httpd.server_address[1]}/ でプレビューしています（Ctrl+C で終了）",
              file=sys.stderr)
        httpd.serve_forever()
    return 0
