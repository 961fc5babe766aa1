"""A scale corpus: a site of N versions made from the bundled municipalities, text varied per copy.

Each bundled municipality is a template: it is copied under a new slug, a new name and a new
valid 全国地方公共団体コード (check digit and all) until the site holds N versions, so every form
(基礎・重点・全項目, both 様式4 editions), 変更箇所 table, reconstructed version, draft with its
comment period and accompanying document is there many times over; the systems registry is
copied once. The copies' text differs, so no content-keyed cache (versions, TOML, Markdown,
diffs) and no search-index dedup can reuse one copy's work for another:

- the municipality's name and prefecture are replaced everywhere (cover, contacts, prose);
- about sixty groups of interchangeable wordings (及び／および, 取扱い／取り扱い／取扱,
  委託先／受託者／委託事業者, 市民課／住民課／…) are permuted per copy, so each copy writes
  its own 表記 across its prose;
- after some sentence-final 。 a short sentence naming the copy is added (which ones, and
  which sentence, depend on the copy and on the text before the 。).

The content stays valid: what must match something exactly — every string of the form
definitions (選択肢, labels), the systems registry's names and aliases, 変更箇所 placeholders —
is never changed, dates and numbers are left alone, and every substitution is a function of the
text around it, so a 変更箇所 cell that quotes the body still quotes the copy's body.
`piasite check` on a generated site reports no errors and, copy by copy, exactly the warnings
the bundled template has (tests/test_corpus.py).

Deterministic from a seed: the same (N, seed) gives the same bytes.

    .venv/bin/python benchmarks/corpus.py generate --versions 100 --out /tmp/scale-100 [--seed 1]
    .venv/bin/python benchmarks/corpus.py hugo /tmp/scale-100 /tmp/scale-100-hugo
    .venv/bin/python benchmarks/corpus.py edit /tmp/scale-100 [--n 1]   (one sentence, one version)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import shutil
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from piasite import lgcode, prefectures  # noqa: E402
from piasite.normalize import PLACEHOLDERS  # noqa: E402

GENERATOR_VERSION = "1"
"""Part of a corpus's identity: bump when the same (N, seed) would give other bytes."""

PREFECTURES = tuple(p.name for p in prefectures.ALL)
"""In JIS X 0401 order: the index + 1 is the first two digits of a 全国地方公共団体コード."""

# Kanji for made-up place names (none is a municipality of the bundled site).
_FIRST = "青赤白東西南北上下中大小高若新古本松竹梅桜藤桐楠杉柳菊朝夕春秋川山岡野原浜島宮泉森"
_SECOND = "川山田野原沢浜崎島谷岡森松瀬津井台丘里平坂江橋宮根尾倉城浦見"

