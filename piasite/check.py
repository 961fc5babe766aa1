"""Check the loaded model against the forms and against itself.

Each rule is a function `check_xxx(site) -> Iterator[Diagnostic]`, listed in RULES.
Errors stop the build; warnings keep the source's own contradictions visible without
changing the content (the site publishes what the municipality declared).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping

from . import lgcode, prefectures
from .consultation import MIN_DAYS, length_days
from .diagnostics import Diagnostic, Span, error, note, warning
from .model import VERSION_READINGS, Reading, Revision, Site
from .normalize import PLACEHOLDERS, item_text, match_key
from .wareki import parse_date


def _date_diags(text: str, span: Span | Callable[[], Span], what: str
                ) -> Iterator[Diagnostic]:
    """A date's problems, at `span` (or where `span()` says: worked out only for a problem)."""
    _, problems = parse_date(text)
    for p in problems:
        make = error if p.severity == "error" else warning
        yield make(p.code, f"{what}: {p.message}", span if isinstance(span, Span) else span())


def check_values(site: Site) -> Iterator[Diagnostic]:
    """Selections must be one of the form's choices; dates must be real dates."""
    for rev in site.revisions():
        for item in rev.walk():
            node, v, span = item.node, item.value, item.span or rev.span
            if v is None or v == "":
                continue
            if node.kind == "select" and node.choices and v not in node.choices.options:
                yield error("E104", f"「{item.label}」の値「{v}」は様式の選択肢にありません",
                            span, hint="選択肢: " + " / ".join(node.choices.options))
            elif node.kind == "checks" and node.options:
                for el in v:  # type: ignore[union-attr]
                    label = el["label"] if isinstance(el, Mapping) else el
                    if label not in node.options:
                        yield error("E104", f"「{item.label}」の「{label}」は様式の選択肢にありません",
                                    span, hint="選択肢: " + " / ".join(node.options))
            elif node.kind == "date" and isinstance(v, str):
                yield from _date_diags(v, span, f"「{item.label}」")


def check_changes(site: Site) -> Iterator[Diagnostic]:
    """変更箇所 rows: real dates, known field ids, and the source's own inconsistencies."""
    for rev in site.revisions():
        anchors = rev.anchors or {i.anchor for i in rev.walk()}
        seen: dict[tuple, int] = {}
        last_after: dict[str, tuple] = {}
        for row in rev.changes:
            if row.date_text:
                yield from _date_diags(row.date_text, functools.partial(row.at, "date"),
                                      f"変更箇所 {row.index} 行目の変更日")
            if row.field and row.field not in anchors:
                yield error("E108", f"変更箇所 {row.index} 行目の field「{row.field}」は様式の項目にありません",
                            row.at("field"))
            key = (row.date_text, row.item, row.before, row.after, row.timing, row.reason)
            if key in seen:
                yield warning("W401", f"変更箇所 {row.index} 行目は {seen[key]} 行目と同じ内容です（原本のまま掲載）",
                              row.span)
            else:
                seen[key] = row.index
            if row.before and match_key(row.before) == match_key(row.after):
                yield warning("W402", f"変更箇所 {row.index} 行目は変更前と変更後の記載が同一です（原本のまま掲載）",
                              row.span)
            if row.date and rev.published and row.date.iso() > rev.published.iso():
                yield warning("W403", f"変更箇所 {row.index} 行目の変更日「{row.date_text}」は公表日より後です",
                              row.span)
            if (row.field and row.field in last_after and row.before
                    and row.before.strip() not in PLACEHOLDERS
                    and last_after[row.field][1].strip() not in PLACEHOLDERS):
                prev_index, prev_after = last_after[row.field]
                if not (_consistent(row.before, prev_after) or _consistent(prev_after, row.before)):
                    yield warning(
                        "W404", f"変更箇所 {row.index} 行目の変更前が、同じ項目の {prev_index} 行目の変更後と一致しません",
                        row.span)
            if row.field:
                last_after[row.field] = (row.index, row.after)
        yield from _last_after_matches_body(rev, last_after)


