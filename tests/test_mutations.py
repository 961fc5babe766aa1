"""Any value of any key in the bundled content gives diagnostics, never a crash (hypothesis).

Each example takes a copy of bundled content, changes it the way a hurried editor might —
a value at any depth replaced by any TOML type (string, integer, float, bool, date and time,
array, table, array of tables), an unknown key added, a key (required or not) removed — and
runs the build: load, check, link, diff, render and the link check, in process. It must end
with the site built or with error diagnostics `path:line:col: error[CODE]: …` that point
into the files, never with an exception. A few examples run the command line instead, where
the contract is exit 0 or 1, no traceback and, on 1, output/ exactly as it was.

Most examples use みどり市 and the systems registry (fast); some use 旭川市's draft, which has a
パブリックコメント, [lost] values, documents and a reconstruction. New values are partly drawn
from `piasite.schema` itself, so a [comment] or [lost] table can appear anywhere and be
wrong one level down.

    PIASITE_FUZZ=deep .venv/bin/python -m pytest tests/test_mutations.py   # many more examples
"""

from __future__ import annotations

import datetime
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import tomli_w
from helpers import REPO_ROOT, copy_site
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from piasite import linkcheck, pipeline, schema
from piasite.diagnostics import Severity
from piasite.diff import DiffCache
from piasite.forms import shipped_forms
from piasite.link import link

LINE = re.compile(r"^[^\s:][^:]*:\d+:\d+: (error|warning|note)\[[EWI]\d{3}\]: \S")

settings.register_profile("piasite-ci", max_examples=200, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                 HealthCheck.too_slow,
                                                 HealthCheck.data_too_large])
settings.register_profile("piasite-deep", parent=settings.get_profile("piasite-ci"),
                          max_examples=3000, derandomize=False)
PROFILE = settings.get_profile("piasite-deep" if os.environ.get("PIASITE_FUZZ") == "deep"
                               else "piasite-ci")
SCALE = PROFILE.max_examples / 200  # the other tests keep their share of the examples


def _share(n: int) -> settings:
    return settings(PROFILE, max_examples=max(1, round(n * SCALE)))


# --- the sites ----------------------------------------------------------------------------


class Site:
    """A copy of bundled content whose TOML documents can be rewritten and restored."""

    def __init__(self, root: Path):
        self.root = root
        self.docs: list[str] = []
        """Files with TOML in them (whole files, or front matter), relative to the root."""
        self.saved: dict[Path, bytes] = {}
        for p in sorted(root.rglob("*")):
            if p.suffix == ".toml" or (p.suffix == ".md" and p.read_bytes().startswith(b"+++\n")):
                self.docs.append(p.relative_to(root).as_posix())
        self.cache = DiffCache(None)
        self.baseline = None
        result = pipeline.load_checked(root)
        assert result.ok, [str(d) for d in result.diagnostics if d.severity is Severity.ERROR]
        self.baseline = self._render(result)[0]

    def read(self, rel: str) -> tuple[dict, str | None]:
        """(TOML data, Markdown body or None for a .toml file)."""
        text = (self.root / rel).read_text(encoding="utf-8")
        if rel.endswith(".toml"):
            return tomllib.loads(text), None
        _, front, body = text.split("+++\n", 2)
        return tomllib.loads(front), body

    def write(self, rel: str, data: dict, body: str | None) -> None:
        p = self.root / rel
        self.saved.setdefault(p, p.read_bytes())
        text = tomli_w.dumps(data)
        p.write_text(text if body is None else f"+++\n{text}+++\n{body}", encoding="utf-8")

    def restore(self) -> None:
        for p, data in self.saved.items():
            p.write_bytes(data)
        self.saved.clear()

    def _render(self, result: pipeline.BuildResult):
        public = result.site.public()
        links, _ = link(public)
        rendered = pipeline.render_site(self.root, public, "2026-01-15", self.cache, links,
                                        previous=self.baseline)
        return rendered, linkcheck.check_links(rendered.files, public)

    def build(self) -> list:
        """The build as `piasite build` runs it, without the search index and the write."""
        result = pipeline.load_checked(self.root)
        if not result.ok:
            return result.diagnostics
        _, dangling = self._render(result)
        return result.diagnostics + dangling