GROUPS: tuple[tuple[str, ...], ...] = (
    ("及び", "および"), ("又は", "または"), ("若しくは", "もしくは"), ("並びに", "ならびに"),
    ("取扱い", "取り扱い", "取扱"), ("取り扱う", "取扱う"), ("職員", "担当職員", "従事職員"),
    ("担当者", "事務担当者", "担当係員"), ("委託先", "受託者", "委託事業者"),
    ("適切", "適正"), ("速やかに", "遅滞なく", "直ちに"), ("保管", "保存", "格納"),
    ("定期的", "周期的", "定例的"), ("端末", "端末機", "業務端末"), ("防止", "抑止", "予防"),
    ("研修", "教育研修", "講習"), ("漏えい", "漏洩", "流出"), ("作成", "作製", "調製"),
    ("消去", "抹消"), ("廃棄", "処分", "廃棄処分"), ("入手", "取得", "収集"),
    ("送付", "発送", "送達"), ("対策", "方策", "対応策"), ("運用", "運営"), ("設置", "配置"),
    ("制限", "限定", "制約"), ("パスワード", "暗証番号"), ("ログイン", "ログオン", "サインイン"),
    ("データベース", "DB"), ("セキュリティ", "セキュリティー"), ("バックアップ", "複製保存"),
    ("ウイルス", "ウィルス"), ("ユーザ", "ユーザー", "利用者"), ("マニュアル", "手引書", "手順書"),
    ("当市", "本市", "当団体"), ("市民課", "住民課", "市民窓口課", "戸籍住民課"),
    ("市民部", "市民生活部", "くらし部"), ("行う", "実施する"), ("行っている", "実施している"),
    ("行わない", "実施しない"), ("について", "に関して"), ("に関する", "に係る"),
    ("とともに", "と共に", "と併せて"),
    ("特に", "とりわけ"), ("随時", "適宜"), ("一定", "所定"), ("書類", "文書", "書面"),
    ("帳票", "帳票類"), ("窓口", "受付窓口"), ("手続", "手続き"), ("状況", "状態"),
    ("誤り", "誤謬", "間違い"), ("点検", "検査", "チェック"), ("確認", "照合"),
    ("管理", "管理運用"), ("業者", "事業者"), ("契約", "委託契約"), ("保守", "メンテナンス"),
    ("専用回線", "閉域回線"), ("入退室", "入退館"), ("監視カメラ", "防犯カメラ"),
    ("申請書", "申込書"), ("届出", "届け出"),
)
"""Interchangeable wordings: each copy permutes every group (a bijection, so two different
texts never become one, and a 変更前 never equals its 変更後 by accident)."""

CLAUSES = (
    "{city}では、この取組を継続している。", "詳細は{city}の規程による。", "{dept}が所管する。",
    "運用の状況は{city}{dept}が毎年度確認する。", "{city}の内部規程に基づき実施する。",
    "これらは{pref}{city}の例規集に定めている。", "{dept}において記録を残す。",
    "{city}個人情報保護審議会に報告する。", "必要に応じて{city}の情報政策部門と協議する。",
    "手順は{dept}の事務処理要領に定める。", "{city}では年一回見直しを行う。",
    "{pref}との連絡調整は{dept}が担う。",
)
"""Sentences added after some 。: they name the copy, so its prose is its own."""
CLAUSE_RATE = 0.3
DEPARTMENTS = ("市民課", "住民課", "市民窓口課", "戸籍住民課", "市民生活課", "住民記録課")

_DATE_NAME = re.compile(r"^\d{4}-\d{2}-\d{2}(?:\.md)?$")
_CONTEXT = 3
"""Characters before a 。 or 、 that decide (with the copy) what is done there. Few, and never
across a line break or the start of a string: a 変更箇所 cell quotes the body from a
paragraph's start, and may break a line where the body does not (…することと\\n\\nしている。)."""
_CUT = re.compile(r'["\n]|\\n')
_SPACE = re.compile(r"\s+")


# ------------------------------------------------------------------------------- templates

def _trie_pattern(words: set[str]) -> str:
    """A regex matching any of `words`, longest first at each position (a trie, not a long
    alternation: Python's re tries alternatives one by one)."""
    trie: dict = {}
    for w in words:
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = True

    def build(node: dict) -> str:
        alts = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        return f"(?:{body})?" if "" in node else body

    return build(trie)


def _strings(obj: object) -> Iterator[str]:
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _strings(v)


def protected_strings(src: Path) -> set[str]:
    """Text a copy must keep as it is: everything the form definitions say (選択肢 must match
    them exactly), the systems registry's names and aliases (system lists link by them), and
    the 変更箇所 placeholders."""
    out = set(PLACEHOLDERS)
    for folder in (REPO / "piasite" / "forms", src / "forms"):
        for p in sorted(folder.glob("*.toml")) if folder.is_dir() else ():
            out.update(_strings(tomllib.loads(p.read_text(encoding="utf-8"))))
    for p in sorted((src / "content" / "systems").glob("*.toml")):
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
        out.add(doc.get("name", ""))
        out.update(doc.get("aliases", []))
    # Only what a substitution could touch: non-ASCII text of two characters or more.
    return {s for s in out if len(s) >= 2 and not s.isascii()}


