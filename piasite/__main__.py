"""Command line: piasite build | check | serve | new | init. Parses arguments, prints, sets exit codes."""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import shlex
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path

from . import __version__, processes
from .diagnostics import Severity

_INIT_HINT = ("新しいサイトは「piasite init <フォルダ>」で作ります。"
              "作ってあるサイトなら、そのフォルダで実行するか --site で指定します。")


def _print_report(result, stream=sys.stderr) -> None:
    # From the report, not the diagnostics: a rebuild's cached assessments print theirs
    # without being read back (diagnostics.Report).
    report = result.report
    text = report.text()
    if text:  # one write: a large site has tens of thousands of warnings
        stream.write(text)
    by_severity: Counter[Severity] = Counter()
    by_code: Counter[str] = Counter()
    for (severity, code), n in report.counts().items():
        by_severity[severity] += n
        by_code[code] += n
    n_err, n_warn = by_severity[Severity.ERROR], by_severity[Severity.WARNING]
    n_note = by_severity[Severity.NOTE]
    if n_err or n_warn or n_note:
        # Notes (I101: a value the page shows as a reading) are counted apart: they are for a
        # reviewer to confirm, not mistakes.
        reading = f"、読み取り {n_note} 件" if n_note else ""
        print(f"エラー {n_err} 件、警告 {n_warn} 件{reading}", file=stream)
    if len(report) > 10:
        # A long list is read by its kinds first: which mistakes, how many of each.
        print("内訳: " + "、".join(f"{code} {n} 件" for code, n in sorted(by_code.items()))
              + "（各コードの意味は docs/diagnostics.md）", file=stream)


def _valid_date(s: str) -> str:
    try:
        datetime.date.fromisoformat(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"YYYY-MM-DD の日付を指定してください: {s!r}") from None
    return s


def _print_theme(root: Path) -> None:
    """Say which files of the default theme the site's own theme folders replace."""
    from .config import load_config
    from .render import find_theme, is_folder

    name = load_config(root)[0].theme
    if name != "default" and not is_folder(root / "themes" / name):
        print(f"テーマ: site.toml の theme = \"{name}\" のフォルダ themes/{name}/ がないため、"
              "既定のテーマで作ります。", file=sys.stderr)
    folders: dict[str, tuple[list[str], list[str]]] = {}
    for f in find_theme(root, name).overrides:
        folders.setdefault(f.folder, ([], []))[0 if f.replaces else 1].append(f.path)
    for folder, (replaced, added) in folders.items():
        parts = []
        if replaced:
            parts.append(f"既定のテーマの {len(replaced)} ファイルを置き換えています: "
                         + "、".join(replaced))
        if added:
            parts.append(f"既定のテーマにない {len(added)} ファイルを加えています: " + "、".join(added))
        print(f"テーマ: {folder}/ が" + "。".join(parts), file=sys.stderr)


def _init(args) -> int:
    from .init import create, existing, requirement

    root: Path = args.dir
    if root.exists() and not root.is_dir():
        print(f"{root} はフォルダではありません", file=sys.stderr)
        return 1
    if there := existing(root):
        print(f"{root} にはすでにサイトのファイルがあります: " + "、".join(map(str, there)),
              file=sys.stderr)
        print("上書きしないため、何も書きませんでした。新しいサイトは、空のフォルダか"
              "まだないフォルダを指定して作ります（piasite init <フォルダ>）。", file=sys.stderr)
        return 1
    for rel in create(root):
        print(f"作成しました: {root / rel}", file=sys.stderr)
    here = root.resolve() == Path.cwd().resolve()
    where = "" if here else f"（先に cd {shlex.quote(str(root))} でサイトのフォルダに移ります）"
    print(f"\n新しいサイトを作りました。次の3つのコマンドで評価書を書き始めます{where}:\n"
          "  1. piasite new <団体> <事務> --form kiso\n"
          "     版のひな形を作ります。<団体> と <事務> は英小文字のフォルダ名（例: midori juki）、\n"
          "     --form は評価書の種類: kiso（基礎項目）/ juten（重点項目）/ zenkoumoku（全項目）\n"
          "  2. piasite check\n"
          "     まだ書いていない項目と誤りを、ファイルと行の位置付きで一覧にします\n"
          "  3. piasite serve\n"
          "     http://127.0.0.1:8000/ でプレビューします（保存するたびにページが更新されます）\n"
          "書き方は content/README.md にあります。", file=sys.stderr)
    if not requirement()[1]:
        print("公開する前に、requirements.txt に piasite の入手元を書いてください"
              "（Netlify と GitHub Pages のビルドが、それを使って piasite をインストールします）。",
              file=sys.stderr)
    return 0


def _outside_the_site(root: Path, paths: list[Path]) -> bool:
    """True (after saying so) when a path given to check is not a file or folder inside
    the site."""
    top = Path(os.path.abspath(root))
    for p in paths:
        full = Path(os.path.abspath(p))
        if not full.exists():
            print(f"「{p}」がありません。", file=sys.stderr)
            return True
        if full != top and top not in full.parents:
            print(f"「{p}」はサイトのフォルダ（{top}）の中にありません。", file=sys.stderr)
            return True
    return False


