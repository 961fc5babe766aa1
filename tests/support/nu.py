"""The Nu HTML Checker (vnu.jar from node_modules/vnu-jar), run once for many files."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .browser import NODE_MODULES

VNU_JAR = NODE_MODULES / "vnu-jar" / "build" / "dist" / "vnu.jar"

# Message types that mean "this document is not valid / could not be checked".
_ERROR_TYPES = {"error", "non-document-error"}


def _file_from_url(url: str) -> str:
    """`file:/tmp/x/%E3%81%82.html` -> `/tmp/x/あ.html`; anything else unchanged."""
    if url.startswith("file:"):
        return unquote(urlsplit(url).path)
    return url


def _parse(output: str) -> list[dict] | None:
    """The `messages` of vnu's JSON report, or None when `output` holds no report."""
    text = output.strip()
    if not text:
        return None
    start = text.find("{")
    if start < 0:
        return None
    try:
        data = json.loads(text[start:])
    except json.JSONDecodeError:
        return None
    messages = data.get("messages") if isinstance(data, dict) else None
    return messages if isinstance(messages, list) else None


def nu_errors(paths: Iterable[str | os.PathLike[str]], java: str = "java") -> list[dict]:
    """Check HTML files (or folders, recursively) in ONE JVM run; return the errors.

    Each error: {file, line, column, message, extract, type}. Raises RuntimeError when the
    checker itself fails (no JSON report, or a non-zero exit with no messages).
    """
    targets = [os.fspath(p) for p in paths]
    if not targets:
        return []
    cmd = [
        java,
        "-Dfile.encoding=UTF-8",
        "-jar",
        str(VNU_JAR),
        "--errors-only",
        "--format",
        "json",
        "--skip-non-html",
        *targets,
    ]
    proc = subprocess.run(cmd, capture_output=True, check=False)
    stdout = proc.stdout.decode("utf-8", errors="replace")
    stderr = proc.stderr.decode("utf-8", errors="replace")
    # vnu writes the JSON report to stderr; accept stdout too in case that ever changes.
    messages = _parse(stderr)
    if messages is None:
        messages = _parse(stdout)
    if messages is None or (proc.returncode != 0 and not messages):
        raise RuntimeError(
            f"Nu HTML Checker failed (exit {proc.returncode}): {' '.join(cmd[:8])} …\n"
            f"stdout:\n{stdout[-2000:]}\nstderr:\n{stderr[-2000:]}"
        )
    errors = []
    for m in messages:
        if m.get("type") not in _ERROR_TYPES:
            continue
        errors.append(
            {
                "file": _file_from_url(m.get("url", "")),
                "line": m.get("lastLine", m.get("firstLine")),
                "column": m.get("firstColumn", m.get("lastColumn")),
                "message": m.get("message", ""),
                "extract": m.get("extract", ""),
                "type": m.get("type"),
            }
        )
    return errors


def format_nu(
    errors: list[dict], root: str | os.PathLike[str] | None = None, limit: int = 200
) -> str:
    """Readable report, `file:line:column: message` plus the extract; paths relative to root."""
    base = Path(root).resolve() if root is not None else None
    lines = [f"{len(errors)} Nu HTML Checker error(s):"]
    for e in errors[:limit]:
        name = e["file"]
        if base is not None:
            with contextlib.suppress(ValueError):
                name = Path(name).resolve().relative_to(base).as_posix()
        lines.append(f"{name}:{e.get('line')}:{e.get('column')}: {e['message']}")
        extract = " ".join(str(e.get("extract") or "").split())
        if extract:
            lines.append(f"    {extract}")
    if len(errors) > limit:
        lines.append(f"… and {len(errors) - limit} more")
    return "\n".join(lines)