Piece = str | tuple[str, str]
"""Literal text, or a slot: ("word", surface) | ("pref", "") | ("city", "") | ("clause", ctx)."""


@dataclass
class Template:
    slug: str
    name: str
    prefecture: str
    stem: str
    """The name without its 市 (旭川市 → 旭川), replaced wherever it occurs."""
    versions: int
    files: dict[str, list[Piece]] = field(default_factory=dict)
    """Path under the municipality's folder → its text cut into pieces."""
    binary: dict[str, bytes] = field(default_factory=dict)


class Splitter:
    """Cuts a template's text once into literals and slots; each copy then only joins."""

    def __init__(self, protected: set[str], names: set[str]):
        self.protected = re.compile(_trie_pattern(protected))
        self.words = {w for g in GROUPS for w in g}
        self.names = names
        alts = _trie_pattern(self.words | names)
        # A slot for a sentence after a 。 (not one that closes a bracket: 「…という。」).
        self.slots = re.compile(f"(?P<w>{alts})|(?P<c>。)(?![）)」』])|(?P<k>、)")

    def frozen(self, text: str) -> set[str]:
        """Words the text also writes broken by a space or line break (運\\n\\n用): a 変更箇所
        cell compares without spaces, so such a word must stay as written everywhere."""
        out = set()
        for w in self.words | self.names:
            gap = r"(?:\s|\\[nt])*"
            pattern = gap.join(re.escape(ch) for ch in w)
            if any(m.group() != w for m in re.finditer(pattern, text)):
                out.add(w)
        return out

    def split(self, text: str, pref: str, stem: str, frozen: set[str] = frozenset()) -> list[Piece]:
        pieces: list[Piece] = []
        pos = 0
        for m in self.protected.finditer(text):
            if m.end() == m.start():
                continue
            self._gap(text, pos, m.start(), pref, stem, frozen, pieces)
            pieces.append(m.group())
            pos = m.end()
        self._gap(text, pos, len(text), pref, stem, frozen, pieces)
        return pieces

    def _gap(self, text: str, start: int, end: int, pref: str, stem: str, frozen: set[str],
             pieces: list[Piece]) -> None:
        pos = start
        for m in self.slots.finditer(text, start, end):
            if m.start() > pos:
                pieces.append(text[pos:m.start()])
            if m.group("c") or m.group("k"):
                before = _CUT.split(text[max(0, m.start() - 8 * _CONTEXT):m.start()])[-1]
                context = _SPACE.sub("", before)[-_CONTEXT:]
                if m.group("c"):
                    pieces.append("。")
                    pieces.append(("clause", context))
                else:
                    pieces.append(("comma", context))
            else:
                w = m.group("w")
                if w in frozen:
                    pieces.append(w)
                elif w == pref:
                    pieces.append(("pref", ""))
                elif w == stem:
                    pieces.append(("city", ""))
                elif w in self.words:
                    pieces.append(("word", w))
                else:  # another template's name: left as written
                    pieces.append(w)
            pos = m.end()
        if end > pos:
            pieces.append(text[pos:end])


def _count_versions(muni: Path) -> int:
    n = 0
    for affair in (d for d in muni.iterdir() if d.is_dir() and not d.name.startswith(("_", "."))):
        for p in affair.iterdir():
            if _DATE_NAME.match(p.name) and (p.is_file() or (p / "index.md").is_file()):
                n += 1
    return n


