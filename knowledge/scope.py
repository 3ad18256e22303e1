"""What the assistant covers: off-topic questions are refused, told situations get a combined answer.

Two reviews of a :class:`~knowledge.matcher.MatchResult`, on the folded question:

* **Off topic.** A question about another domain (civil registration, vehicle papers, weather, population, phone
  plans, bank interest, commodity prices, taxes, sports fixtures, personal gift ideas, which brand to buy, sales
  abroad, hunting discount codes) shares
  words with the KB ("đăng ký", "Bình Phước", "khuyến mãi", "quà") and can score high. Such a question is never
  answered from a neighbouring entry: the result is made not confident, and the reply says what is covered.
* **Situation.** A buyer or a shop owner telling what happened ("em mua … nhận hàng thì …", "cửa hàng em vừa bị
  kiểm tra …") dilutes every entry's score, so no single entry is confident. A message of a known kind
  (:mod:`knowledge.situations`, data) gets that kind's entries; otherwise, when the leading entries are close and
  reasonably strong, the answer combines up to :data:`MAX_COMBINED` of them. A prize story ("trúng xe máy") is
  not about vehicles: only vehicle papers are off topic.
"""

from __future__ import annotations

import re

from knowledge.situations import flat

__all__ = [
    "MAX_COMBINED",
    "MIN_TOLD_WORDS",
    "SITUATION_BAND",
    "SITUATION_FLOOR",
    "is_off_topic",
    "is_situation",
    "may_tell",
    "narrator",
]

#: Most entries combined in one answer to a told situation.
MAX_COMBINED = 3
#: A told situation is answered when the best entry reaches this score (matcher scale 0..1) ...
SITUATION_FLOOR = 0.3
#: ... with the entries scoring within this band of the best one.
SITUATION_BAND = 0.06

_OFF_TOPIC = re.compile(
    r"\b(?:"
    r"ket hon|ly hon|khai sinh|khai tu|ho khau|tam tru|can cuoc|ho chieu|visa|so do|giay phep xay dung|"
    r"bien so|bang lai|giay phep lai xe|dang kiem|phat nguoi|sang ten|xe buyt|"
    r"(?:dang ky|giay to|thu tuc|ho so|dong phi|tra gop|bao hiem) (?:\w+ )?(?:xe may|xe|o to|oto)|"
    r"thoi tiet|mua bao|nhiet do|du bao|dan so|"
    r"viettel|mobifone|vinaphone|goi cuoc|goi data|data 4g|data 5g|khuyen mai data|nap the|sim so|"
    r"lai suat|gui tiet kiem|vay von|chung khoan|ty gia|"
    r"co phieu(?! (?:trung|du thi|mua hang|qua|bao hanh|tich diem|giam gia))|"
    r"gia (?:vang|xang|dau|lua|gao|ca phe|tieu|dieu|sau rieng|heo|lon|dat|nha|do la|usd|bitcoin|dien)|"
    r"tien (?:dien|nuoc)|cup dien|cat dien|"
    r"sinh nhat|ban gai|ban trai|nguoi yeu|valentine|"
    r"nen (?:mua|tang) (?:qua|gi)|mua qua gi|tang qua gi|"
    r"(?:nen )?(?:mua|chon) (?:\w+ ){0,3}(?:hang|loai|mau|cai|dong) nao|"
    r"(?:hang|loai|mau|dong) nao (?:tot|ben|dang tien|re nhat)|"
    r"muon (?:mua|san) (?:\S+ ){1,8}o dau|o dau (?:re nhat|uy tin|tot nhat)|"
    r"hoc phi|hoc tieng|hoc them|trung tam (?:ngoai ngu|tieng anh)|giam can|giam \d+ ?kg|an kieng|"
    r"tuyen sinh|chi tieu lop|diem thi|bao hiem xa hoi|luong huu|benh vien|bac si|"
    r"bong da|ket qua xo so|xo so hom nay|lich thi dau|thi dau|v league|vleague|bang xep hang|doi tuyen|"
    r"world cup|asian cup|aff cup|sea games|cau thu|ti so|ve xem|san van dong|doi bong|"
    r"(?:dong|nop|ke khai|khai|quyet toan|hoan|tinh|muc|bieu) thue|"
    r"thue (?:thu nhap|mon bai|gtgt|vat|khoan|tncn|suat|bao nhieu|the nao|ra sao|nha|dat|mat bang|phong)|"
    r"(?:cho|di) thue|"
    r"(?:dang ky|dk) (?:ho )?kinh doanh|giay phep kinh doanh|thanh lap (?:cong ty|doanh nghiep)|cong chuc|tuyen dung|"
    r"thuong tet|luong thang 13|gia danh|cuoc goi lua dao|lua dao qua (?:dien thoai|tin nhan)|"
    r"co quan thue|cuc thue|chi cuc thue|hoa don may man|"
    r"thien nguyen|tu thien|cuu tro|ung ho (?:dong bao|ba con|nguoi dan)|bi lu|lu lut|"
    r"diem chuan|thi vao lop|vao lop (?:1|6|10)|truong chuyen|game|skin|lien quan|free fire|pubg|nap game|"
    r"nha tro|phong tro|chu tro|tien phong|"
    r"(?:qua|thuong|phuc loi|li xi|lixi) (?:\w+ ){0,2}(?:cho|tang) (?:nhan vien|cong nhan|nguoi lao dong)"
    r")\b"
)
#: Off topic unless the question also talks about a promotion ("nghỉ Tết mấy ngày" vs "giảm giá dịp nghỉ lễ";
#: "trúng vé số" vs "vé số làm giải thưởng").
_OFF_TOPIC_UNLESS_PROMOTION = re.compile(
    r"\b(?:lich nghi|nghi (?:tet|le)\b.{0,20}\bmay ngay|cach mo (?:gian hang|shop|cua hang)|mo shop tren|"
    r"ve so|trung so)\b"
)
_PROMOTION = re.compile(
    r"\b(?:giam gia|khuyen mai|km|sale|tang qua|voucher|uu dai|giai thuong|lam (?:qua|giai)|qua tang)\b"
)
_ABROAD = re.compile(r"\b(?:o|ben|tai|nuoc) (?:my(?! pham)|anh|nhat|han quoc|trung quoc|chau au|uc)\b")
_CODE_HUNT = re.compile(
    r"\b(?:ma giam gia|ma freeship|voucher|coupon|ma khuyen mai)\b.{0,40}\b(?:lay|san|xin) ?o dau\b"
)
_PERSON = r"(?:em|e|toi|tui|minh|mk|t)"
_NARRATOR = (
    rf"\b(?:{_PERSON}|(?:shop|cua hang|tiem|quan|cty|cong ty|doanh nghiep|co so|htx|ben|nha|con|me|vo|chong|bo)"
    rf" (?:cua )?{_PERSON}|con gai toi|con trai toi)\b"
)
_EVENT = (
    r"\b(?:mua|mua phai|dat|dat hang|order|nhan hang|nhan duoc|chuyen khoan|ck|chuyen tien|coc|bi|vua|hom qua|"
    r"hom truoc|tuan truoc|thang truoc|nam ngoai|khong giao|khong cho|ko cho|kiem tra|lap bien ban|xu phat|lo|"
    r"trung (?:giai|thuong)|xai|hu|hong|het|dang chay|chan|block|san duoc)\b"
)
_SITUATION = re.compile(rf"{_NARRATOR}.*{_EVENT}|{_EVENT}.*{_NARRATOR}")
#: A plan being made ("muốn tổ chức bốc thăm từ 1/9") is not a told situation: it is the promotion check's.
_PLANNED = re.compile(
    r"\b(?:muon (?:to chuc|chay|lam|giam|tang|khuyen mai|km)|dinh|du dinh|sap (?:to chuc|chay|lam)|chuan bi|"
    r"ke hoach|to chuc (?:\S+ ){0,8}tu (?:ngay )?\d)\b"
)
_MIN_SITUATION_WORDS = 8
#: A message this long may tell one of the kinds of :mod:`knowledge.situations`.
MIN_TOLD_WORDS = 6
_MERCHANT = re.compile(
    rf"\b(?:(?:shop|cua hang|tiem|quan|cty|cong ty|doanh nghiep|co so|htx|ben) (?:cua )?{_PERSON}|"
    rf"{_PERSON} (?:ban hang|kinh doanh|ban online|ban tren|ban qua)|chu shop|chu tiem|chu cua hang)\b"
)
_BUYER = re.compile(
    r"\b(?:mua|mua phai|dat hang|dat mua|order|nhan hang|nhan duoc|duoc tang|chuyen khoan|ck|nguoi ban|shop ban cho|"
    r"trung)\b"
)


