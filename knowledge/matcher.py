"""Question → entry matching: hybrid BM25 + fuzzy retrieval with a refusal decision.

Design
------
Every entry contributes *phrasings*: its title and each of its ``questions``.
All text goes through :func:`knowledge.normalize.tokenize` (NFC, case, spelling
variants, chat abbreviations) and is then scored by five signals, each in 0..1:

``uni``     BM25 (bm25s, Lucene variant) over the *folded* syllables of each
            phrasing. Normalised by the score the query would reach against a
            phrasing identical to itself; query words unknown to the whole KB
            count in that denominator, so an out-of-scope question full of
            foreign words ("giá vàng", "thuế thu nhập") cannot score high.
``bi``      BM25 over folded syllable *bigrams* (Vietnamese words are mostly two
            syllables: "giảm giá", "khuyến mại"); only bigrams known to the KB
            count in the denominator.
``acc``     BM25 over the *accented* tokens, queried only with the query tokens
            that carry diacritics: a small tie-breaker for folding collisions,
            silent for unaccented queries (see :mod:`knowledge.normalize`).
``fuzzy``   rapidfuzz ``token_set_ratio``/``token_sort_ratio`` between the
            folded query and every folded phrasing, computed in one vectorised
            ``process.cdist`` call (robust to typos that survive correction).
``entry``   BM25 over one document per entry (all phrasings concatenated),
            which rewards a query that mixes words from several phrasings of
            the same entry.

Before lexical scoring, query syllables unknown to the KB are repaired against
the KB vocabulary: Telex leftovers ("khuyeens", "maij"), two syllables typed
together ("khuyenmai") and one-edit typos (OSA distance 1, words of ≥ 4
letters). Repaired tokens count with a reduced weight.

Phrasing-level signals are combined linearly, the best phrasing of each entry is
kept, the entry-level signal is added, and the result is divided by the total
weight (so ``score`` is in 0..1). The answer is *confident* when the best score
reaches ``threshold`` **and** beats the runner-up by ``margin``; otherwise
:attr:`MatchResult.best` is ``None`` and the caller should offer the ranked
suggestions or say the question is out of scope.

Weights and thresholds were tuned on the *dev* split of ``tests/data/qa_eval.yaml``
only (``python benchmarks/bench_qa.py --tune``); the held-out split is used for
reporting, never for tuning.

Everything per query is vectorised (numpy over bm25s's sparse index, one
``cdist`` call), so a query costs well under a millisecond on a KB of a few
hundred phrasings. :meth:`KnowledgeBase.reload` builds a complete new index and
swaps a single reference, so concurrent readers see either the old or the new
KB, never a mix.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise
from pathlib import Path

import bm25s
import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from knowledge.loader import DEFAULT_ENTRIES_DIR, Entry, load_entries
from knowledge.normalize import fold, tokenize

__all__ = [
    "BASELINE_BM25_PARAMS",
    "BASELINE_FUZZY_PARAMS",
    "DEFAULT_PARAMS",
    "KnowledgeBase",
    "MatchParams",
    "MatchResult",
    "ScoredEntry",
]

logging.getLogger("bm25s").setLevel(logging.WARNING)

_FUZZY_SCORERS: dict[str, Callable[..., float]] = {
    "token_set_ratio": fuzz.token_set_ratio,
    "token_sort_ratio": fuzz.token_sort_ratio,
    "token_ratio": fuzz.token_ratio,
    "WRatio": fuzz.WRatio,
    "ratio": fuzz.ratio,
    "partial_token_sort_ratio": fuzz.partial_token_sort_ratio,
}

_TELEX_PAIRS = (("dd", "d"), ("aa", "a"), ("aw", "a"), ("ee", "e"), ("oo", "o"), ("ow", "o"), ("uw", "u"))
_TELEX_TONES = frozenset("sfrxj")


@dataclass(frozen=True, slots=True)
class ScoredEntry:
    entry: Entry
    score: float


@dataclass(frozen=True, slots=True)
class MatchResult:
    ranked: list[ScoredEntry]
    confident: bool
    #: The normalised (accented) query, useful for logs.
    query: str = ""

    @property
    def best(self) -> Entry | None:
        """The top entry when the match is confident, else ``None``."""
        if self.confident and self.ranked:
            return self.ranked[0].entry
        return None


@dataclass(frozen=True, slots=True)
class MatchParams:
    """Weights and thresholds of the matcher (defaults: tuned on dev)."""

    # BM25 index parameters.
    k1: float = 1.2
    b: float = 0.75
    # Signal weights (0 disables a signal).
    w_uni: float = 1.0
    w_bi: float = 0.5
    w_acc: float = 0.15
    w_fuzzy: float = 1.0
    w_entry: float = 0.3
    fuzzy_scorer: str = "token_sort_ratio"
    # Weight of an unknown query syllable in the coverage denominator, as a
    # fraction of the largest idf of the KB.
    oov_weight: float = 0.8
    # Weight of a syllable obtained by typo repair (0 disables repair).
    repair_weight: float = 0.8
    # Confidence decision.
    threshold: float = 0.5
    margin: float = 0.03

    @property
    def total_weight(self) -> float:
        return self.w_uni + self.w_bi + self.w_acc + self.w_fuzzy + self.w_entry


DEFAULT_PARAMS = MatchParams()
#: Baseline: BM25 alone over folded unigrams (same normaliser), thresholds tuned on dev.
BASELINE_BM25_PARAMS = MatchParams(
    w_uni=1.0, w_bi=0.0, w_acc=0.0, w_fuzzy=0.0, w_entry=0.0, repair_weight=0.0, threshold=0.5, margin=0.03
)
#: Baseline: rapidfuzz WRatio alone over folded phrasings, thresholds tuned on dev.
BASELINE_FUZZY_PARAMS = MatchParams(
    w_uni=0.0, w_bi=0.0, w_acc=0.0, w_fuzzy=1.0, w_entry=0.0, fuzzy_scorer="WRatio",
    repair_weight=0.0, threshold=0.8, margin=0.03,
)


def _bigrams(tokens: Sequence[str]) -> list[str]:
    return [f"{a}_{c}" for a, c in pairwise(tokens)]


class _Channel:
    """One bm25s index plus the statistics needed to normalise its scores."""

    def __init__(self, docs: list[list[str]], k1: float, b: float) -> None:
        self.num_docs = len(docs)
        self.k1, self.b = k1, b
        df: Counter[str] = Counter()
        for doc in docs:
            df.update(set(doc))
        n = len(docs)
        self.idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}
        self.max_idf = max(self.idf.values(), default=1.0)
        self.avgdl = (sum(len(d) for d in docs) / n) if n else 1.0
        self.df = df
        # bm25s needs at least one token per document.
        safe_docs = [doc if doc else ["\x00"] for doc in docs]
        self.model = bm25s.BM25(k1=k1, b=b, method="lucene")
        self.model.index(safe_docs, show_progress=False)
        self.vocab: dict[str, int] = self.model.vocab_dict
        sc = self.model.scores
        self._data: np.ndarray = sc["data"]
        self._indices: np.ndarray = sc["indices"]
        self._indptr: np.ndarray = sc["indptr"]

    def score(self, terms: dict[str, float]) -> np.ndarray:
        """Weighted BM25 of every document for ``{token: query weight}``."""
        out = np.zeros(self.num_docs, dtype=np.float32)
        vocab, data, indices, indptr = self.vocab, self._data, self._indices, self._indptr
        for tok, w in terms.items():
            tid = vocab.get(tok)
            if tid is None:
                continue
            s, e = indptr[tid], indptr[tid + 1]
            out[indices[s:e]] += w * data[s:e]
        return out

    def self_score(self, terms: dict[str, float], oov_idf: float | None) -> float:
        """Score of a document equal to the query (the normaliser).

        Unknown terms count with ``oov_idf`` when given, else not at all.
        """
        qlen = max(len(terms), 1)
        tfc = 1.0 / (1.0 + self.k1 * (1 - self.b + self.b * qlen / self.avgdl))
        total = 0.0
        for tok, w in terms.items():
            idf = self.idf.get(tok, oov_idf)
            if idf is not None:
                total += w * idf
        return total * tfc


@dataclass(slots=True)
class Features:
    """Per-query signals before combination (kept separate for tuning)."""

    uni: np.ndarray  # per phrasing, 0..1
    bi: np.ndarray
    acc: np.ndarray
    fuzzy: dict[str, np.ndarray]  # scorer name -> per phrasing, 0..1
    entry: np.ndarray  # per entry, 0..1
    query: str = ""
    empty: bool = False


@dataclass(slots=True)
class _Index:
    entries: list[Entry]
    params: MatchParams
    starts: np.ndarray = field(init=False)  # first phrasing of each entry
    phrase_folded: list[str] = field(init=False)
    uni: _Channel = field(init=False)
    bi: _Channel = field(init=False)
    acc: _Channel = field(init=False)
    entry_ch: _Channel = field(init=False)
    vocab_by_df: list[str] = field(init=False)
    vocab: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        p = self.params
        starts: list[int] = []
        folded_docs: list[list[str]] = []
        acc_docs: list[list[str]] = []
        entry_docs: list[list[str]] = []
        self.phrase_folded = []
        for entry in self.entries:
            starts.append(len(folded_docs))
            entry_tokens: list[str] = []
            for text in (entry.title, *entry.questions):
                toks = tokenize(text)
                ftoks = [fold(t) for t in toks]
                folded_docs.append(ftoks)
                acc_docs.append(toks + _bigrams(toks))
                self.phrase_folded.append(" ".join(ftoks))
                entry_tokens.extend(ftoks)
            entry_docs.append(entry_tokens)
        self.starts = np.asarray(starts, dtype=np.intp)
        self.uni = _Channel(folded_docs, p.k1, p.b)
        self.bi = _Channel([_bigrams(d) for d in folded_docs], p.k1, p.b)
        self.acc = _Channel(acc_docs, p.k1, p.b)
        self.entry_ch = _Channel(entry_docs, p.k1, p.b)
        self.vocab = frozenset(self.uni.idf)
        self.vocab_by_df = sorted(self.uni.idf, key=lambda t: (-self.uni.df[t], t))

    # -- query side -------------------------------------------------------

    def _repair(self, tok: str) -> list[str] | None:
        """Map an unknown folded syllable to known ones, or ``None``."""
        vocab = self.vocab
        if not tok.isalpha():
            return None
        # Telex leftovers: doubled vowels / dd / w-marks, trailing tone key.
        t = tok
        for a, c in _TELEX_PAIRS:
            t = t.replace(a, c)
        candidates = [t]
        if len(t) > 1 and t[-1] in _TELEX_TONES:
            candidates.append(t[:-1])
        for cand in candidates:
            if cand != tok and cand in vocab:
                return [cand]
        # Two syllables typed without a space.
        for i in range(2, len(tok) - 1):
            if tok[:i] in vocab and tok[i:] in vocab:
                return [tok[:i], tok[i:]]
        # One edit (substitution, insertion, deletion or transposition).
        if len(tok) >= 4:
            hit = process.extractOne(
                tok, self.vocab_by_df, scorer=OSA.distance, processor=None, score_cutoff=1
            )
            if hit is not None:
                return [hit[0]]
        return None

    def features(self, text: str, fuzzy_scorers: Iterable[str]) -> Features:
        p = self.params
        toks = tokenize(text)
        query = " ".join(toks)
        n_phr = len(self.phrase_folded)
        if not toks:
            zeros = np.zeros(n_phr, dtype=np.float32)
            return Features(zeros, zeros, zeros, {}, np.zeros(len(self.entries), np.float32), query, True)

        # Folded tokens with typo repair.
        ftoks: list[str] = []
        weights: list[float] = []
        oov_idf = p.oov_weight * self.uni.max_idf
        for tok in toks:
            ft = fold(tok)
            if ft in self.vocab or p.repair_weight <= 0:
                ftoks.append(ft)
                weights.append(1.0)
                continue
            fixed = self._repair(ft)
            if fixed is None:
                ftoks.append(ft)
                weights.append(1.0)
            else:
                ftoks.extend(fixed)
                weights.extend([p.repair_weight] * len(fixed))

        uni_terms: dict[str, float] = {}
        for t, w in zip(ftoks, weights, strict=True):
            uni_terms[t] = max(uni_terms.get(t, 0.0), w)
        bi_terms = {t: 1.0 for t in _bigrams(ftoks)}
        acc_terms = {t: 1.0 for t in toks if fold(t) != t}
        acc_terms.update({t: 1.0 for t in _bigrams(toks) if fold(t) != t})

        def norm(ch: _Channel, terms: dict[str, float], oov: float | None) -> np.ndarray:
            denom = ch.self_score(terms, oov)
            if denom <= 0:
                return np.zeros(ch.num_docs, dtype=np.float32)
            return np.minimum(ch.score(terms) / denom, 1.0)

        uni = norm(self.uni, uni_terms, oov_idf)
        bi = norm(self.bi, bi_terms, None)
        # Accented tokens unknown as such but known folded are collisions:
        # they count against the entries (oov at their folded idf).
        acc = norm(self.acc, acc_terms, self.acc.max_idf * p.oov_weight) if acc_terms else (
            np.zeros(n_phr, dtype=np.float32)
        )
        entry = norm(self.entry_ch, uni_terms, p.oov_weight * self.entry_ch.max_idf)

        qf = " ".join(ftoks)
        fuzzy = {}
        for name in fuzzy_scorers:
            fuzzy[name] = (
                process.cdist([qf], self.phrase_folded, scorer=_FUZZY_SCORERS[name], processor=None,
                              dtype=np.float32, workers=1)[0]
                / 100.0
            )
        return Features(uni, bi, acc, fuzzy, entry, query)

    def combine(self, f: Features, p: MatchParams) -> np.ndarray:
        """Per-entry score in 0..1."""
        if f.empty:
            return np.zeros(len(self.entries), dtype=np.float32)
        phr = p.w_uni * f.uni + p.w_bi * f.bi + p.w_acc * f.acc
        if p.w_fuzzy:
            phr = phr + p.w_fuzzy * f.fuzzy[p.fuzzy_scorer]
        per_entry = np.maximum.reduceat(phr, self.starts) + p.w_entry * f.entry
        total = p.total_weight
        return per_entry / total if total > 0 else per_entry

    def decide(self, scores: np.ndarray, p: MatchParams, limit: int, query: str) -> MatchResult:
        if scores.size == 0:
            return MatchResult([], False, query)
        k = min(max(limit, 2), scores.size)
        top = np.argpartition(-scores, k - 1)[:k] if k < scores.size else np.arange(scores.size)
        top = top[np.argsort(-scores[top], kind="stable")]
        s1 = float(scores[top[0]])
        s2 = float(scores[top[1]]) if top.size > 1 else 0.0
        confident = s1 >= p.threshold and (s1 - s2) >= p.margin
        ranked = [
            ScoredEntry(self.entries[i], round(float(scores[i]), 4)) for i in top[:limit] if scores[i] > 0
        ]
        return MatchResult(ranked, confident and bool(ranked), query)

    def match(self, text: str, p: MatchParams, limit: int) -> MatchResult:
        scorers = (p.fuzzy_scorer,) if p.w_fuzzy else ()
        f = self.features(text, scorers)
        return self.decide(self.combine(f, p), p, limit, f.query)


class KnowledgeBase:
    """The loaded knowledge base and its search index.

    >>> kb = KnowledgeBase.load()
    >>> result = kb.match("giảm giá tối đa bao nhiêu phần trăm")
    >>> result.best  # Entry or None
    """

    def __init__(
        self,
        entries: dict[str, Entry],
        path: Path | None = None,
        params: MatchParams = DEFAULT_PARAMS,
        fuzzy_params: MatchParams = BASELINE_FUZZY_PARAMS,
        bm25_params: MatchParams = BASELINE_BM25_PARAMS,
    ) -> None:
        self.path = path
        self.params = params
        self.fuzzy_params = fuzzy_params
        self.bm25_params = bm25_params
        self._lock = threading.Lock()
        self._entries: dict[str, Entry] = {}
        self._index: _Index | None = None
        self._baseline_index: _Index | None = None
        self._install(entries)

    @classmethod
    def load(cls, path: Path | None = None, params: MatchParams = DEFAULT_PARAMS) -> KnowledgeBase:
        """Load entries from *path* (default: the package's ``entries/`` folder)."""
        folder = Path(path) if path is not None else DEFAULT_ENTRIES_DIR
        return cls(load_entries(folder), path=folder, params=params)

    def _install(self, entries: dict[str, Entry]) -> None:
        ordered = [entries[k] for k in sorted(entries)]
        index = _Index(ordered, self.params)
        baseline = _Index(ordered, replace(self.bm25_params)) if (
            (self.bm25_params.k1, self.bm25_params.b) != (self.params.k1, self.params.b)
        ) else index
        with self._lock:
            # Single reference swaps: readers use whichever they fetched.
            self._entries = dict(entries)
            self._index = index
            self._baseline_index = baseline

    def reload(self) -> None:
        """Re-read the entries folder and swap in a new index.

        On error (invalid file, duplicate id …) the current KB stays in place
        and :class:`~knowledge.loader.KnowledgeError` is raised.
        """
        if self.path is None:
            raise ValueError("KnowledgeBase was not loaded from a folder")
        self._install(load_entries(self.path))

    @property
    def entries(self) -> dict[str, Entry]:
        return self._entries

    def __len__(self) -> int:
        return len(self._entries)

    # -- matching ---------------------------------------------------------

    def match(self, text: str, limit: int = 3) -> MatchResult:
        """Hybrid match (BM25 + fuzzy + confidence decision)."""
        index = self._index
        assert index is not None
        return index.match(text, self.params, limit)

    def match_fuzzy_only(self, text: str, limit: int = 3) -> MatchResult:
        """Baseline: rapidfuzz WRatio alone (for the benchmark)."""
        index = self._baseline_index
        assert index is not None
        return index.match(text, self.fuzzy_params, limit)

    def match_bm25_only(self, text: str, limit: int = 3) -> MatchResult:
        """Baseline: BM25 alone over folded unigrams (for the benchmark)."""
        index = self._baseline_index
        assert index is not None
        return index.match(text, self.bm25_params, limit)

    # -- tuning support -----------------------------------------------------

    def features(self, text: str, fuzzy_scorers: Iterable[str] = tuple(_FUZZY_SCORERS)) -> Features:
        """Raw per-signal scores of *text* (used by the tuning script)."""
        index = self._index
        assert index is not None
        return index.features(text, fuzzy_scorers)

    def combine(self, features: Features, params: MatchParams, limit: int = 3) -> MatchResult:
        """Combine precomputed :meth:`features` with *params* (index params must match)."""
        index = self._index
        assert index is not None
        return index.decide(index.combine(features, params), params, limit, features.query)
