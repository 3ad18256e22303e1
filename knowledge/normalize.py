"""Vietnamese text normalisation for the knowledge-base matcher.

Two functions matter to callers:

``normalize(text)``
    Canonical *accented* form used for matching: Unicode NFKC/NFC, case folding,
    zero-width characters dropped, old/new tone-placement variants unified
    (``hoá``/``hóa``, ``thuỷ``/``thủy`` …), common i/y spelling variants unified
    (``kí``/``ký``, ``qui``/``quy`` …), numbers with units rewritten (``50%`` →
    ``50 phần trăm``, ``100k`` → ``100 nghìn``), punctuation turned into spaces,
    whitespace collapsed and chat abbreviations expanded from the data-driven
    :data:`REPLACEMENTS` table (``km`` → ``khuyến mại``, ``ko`` → ``không`` …).

``fold(text)``
    Removes every diacritic (``đ`` → ``d``). It does not change case or spacing.

Design: why both accented and folded forms are indexed
-------------------------------------------------------
Merchants type with full diacritics, without any (phone keyboards, Telex turned
off) or with a mix. Matching only on the folded form makes every query work, but
folding merges distinct words (``dê``/``dế``/``đề`` all become ``de``; ``mại``,
``mãi`` and ``mai`` become ``mai``). Matching only on the accented form breaks for
unaccented queries. The matcher therefore keeps two lexical channels:

* the **folded channel** is the primary signal; every query, accented or not, is
  scored there, so scores (and the confidence thresholds built on them) are
  comparable between accented and unaccented questions;
* the **accented channel** is a small *bonus* computed only from the query tokens
  that actually carry diacritics. When the user typed accents it separates
  entries that a folding collision would otherwise tie; when the user typed no
  accents it contributes nothing and costs nothing.

A folding collision thus costs at most the (small) accented bonus, never a wrong
exclusion, and unaccented questions are not penalised relative to accented ones.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

__all__ = [
    "REPLACEMENTS",
    "SYMBOLS",
    "fold",
    "has_diacritics",
    "normalize",
    "tokenize",
]

# ---------------------------------------------------------------------------
# Data tables (edit these, not the code).
# ---------------------------------------------------------------------------

#: Token-sequence replacements applied after punctuation removal. Keys are
#: space-separated lower-case tokens (longest key wins, up to three tokens);
#: values are the canonical accented text. Chat abbreviations, common
#: unaccented spellings of domain words and i/y spelling variants live here.
REPLACEMENTS: Mapping[str, str] = {
    # khuyến mại (the legal term; "khuyến mãi" is the everyday spelling)
    "km": "khuyến mại",
    "kmai": "khuyến mại",
    "kmãi": "khuyến mại",
    "kmại": "khuyến mại",
    "khuyenmai": "khuyến mại",
    "khuyếnmãi": "khuyến mại",
    "khuyếnmại": "khuyến mại",
    "khuyen mai": "khuyến mại",
    "khuyến mãi": "khuyến mại",
    "khuyến mai": "khuyến mại",
    "khuyen mãi": "khuyến mại",
    "khuyen mại": "khuyến mại",
    "khuyên mãi": "khuyến mại",
    "khuyên mại": "khuyến mại",
    "ctkm": "chương trình khuyến mại",
    "ctr": "chương trình",
    "chtrinh": "chương trình",
    # institutions, documents
    "sct": "sở công thương",
    "bct": "bộ công thương",
    "tmđt": "thương mại điện tử",
    "tmdt": "thương mại điện tử",
    "nđ": "nghị định",
    "nd": "nghị định",
    "dn": "doanh nghiệp",
    "dnghiep": "doanh nghiệp",
    "hkd": "hộ kinh doanh",
    "gg": "giảm giá",
    "onl": "online",
    "ol": "online",
    "of": "online friday",  # how merchants write the campaign's name in chat ("OF 2024", "dịp OF")
    "onl fri": "online friday",
    "fake": "giả",  # "hàng fake", "đồ fake"
    "auth": "chính hãng",  # "hàng auth"
    "mgg": "mã giảm giá",
    "nsx": "nhà sản xuất",
    "hsd": "hạn sử dụng",
    "mst": "mã số thuế",
    "gpkd": "giấy phép kinh doanh",
    "đkkd": "đăng ký kinh doanh",
    "dkkd": "đăng ký kinh doanh",
    "ubnd": "ủy ban nhân dân",
    "ck": "chuyển khoản",
    "ncc": "nhà cung cấp",
    # everyday chat words
    "ko": "không",
    "k": "không",
    "hok": "không",
    "hông": "không",
    "khum": "không",
    "khg": "không",
    "khong": "không",
    "dc": "được",
    "đc": "được",
    "duoc": "được",
    "sp": "sản phẩm",
    "hh": "hàng hóa",
    "bn": "bao nhiêu",
    "bnhieu": "bao nhiêu",
    "bnh": "bao nhiêu",
    "bao nhieu": "bao nhiêu",
    "j": "gì",
    "gi": "gì",
    "ntn": "như thế nào",
    "vs": "với",
    "mk": "mình",
    "mn": "mọi người",
    "r": "rồi",
    "vd": "ví dụ",
    "trc": "trước",
    "đki": "đăng ký",
    "dki": "đăng ký",
    "đky": "đăng ký",
    "dky": "đăng ký",
    "tb": "thông báo",
    "bc": "báo cáo",
    "hs": "hồ sơ",
    "đk": "đăng ký",
    "dk": "đăng ký",
    "qđ": "quyết định",
    "qd": "quyết định",
    "tt": "thông tin",
    "kh": "khách hàng",
    "ng": "người",
    "ntd": "người tiêu dùng",
    "bvqlntd": "bảo vệ quyền lợi người tiêu dùng",
    "tm": "thương mại",
    "ct": "chương trình",
    "bộ ct": "bộ công thương",
    "sở ct": "sở công thương",
    "bo ct": "bộ công thương",
    "so ct": "sở công thương",
    "qltt": "quản lý thị trường",
    "dvc": "dịch vụ công",
    "htx": "hợp tác xã",
    "gd": "giao dịch",
    "hđ": "hoạt động",
    "hd": "hướng dẫn",
    "pa": "phản ánh",
    "cb": "cán bộ",
    "bđ": "bắt đầu",
    "bd": "bắt đầu",
    "kt": "kết thúc",
    "bh": "bao giờ",
    "bt": "bình thường",
    "hnay": "hôm nay",
    "hn": "hà nội",
    "hcm": "hồ chí minh",
    "tphcm": "hồ chí minh",
    "bp": "bình phước",
    "sđt": "số điện thoại",
    "sdt": "số điện thoại",
    "đt": "điện thoại",
    "olf": "online friday",
    "max": "tối đa",
    "sale": "giảm giá",
    "z": "vậy",
    "v": "vậy",
    "h": "giờ",
    "phan tram": "phần trăm",
    "cty": "công ty",
    # i/y spelling variants (canonical form on the right)
    "kí": "ký",
    "kì": "kỳ",
    "kỉ": "kỷ",
    "kĩ": "kỹ",
    "lí": "lý",
    "mĩ": "mỹ",
    "tỉ": "tỷ",
    "qui": "quy",
    "quí": "quý",
    "sỹ": "sĩ",
    "ki": "ky",
    "li": "ly",
}

#: Symbols spelled out before punctuation is removed.
SYMBOLS: Mapping[str, str] = {"%": "phần trăm", "&": "và"}

#: Old ("hóa") vs new ("hoá") tone placement in open syllables. The canonical
#: form is the old style, which legal texts use. Applied only at a word end, so
#: closed syllables such as "toán" or "hoạt" are untouched.
_TONE_PLACEMENT: Mapping[str, str] = {
    "oá": "óa",
    "oà": "òa",
    "oả": "ỏa",
    "oã": "õa",
    "oạ": "ọa",
    "oé": "óe",
    "oè": "òe",
    "oẻ": "ỏe",
    "oẽ": "õe",
    "oẹ": "ọe",
    "uý": "úy",
    "uỳ": "ùy",
    "uỷ": "ủy",
    "uỹ": "ũy",
    "uỵ": "ụy",
}

#: "qúy" is a frequent misspelling of "quý": u belongs to the consonant "qu".
_QU_TONE: Mapping[str, str] = {"qúy": "quý", "qùy": "quỳ", "qủy": "quỷ", "qũy": "quỹ", "qụy": "quỵ"}

# ---------------------------------------------------------------------------
# Compiled helpers.
# ---------------------------------------------------------------------------

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
# Latin small eth is a frequent look-alike of đ on some keyboards.
_LOOKALIKES = str.maketrans({"ð": "đ", "Ð": "Đ"})

_TONE_RE = re.compile(r"(?<!q)(" + "|".join(re.escape(k) for k in _TONE_PLACEMENT) + r")(?![^\W\d_])")
_QU_RE = re.compile("(" + "|".join(_QU_TONE) + r")(?![^\W\d_])")
# 1.000.000 / 1,000,000 -> 1000000 (thousand separators only).
_THOUSANDS_RE = re.compile(r"(?<=\d)[.,](?=\d{3}(?!\d))")
# Legal document numbers: 81/2018/NĐ-CP -> "81 2018 nđcp", 128/2024/nđ-cp.
_DOCNUM_RE = re.compile(r"\b(\d+)\s*/\s*(\d{4})\s*/\s*([^\W\d_]+(?:-[^\W_]+)*)")
_SYMBOL_RE = re.compile("|".join(re.escape(k) for k in SYMBOLS))
_UNIT_RE = re.compile(r"(?<![^\W\d_])(\d+)\s*(k|nghìn|ngàn|tr|triệu|đ|vnđ|vnd|đồng|h)(?![^\W\d_])")
_UNITS: Mapping[str, str] = {
    "k": "nghìn",
    "nghìn": "nghìn",
    "ngàn": "nghìn",
    "tr": "triệu",
    "triệu": "triệu",
    "h": "giờ",
    "đ": "đồng",
    "vnđ": "đồng",
    "vnd": "đồng",
    "đồng": "đồng",
}
# nđ128 -> nđ 128 (after units, so that 50k / 2tr / 12h are already spelled out).
_LETTER_DIGIT_RE = re.compile(r"(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])")
_REPEAT_RE = re.compile(r"([^\W\d_])\1{2,}")
_NON_WORD_RE = re.compile(r"[\W_]+")

_REPLACEMENT_TOKENS: dict[tuple[str, ...], tuple[str, ...]] = {
    tuple(k.split()): tuple(v.split()) for k, v in REPLACEMENTS.items()
}
_MAX_KEY_LEN = max(len(k) for k in _REPLACEMENT_TOKENS)


def _build_fold_table() -> dict[int, int | None]:
    table: dict[int, int | None] = {}
    ranges = [(0x00C0, 0x0250), (0x1E00, 0x1F00)]
    for start, stop in ranges:
        for cp in range(start, stop):
            ch = chr(cp)
            base = "".join(c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c))
            if base != ch and len(base) == 1:
                table[cp] = ord(base)
    for cp in range(0x0300, 0x0370):  # stray combining marks (NFD input)
        table[cp] = None
    table.update({ord("đ"): ord("d"), ord("Đ"): ord("D"), ord("ð"): ord("d"), ord("Ð"): ord("D")})
    return table


_FOLD_TABLE = _build_fold_table()


def fold(text: str) -> str:
    """Remove all diacritics (``đ`` → ``d``); case and spacing are kept."""
    return unicodedata.normalize("NFC", text).translate(_FOLD_TABLE)


def has_diacritics(text: str) -> bool:
    """True if *text* contains at least one character that :func:`fold` changes."""
    return fold(text) != text


def _units(match: re.Match[str]) -> str:
    return f"{match.group(1)} {_UNITS[match.group(2)]}"


def _docnum(match: re.Match[str]) -> str:
    code = match.group(3).replace("-", "")
    return f"{match.group(1)} {match.group(2)} {code}"


def _expand(tokens: list[str]) -> list[str]:
    out: list[str] = []
    i, n = 0, len(tokens)
    table = _REPLACEMENT_TOKENS
    while i < n:
        for size in range(min(_MAX_KEY_LEN, n - i), 0, -1):
            repl = table.get(tuple(tokens[i : i + size]))
            if repl is not None:
                out.extend(repl)
                i += size
                break
        else:
            out.append(tokens[i])
            i += 1
    return out


def tokenize(text: str) -> list[str]:
    """Normalise *text* and return its tokens (accented syllables)."""
    s = unicodedata.normalize("NFKC", text).translate(_ZERO_WIDTH).translate(_LOOKALIKES)
    s = unicodedata.normalize("NFC", s.casefold())
    s = _REPEAT_RE.sub(r"\1", s)
    s = _TONE_RE.sub(lambda m: _TONE_PLACEMENT[m.group(1)], s)
    s = _QU_RE.sub(lambda m: _QU_TONE[m.group(1)], s)
    s = _THOUSANDS_RE.sub("", s)
    s = _DOCNUM_RE.sub(_docnum, s)
    s = _UNIT_RE.sub(_units, s)
    s = _LETTER_DIGIT_RE.sub(" ", s)
    s = _SYMBOL_RE.sub(lambda m: f" {SYMBOLS[m.group(0)]} ", s)
    return _expand([t for t in _NON_WORD_RE.split(s) if t])


def normalize(text: str) -> str:
    """Canonical accented form of *text* (see the module docstring)."""
    return " ".join(tokenize(text))
