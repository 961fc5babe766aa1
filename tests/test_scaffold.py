"""`piasite new` writes a skeleton with every item of the form, and check lists what is missing."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib

import pytest
from helpers import REPO_ROOT

from piasite.forms import shipped_forms
from piasite.model import VALUE_KINDS
from piasite.scaffold import newest_form, skeleton


def run(*args, cwd):
    return subprocess.run([sys.executable, "-m", "piasite", *args], cwd=cwd, capture_output=True,
                          text=True, encoding="utf-8")


def test_new_then_check_lists_every_missing_item(tmp_path):
    shutil.copy(REPO_ROOT / "site.toml", tmp_path / "site.toml")
    (tmp_path / "content").mkdir()
    made = run("new", "testcity", "juki", "--form", "kiso", "--site", ".", "--now", "2026-01-10",
               cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    rev = tmp_path / "content/testcity/juki/2026-01-10.md"
    assert rev.is_file() and "unpublished = true" in rev.read_text(encoding="utf-8")
    check = run("check", "--site", ".", cwd=tmp_path)
    assert check.returncode == 1 and "Traceback" not in check.stderr
    form = shipped_forms()["kiso-r7-05"]
    required = [n for n in form.walk() if n.kind in VALUE_KINDS and n.required]
    missing = [ln for ln in check.stderr.splitlines()
               if ln.startswith("content/testcity/juki/2026-01-10.md") and "E103" in ln]
    assert len(missing) == len(required)
    assert any("①事務の名称" in ln or "① 事務の名称" in ln for ln in missing)
    again = run("new", "testcity", "juki", "--form", "kiso", "--site", ".", "--now", "2026-01-10",
                cwd=tmp_path)
    assert again.returncode == 1 and "すでにあります" in again.stderr


@pytest.mark.parametrize("kind", sorted({f.kind for f in shipped_forms().values()}))
def test_uncommented_skeleton_is_valid_toml_with_every_key(kind):
    form = newest_form(dict(shipped_forms()), kind)
    text = skeleton(form).split("+++")[1]
    data = tomllib.loads(re.sub(r"(?m)^# (\[\[|[A-Za-z_][\w.]* = )", r"\1", text))
    assert data["form"] == form.id
    flat = set()

    def walk(d, prefix=""):
        for k, v in d.items():
            flat.add(prefix + k)
            if isinstance(v, dict):
                walk(v, prefix + k + ".")
            elif isinstance(v, list) and v and isinstance(v[0], dict):
                walk(v[0], prefix + k + ".")
    walk(data)
    top_keys = [n.key for n in form.walk() if n.kind in VALUE_KINDS and not any(
        a.kind == "repeat" for a in _ancestors(form, n))]
    assert set(top_keys) <= flat


def _ancestors(form, node):
    out = []
    for n in form.walk():
        if node.id.startswith(n.id + "-") and n is not node:
            out.append(n)
    return out
