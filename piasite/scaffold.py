"""`piasite new`: write a version skeleton listing every item of a form.

Every key is written commented out, with its label, number and 選択肢, so `piasite check`
lists exactly what is still missing (E103) and staff fill the file in from top to bottom.
The new version is marked `unpublished = true` until staff decide to publish it.
"""

from __future__ import annotations

import datetime
from pathlib import Path

from .model import FORM_KINDS, Form, FormNode
from .wareki import parse_date


def newest_form(forms: dict[str, Form], kind: str) -> Form:
    """The form of `kind` with the newest edition."""
    def edition_key(f: Form) -> str:
        jd, _ = parse_date(f.edition)
        return jd.iso() if jd else "0000"

    candidates = [f for f in forms.values() if f.kind == kind]
    if not candidates:
        raise ValueError(kind)
    return max(candidates, key=edition_key)


def _comment_value(node: FormNode) -> str:
    if node.kind == "select" and node.choices:
        return '""   # 選択肢: ' + " / ".join(node.choices.options)
    if node.kind == "check":
        return "false   # チェックあり = true"
    if node.kind == "checks":
        return "[]   # 該当するものを列挙: " + " / ".join(node.options)
    if node.kind == "list":
        return "[]   # 項目を順に列挙"
    if node.kind == "table":
        return "{ rows = [] }"
    if node.kind == "date":
        return '""   # 例: 令和7年4月1日'
    return '""'


def _lines(nodes: tuple[FormNode, ...], table: str) -> tuple[list[str], list[str]]:
    """Commented TOML for form nodes: (dotted keys in form order, repeated groups).

    Keys are written as dotted paths from the enclosing table, so uncommenting them in any
    order stays valid TOML; repeated groups ([[…]] tables) must come after all plain keys,
    so they are returned separately and appended at the end.
    """
    plain: list[str] = []
    groups: list[str] = []
    for node in nodes:
        if node.kind in ("section", "cover"):
            plain.append(f"\n# ── {node.title}")
            p, g = _lines(node.children, table)
            plain.extend(p)
            groups.extend(g)
            continue
        if node.kind == "repeat":
            name = _join(table, node.key)
            plain.append(f"# {node.title}: 1件ごとに下の [[{name}]] を書きます")
            p, g = _lines(node.children, name)
            groups.append(f"\n# ── {node.title}（繰り返し）")
            groups.append(f"# [[{name}]]")
            groups.append('# id = ""   # 並べ替えても変わらない英小文字の識別子')
            groups.extend(p)
            groups.extend(g)
            continue
        label = f"{node.no} {node.label}".strip()
        plain.append(f"# {node.key} = {_comment_value(node)}   # {label}（#{node.id}）")
        if node.note_key:
            plain.append(f'# {node.note_key} = ""   # {label} の注記')
    return plain, groups


def _join(a: str, b: str) -> str:
    return ".".join(x for x in (a, b) if x)


def skeleton(form: Form) -> str:
    """The text of a new version file for `form`."""
    head = [
        "+++",
        f"# {form.title} {form.tag} の記入用ひな形。",
        "# 各行の先頭の # を外して値を書きます。原本で空欄の項目は \"\" のままにします。",
        "# 文章の項目は本文に「## 見出し {#項目ID}」として書くこともできます。",
        "# piasite check が、まだ書いていない項目を一覧にします。",
        f'form = "{form.id}"',
        'status = "published"   # 案のときは "draft"',
        "unpublished = true     # 公開してよくなったら削除する",
        'source = ""',
    ]
    plain, groups = _lines(form.nodes, "")
    return "\n".join(head + plain + groups + ["+++", ""])


def create(root: Path, muni: str, affair: str, kind: str, forms: dict[str, Form],
           today: datetime.date) -> list[Path]:
    """Write the skeleton (and missing _municipality/_affair files); return what was written."""
    if kind not in FORM_KINDS:
        raise ValueError(kind)
    form = newest_form(forms, kind)
    folder = root / "content" / muni / affair
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    mfile = root / "content" / muni / "_municipality.toml"
    if not mfile.exists():
        mfile.write_text('# name = ""         # 団体名（例: みどり市）\n'
                         '# prefecture = ""   # 都道府県名\n'
                         '# code = ""         # 全国地方公共団体コード（6桁）\n'
                         '# agency = ""       # 評価実施機関名\n', encoding="utf-8")
        written.append(mfile)
    afile = folder / "_affair.toml"
    if not afile.exists():
        afile.write_text('# name = ""     # 事務の名称\n'
                         "# number = 1    # 評価書番号\n"
                         '# title = ""    # 評価書名\n'
                         f'kind = "{kind}"\n', encoding="utf-8")
        written.append(afile)
    rev = folder / f"{today.isoformat()}.md"
    if rev.exists():
        raise FileExistsError(rev)
    rev.write_text(skeleton(form), encoding="utf-8")
    written.append(rev)
    return written
