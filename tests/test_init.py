"""`piasite init` starts a site that checks and builds as it is; nothing existing is overwritten;
`piasite new` outside a site says how to start one; `--version`; `piasite` = `python -m piasite`."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from helpers import REPO_ROOT

import piasite
from piasite.init import FILES

BIN = Path(sys.executable).parent


def run(*args: str, cwd: Path, script: bool = False) -> subprocess.CompletedProcess:
    cmd = [str(BIN / "piasite")] if script else [sys.executable, "-m", "piasite"]
    return subprocess.run([*cmd, *args], cwd=cwd, capture_output=True, text=True,
                          encoding="utf-8")


@pytest.fixture(scope="module")
def new_site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess]:
    cwd = tmp_path_factory.mktemp("init")
    return cwd / "shinsite", run("init", "shinsite", cwd=cwd)


def test_init_writes_a_site_and_names_the_next_three_commands(new_site) -> None:
    site, made = new_site
    assert made.returncode == 0, made.stderr
    assert sorted(p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file()) == \
        sorted(str(rel) for rel in FILES.values())
    steps = made.stderr.split("次の3つのコマンド")[1]
    assert "cd shinsite" in steps
    commands = [ln.split(". ", 1)[1] for ln in steps.splitlines() if ln[:5].strip()[:2] in
                ("1.", "2.", "3.")]
    assert commands == ["piasite new <団体> <事務> --form kiso", "piasite check", "piasite serve"]
    # Installed from a local folder, piasite cannot tell the hosts where to get it: it says so.
    assert "requirements.txt に piasite の入手元" in made.stderr
    req = (site / "requirements.txt").read_text(encoding="utf-8")
    assert all(ln.startswith("#") for ln in req.splitlines())


def test_the_new_site_checks_and_builds_with_the_default_theme(new_site, tmp_path) -> None:
    site, _ = new_site
    config = tomllib.loads((site / "site.toml").read_text(encoding="utf-8"))
    assert config["theme"] == "default" and config["title"]
    check = run("check", cwd=site)
    assert check.returncode == 0 and check.stderr == "", check.stderr
    build = run("build", "--out", str(tmp_path / "out"), "--now", "2025-11-22", cwd=site)
    assert build.returncode == 0, build.stderr
    home = (tmp_path / "out/index.html").read_text(encoding="utf-8")
    assert f"<title>{config['title']}</title>" in home
    assert (tmp_path / "out/static/style.css").is_file()
    # The bundled site's accessibility record describes its own pages: a new site has none.
    a11y = (tmp_path / "out/accessibility/index.html").read_text(encoding="utf-8")
    assert "自動テストの結果の記録はまだありません" in a11y
    assert not (tmp_path / "out/accessibility/results.json").exists()


def test_deploy_files_publish_output_with_the_repository_security_headers(new_site) -> None:
    site, _ = new_site
    ours = tomllib.loads((site / "netlify.toml").read_text(encoding="utf-8"))
    repo = tomllib.loads((REPO_ROOT / "netlify.toml").read_text(encoding="utf-8"))
    assert ours["headers"] == repo["headers"]
    assert ours["build"]["publish"] == "output"
    assert ours["build"]["command"] == "pip install -r requirements.txt && piasite build"
    workflow = (site / ".github/workflows/pages.yml").read_text(encoding="utf-8")
    for step in ("pip install -r requirements.txt", "piasite build", "path: output",
                 "actions/deploy-pages@"):
        assert step in workflow
    ignored = (site / ".gitignore").read_text(encoding="utf-8").split()
    assert "/output/" in ignored and "/.piasite-cache/" in ignored
    readme = (site / "content/README.md").read_text(encoding="utf-8")
    assert "_municipality.toml" in readme and "piasite new" in readme


@pytest.mark.parametrize("rel", sorted(str(r) for r in FILES.values()))
def test_init_refuses_a_folder_holding_any_of_its_files(tmp_path: Path, rel: str) -> None:
    (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / rel).write_text("既存\n", encoding="utf-8")
    made = run("init", cwd=tmp_path)
    assert made.returncode == 1 and rel in made.stderr and "何も書きませんでした" in made.stderr
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == [tmp_path / rel]
    assert (tmp_path / rel).read_text(encoding="utf-8") == "既存\n"


def test_new_outside_a_site_points_to_init_and_writes_nothing(tmp_path: Path) -> None:
    made = run("new", "testmuni", "juki", "--form", "kiso", cwd=tmp_path)
    assert made.returncode == 1 and "piasite init" in made.stderr
    assert "Traceback" not in made.stderr
    assert list(tmp_path.iterdir()) == []
    check = run("check", cwd=tmp_path)
    assert check.returncode == 1 and "error[E010]: site.toml がありません" in check.stderr
    assert "piasite init" in check.stderr
    serve = run("serve", "--port", "0", cwd=tmp_path)
    assert serve.returncode == 1 and "piasite init" in serve.stderr


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["new", "--help"], ["init", "x"]])
def test_the_piasite_command_and_python_m_piasite_behave_the_same(tmp_path: Path, args) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    script = run(*args, cwd=tmp_path / "a", script=True)
    module = run(*args, cwd=tmp_path / "b")
    assert (script.returncode, script.stdout, script.stderr) == \
        (module.returncode, module.stdout, module.stderr)
    assert script.returncode == 0
    if args == ["--version"]:
        assert script.stdout == f"piasite {piasite.__version__}\n"


def test_a_piasite_installed_from_git_is_pinned_to_its_commit(monkeypatch, tmp_path) -> None:
    import importlib.metadata
    import json

    from piasite import init

    class Dist:
        def read_text(self, name: str) -> str | None:
            assert name == "direct_url.json"
            return json.dumps({"url": "https://example.org/city/piasite.git",
                               "vcs_info": {"vcs": "git", "commit_id": "0123abcd"}})

    monkeypatch.setattr(importlib.metadata, "distribution", lambda name: Dist())
    init.create(tmp_path)
    lines = (tmp_path / "requirements.txt").read_text(encoding="utf-8").splitlines()
    assert lines[-1] == "piasite @ git+https://example.org/city/piasite.git@0123abcd"