#: A named bank's own programme (cashback on its cards), unless the campaign is named ("ngân hàng nào giảm giá
#: khi thanh toán trực tuyến" stays: the campaign's cashless payments).
_BANK = re.compile(
    r"\b(?:vietcombank|techcombank|bidv|agribank|vietinbank|vpbank|tpbank|sacombank|mb ?bank|acb|hdbank|"
    r"shb|the tin dung|the ghi no)\b"
)
_CAMPAIGN = re.compile(r"\b(?:online friday|tuan le|thuong mai dien tu|tmdt|so cong thuong|chuong trinh cua tinh)\b")


def is_off_topic(text: str) -> bool:
    """True when *text* is about another domain than promotions, e-commerce and consumer protection."""
    folded = flat(text)
    if _OFF_TOPIC_UNLESS_PROMOTION.search(folded) and not _PROMOTION.search(folded):
        return True
    if _BANK.search(folded) and not _CAMPAIGN.search(folded):
        return True
    return bool(_OFF_TOPIC.search(folded) or _CODE_HUNT.search(folded) or _ABROAD.search(folded))


def is_situation(text: str) -> bool:
    """True when *text* tells what happened to the writer (a buyer, a shop after an inspection)."""
    folded = flat(text)
    told = len(folded.split()) >= _MIN_SITUATION_WORDS and bool(_SITUATION.search(folded))
    return told and not _PLANNED.search(folded)


def may_tell(text: str) -> bool:
    """True when *text* is long enough to tell a situation of a known kind (:mod:`knowledge.situations`)."""
    return len(flat(text).split()) >= MIN_TOLD_WORDS


def narrator(text: str) -> str | None:
    """Who tells the situation: "merchant" (a shop, a company), "consumer" (a buyer) or None when unclear."""
    folded = flat(text)
    if _MERCHANT.search(folded):
        return "merchant"
    return "consumer" if _BUYER.search(folded) else None
