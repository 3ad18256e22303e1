"""What the assistant covers: off-topic questions are refused, told situations get a combined answer.

Two reviews of a :class:`~knowledge.matcher.MatchResult`, on the folded question:

* **Off topic.** A question about another domain (civil registration, vehicles, weather, population, phone
  plans, bank interest, commodity prices, personal gift ideas, sales abroad, hunting discount codes) shares
  words with the KB ("đăng ký", "Bình Phước", "khuyến mãi", "quà") and can score high. Such a question is never
  answered from a neighbouring entry: the result is made not confident, and the reply says what is covered.
* **Situation.** A buyer or a shop owner telling what happened ("em mua … nhận hàng thì …", "cửa hàng em vừa bị
  kiểm tra …") dilutes every entry's score, so no single entry is confident. When the leading entries are
  close and reasonably strong, the answer combines up to :data:`MAX_COMBINED` of them.
"""

from __future__ import annotations

import re

from knowledge.normalize import fold

__all__ = ["MAX_COMBINED", "SITUATION_BAND", "SITUATION_FLOOR", "is_off_topic", "is_situation", "narrator"]

#: Most entries combined in one answer to a told situation.
MAX_COMBINED = 3
#: A told situation is answered when the best entry reaches this score (matcher scale 0..1) ...
SITUATION_FLOOR = 0.3
#: ... with the entries scoring within this band of the best one.
SITUATION_BAND = 0.06

_OFF_TOPIC = re.compile(
    r"\b(?:"
    r"ket hon|ly hon|khai sinh|khai tu|ho khau|tam tru|can cuoc|ho chieu|visa|"
    r"xe may|o to|bien so|bang lai|giay phep lai xe|dang kiem|"
    r"thoi tiet|mua bao|nhiet do|du bao|dan so|"
    r"viettel|mobifone|vinaphone|goi cuoc|goi data|data 4g|data 5g|khuyen mai data|nap the|sim so|"
    r"lai suat|gui tiet kiem|vay von|chung khoan|co phieu|ty gia|"
    r"gia (?:vang|xang|dau|lua|gao|ca phe|tieu|dieu|sau rieng|heo|lon|dat|nha|do la|usd|bitcoin)|"
    r"sinh nhat|ban gai|ban trai|nguoi yeu|valentine|"
    r"nen (?:mua|tang) (?:qua|gi)|mua qua gi|tang qua gi|"
    r"hoc phi|tuyen sinh|diem thi|bao hiem xa hoi|luong huu|benh vien|bac si|"
    r"bong da|ket qua xo so|xo so hom nay"
    r")\b"
)
#: Off topic unless the question also talks about a promotion ("nghỉ Tết mấy ngày" vs "giảm giá dịp nghỉ lễ").
_OFF_TOPIC_UNLESS_PROMOTION = re.compile(
    r"\b(?:lich nghi|nghi (?:tet|le)\b.{0,20}\bmay ngay|cach mo (?:gian hang|shop|cua hang)|mo shop tren)\b"
)
_PROMOTION = re.compile(r"\b(?:giam gia|khuyen mai|km|sale|tang qua|voucher|uu dai)\b")
_ABROAD = re.compile(r"\b(?:o|ben|tai|nuoc) (?:my(?! pham)|anh|nhat|han quoc|trung quoc|chau au|uc)\b")
_CODE_HUNT = re.compile(
    r"\b(?:ma giam gia|ma freeship|voucher|coupon|ma khuyen mai)\b.{0,40}\b(?:lay|san|xin) ?o dau\b"
)
_NARRATOR = r"\b(?:em|toi|minh|shop em|cua hang em|cty em|cong ty em|nha em|con em|me em)\b"
_EVENT = (
    r"\b(?:mua|mua phai|dat hang|nhan hang|nhan duoc|chuyen khoan|bi|vua|hom qua|hom truoc|tuan truoc|"
    r"khong giao|khong cho|kiem tra|lap bien ban|xu phat|lo)\b"
)
_SITUATION = re.compile(rf"{_NARRATOR}.*{_EVENT}|{_EVENT}.*{_NARRATOR}")
_MIN_SITUATION_WORDS = 9
_MERCHANT = re.compile(
    r"\b(?:shop em|cua hang em|cty em|cong ty em|doanh nghiep em|ben em ban|em ban hang|em kinh doanh)\b"
)
_BUYER = re.compile(r"\b(?:mua|mua phai|dat hang|nhan hang|nhan duoc|chuyen khoan|nguoi ban|shop ban cho)\b")


def _flat(text: str) -> str:
    return " ".join(re.sub(r"[^\w%]+", " ", fold(text.lower())).split())


def is_off_topic(text: str) -> bool:
    """True when *text* is about another domain than promotions, e-commerce and consumer protection."""
    flat = _flat(text)
    if _OFF_TOPIC_UNLESS_PROMOTION.search(flat) and not _PROMOTION.search(flat):
        return True
    return bool(_OFF_TOPIC.search(flat) or _CODE_HUNT.search(flat) or _ABROAD.search(flat))


def is_situation(text: str) -> bool:
    """True when *text* tells what happened to the writer (a buyer, a shop after an inspection)."""
    flat = _flat(text)
    return len(flat.split()) >= _MIN_SITUATION_WORDS and bool(_SITUATION.search(flat))


def narrator(text: str) -> str | None:
    """Who tells the situation: "merchant" (a shop, a company), "consumer" (a buyer) or None when unclear."""
    flat = _flat(text)
    if _MERCHANT.search(flat):
        return "merchant"
    return "consumer" if _BUYER.search(flat) else None