def _last_after_matches_body(rev: Revision, last_after: dict[str, tuple]) -> Iterator[Diagnostic]:
    """The newest 変更後 of a field should be what the body says now."""
    by_index = {r.index: r for r in rev.changes}
    for field, (index, after) in sorted(last_after.items()):
        item = rev.item(field)
        # Only free text, dates and lists are compared: a selection or a count is printed
        # differently in a 変更箇所 cell (〇自己点検, （４）件) and ≪省略≫ marks an excerpt.
        # An item a reconstructed version cannot know has no body to compare.
        if (item is None or item.node.kind not in ("text", "date", "list") or not item.present
                or "≪省略≫" in after or item.lost or item.unknown_in_version):
            continue
        if not _consistent(after, item_text(item)):
            yield warning(
                "W405", f"変更箇所 {index} 行目の変更後の記載が、本文の「{item.label}」と一致しません",
                by_index[index].span, related=(item.span,) if item.span else ())


_PRINTED_NO = re.compile(r"^(?:【[^】]*】\s*)?(?:[①-⑳]|\(?[0-9０-９]{1,2}[).．）])?")
# 略 as a mark of its own (（略）, a line 略, ≪省略≫), not inside a word such as 戦略.
_GAP = re.compile(r"[（(](?:以下略|中略|略)[）)]|≪省略≫|(?<!\S)(?:以下略|中略|略)(?!\S)")


def _consistent(after: str, body: str) -> bool:
    """A 変更箇所 cell agrees with the body when one holds the other: cells quote an excerpt
    of the item (with 略 where they leave text out), or the item with its printed number
    (①) or heading in front. Commas are compared without their style (，/、)."""
    b = _commas(match_key(body))
    pieces = [_commas(match_key(_PRINTED_NO.sub("", p.strip()))) for p in _GAP.split(after)]
    pieces = [p for p in pieces if p]
    if not pieces or not b:
        return False
    return all(p in b for p in pieces) or (len(pieces) == 1 and b in pieces[0])


def _commas(text: str) -> str:
    return text.replace(",", "、")


def check_municipality_codes(site: Site) -> Iterator[Diagnostic]:
    """A 全国地方公共団体コード must be six digits with the right check digit."""
    for m in site.municipalities:
        problem = lgcode.problem(m.code) if m.code else None
        if problem:
            yield error("E203", problem, m.at("code"))


def check_prefectures(site: Site) -> Iterator[Diagnostic]:
    """The written 都道府県 should be the one the code names: a national site lists
    municipalities by the code's (prefectures.of), and the page shows the written one."""
    for m in site.municipalities:
        problem = prefectures.problem(m.code, m.prefecture)
        if problem:
            yield warning("W205", problem, m.at("prefecture"))


def check_publication_dates(site: Site) -> Iterator[Diagnostic]:
    """A published version's 公表日 should be the date its file is named after."""
    for rev in site.revisions():
        if rev.status != "published" or rev.published is None or rev.published.iso() == rev.id:
            continue
        item = next(i for i in rev.walk() if i.node.key == "published")
        yield warning("W204", f"公表日「{item.value}」がファイル名の版「{rev.id}」と一致しません",
                      item.span or rev.span)


def check_documents(site: Site) -> Iterator[Diagnostic]:
    """An accompanying document belongs to a version of its assessment, when it names one."""
    for affair in site.affairs():
        for doc in affair.pages:
            if doc.revision and doc.revision not in affair.version_ids:
                yield error("E109", f"資料が属する版「{doc.revision}」がありません", doc.at("revision"))


def check_reconstructions(site: Site) -> Iterator[Diagnostic]:
    """A reconstructed version must say what its basis rows say it was before."""
    for affair in site.affairs():
        revs = {r.id: r for r in affair.revisions}
        for rev in affair.revisions:
            rc = rev.reconstructed
            if rc is None:
                continue
            basis = revs.get(rc.basis)
            if basis is None:
                if rc.basis not in affair.version_ids:  # one that failed to load is reported
                    yield error("E109", f"復元の元になる版「{rc.basis}」がありません", rc.span)
                continue
            rows = {r.index: r for r in basis.changes}
            for idx in [*rc.applied, *(i for i, _ in rc.not_applied)]:
                if idx not in rows:
                    yield error("E109", f"版「{rc.basis}」に変更箇所 {idx} 行目はありません", rc.span)
            for idx in rc.applied:
                row = rows.get(idx)
                if row is None or not row.field:
                    continue
                old, new = rev.item(row.field), basis.item(row.field)
                if old is None or new is None:
                    continue
                if old.absent_in_version:
                    continue
                if match_key(item_text(old)) != match_key(row.before):
                    yield warning("W406", f"復元版の「{old.label}」が変更箇所 {idx} 行目の変更前と一致しません",
                                  old.span or rev.span)


