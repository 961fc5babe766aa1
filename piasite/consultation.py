"""パブリックコメント status, computed from a draft's period and "today" (fixed by --now)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from .model import CommentPeriod

BEFORE, OPEN, CLOSED, RESULTS = "before", "open", "closed", "results"
LABELS = {
    BEFORE: "意見募集前",
    OPEN: "意見募集中",
    CLOSED: "意見募集終了（結果公表待ち）",
    RESULTS: "結果公表済み",
}
MIN_DAYS = 30
"""The guidance asks for 30 days or more (指針第5の3; 行政手続法39条3項 for comparison)."""


@dataclass(frozen=True, slots=True)
class Status:
    code: str
    label: str
    days_left: int | None = None
    """Days until the end, counting the last day itself (1 on the last day)."""
    days_until_start: int | None = None


def status(period: CommentPeriod, today: datetime.date) -> Status:
    start, end = period.start.date(), period.end.date()
    assert start is not None and end is not None  # load only keeps periods with full dates
    if period.results_published is not None or period.opinions:
        return Status(RESULTS, LABELS[RESULTS])
    if today < start:
        return Status(BEFORE, LABELS[BEFORE], days_until_start=(start - today).days)
    if today <= end:
        left = (end - today).days + 1
        return Status(OPEN, f"{LABELS[OPEN]}（あと{left}日）", days_left=left)
    return Status(CLOSED, LABELS[CLOSED])


def length_days(period: CommentPeriod) -> int:
    """The period's length in days, both ends included."""
    return (period.end.date() - period.start.date()).days + 1  # type: ignore[operator]
