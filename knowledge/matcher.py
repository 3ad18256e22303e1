"""Question → entry matching: hybrid BM25 + fuzzy retrieval with a refusal decision.

Design
------
Every entry contributes *phrasings* (its title and each of its ``questions``)
and an *answer*. All text goes through :func:`knowledge.normalize.tokenize`
(NFC, case, spelling variants, chat abbreviations). A query is scored against
each entry with these signals, each normalised to 0..1:

``entry``   BM25 (bm25s, Lucene variant) over one document per entry made of the
            folded syllables and syllable bigrams of all its phrasings
            (Vietnamese words are mostly two syllables: "giảm giá", "khuyến
            mại"; bigrams also separate folding collisions by context: "so cong"
            is "sở công", "so dien" is "số điện").
``uni``     BM25 over the folded syllables of each phrasing (best phrasing).
``bi``      BM25 over the folded bigrams of each phrasing (best phrasing).
``acc``     BM25 over the *accented* syllables/bigrams of each phrasing, queried
            only with the query tokens that carry diacritics: a tie-breaker for
            folding collisions, silent for unaccented queries.
``fuzzy``   rapidfuzz similarity (``ratio``, an Indel distance) between the
            folded query and every folded phrasing, in one vectorised
            ``process.cdist`` call: robust to typos and small word changes.
``answer``  BM25 over the answer text (unigrams + bigrams), lower weight: it
            catches questions phrased with words only the answer uses.
``year``    +1 / −1 when the query names a year that the entry's title or
            questions name / only other years do (the yearly editions of
            Online Friday must not be mixed up); 0 otherwise.

Every BM25 signal is divided by the score the query would reach against a
document identical to itself. In the lexical channels, query syllables unknown
to the whole KB count in that denominator, so an out-of-scope question full of
foreign words ("giá vàng", "kết hôn") cannot score high: this *coverage* is
what makes refusals work.

Before lexical scoring, query syllables unknown to the KB are repaired against
the KB vocabulary: Telex leftovers ("khuyeens", "giamr"), syllables typed
together ("khuyenmai", "dichvucong") and one-edit typos (rapidfuzz OSA distance
1, words of ≥ 4 letters). Repaired syllables count with a reduced weight.

The score of an entry is the weighted mean of its best-phrasing signals and its
entry-level signals, plus the year term (clipped to 0..1). The answer is
*confident* when the query has at least ``min_terms`` distinct words known to the KB
(a lone digit such as "1", a single word or an emoji is never answered
confidently), the best score s1 reaches the floor ``threshold``, and the
*decision score* ``s1 + conf_margin·(s1 − s2) + conf_length·ln(1 + words)``
reaches ``decision`` (s2: the runner-up; words capped at :data:`LENGTH_CAP`). Long
questions that tell a whole situation dilute the coverage-normalised scores, so
they need a lower s1; a clear lead over the runner-up counts as evidence too. The
three coefficients are a logistic fit ("is the top entry right?") on the dev
questions (``bench_qa --calibrate``, answer when P ≥ 0.85). Otherwise
:attr:`MatchResult.best` is ``None`` and the caller should offer the ranked
suggestions or say the question is out of scope.

Accents: with the tuned weights the accented channel is off (``w_acc = 0``), so
an unaccented query scores exactly like its accented form; folding collisions
are separated by the syllable bigrams of the entry channel instead. The channel
is kept (and searched by ``--tune``) should a future KB need it.

Weights were tuned on the *dev* split of ``tests/data/qa_eval.yaml`` only
(``python -m tests.benchmarks.bench_qa --tune``), with two guards against
over-fitting dev phrasing: 5-fold cross-validation over the dev questions (the same
configuration won every fold), and a leave-phrasings-out score on the KB's own
questions (each fifth of every entry's questions removed from the index in turn and
asked, accented and folded). The confidence rule was fitted on the dev questions of
``qa_eval.yaml`` and ``qa_dev_v3.yaml`` (the latter written blind, as calibration
data). The held-out split is used for reporting, never for tuning. The two baselines
of the benchmark (:meth:`KnowledgeBase.match_bm25_only`,
:meth:`KnowledgeBase.match_fuzzy_only`) share the normaliser and keep the plain rule
(floor + margin, no decision score), with their own dev-tuned thresholds.

Scope (:func:`review`, :mod:`knowledge.scope`): a question about another domain is never confident
(:attr:`MatchResult.off_topic`); a told situation of a known kind (:mod:`knowledge.situations`, data beside the
entries) gets that kind's entries combined, and another told situation whose leading entries are close gets them
combined (:attr:`MatchResult.combined`, the first one is :attr:`MatchResult.best` and leads the ranking).

Everything per query is vectorised (numpy over bm25s's sparse index, one
``cdist`` call), so a query costs well under a millisecond on a KB of a few
hundred phrasings. :meth:`KnowledgeBase.reload` builds a complete new index and
swaps a single reference, so concurrent readers see either the old or the new
KB, never a mix.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rapidfuzz import fuzz, process

from knowledge.bm25 import Channel, bigrams
from knowledge.loader import DEFAULT_ENTRIES_DIR, Entry, load_entries
from knowledge.normalize import fold, tokenize
from knowledge.repair import repair
from knowledge.scope import (
    MAX_COMBINED,
    SITUATION_BAND,
    SITUATION_FLOOR,
    is_off_topic,
    is_situation,
    may_tell,
    narrator,
)
from knowledge.situations import SituationKind, kinds_for, load_kinds, situations_file

__all__ = [
    "BASELINE_BM25_PARAMS",
    "BASELINE_FUZZY_PARAMS",
    "DEFAULT_PARAMS",
    "LENGTH_CAP",
    "KnowledgeBase",
    "MatchParams",
    "MatchResult",
    "ScoredEntry",
    "decision_score",
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

_YEAR_RE = re.compile(r"(?:19|20)\d\d")


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
    #: A told situation: the entries an answer combines (the first is ``best``); empty otherwise.
    combined: tuple[Entry, ...] = ()
    #: The question is about another domain (see :mod:`knowledge.scope`).
    off_topic: bool = False

    @property
    def best(self) -> Entry | None:
        """The top entry when the match is confident, else ``None``."""
        if self.confident and self.ranked:
            return self.ranked[0].entry
        return None


@dataclass(frozen=True, slots=True)
class MatchParams:
    """Weights and thresholds of the matcher (defaults: tuned on the dev split)."""

    # Index construction.
    k1: float = 1.2
    b: float = 0.9
    entry_bigrams: bool = True
    # Query side: weight of an unknown query syllable in the coverage
    # denominator (fraction of the largest idf of the KB), and weight of a
    # syllable obtained by typo repair (0 disables repair).
    oov_weight: float = 0.4
    repair_weight: float = 0.5
    # Signal weights (0 disables a signal).
    w_uni: float = 0.5
    w_bi: float = 0.0
    w_acc: float = 0.0
    w_fuzzy: float = 1.5
    w_entry: float = 2.0
    w_answer: float = 1.0
    fuzzy_scorer: str = "token_sort_ratio"
    # Year agreement, added after normalisation: +w when the query names a year
    # that the entry's title/questions name, -w when the entry names only
    # other years (yearly editions of Online Friday must not be mixed up).
    w_year: float = 0.1
    # Confidence decision: the best score s1 must reach ``threshold`` and beat the runner-up s2 by ``margin``,
    # and the *decision score* s1 + conf_margin·(s1 − s2) + conf_length·ln(1 + min(words, LENGTH_CAP)) must
    # reach ``decision``. Long questions full of context ("shop em bán quần áo online, dịp này…") dilute
    # the coverage-normalised scores, so they need a lower s1; a clear lead over the runner-up counts too.
    # The three coefficients come from a logistic fit on the dev questions (bench_qa --calibrate).
    threshold: float = 0.3
    margin: float = 0.0
    conf_margin: float = 0.973
    conf_length: float = 0.235
    decision: float = 1.213
    #: A confident answer needs at least this many distinct query words (folded,
    #: alphabetic, known to the KB after typo repair): a lone digit, a single
    #: word or an emoji is never answered confidently, whatever its score.
    min_terms: int = 3

    @property
    def total_weight(self) -> float:
        return self.w_uni + self.w_bi + self.w_acc + self.w_fuzzy + self.w_entry + self.w_answer

    @property
    def index_key(self) -> tuple[float, float, bool]:
        return (self.k1, self.b, self.entry_bigrams)


DEFAULT_PARAMS = MatchParams()
#: Baseline "BM25 alone": bm25s with its default k1/b over one document per
#: entry (title + questions), folded unigrams of the same normaliser; no
#: bigrams, fuzzy, typo repair or year term.
BASELINE_BM25_PARAMS = MatchParams(
    k1=1.5,
    b=0.75,
    entry_bigrams=False,
    oov_weight=0.8,
    repair_weight=0.0,
    w_uni=0.0,
    w_bi=0.0,
    w_acc=0.0,
    w_fuzzy=0.0,
    w_entry=1.0,
    w_answer=0.0,
    w_year=0.0,
    threshold=0.46,
    margin=0.1,
    conf_margin=0.0,
    conf_length=0.0,
    decision=0.0,
)
#: Baseline "fuzzy alone": rapidfuzz WRatio between the folded query and each
#: folded phrasing, best phrasing per entry.
BASELINE_FUZZY_PARAMS = MatchParams(
    repair_weight=0.0,
    w_uni=0.0,
    w_bi=0.0,
    w_acc=0.0,
    w_fuzzy=1.0,
    w_entry=0.0,
    w_answer=0.0,
    w_year=0.0,
    fuzzy_scorer="WRatio",
    threshold=0.2,
    margin=0.01,
    conf_margin=0.0,
    conf_length=0.0,
    decision=0.0,
)


#: Questions longer than this many words count as this long in the confidence decision.
LENGTH_CAP = 30


def decision_score(s1: float, s2: float, query: str, p: MatchParams) -> float:
    """The score the confidence rule compares with ``p.decision`` (``query``: the normalised question)."""
    words = min(len(query.split()), LENGTH_CAP)
    return s1 + p.conf_margin * (s1 - s2) + p.conf_length * math.log1p(words)


@dataclass(slots=True)
class Features:
    """Per-query signals before combination (kept separate for tuning)."""

    uni: np.ndarray  # per phrasing, 0..1
    bi: np.ndarray
    acc: np.ndarray
    fuzzy: dict[str, np.ndarray]  # scorer name -> per phrasing, 0..1
    entry: np.ndarray  # per entry, 0..1
    answer: np.ndarray  # per entry, 0..1
    year: np.ndarray  # per entry, -1 / 0 / +1
    query: str = ""
    empty: bool = False
    #: Distinct alphabetic query words known to the KB (after typo repair).
    known_terms: int = 0


class _Index:
    """Immutable search structures for one set of entries."""

    def __init__(self, entries: Sequence[Entry], params: MatchParams) -> None:
        self.entries = list(entries)
        self.key = params.index_key
        k1, b = params.k1, params.b
        starts: list[int] = []
        folded_docs: list[list[str]] = []
        acc_docs: list[list[str]] = []
        entry_docs: list[list[str]] = []
        answer_docs: list[list[str]] = []
        self.phrase_folded: list[str] = []
        self.years: list[frozenset[str]] = []
        for entry in self.entries:
            starts.append(len(folded_docs))
            entry_tokens: list[str] = []
            years: set[str] = set()
            for text in (entry.title, *entry.questions):
                toks = tokenize(text)
                ftoks = [fold(t) for t in toks]
                folded_docs.append(ftoks)
                acc_docs.append(toks + bigrams(toks))
                self.phrase_folded.append(" ".join(ftoks))
                entry_tokens.extend(ftoks)
                if params.entry_bigrams:
                    entry_tokens.extend(bigrams(ftoks))
                years.update(t for t in ftoks if _YEAR_RE.fullmatch(t))
            entry_docs.append(entry_tokens)
            self.years.append(frozenset(years))
            answer = [fold(t) for t in tokenize(entry.answer)]
            answer_docs.append(answer + bigrams(answer))
        self.starts = np.asarray(starts, dtype=np.intp)
        self.n_phrasings = len(folded_docs)
        self.uni = Channel(folded_docs, k1, b)
        self.bi = Channel([bigrams(d) for d in folded_docs], k1, b)
        self.acc = Channel(acc_docs, k1, b)
        self.entry_ch = Channel(entry_docs, k1, b)
        self.answer_ch = Channel(answer_docs, k1, b)
        self.vocab = frozenset(self.uni.idf)
        # Most frequent first, so that ties in typo repair favour common words.
        self.vocab_by_df = sorted(self.uni.idf, key=lambda t: (-self.uni.df[t], t))

    # -- query side -------------------------------------------------------

    def features(
        self, text: str, p: MatchParams, fuzzy_scorers: Iterable[str] = (), every_channel: bool = False
    ) -> Features:
        """Signals of *text*; channels with weight 0 are skipped unless *every_channel*."""
        toks = tokenize(text)
        query = " ".join(toks)
        n_phr, n_ent = self.n_phrasings, len(self.entries)
        zeros = np.zeros(n_phr, dtype=np.float32)
        ezeros = np.zeros(n_ent, dtype=np.float32)
        if not toks:
            return Features(zeros, zeros, zeros, {}, ezeros, ezeros, ezeros, query, True)

        def wanted(weight: float) -> bool:
            return every_channel or weight != 0

        ftoks, weights = self.folded_terms(toks, p)
        uni_terms: dict[str, float] = {}
        for t, w in zip(ftoks, weights, strict=True):
            uni_terms[t] = max(uni_terms.get(t, 0.0), w)
        bi_terms = dict.fromkeys(bigrams(ftoks), 1.0)
        oov_uni = p.oov_weight * self.uni.max_idf

        def norm(ch: Channel, terms: dict[str, float], oov: float | None) -> np.ndarray:
            denom = ch.self_score(terms, oov)
            if denom <= 0:
                return np.zeros(ch.num_docs, dtype=np.float32)
            return np.minimum(ch.score(terms) / denom, 1.0)

        uni = norm(self.uni, uni_terms, oov_uni) if wanted(p.w_uni) else zeros
        bi = norm(self.bi, bi_terms, None) if wanted(p.w_bi) else zeros
        acc = zeros
        if wanted(p.w_acc):
            acc_terms = {t: 1.0 for t in toks if fold(t) != t}
            acc_terms.update({t: 1.0 for t in bigrams(toks) if fold(t) != t})
            if acc_terms:
                acc = norm(self.acc, acc_terms, p.oov_weight * self.acc.max_idf)
        entry = ezeros
        if wanted(p.w_entry):
            entry_terms = dict(uni_terms)
            if self.key[2]:
                entry_terms.update(bi_terms)
            entry = norm(self.entry_ch, entry_terms, p.oov_weight * self.entry_ch.max_idf)
        answer = ezeros
        if wanted(p.w_answer):
            answer = norm(self.answer_ch, {**uni_terms, **bi_terms}, None)
        year = ezeros
        if wanted(p.w_year):
            qyears = {t for t in toks if _YEAR_RE.fullmatch(t)}
            if qyears:
                year = np.array(
                    [0.0 if not ys else (1.0 if ys & qyears else -1.0) for ys in self.years],
                    dtype=np.float32,
                )
        names = set(fuzzy_scorers) | ({p.fuzzy_scorer} if p.w_fuzzy else set())
        fuzzy = self.fuzzy(" ".join(ftoks), names)
        known = sum(1 for t in uni_terms if t.isalpha() and t in self.vocab)
        return Features(uni, bi, acc, fuzzy, entry, answer, year, query, known_terms=known)

    def folded_terms(self, toks: list[str], p: MatchParams) -> tuple[list[str], list[float]]:
        """The folded query syllables with their weights; unknown ones repaired (``p.repair_weight`` each)."""
        ftoks: list[str] = []
        weights: list[float] = []
        for tok in toks:
            ft = fold(tok)
            fixed = None
            if p.repair_weight > 0 and ft not in self.vocab:
                fixed = repair(ft, self.vocab, self.vocab_by_df)
            if fixed is None:
                ftoks.append(ft)
                weights.append(1.0)
            else:
                ftoks.extend(fixed)
                weights.extend([p.repair_weight] * len(fixed))
        return ftoks, weights

    def fuzzy(self, folded_query: str, scorers: Iterable[str]) -> dict[str, np.ndarray]:
        """Similarity (0..1) of the folded query to every folded phrasing, per rapidfuzz scorer name."""
        return {
            name: process.cdist(
                [folded_query],
                self.phrase_folded,
                scorer=_FUZZY_SCORERS[name],
                processor=None,
                dtype=np.float32,
                workers=1,
            )[0]
            / 100.0
            for name in scorers
        }

    def phrasing_scores(self, f: Features, p: MatchParams) -> np.ndarray:
        """Phrasing-level part of the score (unnormalised)."""
        phr = p.w_uni * f.uni + p.w_bi * f.bi + p.w_acc * f.acc
        if p.w_fuzzy:
            phr = phr + p.w_fuzzy * f.fuzzy[p.fuzzy_scorer]
        return phr

    def combine(self, f: Features, p: MatchParams) -> np.ndarray:
        """Per-entry score in 0..1."""
        if f.empty:
            return np.zeros(len(self.entries), dtype=np.float32)
        phr = self.phrasing_scores(f, p)
        per_entry = np.maximum.reduceat(phr, self.starts) + p.w_entry * f.entry + p.w_answer * f.answer
        total = p.total_weight
        if total > 0:
            per_entry = per_entry / total
        if p.w_year:
            per_entry = np.clip(per_entry + p.w_year * f.year, 0.0, 1.0)
        return per_entry

    def decide(
        self, scores: np.ndarray, p: MatchParams, limit: int, query: str, known_terms: int | None = None
    ) -> MatchResult:
        """Rank and apply the confidence rule (``known_terms`` below ``p.min_terms`` → not confident)."""
        if scores.size == 0 or limit <= 0:
            return MatchResult([], False, query)
        # Stable sort: ties keep the (sorted-id) entry order, so results are deterministic.
        top = np.argsort(-scores, kind="stable")[: max(limit, 2)]
        s1 = float(scores[top[0]])
        s2 = float(scores[top[1]]) if top.size > 1 else 0.0
        confident = s1 >= p.threshold and (s1 - s2) >= p.margin and decision_score(s1, s2, query, p) >= p.decision
        if known_terms is not None and known_terms < p.min_terms:
            confident = False
        ranked = [ScoredEntry(self.entries[i], round(float(scores[i]), 4)) for i in top[:limit] if scores[i] > 0]
        return MatchResult(ranked, confident and bool(ranked), query)

    def match(self, text: str, p: MatchParams, limit: int) -> MatchResult:
        f = self.features(text, p)
        return self.decide(self.combine(f, p), p, limit, f.query, f.known_terms)


def review(
    text: str,
    result: MatchResult,
    limit: int,
    kinds: Sequence[SituationKind] = (),
    entries: dict[str, Entry] | None = None,
) -> MatchResult:
    """An off-topic question is never confident; a told situation combines its kinds' entries (else the close
    leading entries), which lead the ranking (*result* ranks every entry)."""
    ranked = result.ranked
    if is_off_topic(text):
        return MatchResult(ranked[:limit], False, result.query, off_topic=True)
    told = kinds_for(text, kinds) if kinds and may_tell(text) else []
    situation = bool(ranked) and is_situation(text) and (result.confident or ranked[0].score >= SITUATION_FLOOR)
    if not told and not situation:
        return MatchResult(ranked[:limit], result.confident, result.query)
    by_id, who = {s.entry.id: s for s in ranked}, narrator(text)
    # A confident search keeps its answer first (a plain question that shares a kind's words).
    lead = ranked[:1] if result.confident else []
    wanted = lead + [by_id.get(i) or ScoredEntry((entries or {})[i], 0.0) for kind in told for i in kind.entries]
    curated = {i for kind in told if kind.who != "both" for i in kind.entries}  # a "both" kind: by the teller
    close = [s for s in ranked if s.score >= ranked[0].score - SITUATION_BAND] if ranked else []
    picked: list[ScoredEntry] = []
    for s in wanted + close:  # a kind's entries as listed; the search fills up, by the teller's audience
        fits = not picked or s.entry.id in curated or who is None or s.entry.audience in (who, "both")
        if len(picked) < MAX_COMBINED and fits and all(p.entry.id != s.entry.id for p in picked):
            picked.append(s)
    rest = [s for s in ranked if all(p.entry.id != s.entry.id for p in picked)]
    return MatchResult((picked + rest)[:limit], True, result.query, combined=tuple(p.entry for p in picked))


@dataclass(frozen=True, slots=True)
class _State:
    """Everything a query needs, swapped as one reference on reload."""

    entries: dict[str, Entry]
    index: _Index
    baseline_indexes: dict[tuple[float, float, bool], _Index]
    kinds: tuple[SituationKind, ...] = ()


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
        self._reload_lock = threading.Lock()
        self._state = self._build(entries)

    @classmethod
    def load(cls, path: Path | None = None, params: MatchParams = DEFAULT_PARAMS) -> KnowledgeBase:
        """Load entries from *path* (default: the package's ``entries/`` folder)."""
        folder = Path(path) if path is not None else DEFAULT_ENTRIES_DIR
        return cls(load_entries(folder), path=folder, params=params)

    def _build(self, entries: dict[str, Entry]) -> _State:
        ordered = [entries[k] for k in sorted(entries)]
        index = _Index(ordered, self.params)
        baselines: dict[tuple[float, float, bool], _Index] = {index.key: index}
        for bp in (self.bm25_params, self.fuzzy_params):
            if bp.index_key not in baselines:
                baselines[bp.index_key] = _Index(ordered, bp)
        kinds = load_kinds(situations_file(self.path), entries) if self.path is not None else ()
        return _State(dict(entries), index, baselines, kinds)

    def reload(self) -> None:
        """Re-read the entries folder (and the situation kinds beside it) and swap in a new index.

        The new index is built completely before a single reference is
        replaced, so concurrent :meth:`match` calls see the old or the new KB,
        never a mix. On error (invalid file, duplicate id …) the current KB
        stays in place and :class:`~knowledge.loader.KnowledgeError` is raised.
        """
        if self.path is None:
            raise ValueError("KnowledgeBase was not loaded from a folder")
        with self._reload_lock:
            self._state = self._build(load_entries(self.path))

    @property
    def entries(self) -> dict[str, Entry]:
        return self._state.entries

    @property
    def kinds(self) -> tuple[SituationKind, ...]:
        """The told-situation kinds loaded beside the entries (:mod:`knowledge.situations`)."""
        return self._state.kinds

    def __len__(self) -> int:
        return len(self._state.entries)

    # -- matching ---------------------------------------------------------

    def match(self, text: str, limit: int = 3) -> MatchResult:
        """Hybrid match (BM25 + fuzzy + confidence decision), reviewed for scope (see :func:`review`)."""
        state = self._state
        result = state.index.match(text, self.params, len(state.entries))
        return review(text, result, limit, state.kinds, state.entries)

    def match_fuzzy_only(self, text: str, limit: int = 3) -> MatchResult:
        """Baseline for the benchmark: rapidfuzz WRatio alone."""
        state = self._state
        return state.baseline_indexes[self.fuzzy_params.index_key].match(text, self.fuzzy_params, limit)

    def match_bm25_only(self, text: str, limit: int = 3) -> MatchResult:
        """Baseline for the benchmark: BM25 alone (one document per entry)."""
        state = self._state
        return state.baseline_indexes[self.bm25_params.index_key].match(text, self.bm25_params, limit)

    # -- tuning and checks ----------------------------------------------------

    @property
    def index(self) -> _Index:
        """The current hybrid index (used by the tuning script and the checks)."""
        return self._state.index
