"""A site's own theme replaces single files of the default theme (which ships inside piasite);
`{% extends "!base/…" %}` reaches the default's version; `piasite` says what a site replaces."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO_ROOT, copy_site

from piasite import pipeline
from piasite.render import default_theme_dir, find_theme

NOW = "2025-11-22"
DEFAULT = REPO_ROOT / "themes" / "default"
NOTICE = '<p class="civic-notice">この市の独自のお知らせです。</p>'


def _site(dest: Path) -> Path:
    """みどり市 as a site of its own: no themes/ folder, like one made by `piasite init`."""
    site = copy_site(dest)
    shutil.rmtree(site / "themes")
    return site


def _civic(site: Path) -> Path:
    """Theme "civic": a whole 404.html, a home.html built on the default's, its own style.css."""
    (site / "site.toml").write_text((site / "site.toml").read_text(encoding="utf-8")
                                    .replace('theme = "default"', 'theme = "civic"'),
                                    encoding="utf-8")
    tpl = site / "themes/civic/templates"
    tpl.mkdir(parents=True)
    (tpl / "404.html").write_text('{% extends "base.html" %}\n{% block main %}\n'
                                  "<h1>ページがありません（市の案内）</h1>\n{% endblock %}\n",
                                  encoding="utf-8")
    (tpl / "home.html").write_text('{% extends "!base/home.html" %}\n{% block main %}\n'
                                   '{% include "_notice.html" %}\n{{ super() }}\n{% endblock %}\n',
                                   encoding="utf-8")
    (tpl / "_notice.html").write_text(NOTICE + "\n", encoding="utf-8")
    static = site / "themes/civic/static"
    static.mkdir()
    (static / "style.css").write_text("body { color: #000; }\n", encoding="utf-8")
    return site


def _build(site: Path, out: Path) -> Path:
    result = pipeline.build(site, out, now=NOW)
    assert result.wrote, [d.format() for d in result.diagnostics]
    return out


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    tmp = tmp_path_factory.mktemp("theme")
    plain = _build(_site(tmp / "plain"), tmp / "plain-out")
    civic = _civic(_site(tmp / "civic"))
    return plain, _build(civic, tmp / "civic-out"), civic


def test_a_site_template_replaces_the_default_one(builds) -> None:
    plain, civic, _ = builds
    page = (civic / "404.html").read_text(encoding="utf-8")
    assert "<h1>ページがありません（市の案内）</h1>" in page
    assert "<h1>ページが見つかりません</h1>" in (plain / "404.html").read_text(encoding="utf-8")
    assert "お探しのページは" not in page
    assert 'href="/static/style.css"' in page  # base.html still comes from the default theme


def test_extends_base_reaches_the_default_template(builds) -> None:
    _, civic, _ = builds
    home = (civic / "index.html").read_text(encoding="utf-8")
    assert NOTICE in home
    assert '<a href="/midori/">群馬県みどり市</a>' in home  # the default home.html's list


def test_everything_the_site_does_not_replace_comes_from_the_default_theme(builds) -> None:
    plain, civic, site = builds
    for page in ("midori/juki/2025-12-12/index.html", "midori/juki/changes/index.html",
                 "systems/index.html", "accessibility/index.html"):
        assert (civic / page).read_bytes() == (plain / page).read_bytes(), page
    assert (civic / "static/style.css").read_bytes() == \
        (site / "themes/civic/static/style.css").read_bytes()
    assert (civic / "static/search.js").read_bytes() == (DEFAULT / "static/search.js").read_bytes()


def _piasite(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "piasite", *args], capture_output=True, text=True,
                          encoding="utf-8")


