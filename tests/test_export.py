"""Open data: every version as JSON valid against the published schema, 変更箇所 as CSV.

A resident or journalist downloads these instead of scraping pages: what they get must be
what the page shows, row for row and value for value.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import re
from pathlib import Path

import jsonschema
import pytest
from helpers import REPO_ROOT, soup, text
from hypothesis import given
from hypothesis import strategies as st

from piasite import export

SCHEMA_FILE = REPO_ROOT / "schema" / "revision.schema.json"
CSV_HEADER = ["変更日", "変更日(ISO)", "項目", "変更前の記載", "変更後の記載", "提出時期",
              "提出時期に係る説明", "項目ID", "原本の行", "原本で切れている列", "読み取り"]
REV_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _versions(site: Path) -> list[Path]:
    """Every version page folder: /<muni>/<affair>/<YYYY-MM-DD>/."""
    return sorted(p.parent for p in site.glob("*/*/*/index.html") if REV_DIR.match(p.parent.name))


def _json(site: Path, version: Path) -> dict:
    return json.loads((version.parent / f"{version.name}.json").read_text(encoding="utf-8"))


def test_schema_is_published_unchanged(built_site: Path) -> None:
    published = built_site / "schema" / "revision.schema.json"
    assert published.read_bytes() == SCHEMA_FILE.read_bytes()
    assert json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))["$schema"] == (
        "https://json-schema.org/draft/2020-12/schema")


def test_every_version_has_json_that_validates(built_site: Path, validator) -> None:
    versions = _versions(built_site)
    assert len(versions) >= 7, versions  # the bundled site has 7 versions in 5 assessments
    for v in versions:
        data = _json(built_site, v)
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                  for e in validator.iter_errors(data)]
        assert not errors, f"{v}: {errors[:5]}"
        assert data["id"] == v.name
        assert data["url"].endswith(f"/{v.parent.parent.name}/{v.parent.name}/{v.name}/")


def test_schema_rejects_wrong_data(built_site: Path, validator) -> None:
    """The schema constrains the shapes a consumer relies on, it is not a bare `object`."""
    data = _json(built_site, built_site / "midori" / "juki" / "2025-12-12")
    assert validator.is_valid(data)
    select = next(i for i in data["items"] if i["kind"] == "select" and i["value"])
    broken = []
    bad = copy.deepcopy(data)
    next(i for i in bad["items"] if i["id"] == select["id"])["value"] = 3
    broken.append(bad)
    bad = copy.deepcopy(data)
    bad["status"] = "final"
    broken.append(bad)
    bad = copy.deepcopy(data)
    del bad["changes"][0]["after"]
    broken.append(bad)
    bad = copy.deepcopy(data)
    bad["items"][0]["surprise"] = 1
    broken.append(bad)
    for b in broken:
        assert not validator.is_valid(b)


def test_json_is_deterministic_japanese_and_sorted(built_site: Path) -> None:
    raw = (built_site / "midori" / "juki" / "2025-12-12.json").read_text(encoding="utf-8")
    assert raw.endswith("}\n")
    assert "住民基本台帳" in raw and "\\u" not in raw  # ensure_ascii=False
    data = json.loads(raw)
    assert list(data) == sorted(data)
    assert list(data["items"][1]) == sorted(data["items"][1])


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20)


@given(_JSON | st.integers(2**64, 2**70).map(lambda n: {"件数": [n]}))
def test_json_bytes_are_what_json_dumps_writes(data: object) -> None:
    # orjson writes the files; their bytes must stay those of the compact, sorted json.dumps
    # (control characters, U+2028, keys in code point order, integers past 64 bits).
    expected = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    assert export.json_bytes(data) == (expected + "\n").encode("utf-8")


def test_json_carries_form_status_provenance_and_lost_markers(built_site: Path) -> None:
    midori = _json(built_site, built_site / "midori" / "juki" / "2025-12-12")
    assert midori["status"] == "published" and midori["current"] is True
    assert midori["published"]["iso"] == "2025-12-12"
    assert midori["form"]["yoshiki"] and midori["form"]["edition"]
    assert midori["provenance"]["reconstructed"] is False
    assert len(midori["changes"]) == 26
    old = _json(built_site, built_site / "midori" / "juki" / "2023-08-18")
    assert old["provenance"]["reconstructed"] is True
    assert old["provenance"]["reconstruction"]["basis"] == "2025-12-12"
    assert old["current"] is False
    draft = _json(built_site, built_site / "asahikawa" / "juki" / "2025-07-01")
    assert draft["status"] == "draft"
    assert len(draft["changes"]) == 159
    lost = [i for v in _versions(built_site) for i in _json(built_site, v)["items"] if i["lost"]]
    assert lost, "the bundled content marks lost values; the JSON must say so"
    for i in lost:
        assert i["lost_reason"]


def _field_text(page, anchor: str) -> str:
    el = page.find(id=anchor)
    assert el is not None, anchor
    if el.name in ("h2", "h3", "h4", "h5", "h6"):
        el = el.parent
    return text(el)


def test_page_values_equal_json_values(built_site: Path) -> None:
    """Round trip: what the version page prints for an item is the JSON's value."""
    checked = 0
    for v in _versions(built_site):
        page = soup(v / "index.html")
        data = _json(built_site, v)
        for it in data["items"]:
            if it["unknown_in_version"] or it["absent_in_version"]:
                assert it["value"] is None, (v, it["id"])
            if not it["present"] or it["lost"] or it["value"] is None:
                continue
            val = it["value"]
            if it["kind"] == "select" and val:
                el = page.find(id=it["id"])
                shown = el.find(class_="value")
                assert shown is not None, (v, it["id"])
                assert text(shown).endswith(" ".join(val.split())), (v, it["id"], val)
                checked += 1
            elif it["kind"] == "text" and isinstance(val, str) and val and "\n" not in val \
                    and not re.search(r"[*_`\[\]<>#|\\~]|^\s*[-+\d]", val):
                # Mentions of systems become links: compare with all whitespace removed.
                assert "".join(val.split()) in "".join(_field_text(page, it["id"]).split()), \
                    (v, it["id"])
                checked += 1
            elif it["kind"] == "checks" and val:
                shown = _field_text(page, it["id"])
                for el in val:
                    label = el["label"] if isinstance(el, dict) else el
                    assert " ".join(label.split()) in shown, (v, it["id"], label)
                checked += 1
    assert checked > 500