def _count_target(anchor: str, node_id: str, target_id: str) -> str:
    """The anchor of the group a count counts, in the same repeat instance as the count."""
    common = 0
    while common < min(len(node_id), len(target_id)) and node_id[common] == target_id[common]:
        common += 1
    return anchor[: len(anchor) - (len(node_id) - common)] + target_id[common:]


def check_declared_counts(site: Site) -> Iterator[Diagnostic]:
    """A declared count (委託事項 （４）件) that differs from the entries listed: both kept."""
    for rev in site.revisions():
        for item in rev.walk():
            node = item.node
            if node.kind != "number" or not node.counts or item.value in (None, ""):
                continue
            try:
                declared = int(unicodedata.normalize("NFKC", str(item.value)).strip())
            except ValueError:
                continue
            group = rev.item(_count_target(item.anchor, node.id, node.counts))
            if group is None or not group.present:
                continue
            listed = len(group.children)
            if declared != listed:
                yield warning("W407", f"「{item.label}」は {declared} 件ですが、{listed} 件が記載されています（原本のまま掲載）",
                              item.span or rev.span,
                              related=(group.span,) if group.span else ())


def check_comment_periods(site: Site) -> Iterator[Diagnostic]:
    """A comment period must end after it starts and last 30 days unless a reason is given."""
    for rev in site.revisions():
        period = rev.comment
        if period is None:
            continue
        if rev.status != "draft":
            yield error("E803", "[comment]（意見募集）は案の版（status = \"draft\"）にだけ書けます",
                        period.span)
        if period.end.iso() < period.start.iso():
            yield error("E801", f"意見募集期間の終わり（{period.end.text}）が始まり（{period.start.text}）より前です",
                        period.span)
        elif length_days(period) < MIN_DAYS and not period.short_reason:
            yield warning("W802", f"意見募集期間が{length_days(period)}日です（原則30日以上）。短くする理由を "
                          "comment.short_reason に書いてください", period.span)


def _reading_note(what: str, reading: Reading) -> Diagnostic:
    lines = f"（原本 {'・'.join(map(str, reading.lines))} 行目）" if reading.lines else ""
    return note("I101", f"{what}は原本に書かれていない読み取りです{lines}: {reading.text}",
                reading.span)


def check_readings(site: Site) -> Iterator[Diagnostic]:
    """Every reading, as a note: a reviewer can list and confirm each against the original."""
    for rev in site.revisions():
        for key, reading in rev.readings.items():
            if key.startswith("changes."):
                what = f"変更箇所のすべての行の「{key.split('.', 1)[1]}」"
            else:
                what = VERSION_READINGS.get(key, key)
            yield _reading_note(what, reading)
        for item in rev.walk():
            if item.reading is not None:
                yield _reading_note(f"「{item.label}」（#{item.anchor}）", item.reading)
        for row in rev.changes:
            for cell, reading in row.readings.items():
                yield _reading_note(f"変更箇所 {row.index} 行目の「{cell}」", reading)


MUNICIPALITY_RULES = (check_municipality_codes, check_prefectures)
"""Rules about a municipality's own settings: a build runs them once per municipality."""
ASSESSMENT_RULES = (check_publication_dates, check_values, check_changes, check_documents,
                    check_reconstructions, check_declared_counts, check_comment_periods,
                    check_readings)
"""Rules within one assessment: a build runs them where it builds that assessment."""
RULES = MUNICIPALITY_RULES + ASSESSMENT_RULES


def check(site: Site, rules: tuple = RULES) -> list[Diagnostic]:
    """Run every rule (or those named); the caller sorts and prints."""
    return [d for rule in rules for d in rule(site)]