def test_check_names_the_files_the_site_replaces_and_adds(builds) -> None:
    *_, site = builds
    proc = _piasite("check", "--site", str(site))
    assert proc.returncode == 0, proc.stderr
    [line] = [ln for ln in proc.stderr.splitlines() if ln.startswith("テーマ:")]
    assert line == ("テーマ: themes/civic/ が既定のテーマの 3 ファイルを置き換えています: "
                    "static/style.css、templates/404.html、templates/home.html。"
                    "既定のテーマにない 1 ファイルを加えています: templates/_notice.html")
    overrides = {(f.path, f.replaces) for f in find_theme(site, "civic").overrides}
    assert overrides == {("templates/404.html", True), ("templates/home.html", True),
                         ("static/style.css", True), ("templates/_notice.html", False)}


def test_a_copy_identical_to_the_default_replaces_nothing(tmp_path: Path) -> None:
    site = copy_site(tmp_path / "site")  # themes/default/ copied byte for byte
    assert find_theme(site, "default").overrides == ()
    (site / "themes/default/static/style.css").write_text("body{}\n", encoding="utf-8")
    assert [(f.folder, f.path) for f in find_theme(site, "default").overrides] == \
        [("themes/default", "static/style.css")]


def test_the_theme_is_known_by_its_files_not_by_where_they_are(tmp_path: Path,
                                                               monkeypatch) -> None:
    """The build cache is keyed by the theme's digest: the same files in another folder
    (piasite installed elsewhere, a site's theme copied) are the same theme; a changed file
    is not."""
    from piasite import render

    digests = []
    for where in ("a", "b"):
        shutil.copytree(DEFAULT, tmp_path / where / "default")
        site = _site(tmp_path / where / "site")
        monkeypatch.setattr(render, "default_theme_dir", lambda w=where: tmp_path / w / "default")
        digests.append(find_theme(site, "default").digest)
        _civic(site)
        digests.append(find_theme(site, "civic").digest)
    assert digests[0] == digests[2] and digests[1] == digests[3]
    assert digests[0] != digests[1]
    (tmp_path / "b" / "default" / "static" / "style.css").write_text("body{}\n", encoding="utf-8")
    assert find_theme(_site(tmp_path / "c"), "default").digest != digests[0]


def test_a_missing_theme_folder_is_named(tmp_path: Path) -> None:
    site = _site(tmp_path / "site")
    toml = site / "site.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace('theme = "default"', 'theme = "kumo"'),
                    encoding="utf-8")
    proc = _piasite("check", "--site", str(site))
    assert "themes/kumo/ がないため、既定のテーマで作ります" in proc.stderr


def test_the_bundled_site_uses_the_default_theme_once() -> None:
    theme = find_theme(REPO_ROOT, "default")
    assert [t.resolve() for t in theme.templates] == [(DEFAULT / "templates").resolve()]
    assert default_theme_dir().resolve() == DEFAULT.resolve()
    assert theme.overrides == ()
    proc = _piasite("check", "--site", str(REPO_ROOT))
    assert proc.returncode == 0 and "テーマ:" not in proc.stderr


def test_a_templates_dot_reads_a_dict_as_jinja_does() -> None:
    """piasite's environment reads `x.name` of a dict as its key without Jinja's failed
    attribute lookup first; what a template gets is Jinja's answer in every case: the key,
    the dict's own method for a method's name, an undefined value (an error) for a missing
    key, and an object's attribute before its item."""
    import jinja2

    from piasite.render import _Environment

    class Both(dict):
        title = "attribute"

    source = ("{{ d.title }}|{{ d.items is callable }}|{{ d['items'] }}|{{ d.n + 1 }}|"
              "{{ b.title }}|{{ b.other }}|{{ o.real }}")
    values = dict(d={"title": "件名", "items": "key", "n": 1},
                  b=Both(title="item", other="only an item"), o=3)
    got = [env(undefined=jinja2.StrictUndefined).from_string(source).render(**values)
           for env in (jinja2.Environment, _Environment)]
    assert got[0] == got[1] == "件名|True|key|2|attribute|only an item|3"
    for env in (jinja2.Environment, _Environment):
        with pytest.raises(jinja2.UndefinedError, match="no attribute 'missing'"):
            env(undefined=jinja2.StrictUndefined).from_string("{{ d.missing }}").render(d={})