@pytest.fixture(scope="module")
def midori(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    site = Site(copy_site(tmp_path_factory.mktemp("midori") / "site", ("midori",)))
    yield site
    site.restore()


@pytest.fixture(scope="module")
def asahikawa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    site = Site(copy_site(tmp_path_factory.mktemp("asahikawa") / "site", ("asahikawa",)))
    yield site
    site.restore()


# --- values -------------------------------------------------------------------------------

ITEM_IDS = sorted({n.id for f in shipped_forms().values() for n in f.walk()})
NAMES = sorted({k for t in (schema.SITE, schema.MUNICIPALITY, schema.AFFAIR, schema.SYSTEM,
                            schema.DOCUMENT, schema.CHANGE_ROW, schema.VERSION, schema.COMMENT,
                            schema.CHANNEL, schema.RECONSTRUCTED, schema.OPINION)
                for k in t.keys}
               | {n.key.split(".")[-1] for f in shipped_forms().values() for n in f.walk() if n.key})
WORDS = ["", "published", "draft", "figure", "clipped", "email", "other", "kiso", "national",
         "令和7年2月30日", "平成32年4月1日", "令和0年1月1日", "2025-12-12", "9999-12-31",
         "0001-01-01", "1800-01-01", "juki-net", "I-1-2", "2023-08-18", "after", "十分である",
         "123456789018", "\u202e", "x" * 300, "<script>", "[a](#nope)", "## {#I-1-2}"]

text = st.one_of(st.sampled_from(WORDS),
                 st.text(st.characters(blacklist_categories=("Cs",)), max_size=20))
scalars = st.one_of(
    text,
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.datetimes(timezones=st.none() | st.just(datetime.UTC)),
    st.dates(),
    st.times(),
)
keys = st.one_of(st.sampled_from(NAMES), st.sampled_from(ITEM_IDS), text)
any_value = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(keys, inner, max_size=4),
        st.lists(st.dictionaries(keys, inner, min_size=1, max_size=3), min_size=1, max_size=3),
    ),
    max_leaves=10,
)


def shaped(t: schema.Type, depth: int = 0) -> st.SearchStrategy:
    """Values that (mostly) fit a schema type, each part possibly replaced by anything."""
    anything = any_value if depth < 3 else scalars
    if isinstance(t, schema.OneOf):
        fit = st.one_of(*(shaped(o, depth) for o in t.options))
    elif isinstance(t, schema.Str):
        fit = st.sampled_from(t.choices) if t.choices else text
    elif isinstance(t, schema.Date):
        fit = st.sampled_from(["令和7年7月1日", "2025-07-01", "令和7年8月1日", "2025-13-01", "令和7年",
                               "9999-12-31", "0001-01-01", "明治元年1月1日"])
    elif isinstance(t, schema.Int):
        fit = st.integers(-3, 200)
    elif isinstance(t, schema.Bool):
        fit = st.booleans()
    elif isinstance(t, schema.Array):
        fit = st.lists(shaped(t.of, depth + 1), max_size=3)
    elif isinstance(t, schema.Map):
        fit = st.dictionaries(st.sampled_from(ITEM_IDS) | text, shaped(t.of, depth + 1), max_size=3)
    elif isinstance(t, schema.Table):
        fit = st.fixed_dictionaries(
            {k: shaped(key.type, depth + 1) for k, key in t.keys.items() if key.required},
            optional={k: shaped(key.type, depth + 1) for k, key in t.keys.items()
                      if not key.required})
    else:
        fit = anything
    return st.one_of(fit, fit, fit, anything)


def like(value: object) -> st.SearchStrategy:
    """Another value of the same TOML type as `value` (the text a hurried editor might type)."""
    if isinstance(value, bool):
        return st.booleans()
    if isinstance(value, int):
        return st.integers(-(2**63), 2**63 - 1) | st.integers(-2, 200)
    if isinstance(value, str):
        return text | st.just(value + "\n\n## 見出し {#x}\n| a |\n|---|\n") | st.just(value * 50)
    if isinstance(value, list):
        return st.lists(st.one_of(*(like(v) for v in value[:3])) if value else text, max_size=5)
    if isinstance(value, dict):
        return st.fixed_dictionaries({}, optional={k: like(v) for k, v in value.items()})
    return any_value


new_meta = st.sampled_from(sorted(schema.VERSION.keys)).flatmap(
    lambda k: st.tuples(st.just(k), shaped(schema.VERSION.keys[k].type)))


