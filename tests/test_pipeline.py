"""The pipeline runs its stages one way, in the order DESIGN.md gives."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from piasite import pipeline

PKG = Path(pipeline.__file__).parent


def _order(fn, *calls: str) -> list[int]:
    src = inspect.getsource(fn)
    return [src.index(c) for c in calls]


def test_stage_order_is_load_check_link_diff_render_write():
    assert pipeline.STAGES == ("load", "check", "link", "diff", "render", "write")
    assert _order(pipeline.check, "load(root)", "check_site(site)", "link(site)") == sorted(
        _order(pipeline.check, "load(root)", "check_site(site)", "link(site)"))
    build = _order(pipeline._build, "check(root)", "render_site(", "stage(rendered",
                   "index_site(staged", "commit(staged")
    assert build == sorted(build)
    stages = _order(pipeline.render_site, "diff_site(site", "render(site")
    assert stages == sorted(stages)


def _imports(module: str) -> set[str]:
    tree = ast.parse((PKG / f"{module}.py").read_text(encoding="utf-8"))
    return {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}


def test_no_stage_reaches_back():
    # load never renders, render never loads, only write/serve touch output/.
    assert not _imports("load") & {"render", "write", "check", "views"}
    assert not _imports("render") & {"load", "write", "check"}
    assert not _imports("check") & {"load", "render", "write"}
    assert not _imports("views") & {"load", "write", "check"}
    assert not _imports("diff") & {"load", "render", "write", "views"}
