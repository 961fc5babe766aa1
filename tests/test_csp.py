"""The CSP in netlify.toml holds for every built page, and content cannot inject script.

The policy is read from netlify.toml (not restated here), so tightening or loosening it
changes what the pages are checked against. A page may use only what the policy allows:
no inline <script> / <style> / style= / on*= (no 'unsafe-inline'), and every script, style,
image, font, frame, object and form target from an allowed origin.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from helpers import REPO_ROOT, copy_site

INLINE_KEYWORDS = {"'unsafe-inline'"}


def csp() -> dict[str, list[str]]:
    config = tomllib.loads((REPO_ROOT / "netlify.toml").read_text(encoding="utf-8"))
    (values,) = [h["values"] for h in config.get("headers", []) if h.get("for") == "/*"]
    policy = values["Content-Security-Policy"]
    out = {}
    for part in policy.split(";"):
        if part.strip():
            name, *sources = part.split()
            out[name.lower()] = sources
    return out


POLICY = csp()
BASE = tomllib.loads((REPO_ROOT / "site.toml").read_text(encoding="utf-8"))["base_url"].rstrip("/")


def sources_for(directive: str) -> list[str]:
    fallbacks = {"script-src-elem": ["script-src"], "style-src-elem": ["style-src"],
                 "style-src-attr": ["style-src"], "script-src-attr": ["script-src"],
                 "frame-src": ["child-src"], "worker-src": ["child-src", "script-src"]}
    for d in (directive, *fallbacks.get(directive, [])):
        if d in POLICY:
            return POLICY[d]
    if directive in ("base-uri", "form-action", "frame-ancestors"):
        return ["*"]  # these do not fall back to default-src
    return POLICY.get("default-src", ["*"])


def allows(directive: str, url: str, page: str) -> bool:
    sources = sources_for(directive)
    if "'none'" in sources:
        return False
    absolute = urljoin(BASE + page, url.strip())
    parts = urlsplit(absolute)
    for s in sources:
        if s == "*" and parts.scheme in ("http", "https"):
            return True
        if s == "'self'" and absolute.startswith(BASE + "/"):
            return True
        if s.endswith(":") and not s.startswith("'") and parts.scheme + ":" == s:
            return True
        if "://" in s and absolute.startswith(s.rstrip("/") + "/"):
            return True
    return False


def allows_inline(directive: str) -> bool:
    return any(s in INLINE_KEYWORDS or s.startswith(("'nonce-", "'sha")) for s in sources_for(directive))


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.script_text: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        a = {k.lower(): (v or "") for k, v in attrs}
        self.tags.append((tag, a))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.script_text.append(data)


def parse(path: Path) -> Page:
    p = Page()
    p.feed(path.read_text(encoding="utf-8"))
    p.close()
    return p


def violations(page_url: str, page: Page) -> list[str]:
    """What in one page the policy forbids."""
    bad = []
    if page.script_text and not allows_inline("script-src-elem"):
        bad.append(f"inline script: {page.script_text[0][:60]!r}")
    for tag, a in page.tags:
        for name, value in a.items():
            if name.startswith("on") and not allows_inline("script-src-attr"):
                bad.append(f"<{tag} {name}=…> event handler")
            if name == "style" and not allows_inline("style-src-attr"):
                bad.append(f"<{tag} style=…>")
            if name in ("href", "src", "action", "formaction", "data", "poster") and \
                    value.strip().lower().startswith(("javascript:", "vbscript:")):
                bad.append(f"<{tag} {name}={value[:40]!r}>")
        src = a.get("src")
        checks = {
            "script": ("script-src-elem", src),
            "img": ("img-src", src), "source": ("img-src" if "srcset" in a else "media-src", src),
            "iframe": ("frame-src", src), "frame": ("frame-src", src),
            "object": ("object-src", a.get("data")), "embed": ("object-src", src),
            "form": ("form-action", a.get("action")), "base": ("base-uri", a.get("href")),
            "video": ("media-src", src), "audio": ("media-src", src),
        }
        if tag == "style" and not allows_inline("style-src-elem"):
            bad.append("<style> element")
        if tag in ("object", "embed") and "'none'" in sources_for("object-src"):
            bad.append(f"<{tag}>")
        if tag == "link":
            rel = a.get("rel", "").lower().split()
            href = a.get("href", "")
            if "stylesheet" in rel and not allows("style-src-elem", href, page_url):
                bad.append(f"stylesheet {href}")
            if {"icon", "apple-touch-icon"} & set(rel) and not allows("img-src", href, page_url):
                bad.append(f"icon {href}")
            if "preload" in rel or "modulepreload" in rel:
                kind = {"font": "font-src", "style": "style-src-elem", "image": "img-src"}.get(
                    a.get("as", ""), "script-src-elem")
                if not allows(kind, href, page_url):
                    bad.append(f"preload {href}")
        elif tag in checks:
            directive, url = checks[tag]
            if url is not None and url != "" and not allows(directive, url, page_url):
                bad.append(f"<{tag}> {url} not allowed by {directive}")
        if "srcset" in a:
            for cand in a["srcset"].split(","):
                if cand.strip() and not allows("img-src", cand.split()[0], page_url):
                    bad.append(f"srcset {cand}")
    return bad


def _page_url(out: Path, p: Path) -> str:
    rel = "/" + p.relative_to(out).as_posix()
    return rel[: -len("index.html")] if rel.endswith("/index.html") else rel


# --- the policy itself


def test_policy_forbids_inline_script_and_style_and_third_parties() -> None:
    for d in ("script-src", "style-src"):
        assert not ({"'unsafe-inline'", "'unsafe-eval'", "*"} & set(sources_for(d))), d
        assert not any("://" in s for s in sources_for(d)), d
    assert sources_for("object-src") == ["'none'"]
    assert "'none'" in POLICY.get("frame-ancestors", [])


# --- every built page


def test_every_page_needs_nothing_the_policy_forbids(built_site: Path) -> None:
    pages = sorted(p for p in built_site.rglob("*.html") if "pagefind" not in p.parts)
    assert len(pages) > 60
    problems = {}
    for p in pages:
        bad = violations(_page_url(built_site, p), parse(p))
        if bad:
            problems[_page_url(built_site, p)] = bad[:5]
    assert problems == {}


def test_stylesheets_and_scripts_load_only_allowed_resources(built_site: Path) -> None:
    used_scripts = set()
    for p in built_site.rglob("*.html"):
        for tag, a in parse(p).tags:
            if tag == "script" and a.get("src"):
                used_scripts.add(urljoin(_page_url(built_site, p), a["src"]))
    for css in built_site.rglob("*.css"):
        text = re.sub(r"/\*.*?\*/", "", css.read_text(encoding="utf-8"), flags=re.S)
        page = "/" + css.relative_to(built_site).as_posix()
        fonts = " ".join(re.findall(r"@font-face\s*{[^}]*}", text))
        for m in re.finditer(r"url\(\s*['\"]?([^'\")]+)", text):
            directive = "font-src" if m.group(0) in fonts else "img-src"
            assert allows(directive, m.group(1), page), f"{css}: {m.group(1)[:60]}"
        for m in re.finditer(r"@import\s+(?:url\()?['\"]?([^'\");]+)", text):
            assert allows("style-src-elem", m.group(1), page), f"{css}: @import {m.group(1)}"
    for url in sorted(used_scripts):
        path = built_site / url.lstrip("/")
        assert path.is_file(), f"script {url} is not in the output"
        text = path.read_text(encoding="utf-8")
        for m in re.finditer(r"""(?:\bimport\s*\(|\bfrom)\s*['"]([^'"]+)['"]""", text):
            assert allows("script-src-elem", m.group(1), url), f"{url} imports {m.group(1)}"
        if "pagefind" in text:  # Pagefind compiles WebAssembly: CSP must allow exactly that
            assert "'wasm-unsafe-eval'" in sources_for("script-src"), \
                f"{url} uses Pagefind (WebAssembly) but script-src lacks 'wasm-unsafe-eval'"


# --- content cannot inject script into any page

INJECT = [
    '<script>alert("XSS-1")</script>',
    '<iframe src="https://evil.example/XSS-2"></iframe>',
    '<img src=x onerror="alert(\'XSS-3\')">',
    "[XSS-4](javascript:alert(4))",
    '<a href="javascript:alert(5)">XSS-5</a>',
    '<p onmouseover="alert(6)" style="color:red">XSS-6</p>',
    "<style>body{display:none}</style>XSS-7",
]


def _toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def test_markup_in_body_and_changes_reaches_no_page(tmp_path: Path) -> None:
    site = copy_site(tmp_path / "site")
    rev = site / "content/midori/juki/2025-12-12.md"
    text = rev.read_text(encoding="utf-8")
    anchor = "## ②事務の概要 {#I-1-2}\n\n"
    assert anchor in text
    rev.write_text(text.replace(anchor, anchor + "\n\n".join(INJECT) + "\n\n"), encoding="utf-8")
    changes = site / "content/midori/juki/2025-12-12.changes.toml"
    rows = "".join(
        f"\n[[changes]]\ndate = \"令和7年12月1日\"\nitem = {_toml_str('項目' + s)}\n"
        f"before = {_toml_str('前' + s)}\nafter = {_toml_str('後' + s)}\n"
        f"timing = {_toml_str(s)}\nreason = {_toml_str(s)}\nfield = \"I-1-2\"\n" for s in INJECT)
    changes.write_text(changes.read_text(encoding="utf-8") + rows, encoding="utf-8")
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "piasite", "build", "--site", str(site), "--out", str(out),
         "--now", "2026-01-15"], capture_output=True, text=True, encoding="utf-8", cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]

    seen_marks = set()
    for p in out.rglob("*.html"):
        if "pagefind" in p.parts:
            continue
        page = parse(p)
        assert violations(_page_url(out, p), page) == [], p
        for tag, a in page.tags:
            assert tag not in ("iframe", "style"), (p, tag, a)
            if tag == "script":
                assert a.get("src", "").startswith("/"), (p, a)
            if tag == "img":
                assert a.get("src") != "x", (p, a)
        raw = p.read_text(encoding="utf-8")
        assert "evil.example" not in "".join(a.get("src", "") for _, a in page.tags)
        seen_marks |= set(re.findall(r"XSS-\d", unescape(raw)))
    for xml in out.rglob("*.xml"):
        assert "<script" not in xml.read_text(encoding="utf-8").lower()
    # the text itself is published, as text: nothing was silently dropped
    assert seen_marks == {f"XSS-{i}" for i in range(1, 8)}


@pytest.mark.parametrize("snippet", INJECT)
def test_snippet_is_rendered_as_text(snippet: str) -> None:
    from piasite.markdown import render

    page = Page()
    page.feed(render(snippet))
    assert not [t for t, a in page.tags if t in ("script", "iframe", "style", "img")]
    assert violations("/", page) == []