def _csv_rows(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "UTF-8 BOM so that Excel reads Japanese correctly"
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


@pytest.mark.parametrize(("muni", "n"), [("midori", 26), ("asahikawa", 159), ("yatsushiro", 85)])
def test_csv_has_every_row_of_the_changes_table(built_site: Path, muni: str, n: int) -> None:
    rows = _csv_rows(built_site / muni / "juki" / "changes.csv")
    assert rows[0] == CSV_HEADER
    body = rows[1:]
    assert len(body) == n
    assert all(len(r) == len(CSV_HEADER) for r in body)
    page = soup(built_site / muni / "juki" / "changes" / "index.html")
    trs = page.select("table.changes tr[id^=change-]")
    assert len(trs) == n
    by_index = {int(tr["id"].removeprefix("change-")): tr for tr in trs}
    data = _json(built_site, built_site / muni / "juki" /
                 page.select_one('a[href$=".json"]')["href"].rsplit("/", 1)[1][:-5])
    for row, change in zip(body, data["changes"], strict=True):
        tr = by_index[change["row"]]
        assert row[0] == change["date"] and row[2] == change["item"]
        assert row[3] == change["before"] and row[4] == change["after"]
        assert text(tr.th).startswith(" ".join(change["item"].split())), change["row"]
        assert row[7] == (change["field"] or "")
        assert bool(row[9]) == bool(change["clipped"]) == ("切れており" in text(tr))
        if change["date_iso"]:
            assert row[1] == change["date_iso"]


def test_every_assessment_has_a_csv(built_site: Path) -> None:
    pages = sorted(built_site.glob("*/*/changes/index.html"))
    assert pages
    for p in pages:
        rows = _csv_rows(p.parent.parent / "changes.csv")
        assert len(rows) - 1 == len(soup(p).select("table.changes tr[id^=change-]")), p


def _resolve(site: Path, href: str) -> Path:
    assert href.startswith("/"), href
    return site / href.lstrip("/")


def test_version_and_changes_pages_link_the_data(built_site: Path) -> None:
    for v in _versions(built_site):
        page = soup(v / "index.html")
        hrefs = {a["href"] for a in page.find_all("a", href=True)}
        want = {f"/{v.parent.parent.name}/{v.parent.name}/{v.name}.json",
                f"/{v.parent.parent.name}/{v.parent.name}/changes.csv",
                "/schema/revision.schema.json"}
        assert want <= hrefs, (v, want - hrefs)
        for h in want:
            assert _resolve(built_site, h).is_file(), h
    for p in sorted(built_site.glob("*/*/changes/index.html")):
        links = soup(p).select(".data-links a[href]")
        hrefs = [a["href"] for a in links]
        assert any(h.endswith("/changes.csv") for h in hrefs), p
        assert any(h.endswith(".json") for h in hrefs), p
        for h in hrefs:
            assert _resolve(built_site, h).is_file(), (p, h)
