"""Jinja filters: dates as written plus a machine-readable form, numbers, ids.

Era dates are formatted with explicit tables (wareki.py), never with strftime and the
system locale, so output is the same on every machine.
"""

from __future__ import annotations

import datetime

from markupsafe import Markup, escape

from .wareki import parse_date, to_wareki


def time_tag(text: str, suffix: str = "") -> Markup:
    """`<time datetime="2025-12-12">令和7年12月12日</time>` for a date written in the content."""
    jd, _ = parse_date(text) if text else (None, [])
    tail = f" {escape(suffix)}" if suffix else ""
    if jd is None:
        return Markup(f"{escape(text)}{tail}")
    return Markup(f'<time datetime="{jd.iso()}">{escape(text)}</time>{tail}')


def wareki(value: str | datetime.date) -> str:
    """Render an ISO date (or date) as 令和7年12月12日 for UI text."""
    if isinstance(value, str):
        jd, _ = parse_date(value)
        if jd is None or jd.date() is None:
            return value
        value = jd.date()  # type: ignore[assignment]
    return to_wareki(value)  # type: ignore[arg-type]


def wareki_time(value: str) -> Markup:
    """An ISO date as `<time>` with 和暦 text, for dates piasite states (revision ids)."""
    return Markup(f'<time datetime="{escape(value)}">{escape(wareki(value))}</time>')


FILTERS = {"time_tag": time_tag, "wareki": wareki, "wareki_time": wareki_time}