def test_what_a_template_writes_is_escaped_as_jinja_escapes_it() -> None:
    """piasite's templates escape `{{ x }}` without making a Markup of each piece: the page
    is the same text for text, markup, numbers, None and an object with __html__, in a page,
    a macro, a block set and an include."""
    import jinja2
    from markupsafe import Markup

    from piasite import render

    class Html:
        def __html__(self) -> str:
            return "<b>safe</b>"

    values = dict(t='<a href="x">&\'"', m=Markup("<i>ok</i>"), n=3, z=None, h=Html(),
                  j="住民基本台帳ファイル")
    page = ("{{ t }}{{ m }}{{ n }}{{ z }}{{ h }}{{ j }}{{ t ~ m }}"
            "{% macro f(x) %}<p>{{ x }}</p>{% endmacro %}{{ f(t) }}"
            "{% set b %}{{ t }}{{ m }}{% endset %}{{ b }}{% include 'part' %}")
    loader = jinja2.DictLoader({"page": page, "part": "[{{ t }}]"})
    plain = jinja2.Environment(loader=loader, autoescape=True).get_template("page")
    ours = jinja2.Environment(loader=loader, autoescape=True)
    ours.template_class = render._Template
    template = ours.get_template("page")
    assert template.root_render_func.__globals__["escape"] is render._escaped
    assert template.render(**values) == plain.render(**values)
    assert "&lt;a href=&#34;x&#34;&gt;&amp;&#39;&#34;" in template.render(**values)
    built = render.environment(find_theme(REPO_ROOT, "default"))
    assert built.get_template("base.html").root_render_func.__globals__["escape"] is \
        render._escaped


def test_a_templates_calls_are_made_as_jinja_makes_them() -> None:
    """piasite's context calls a template's own macro at once, without Jinja's look for a
    `pass_context` mark; what a page gets is Jinja's page: macros in loops and blocks, with
    defaults, varargs and keywords, a `{% call %}` block, a recursive macro, a macro imported
    from another template, context and plain functions, and a callable that raises
    StopIteration (an undefined value)."""
    import jinja2

    from piasite import render

    @jinja2.pass_context
    def who(ctx):
        return ctx["name"]

    def stop():
        raise StopIteration

    pages = {
        "lib": "{% macro box(x) %}[{{ x }}]{% endmacro %}",
        "page": (
            "{% import 'lib' as lib %}"
            "{% macro f(x, y=2) %}{{ x }}-{{ y }}{{ varargs }}{{ kwargs }}{% endmacro %}"
            "{% macro tree(n) %}({{ n }}{% if n %}{{ tree(n - 1) }}{% endif %}){% endmacro %}"
            "{% macro wrap() %}<{{ caller() }}>{% endmacro %}"
            "{% for i in range(3) %}{{ f(i) }}{{ f(i, 5, 6, z=7) }}{{ lib.box(i) }}{% endfor %}"
            "{% block b %}{{ f('b') }}{{ who() }}{% endblock %}"
            "{{ tree(3) }}{% call wrap() %}inside {{ name }}{% endcall %}"
            "{{ stop() is undefined }}{{ '%s' | format(name) }}"),
    }
    got = []
    for context_class in (jinja2.runtime.Context, render._Context):
        env = jinja2.Environment(loader=jinja2.DictLoader(pages), autoescape=True)
        env.context_class = context_class
        env.globals.update(who=who, stop=stop)
        got.append(env.get_template("page").render(name="みどり"))
    assert got[0] == got[1]
    assert "1-5(6,){&#39;z&#39;: 7}[1]" in got[1] and "(3(2(1(0))))" in got[1] and "<inside みどり>" in got[1]
    assert render.environment(find_theme(REPO_ROOT, "default")).context_class is render._Context