def load_templates(src: Path) -> list[Template]:
    """Every municipality of the site at `src`, cut into pieces, in slug order."""
    content = src / "content"
    munis = sorted(d for d in content.iterdir()
                   if d.is_dir() and (d / "_municipality.toml").is_file())
    docs = {d.name: tomllib.loads((d / "_municipality.toml").read_text(encoding="utf-8"))
            for d in munis}
    stems = {s: doc["name"].removesuffix("市") for s, doc in docs.items()}
    names = {doc["prefecture"] for doc in docs.values()} | set(stems.values())
    splitter = Splitter(protected_strings(src), names)
    out = []
    for d in munis:
        doc = docs[d.name]
        t = Template(d.name, doc["name"], doc["prefecture"], stems[d.name], _count_versions(d))
        texts = {}
        for p in sorted(d.rglob("*")):
            if not p.is_file():
                continue
            rel = p.relative_to(d).as_posix()
            if p.suffix in (".md", ".toml"):
                texts[rel] = p.read_text(encoding="utf-8")
            else:
                t.binary[rel] = p.read_bytes()
        frozen = splitter.frozen("\n".join(texts.values()))
        for rel, text in texts.items():
            t.files[rel] = splitter.split(text, t.prefecture, t.stem, frozen)
        out.append(t)
    return out


# ---------------------------------------------------------------------------------- copies

@dataclass
class Copy:
    slug: str
    template: str
    name: str
    prefecture: str
    code: str
    department: str
    versions: int


def _names(rng: random.Random) -> Iterator[str]:
    """Made-up place names: every two-kanji name in a seeded order, then three-kanji ones."""
    two = [a + b for a in _FIRST for b in _SECOND if a != b]
    rng.shuffle(two)
    yield from two
    three = [a + b + c for a in _FIRST for b in _SECOND for c in _SECOND if len({a, b, c}) == 3]
    rng.shuffle(three)
    yield from three


def _codes(rng: random.Random) -> Iterator[tuple[int, str]]:
    """(prefecture index, code) with a valid check digit, each once, in a seeded order."""
    pairs = [(p, n) for p in range(len(PREFECTURES)) for n in range(201, 900)]
    rng.shuffle(pairs)
    for p, n in pairs:
        five = f"{p + 1:02d}{n:03d}"
        yield p, five + str(lgcode.check_digit(five))


def plan(templates: list[Template], versions: int, seed: int) -> list[Copy]:
    """Copies of the templates, cycling through them, until the site holds `versions` versions
    (a template that would overshoot is skipped while a smaller one still fits)."""
    rng = random.Random(f"piasite-corpus:{seed}")
    names = _names(rng)
    taken = {t.name for t in templates}
    codes = _codes(rng)
    copies: list[Copy] = []
    total = 0
    i = 0
    while True:
        order = templates[i:] + templates[:i]
        t = next((t for t in order if total + t.versions <= versions), None)
        if t is None:
            if copies:
                break
            t = min(templates, key=lambda t: t.versions)
        name = next(n for n in names if n + "市" not in taken) + "市"
        taken.add(name)
        pref, code = next(codes)
        copies.append(Copy(f"{t.slug}-{len(copies) + 1:05d}", t.slug, name, PREFECTURES[pref],
                           code, rng.choice(DEPARTMENTS), t.versions))
        total += t.versions
        i = (templates.index(t) + 1) % len(templates)
    return copies


def _hash(seed: int, copy: Copy, context: str) -> int:
    return int.from_bytes(hashlib.blake2b(f"{seed}\0{copy.slug}\0{context}".encode(),
                                          digest_size=8).digest(), "big")


