"""Knowledge base of the assistant: entries, normalisation, matching, checks."""

from knowledge.loader import Entry, KnowledgeError
from knowledge.matcher import KnowledgeBase, MatchParams, MatchResult, ScoredEntry
from knowledge.normalize import fold, normalize

__all__ = [
    "Entry",
    "KnowledgeBase",
    "KnowledgeError",
    "MatchParams",
    "MatchResult",
    "ScoredEntry",
    "fold",
    "normalize",
]
