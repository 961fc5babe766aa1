"""`piasite init [DIR]`: the files of a new site, from the starter files in piasite/starter/.

A new site needs no theme folder (the default theme ships with piasite) and no forms (they ship
too): site.toml, content/ with a README, .gitignore and the files two static hosts need to
build and publish it. Nothing is overwritten: if any of these files exists, nothing is written.
"""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import json
from pathlib import Path, PurePosixPath

# Starter file (in piasite/starter/) → where it goes in the new site.
FILES = {
    "site.toml": PurePosixPath("site.toml"),
    "content-README.md": PurePosixPath("content/README.md"),
    "gitignore": PurePosixPath(".gitignore"),
    "requirements": PurePosixPath("requirements.txt"),
    "netlify.toml": PurePosixPath("netlify.toml"),
    "github-pages.yml": PurePosixPath(".github/workflows/pages.yml"),
}


def existing(root: Path) -> list[PurePosixPath]:
    """The files `init` would write that are already there."""
    return [rel for rel in FILES.values() if (root / rel).exists()]


def requirement() -> tuple[str, bool]:
    """The requirements.txt line that installs this piasite, and whether it is known.

    An install from a public Git repository records its URL and commit (PEP 610
    direct_url.json); a host can install that exact commit. An install from a local folder or
    wheel, or from an index, cannot be repeated elsewhere from what pip recorded: then the line
    says what to write, and stays commented out so that no other package of that name is
    installed in piasite's place.
    """
    try:
        dist = importlib.metadata.distribution("piasite")
        direct = json.loads(dist.read_text("direct_url.json") or "null")
    except (importlib.metadata.PackageNotFoundError, ValueError):
        direct = None
    if isinstance(direct, dict):
        url, vcs = direct.get("url", ""), direct.get("vcs_info") or {}
        if vcs.get("vcs") == "git" and vcs.get("commit_id") and url.startswith("https://"):
            return f"piasite @ git+{url}@{vcs['commit_id']}", True
    return ("# piasite を入手した場所を書き、行頭の # を外します。例:\n"
            "# piasite @ git+https://<piasite の Git リポジトリ>@<タグまたはコミット>"), False


def create(root: Path) -> list[PurePosixPath]:
    """Write the new site's files into `root`; return them. The caller checks `existing` first."""
    starter = importlib.resources.files("piasite") / "starter"
    line, _ = requirement()
    written = []
    for name, rel in FILES.items():
        text = (starter / name).read_text(encoding="utf-8")
        text = text.replace("@PIASITE_REQUIREMENT@", line)
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8", newline="\n")
        written.append(rel)
    return written