def _no_site(root: Path) -> bool:
    """True (after saying so) when `root` is not a site: there is no site.toml to read."""
    if (root / "site.toml").is_file():
        return False
    print(f"{root / 'site.toml'} がありません。{_INIT_HINT}", file=sys.stderr)
    return True


def _positive(s: str) -> int:
    try:
        n = int(s)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"1 以上の整数を指定してください: {s!r}")
    return n


def _new(args) -> int:
    from .load import load_forms
    from .routes import SLUG, collides
    from .scaffold import create

    if _no_site(args.site):
        return 1
    for what, slug, level, placeholder in (("団体", args.muni, (), "muni"),
                                           ("事務", args.affair, ("muni",), "affair")):
        if not SLUG.match(slug):
            print(f"{what}のスラッグ「{slug}」は英小文字・数字・ハイフンで書いてください", file=sys.stderr)
            return 1
        if (taken := collides(level, placeholder, slug)) is not None:
            print(f"{what}のスラッグ「{slug}」は使えません（サイトの同じ場所に「{taken}」を置くため）",
                  file=sys.stderr)
            return 1
    forms = load_forms(args.site, [])
    today = datetime.date.fromisoformat(args.now) if args.now else datetime.date.today()
    try:
        written = create(args.site, args.muni, args.affair, args.form, forms, today)
    except FileExistsError as exc:
        print(f"すでにあります: {exc}", file=sys.stderr)
        return 1
    for p in written:
        print(f"作成しました: {p}", file=sys.stderr)
    print("piasite check を実行すると、まだ書いていない項目が一覧で表示されます。", file=sys.stderr)
    return 0


class _Progress:
    """One line on a terminal that tells how far a long build is (a site of a thousand
    versions takes minutes); nothing for a build under a second, nothing when not a terminal."""

    def __init__(self, stream, labels: Mapping[str, str]) -> None:
        self.stream = stream
        self.labels = labels
        self.t0 = self.last = time.perf_counter()
        self.shown = False

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if now - self.t0 < 1.0 or (now - self.last < 0.25 and stage != "index"):
            return
        self.last = now
        what = self.labels.get(stage, stage)
        text = f"{what}を作っています" if stage == "index" else f"{what} {done}/{total}"
        self.stream.write(f"\r\033[K{text}（{now - self.t0:.0f} 秒）")
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()


class _Stopped(BaseException):
    """SIGTERM (a CI job's timeout, `kill`): raised in the main thread, so a build drops its
    staging folder as it does on Ctrl+C; not an Exception, which would read as a bug."""


