"""One BM25 channel of the matcher: a bm25s index plus what it takes to normalise its scores to 0..1."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from itertools import pairwise

import bm25s
import numpy as np


def bigrams(tokens: Sequence[str]) -> list[str]:
    return [f"{a}_{c}" for a, c in pairwise(tokens)]


class Channel:
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
