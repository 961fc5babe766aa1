"""piasite as a municipality gets it: a wheel installed into a fresh virtual environment, used
outside this repository to start a site, fill it with one assessment, check, build and preview.

Nothing from the repository is on the path: the commands run from a temporary folder, with no
PYTHONPATH, through the new environment's `piasite`. The wheel is built with `python -m build`
(sdist, then the wheel from the sdist) from a copy of the source tree, so the repository gets
no build/ or dist/ folder. The dependencies come from the package index (pip's cache helps).
"""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import REPO_ROOT

NOW = "2025-11-22"


def _source_copy(dest: Path) -> Path:
    """The source tree as a developer has it: tracked files and new files git does not ignore."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=REPO_ROOT, capture_output=True, check=True).stdout
    for name in listed.decode().split("\0"):
        src = REPO_ROOT / name
        if name and src.is_file() and not name.startswith(("content/", "tests/", "benchmarks/")):
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


def _clean_env(venv: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PIASITE_DEBUG")}
    repo_bin = str(Path(sys.executable).parent)
    path = [p for p in env.get("PATH", "").split(os.pathsep) if p and p != repo_bin]
    env["PATH"] = os.pathsep.join([str(venv / "bin"), *path])
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("install")
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    src = _source_copy(tmp / "src")
    built = subprocess.run([sys.executable, "-m", "build", "--outdir", str(tmp / "dist"), str(src)],
                           capture_output=True, text=True, encoding="utf-8", errors="replace")
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    times["build"] = time.perf_counter() - t0
    wheels = list((tmp / "dist").glob("piasite-*.whl"))
    assert len(wheels) == 1, list((tmp / "dist").iterdir())

    t0 = time.perf_counter()
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = _clean_env(venv)
    work = tmp / "work"
    work.mkdir()
    pip = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheels[0])],
                         cwd=work, env=env, capture_output=True, text=True, encoding="utf-8",
                         errors="replace")
    assert pip.returncode == 0, pip.stdout[-3000:] + pip.stderr[-3000:]
    times["install"] = time.perf_counter() - t0
    print(f"\nwheel built in {times['build']:.1f} s, installed with its dependencies in "
          f"{times['install']:.1f} s")
    return dict(venv=venv, env=env, work=work, build_log=built.stdout + built.stderr,
                pip_log=pip.stdout + pip.stderr)


def _run(installed: dict, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd or installed["work"], env=installed["env"],
                          capture_output=True, text=True, encoding="utf-8", timeout=300)


def test_packaging_prints_no_deprecation_warning(installed: dict) -> None:
    for log in (installed["build_log"], installed["pip_log"]):
        assert "deprecat" not in log.lower(), log


def test_the_installed_piasite_comes_from_the_new_environment(installed: dict) -> None:
    venv = installed["venv"].resolve()
    probe = _run(installed, str(venv / "bin" / "python"), "-c",
                 "import sys, piasite, piasite.render as r, piasite.export as e\n"
                 "print(piasite.__file__); print(r.default_theme_dir()); print(e.SCHEMA_PATH)\n"
                 "print(*sys.path, sep='\\n')")
    assert probe.returncode == 0, probe.stderr
    module, theme, schema, *path = probe.stdout.splitlines()
    for p in (module, theme, schema):
        assert Path(p).resolve().is_relative_to(venv), p
    assert (Path(theme) / "templates" / "base.html").is_file()
    assert Path(schema).read_bytes() == (REPO_ROOT / "schema/revision.schema.json").read_bytes()
    assert not [p for p in path if p and Path(p).resolve().is_relative_to(REPO_ROOT)], path


def test_piasite_and_python_m_piasite_are_the_same_program(installed: dict) -> None:
    venv = installed["venv"]
    for args in (["--version"], ["--help"], ["init", "--help"]):
        script = _run(installed, str(venv / "bin" / "piasite"), *args)
        module = _run(installed, str(venv / "bin" / "python"), "-m", "piasite", *args)
        assert script.returncode == module.returncode == 0, script.stderr + module.stderr
        assert script.stdout == module.stdout, args
    assert script.stdout.startswith("usage: piasite init")
    import piasite

    version = _run(installed, str(venv / "bin" / "piasite"), "--version").stdout
    assert version.strip() == f"piasite {piasite.__version__}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(port: int, path: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


def test_a_new_site_filled_with_one_assessment_checks_builds_and_previews(installed: dict) -> None:
    piasite = str(installed["venv"] / "bin" / "piasite")
    made = _run(installed, piasite, "init", "minato")
    assert made.returncode == 0, made.stderr
    assert "piasite new" in made.stderr and "piasite serve" in made.stderr
    site = installed["work"] / "minato"
    assert not (site / "themes").exists()  # the default theme comes with piasite

    new = _run(installed, piasite, "new", "midori", "juki", "--form", "kiso", "--now",
               "2025-12-12", cwd=site)
    assert new.returncode == 0, new.stderr
    skeleton = sorted(p.relative_to(site / "content") for p in (site / "content/midori").rglob("*")
                      if p.is_file())
    assert skeleton == [Path("midori/_municipality.toml"), Path("midori/juki/2025-12-12.md"),
                        Path("midori/juki/_affair.toml")]
    empty = _run(installed, piasite, "check", cwd=site)
    assert empty.returncode == 1 and "E103" in empty.stderr and "Traceback" not in empty.stderr

    # Fill the skeleton: みどり市's assessment from the bundled site takes the place of every
    # file `new` wrote, and its systems registry comes along.
    for name in skeleton:
        assert (REPO_ROOT / "content" / name).is_file(), name
    shutil.copytree(REPO_ROOT / "content/midori", site / "content/midori", dirs_exist_ok=True)
    shutil.copytree(REPO_ROOT / "content/systems", site / "content/systems")

    check = _run(installed, piasite, "check", cwd=site)
    assert check.returncode == 0, check.stderr
    assert "error[" not in check.stderr and "テーマ:" not in check.stderr

    build = _run(installed, piasite, "build", "--now", NOW, cwd=site)
    assert build.returncode == 0, build.stderr
    out = site / "output"
    page = (out / "midori/juki/2025-12-12/index.html").read_text(encoding="utf-8")
    assert "住民基本台帳に関する事務" in page and "/static/style.css" in page
    assert (out / "static/style.css").read_bytes() == \
        (REPO_ROOT / "themes/default/static/style.css").read_bytes()
    assert (out / "schema/revision.schema.json").read_bytes() == \
        (REPO_ROOT / "schema/revision.schema.json").read_bytes()
    assert (out / "pagefind/pagefind-entry.json").is_file()
    # The bundled site's accessibility results belong to its pages, not to this site.
    a11y = (out / "accessibility/index.html").read_text(encoding="utf-8")
    assert "自動テストの結果の記録はまだありません" in a11y
    assert not (out / "accessibility/results.json").exists()

    port = _free_port()
    log = site / "serve.log"
    with log.open("w", encoding="utf-8") as f:
        proc = subprocess.Popen([piasite, "serve", "--port", str(port), "--now", NOW], cwd=site,
                                env=installed["env"], stdout=f, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, body = _get(port, "/midori/juki/")
                if status != 503:
                    break
                # The server answers during its first build, with a page that waits for it.
                assert "プレビューを準備しています" in body
            except OSError:
                pass
            assert proc.poll() is None, log.read_text(encoding="utf-8")
            assert time.monotonic() < deadline, log.read_text(encoding="utf-8")
            time.sleep(0.2)
        assert status == 200 and "住民基本台帳に関する事務" in body and "プレビュー" in body
        assert _get(port, "/static/style.css")[0] == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)
