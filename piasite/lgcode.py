"""全国地方公共団体コード: 5 digits plus a check digit (JIS X 0402)."""

from __future__ import annotations

_WEIGHTS = (6, 5, 4, 3, 2)


def check_digit(code5: str) -> int:
    """Return the check digit for a 5-digit code: the last digit of 11 − (Σ dᵢ·wᵢ mod 11)."""
    total = sum(int(d) * w for d, w in zip(code5, _WEIGHTS, strict=True))
    return (11 - total % 11) % 10


def problem(code: str) -> str | None:
    """Return a Japanese message if `code` is not a valid 6-digit code, else None."""
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        return f"全国地方公共団体コード「{code}」は半角数字6桁で書いてください"
    expected = check_digit(code[:5])
    if int(code[5]) != expected:
        return (f"全国地方公共団体コード「{code}」の検査数字が違います"
                f"（{code[:5]} の検査数字は {expected} です）")
    return None