@contextlib.contextmanager
def _stopped_by_sigterm() -> Iterator[None]:
    """SIGTERM raises `_Stopped`, after telling the worker processes to stop (left alone,
    they go on working for a build that is gone); the handler before is put back after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        processes.let_go()
        raise _Stopped

    before = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


def main(argv: list[str] | None = None) -> int:
    with _stopped_by_sigterm():
        return _main(argv)


def _main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="piasite", description="特定個人情報保護評価書の静的サイトを作ります")
    ap.add_argument("--version", action="version", version=f"piasite {__version__}")
    sub = ap.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="サイトを output/ に書き出す")
    b.add_argument("--site", type=Path, default=Path("."), help="サイトのフォルダ（site.toml のある場所）")
    b.add_argument("--out", type=Path, default=None, help="出力先（既定: <site>/output）")
    b.add_argument("--now", type=_valid_date, default=None, help="「今日」の日付 YYYY-MM-DD（再現可能なビルド用）")
    b.add_argument("--strict", action="store_true", help="警告もエラーとして扱う")
    b.add_argument("-j", "--jobs", type=_positive, default=None,
                   help="評価書を並行して作るプロセスの数（既定: CPU のコア数）。出力は数によらず同じです")
    c = sub.add_parser("check", help="内容を検査するだけで書き出さない")
    c.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                   help="このファイルやフォルダ（例: content/midori）だけを検査する（既定: サイト全体）")
    c.add_argument("--site", type=Path, default=Path("."))
    c.add_argument("--strict", action="store_true")
    c.add_argument("-j", "--jobs", type=_positive, default=None,
                   help="評価書を並行して検査するプロセスの数（既定: CPU のコア数）")
    s = sub.add_parser("serve", help="プレビュー用のサーバーを起動する")
    s.add_argument("--site", type=Path, default=Path("."))
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--now", type=_valid_date, default=None)
    n = sub.add_parser("new", help="新しい版のひな形（様式の全項目）を作る")
    n.add_argument("muni", help="団体のスラッグ（例: midori）")
    n.add_argument("affair", help="事務のスラッグ（例: juki）")
    n.add_argument("--form", required=True, choices=["kiso", "juten", "zenkoumoku"],
                   help="評価書の種類: kiso（基礎）/ juten（重点）/ zenkoumoku（全項目）")
    n.add_argument("--site", type=Path, default=Path("."))
    n.add_argument("--now", type=_valid_date, default=None, help="版の日付（既定: 今日）")
    i = sub.add_parser("init", help="新しいサイト（site.toml、content/、公開用の設定）を作る")
    i.add_argument("dir", nargs="?", type=Path, default=Path("."),
                   help="サイトを作るフォルダ（既定: 今のフォルダ。なければ作ります）")
    args = ap.parse_args(argv)

    from . import pipeline
    from .write import frozen_loads

    try:
        if args.command == "check":
            if _outside_the_site(args.site, args.paths):
                return 2
            progress = (_Progress(sys.stderr, pipeline.PROGRESS_STAGES)
                        if sys.stderr.isatty() else None)
            try:
                result = pipeline.check(args.site, args.jobs, progress, args.paths)
            finally:
                if progress:
                    progress.clear()
            if result.reused:  # so that staff know what they see, and how to see it anew;
                # first, as a long report ends with its counts
                print(f"評価書 {result.reused} 件は前回の確認かビルドから変わっていないため、"
                      "そのときの結果を示します（すべて読み直すには .piasite-cache を削除）",
                      file=sys.stderr)
            _print_report(result)
            _print_theme(args.site)
            if any(code == "E010" for _, code in result.report.counts()):
                print(_INIT_HINT, file=sys.stderr)
            if result.errors_outside:
                print(f"指定した範囲の外に、サイトのエラーが {result.errors_outside} 件あります"
                      "（範囲を付けずに piasite check を実行すると表示します）。このままでは"
                      "ビルドできません。", file=sys.stderr)
            strict_fail = args.strict and result.report.has_warnings()
            return 1 if (not result.ok or result.errors_outside or strict_fail) else 0
        if args.command == "build":
            t0 = time.perf_counter()
            progress = (_Progress(sys.stderr, pipeline.PROGRESS_STAGES)
                        if sys.stderr.isatty() else None)
            try:
                with frozen_loads():  # one build, then the process ends
                    result = pipeline.build(args.site, args.out, args.now, strict=args.strict,
                                            jobs=args.jobs, progress=progress)
            finally:
                if progress:
                    progress.clear()
            _print_report(result)
            if any(code == "E010" for _, code in result.report.counts()):
                print(_INIT_HINT, file=sys.stderr)
            if not result.wrote:
                print("ビルドを中止しました。output/ は変更していません。", file=sys.stderr)
                return 1
            _print_theme(args.site)
            out = args.out or args.site / "output"
            took = f"{time.perf_counter() - t0:.2f} 秒"
            if result.unchanged:
                print(f"前回のビルドから変わったところはありません。{out} はそのままです（{took}）",
                      file=sys.stderr)
            else:
                reused = f"、うち評価書 {result.reused} 件は前回のまま" if result.reused else ""
                print(f"{len(result.files)} ファイルを {out} に書き出しました（{took}{reused}）",
                      file=sys.stderr)
            return 0
        if args.command == "new":
            return _new(args)
        if args.command == "init":
            return _init(args)
        if _no_site(args.site):
            return 1
        _print_theme(args.site)
        from .serve import serve

        return serve(args.site, args.host, args.port, args.now)
    except KeyboardInterrupt:
        return 130
    except _Stopped:
        print("停止の指示（SIGTERM）を受けて終了しました。", file=sys.stderr)
        return 128 + signal.SIGTERM
    except OSError as exc:  # the machine's: a folder that cannot be written, a full disk
        if os.environ.get("PIASITE_DEBUG"):
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"ファイルを読み書きできませんでした: {where}{exc.strerror or exc}\n"
              "サイトのフォルダ（.piasite-cache を含む）と出力先に書き込めるか、"
              "ディスクに空きがあるかを確かめてください。", file=sys.stderr)
        return 1
    except Exception as exc:  # a piasite bug, not a content problem
        if os.environ.get("PIASITE_DEBUG"):
            raise
        print(f"piasite の内部エラーです（内容の誤りではありません）: {type(exc).__name__}: {exc}\n"
              "PIASITE_DEBUG=1 を付けて実行すると詳細を表示します。", file=sys.stderr)
        return 2


def run() -> None:
    """The console script: `main`, then out of the process without tearing it down.

    A rebuild of 1,000 versions ends holding every assessment's result it read back;
    freeing them one by one took about 0.08 s after the work was done. By then everything
    the command wrote is closed (the build's files and caches, its database), so, as mypy's
    command line does, the process ends at once. Errors (argparse's, PIASITE_DEBUG's
    traceback) still leave through the ordinary exit, and so does a process someone is
    measuring (a profiler, a tracer, coverage: they write their results on the way out), and
    one stopped by SIGTERM (its worker pools' queues, let go on the way out, are then not
    reported as leaked by multiprocessing's resource tracker)."""
    code = main()
    if (sys.getprofile() or sys.gettrace() or "coverage" in sys.modules
            or code == 128 + signal.SIGTERM):
        sys.exit(code)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed pipe: nothing more to say anyway
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
