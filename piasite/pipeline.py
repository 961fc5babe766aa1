"""Run the stages in order: load → check → render → write. The only module importing all."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from . import diagnostics, linkcheck, privacy
from .check import check as check_site
from .diagnostics import Diagnostic
from .diff import DiffCache
from .diff import diff as diff_site
from .index import index_site
from .link import LinkIndex, link
from .load import load
from .model import Site
from .render import Rendered, find_theme, render
from .write import commit, discard, stage

STAGES = ("load", "check", "link", "diff", "render", "write")


@dataclass
class BuildResult:
    diagnostics: list[Diagnostic]
    site: Site | None = None
    files: dict[PurePosixPath, bytes] = field(default_factory=dict)
    wrote: bool = False
    diffs_computed: int = 0
    """Inline diffs computed in this build (the rest came from the cache)."""
    links: LinkIndex | None = None

    @property
    def ok(self) -> bool:
        return not diagnostics.has_errors(self.diagnostics)


def today_for(site: Site, now: str | None) -> datetime.date:
    """"Today" for the build: --now, else site.toml's now, else the real date."""
    fixed = now or site.config.now
    return datetime.date.fromisoformat(fixed) if fixed else datetime.date.today()


def check(root: Path) -> BuildResult:
    """Load, check and link: everything that can find a mistake in the content."""
    site, diags = load(root)
    diags += check_site(site) + privacy.scan(root)
    links, link_diags = link(site)
    diags += link_diags
    return BuildResult(diagnostics.sort(diags), site, links=links)


def build(root: Path, out: Path | None = None, now: str | None = None,
          strict: bool = False) -> BuildResult:
    """Build the site under `root` into `out` (default root/output); write nothing on errors."""
    return _build(root, out, now, strict)


def _build(root: Path, out: Path | None, now: str | None, strict: bool) -> BuildResult:
    result = check(root)
    proceed = result.ok and not (strict and result.diagnostics)
    if not proceed:
        return result
    site = result.site
    assert site is not None
    cache = DiffCache(root / ".piasite-cache" / "diff.json")
    public = site.public()
    links, _ = link(public)  # unpublished versions must not appear among a system's users
    rendered = render_site(root, public, now, cache, links)
    if dangling := linkcheck.check_links(rendered.files, public):  # E701 stops before any write
        result.diagnostics = diagnostics.sort(result.diagnostics + dangling)
        return result
    # stage → index → commit: the search index is built inside the fresh folder, so a failed
    # index leaves output/ as it was.
    target = out or root / "output"
    staged = stage(rendered.files, target)
    indexed = index_site(staged)
    if indexed.diagnostics:
        discard(staged)
        result.diagnostics = diagnostics.sort(result.diagnostics + indexed.diagnostics)
        return result
    commit(staged, target)
    result.files, result.wrote, result.diffs_computed = rendered.files, True, cache.computed
    return result


def render_site(root: Path, site: Site, now: str | None, cache: DiffCache, links: LinkIndex,
                previous: Rendered | None = None, preview: bool = False) -> Rendered:
    """The diff and render stages, shared by `build` and the preview server."""
    theme = find_theme(root, site.config.theme)
    diffs = diff_site(site, cache)
    cache.save()
    return render(site, theme, today_for(site, now), diffs, links, previous=previous,
                  preview=preview)
