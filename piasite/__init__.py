"""piasite: publish 特定個人情報保護評価書 (My Number PIA) as an accessible static site."""

from __future__ import annotations

from .diagnostics import Diagnostic, Severity, Span
from .pipeline import BuildResult, build, check

__all__ = ["BuildResult", "Diagnostic", "Severity", "Span", "build", "check"]
__version__ = "0.1.0"