# --- mutations ----------------------------------------------------------------------------


def paths(value: object, prefix: tuple = ()) -> Iterator[tuple]:
    """Every key path in a TOML value: table keys and array elements, at any depth."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield (*prefix, k)
            yield from paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield (*prefix, i)
            yield from paths(v, (*prefix, i))


def tables(value: object, prefix: tuple = ()) -> Iterator[tuple]:
    if isinstance(value, dict):
        yield prefix
        for k, v in value.items():
            yield from tables(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from tables(v, (*prefix, i))


def at(data: dict, path: tuple):
    for p in path:
        data = data[p]
    return data


@st.composite
def mutation(draw, site: Site) -> tuple[str, dict, str | None]:
    """One document of `site` with 1–3 changes: (path, its new TOML data, its body)."""
    # The registry's many small files count as one choice; a version's front matter as two.
    registry = [d for d in site.docs if d.startswith("content/systems/")]
    versions = [d for d in site.docs if d.endswith(".md") and "/_pages/" not in d]
    others = [d for d in site.docs if d not in registry]
    rel = draw(st.sampled_from([*others, *versions, "registry"]))
    if rel == "registry":
        rel = draw(st.sampled_from(registry))
    data, body = site.read(rel)
    for _ in range(draw(st.sampled_from([1, 1, 2, 3]))):
        op = draw(st.sampled_from(["set", "set", "like", "like", "like", "add", "add-meta",
                                   "remove"]))
        every = list(paths(data))
        if op in ("set", "like", "remove") and every:
            path = draw(st.sampled_from(every))
            parent = at(data, path[:-1])
            if op == "set":
                parent[path[-1]] = draw(any_value)
            elif op == "like":  # another value of the same type: it passes the schema more often
                parent[path[-1]] = draw(like(parent[path[-1]]))
            else:
                del parent[path[-1]]
        elif op == "add-meta" and body is not None:
            k, v = draw(new_meta)
            data[k] = v
        else:
            table = at(data, draw(st.sampled_from(list(tables(data)))))
            table[draw(keys)] = draw(any_value)
    return rel, data, body


def check_diagnostics(site: Site, diags: list) -> None:
    for d in diags:
        assert LINE.match(str(d)), str(d)
        path = site.root / d.span.path
        assert not d.span.path.is_absolute() and path.exists(), str(d)
        assert d.span.line >= 1 and d.span.col >= 1, str(d)
        if path.is_file():
            n_lines = path.read_bytes().count(b"\n") + 1
            assert d.span.line <= n_lines, (str(d), n_lines)


def run_build(site: Site, rel: str, data: dict, body: str | None) -> None:
    site.write(rel, data, body)
    try:
        diags = site.build()
        check_diagnostics(site, diags)
    finally:
        site.restore()
    errors = sorted({d.code for d in diags if d.severity is Severity.ERROR})
    event("built" if not errors else "stopped by " + " ".join(errors[:3]))


# --- properties ---------------------------------------------------------------------------


@_share(200)
@given(data=st.data())
def test_any_change_to_midori_builds_or_is_diagnosed(midori: Site, data) -> None:
    run_build(midori, *data.draw(mutation(midori)))


@_share(12)
@given(data=st.data())
def test_any_change_to_a_draft_with_a_comment_period_builds_or_is_diagnosed(asahikawa: Site,
                                                                             data) -> None:
    run_build(asahikawa, *data.draw(mutation(asahikawa)))


def _snapshot(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def cli_build(site: Site, out: Path) -> tuple[int, str]:
    """`piasite build` over an output folder holding a previous build; (exit status, stderr)."""
    if out.exists():
        shutil.rmtree(out)
    (out / "midori").mkdir(parents=True)
    (out / "midori" / "index.html").write_bytes(b"previous build\n")
    before = _snapshot(out)
    proc = subprocess.run(
        [sys.executable, "-m", "piasite", "build", "--site", str(site.root), "--out", str(out),
         "--now", "2026-01-15"],
        capture_output=True, text=True, encoding="utf-8", errors="replace", cwd=REPO_ROOT,
        env={**os.environ, "PIASITE_DEBUG": ""}, timeout=300)
    assert proc.returncode in (0, 1), proc.stderr
    assert "Traceback" not in proc.stderr and "内部エラー" not in proc.stderr, proc.stderr
    for line in proc.stderr.splitlines():
        if "error[" in line or "warning[" in line:
            assert LINE.match(line), line
    if proc.returncode == 1:
        assert _snapshot(out) == before, "a failed build changed output/"
    else:
        assert (out / "index.html").is_file() and (out / "pagefind").is_dir()
    return proc.returncode, proc.stderr


@_share(3)
@given(data=st.data())
def test_command_line_exits_0_or_1_and_leaves_output_on_failure(midori: Site, data,
                                                               tmp_path_factory) -> None:
    rel, doc, body = data.draw(mutation(midori))
    midori.write(rel, doc, body)
    try:
        cli_build(midori, tmp_path_factory.mktemp("out") / "output")
    finally:
        midori.restore()


# --- the crashes this test found first, kept as plain cases -------------------------------

REV = "content/midori/juki/2025-12-12.md"


def _front(site: Site, rel: str, extra: str) -> None:
    p = site.root / rel
    site.saved.setdefault(p, p.read_bytes())
    text = p.read_text(encoding="utf-8")
    head, end = text.split("\n+++\n", 1)
    p.write_text(f"{head}\n{extra}\n+++\n{end}", encoding="utf-8")


def test_a_list_as_a_lost_reason_is_a_type_error_at_its_key(midori: Site, tmp_path) -> None:
    _front(midori, REV, '[lost]\n"I-1-2" = ["a"]')
    try:
        line = (midori.root / REV).read_text(encoding="utf-8").split("\n").index('"I-1-2" = ["a"]') + 1
        code, stderr = cli_build(midori, tmp_path / "output")
    finally:
        midori.restore()
    assert code == 1
    assert f"{REV}:{line}:1: error[E102]: 「lost.I-1-2」は文字列で書いてください（配列が書かれています）" in stderr


def test_a_table_as_a_channel_kind_is_a_type_error_at_its_key(asahikawa: Site) -> None:
    rel = "content/asahikawa/juki/2025-07-01/index.md"
    p = asahikawa.root / rel
    asahikawa.saved.setdefault(p, p.read_bytes())
    text = p.read_text(encoding="utf-8")
    p.write_text(text.replace('kind = "fax"', "kind = { x = 1 }", 1), encoding="utf-8")
    try:
        line = p.read_text(encoding="utf-8").split("\n").index("kind = { x = 1 }") + 1
        diags = asahikawa.build()
        check_diagnostics(asahikawa, diags)
    finally:
        asahikawa.restore()
    assert [str(d) for d in diags if d.severity is Severity.ERROR] == [
        f"{rel}:{line}:1: error[E102]: 「comment.channels」の2番目の「kind」は文字列で書いてください"
        "（表が書かれています）"]


def test_a_comment_period_ending_on_the_last_representable_day_is_a_date_error(asahikawa: Site):
    # Its calendar file's end (the day after) cannot be computed: this was an internal error.
    rel = "content/asahikawa/juki/2025-07-01/index.md"
    p = asahikawa.root / rel
    asahikawa.saved.setdefault(p, p.read_bytes())
    p.write_text(p.read_text(encoding="utf-8").replace('end = "令和７年８月１日"', 'end = "9999-12-31"'),
                 encoding="utf-8")
    try:
        line = p.read_text(encoding="utf-8").split("\n").index('end = "9999-12-31"') + 1
        diags = asahikawa.build()
        check_diagnostics(asahikawa, diags)
    finally:
        asahikawa.restore()
    assert [str(d) for d in diags if d.severity is Severity.ERROR] == [
        f"{rel}:{line}:1: error[E302]: 「comment.end」: 「9999-12-31」の年は範囲外です"]


def test_a_theme_name_too_long_for_the_file_system_builds_with_the_default_theme(tmp_path):
    # Found by the property test: a folder name the OS refuses (ENAMETOOLONG) crashed the build.
    site = copy_site(tmp_path / "site")
    cfg = site / "site.toml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace('theme = "default"',
                                                           f'theme = "{"default" * 60}"'),
                   encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "piasite", "build", "--site", str(site),
                           "--now", "2026-01-15"], capture_output=True, text=True,
                          encoding="utf-8")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and (site / "output/midori/juki/index.html").is_file()
