"""Atom feed of new versions, drafts and results; iCalendar files for comment periods.

Both are built from the model with absolute URLs from site.toml's base_url, and are
deterministic: timestamps come from the content's own dates, never from the clock.
"""

from __future__ import annotations

import datetime
import html
from collections.abc import Iterable

from . import routes
from .model import Affair, Municipality, Revision, SiteConfig


def escape(text: str) -> str:
    """`&`, `<` and `>` as XML entities, as xml.sax.saxutils.escape writes them (importing
    it imports urllib.request, http.client and ssl: about 0.01 s of every start)."""
    return html.escape(text, quote=False)


def _fold(line: str) -> str:
    """Fold an iCalendar content line at 75 octets (RFC 5545 3.1), never inside a character."""
    out, cur = [], b""
    for ch in line:
        b = ch.encode()
        if len(cur) + len(b) > (75 if not out else 74):
            out.append(cur.decode())
            cur = b""
        cur += b
    out.append(cur.decode())
    return "\r\n ".join(out)


def _ics_text(s: str) -> str:
    return s.replace("\\", "\\\\").replace(";", r"\;").replace(",", r"\,").replace("\n", r"\n")


def ics(draft: Revision, affair: Affair, muni: Municipality, base_url: str) -> bytes:
    """The comment period as an all-day event, plus the deadline day as its own event."""
    c = draft.comment
    assert c is not None and c.start.date() and c.end.date()
    start, end = c.start.date(), c.end.date()
    url = f"{base_url}{draft.url}"
    stamp = start.strftime("%Y%m%dT000000Z")  # a date from the content keeps builds repeatable
    title = f"{muni.full_name} {affair.title}（案）への意見募集"
    events = [
        ("period", start, end + datetime.timedelta(days=1), f"{title}（期間）",
         f"意見募集期間：{c.period_text or c.start.text + '～' + c.end.text}"),
        ("deadline", end, end + datetime.timedelta(days=1), f"{title}の締切",
         f"意見提出の締切日です（{c.end.text}）。"),
    ]
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//piasite//パブリックコメント//JA",
             "CALSCALE:GREGORIAN", "METHOD:PUBLISH"]
    for kind, d0, d1, summary, desc in events:
        lines += [
            "BEGIN:VEVENT",
            f"UID:{draft.muni}-{draft.affair}-{draft.id}-{kind}@piasite",
            f"DTSTAMP:{stamp}",
            f"DTSTART;VALUE=DATE:{d0.strftime('%Y%m%d')}",
            f"DTEND;VALUE=DATE:{d1.strftime('%Y%m%d')}",
            f"SUMMARY:{_ics_text(summary)}",
            f"DESCRIPTION:{_ics_text(desc + ' ' + url)}",
            f"URL:{url}",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return ("\r\n".join(_fold(x) for x in lines) + "\r\n").encode()


FeedEntry = tuple[str, str, str, str]
"""(ISO date, URL path, title, summary) of one feed entry."""


def entries(m: Municipality, a: Affair, label_of) -> tuple[FeedEntry, ...]:
    """One assessment's news: each version and draft, and each published result."""
    out = []
    for rev in a.revisions:
        if rev.reconstructed:
            continue  # a reconstruction is not news: nothing was published that day
        kind = "案" if rev.status == "draft" else "評価書"
        out.append((rev.id, rev.url, f"{m.full_name} {a.title}：{label_of(rev)}",
                    f"{m.full_name}の{a.title}の{label_of(rev)}を掲載しました（{kind}）。"))
        c = rev.comment
        if c is not None and c.results_published is not None:
            out.append((c.results_published.iso(), routes.results(rev.muni, rev.affair, rev.id),
                        f"{m.full_name} {a.title}：意見募集の結果",
                        "意見募集の結果（意見の概要と市の考え方）を掲載しました。"))
    return tuple(out)


FEED_MAX_ENTRIES = 100
"""The feed's newest entries: feed readers fetch it again and again, and a national site's
every assessment (one entry each, 714 at 1,000 versions, 410 KB) would make it tens of MB.
Every version stays on its pages and in the sitemap."""


def atom(config: SiteConfig, news: Iterable[FeedEntry]) -> bytes:
    """An Atom feed (RFC 4287) of the assessments' newest FEED_MAX_ENTRIES entries, newest
    first."""
    base_url = config.base_url
    entries = [(date, f"{base_url}{path}", title, summary) for date, path, title, summary in news]
    entries.sort(key=lambda e: (e[0], e[1]), reverse=True)
    del entries[FEED_MAX_ENTRIES:]
    updated = (entries[0][0] if entries else "2000-01-01") + "T00:00:00Z"
    parts = ['<?xml version="1.0" encoding="utf-8"?>',
             '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="ja">',
             f"  <title>{escape(config.title)}：新着</title>",
             f"  <id>{escape(base_url + routes.feed())}</id>",
             f'  <link rel="self" type="application/atom+xml" href="{escape(base_url + routes.feed())}"/>',
             f'  <link rel="alternate" type="text/html" href="{escape(base_url + routes.home())}"/>',
             f"  <updated>{updated}</updated>",
             f"  <author><name>{escape(config.title)}</name></author>"]
    for date, url, title, summary in entries:
        parts += ["  <entry>",
                  f"    <title>{escape(title)}</title>",
                  f"    <id>{escape(url)}</id>",
                  f'    <link rel="alternate" type="text/html" href="{escape(url)}"/>',
                  f"    <updated>{date}T00:00:00Z</updated>",
                  f"    <summary>{escape(summary)}</summary>",
                  "  </entry>"]
    parts.append("</feed>")
    return ("\n".join(parts) + "\n").encode()