def _clause(seed: int, copy: Copy, context: str) -> str:
    h = _hash(seed, copy, context)
    if (h % 1000) >= CLAUSE_RATE * 1000:
        return ""
    return CLAUSES[(h // 1000) % len(CLAUSES)].format(
        city=copy.name, dept=copy.department, pref=copy.prefecture)


def render_copy(t: Template, copy: Copy, seed: int) -> dict[str, str]:
    """The copy's files: path under its municipality folder → text."""
    rng = random.Random(f"piasite-corpus:{seed}:{copy.slug}")
    words: dict[str, str] = {}
    for group in GROUPS:
        perm = list(group)
        rng.shuffle(perm)
        words.update(zip(group, perm, strict=True))
    stem = copy.name.removesuffix("市")
    clauses: dict[str, str] = {}
    out = {}
    for rel, pieces in t.files.items():
        parts = []
        for p in pieces:
            if isinstance(p, str):
                parts.append(p)
                continue
            kind, arg = p
            if kind == "word":
                parts.append(words[arg])
            elif kind == "city":
                parts.append(stem)
            elif kind == "pref":
                parts.append(copy.prefecture)
            elif kind == "comma":
                parts.append("，" if _hash(seed, copy, "、" + arg) % 2 else "、")
            else:
                if arg not in clauses:
                    clauses[arg] = _clause(seed, copy, arg)
                parts.append(clauses[arg])
        out[rel] = "".join(parts)
    # The municipality file says who the copy is (its comment line is replaced by the name).
    muni = out.get("_municipality.toml", "")
    muni = re.sub(r'(?m)^code = "[0-9]+"', f'code = "{copy.code}"', muni)
    out["_municipality.toml"] = muni
    return out


def generate(src: Path, dest: Path, versions: int, seed: int = 1,
             templates: list[Template] | None = None) -> list[Copy]:
    """Write a site of about `versions` versions to `dest` (replaced if it exists)."""
    templates = templates or load_templates(src)
    copies = plan(templates, versions, seed)
    by_slug = {t.slug: t for t in templates}
    if dest.exists():
        shutil.rmtree(dest)
    content = dest / "content"
    content.mkdir(parents=True)
    shutil.copy(src / "site.toml", dest / "site.toml")
    if (src / "forms").is_dir():  # a site's own form definitions
        shutil.copytree(src / "forms", dest / "forms")
    if (src / "content" / "systems").is_dir():
        shutil.copytree(src / "content" / "systems", content / "systems")
    for c in copies:
        t = by_slug[c.template]
        base = content / c.slug
        for rel, text in render_copy(t, c, seed).items():
            p = base / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text, encoding="utf-8")
        for rel, data in t.binary.items():
            p = base / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
    manifest = {"generator": GENERATOR_VERSION, "seed": seed, "requested": versions,
                "versions": sum(c.versions for c in copies),
                "copies": [asdict(c) for c in copies]}
    (dest / "corpus.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1),
                                      encoding="utf-8")
    return copies


def read_manifest(site: Path) -> dict:
    return json.loads((site / "corpus.json").read_text(encoding="utf-8"))


# ----------------------------------------------------------------------- one edited version

