"""The promotion check: rules as data versioned by date, the calendars, and the one verdict composer.

``check_promotion(plan, windows, today)`` is what a chat flow and ``python -m bot check`` call.
"""

from knowledge.promotion.verdict import Point, Verdict, check_promotion

__all__ = ["Point", "Verdict", "check_promotion"]