def edit_target(site: Path) -> Path:
    """The version an edit changes: the newest version of the middle copy of みどり市 (a 基礎項目
    version with an older version beside it, so its 新旧対照表 and 変更箇所 pages depend on it)."""
    copies = [c for c in read_manifest(site)["copies"] if c["template"] == "midori"]
    if not copies:
        copies = read_manifest(site)["copies"]
    c = copies[len(copies) // 2]
    revs = sorted(p / "index.md" if p.is_dir() else p
                  for p in (site / "content" / c["slug"]).glob("*/*")
                  if _DATE_NAME.match(p.name) and (p.is_file() or (p / "index.md").is_file()))
    return revs[-1]


_BODY_SENTENCE = re.compile(r"(?m)^(?!#|\+\+\+|\||[-*] )[^\n]*?。")


def edit(site: Path, n: int = 1) -> tuple[Path, bytes]:
    """Change one sentence of one version (the n-th edit words it differently); return the
    file and its bytes before, so the caller can put it back."""
    path = edit_target(site)
    before = path.read_bytes()
    text = before.decode("utf-8")
    body = text.index("+++", 3) + 3
    m = _BODY_SENTENCE.search(text, body)
    if m is None:
        raise ValueError(f"{path}: no sentence in the body to edit")
    end = m.end() - 1
    path.write_text(f"{text[:end]}（第{n}回の修正で文言を改めた）{text[end:]}", encoding="utf-8")
    return path, before


# ------------------------------------------------------------------------- Markdown export

def _md_lines(item, depth: int) -> Iterator[str]:
    from piasite.normalize import item_text

    node = item.node
    title = f"{node.no} {item.label}".strip() if node.kind != "repeat" or not item.value \
        else item.label
    if node.kind == "cover" and not item.children:
        return
    if node.kind not in ("cover",):
        yield f"{'#' * min(depth, 6)} {title}\n"
    if item.children:
        for c in item.children:  # the cover's items are the page's first sections
            yield from _md_lines(c, depth if node.kind == "cover" else depth + 1)
        return
    if not item.present or item.absent_in_version:
        return
    text = item_text(item).strip()
    if text:
        yield text + "\n"


def export_markdown(site_dir: Path, dest: Path) -> int:
    """Write the site's versions as a Hugo site: one Markdown page per version with the
    version's visible text in form order (the item headings and values), a config that makes
    every page `<html lang="ja">` (so Pagefind segments Japanese as it does for piasite), and
    minimal layouts. Returns the number of pages."""
    from piasite.load import load

    site, _ = load(site_dir)
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "content").mkdir(parents=True)
    (dest / "layouts").mkdir()
    (dest / "hugo.toml").write_text(HUGO_CONFIG, encoding="utf-8")
    for name, text in HUGO_LAYOUTS.items():
        (dest / "layouts" / name).write_text(text, encoding="utf-8")
    pages = 0
    for m in site.municipalities:
        for a in m.affairs:
            for r in a.revisions:
                title = f"{m.full_name} {a.title}（{r.id}）"
                body = "\n".join(line for it in r.items for line in _md_lines(it, 2))
                p = dest / "content" / m.slug / a.slug / f"{r.id}.md"
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_text(f"+++\ntitle = {json.dumps(title, ensure_ascii=False)}\n+++\n\n{body}",
                             encoding="utf-8")
                pages += 1
    return pages


HUGO_CONFIG = """\
baseURL = "https://example.invalid/"
languageCode = "ja"
defaultContentLanguage = "ja"
title = "保護評価書（比較用）"
disableKinds = ["taxonomy", "term"]
enableRobotsTXT = false
[markup.goldmark.renderer]
unsafe = false
"""

_HEAD = ('<!DOCTYPE html>\n<html lang="ja">\n<head><meta charset="utf-8">'
         "<title>{{ .Title }}</title></head>\n")
HUGO_LAYOUTS = {
    "single.html": _HEAD + "<body><main data-pagefind-body><h1>{{ .Title }}</h1>\n"
                   "{{ .Content }}\n</main></body>\n</html>\n",
    "list.html": _HEAD + "<body><main><h1>{{ .Title }}</h1><ul>\n{{ range .Pages }}"
                 '<li><a href="{{ .RelPermalink }}">{{ .Title }}</a></li>\n{{ end }}'
                 "</ul></main></body>\n</html>\n",
}


# ------------------------------------------------------------------------------------ CLI

def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate", help="write a site of N versions")
    g.add_argument("--versions", type=int, required=True)
    g.add_argument("--out", type=Path, required=True)
    g.add_argument("--seed", type=int, default=1)
    g.add_argument("--src", type=Path, default=REPO, help="site whose municipalities are copied")
    h = sub.add_parser("hugo", help="export a site's versions as a Hugo site")
    h.add_argument("site", type=Path)
    h.add_argument("out", type=Path)
    e = sub.add_parser("edit", help="change one sentence of one version")
    e.add_argument("site", type=Path)
    e.add_argument("--n", type=int, default=1)
    args = ap.parse_args(argv)
    if args.cmd == "generate":
        copies = generate(args.src, args.out, args.versions, args.seed)
        print(f"{args.out}: {sum(c.versions for c in copies)} versions in {len(copies)} "
              "municipalities")
    elif args.cmd == "hugo":
        print(f"{args.out}: {export_markdown(args.site, args.out)} pages")
    else:
        path, _ = edit(args.site, args.n)
        print(f"edited {path}")


if __name__ == "__main__":
    main()
