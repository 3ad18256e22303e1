"""A planned promotion read from a chat message: forms, %, amounts, dates, goods, places and channel.

:func:`read_plan` gives the library's plan input (what :func:`check_promotion` takes), what is still missing
(``forms``, ``amount``, ``start``, ``end``, ``place``, ``degrees``) and the questions to ask back on bad input
(a date that does not exist, 300 %, an end before the start, a message too long to read). :func:`looks_like_plan`
decides cheaply whether a message describes a planned promotion rather than asking a general question.
Messages are read folded (no diacritics, lower case), so "giam gia 70% dip OF" reads like "giảm giá 70 % dịp OF".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from knowledge.normalize import fold
from knowledge.promotion import texts
from knowledge.promotion.amounts import MEASURED, OTHER_GIFT, read_amounts
from knowledge.promotion.calendar import main_events
from knowledge.promotion.dates import CampaignWindow, Dates, read_dates
from knowledge.promotion.places import PROVINCES, find_places
from knowledge.promotion.plan import FRESH_FOOD, parse_plan

__all__ = [
    "MAX_CHARS",
    "NO_AMOUNT",
    "Reading",
    "banned_outright",
    "looks_like_plan",
    "missing_of",
    "no_cap",
    "read_amounts",
    "read_forms",
    "read_goods",
    "read_plan",
]

MAX_CHARS = 2000

#: Folded patterns of each form, in the order they are read; a matched span is blanked before the next form.
FORM_PATTERNS: tuple[tuple[str, str], ...] = (
    ("voucher", r"(?:e ?voucher|voucher|coupon)(?: giam(?: gia)?\b)?|phieu mua hang|phieu su dung dich vu|"
     r"phieu giam gia|ma giam gia|\bmgg\b|phieu qua tang|the qua tang|\bma (?:khuyen mai|km|uu dai|giam)\b|"
     r"\bcode giam\b"),
    ("lucky_draw", r"quay so|boc tham|rut tham|may rui|cao trung thuong|vong quay|quay thuong|trung thuong|lucky draw|"
     r"cao (?:the|phieu)"),
    ("contest", r"phieu du thi|cuoc thi|\bdu thi\b|\bthi (?:anh|video|hat|nau an|ve)\b|"
     r"\b(?:thi|tro choi|game|minigame|mini game|du doan|doan|bat chu|do vui)\b[^.?]{0,30}\bco (?:thuong|giai)\b"),
    ("loyalty", r"khach hang than thiet|khach hang thuong xuyen|tich diem|the thanh vien|doi diem|hang thanh vien"),
    ("sample", r"(?:(?:phat|tang|gui) )?(?:hang mau|san pham mau|mau thu)|dich vu mau|dung thu|\bsample\b|\btester\b|"
     r"\b(?:an|uong|nem|choi|xai) thu (?:mien phi|free)\b|\bcho (?:khach )?(?:an|uong|nem|dung) thu\b"),
    ("gift_no_purchase", r"(?:khong|ko|k) (?:can|phai|kem|bat buoc) mua|phat (?:qua|tang|mien phi)|"
     r"phat (?:[a-z]+ ){1,3}(?:\d+\s*k )?mien phi|"
     r"tang (?:mien phi )?cho (?:moi )?(?:nguoi|khach) (?:qua duong|ghe tham|den tham)"),
    ("gift", r"mua\s*\d+\s*(?:tang|duoc tang|free|km|khuyen mai)\s*\d+|\b\d+\s*tang\s*\d+\b|buy\s*\d+\s*get\s*\d+|"
     r"tang kem|qua tang|tang qua|kem qua|\bqua\b (?:tri gia|tang kem)|\bfree\b(?!\s*ship)|free ?ship|\bfs\b|"
     r"mien phi (?:van chuyen|giao hang|ship)|\btang them\b|\btang (?:[a-z]+ ){1,4}tri gia|"
     r"\btang (?:[a-z]+ ){1,4}\d+\s*(?:k|nghin|ngan|tr|trieu)\b|"
     r"giam\s*(?:gia\s*)?\d+\s*%?\s*(?:phi|tien) (?:van chuyen|ship|giao hang)|\btang (?:\d{1,2}|mot) (?!%|phan)[a-z]"),
    ("event", r"to chuc su kien|su kien (?:van hoa|van nghe|giai tri|nghe thuat|ca nhac|am nhac)|dem nhac|ca nhac|"
     r"bieu dien|van nghe"),
    ("discount", r"giam gia|\bgiam\b|\bsale\b|sale off|xa hang|xa kho|dong gia|flash ?sale|chiet khau|\bha gia\b|"
     r"\bxa\s*(?:\d|(?:het|lo|tet|toan bo|sach)\b)|\boff\s*\d|\d\s*%\s*off|\bgg\b|hoan tien|cashback|hoan xu|\bcombo\b|"
     r"thanh ly|\bsale\s*\d|"
     r"\d\s*(?:k|nghin|ngan|tr|trieu)?\s*(?:chi |xuong )?con\s*\d|\bban (?:chi |xuong )?con\s*\d|"
     r"\bgia\s*\d[^.;]{0,20}\b(?:gio|nay|sale|chi) ban\s*\d"),
)  # fmt: skip
_PROMO = r"khuyen ma[iy]|\bkm\b|\bctkm\b|uu dai"
_INTENT = (
    r"\b(?:dinh|du dinh|du kien|muon|se|sap|ke hoach|chuan bi|len chuong trinh|chay chuong trinh|to chuc)\b|"
    r"\btinh (?:giam|sale|lam|chay|to chuc|tang|khuyen mai|km)\b|"
    r"\b(?:shop|cua hang|ben|cty|cong ty|tiem|quan|nha|cua) (?:em|e|minh|mik|mk|toi|tui|chung toi|chung em|t)\b|"
    r"\b(?:em|e|minh|mik|mk|tui|chung toi|chung em)\b|(?<!giam )(?<!den )(?<!len )\btoi\b(?! ?\d)|"
    r"^(?:shop|cua hang|tiem|sap|dai ly|quan|nha hang)\b|"  # a message that starts with one's business
    r"[,.:] (?:shop|cua hang|tiem|sap|dai ly|quay)(?: [a-z]+){0,3} (?:o|tai)\b"  # "…, đại lý ở xã Phú Riềng"
)
_GENERAL = r"toi da (?:bao nhieu|la bao nhieu|may)|\bmax\b|bao nhieu (?:phan tram|%)|la gi\b|nhu the nao|o dau\b|"
_GENERAL += r"thu tuc|ho so|mau (?:so|don)|(?<!chuan )bi phat|muc phat|xu phat|(?:tren|qua|vuot|hon) \d+ ?%|thap nhat|"
_GENERAL += r"bao nhieu tien|han muc|tinh tren|dung khong|phai khong|bao lau|bao nhieu ngay"
_GENERAL += r"|may gio|khi nao|luc nao|bao gio"
#: What was done or suffered, not planned: a past programme, a buyer's complaint.
_NOT_A_PLAN = (
    r"\bda (?:chay|lam|giam|to chuc|dung)\b|\blap bien ban\b|\bhoi (?:thang|tuan|nam|dau|cuoi|tet)\b|"
    r"\b(?:doan|ben|co quan|to) kiem tra\b|\bkiem tra (?:noi|bao|yeu cau|ket luan)\b|"
    r"\bnhan vien (?:noi|bao|giai thich|tra loi)\b|\b(?:toi|den|ra) (?:noi|quay|cua hang) (?:thi |moi )?(?:noi|bao)\b|"
    r"\b(?:treo|tren) bang ron\b|\bdung tu (?:hom|hqua|tuan)\b|"
    r"\btu thang \d{1,2} (?:toi|den) (?:gio|nay)\b|"
    r"\b(?:toi|em|e|minh|me|bo|ba|ong) (?:da |vua |moi )?trung (?:giai|thuong|xe|tivi|ti vi)\b|"
    r"(?<!co )(?<!so )(?<!se )(?<!sai )(?<!chuan )\bbi (?:doan |co quan |qltt |quan ly thi truong |thanh tra )?"
    r"(?:kiem tra|phat|xu phat|lap)\b|"
    r"\bxong\b[^.?]{0,15}\broi\b|"
    r"\b(?:em|(?<!khach )(?<!nguoi )toi|minh|me em|(?<!ba )con) (?:da |vua |moi |muon |can |dinh )?mua\b"
    r"(?![^.,;?]{0,40}\btang\b)|"
    # someone else's programme: a bank card's cashback, a landlord's rent, a game's lucky wheel
    r"\bthe (?:tin dung|ghi no)\b|\bngan hang (?:\w+ ){0,2}hoan tien\b|\bchu (?:nha|tro)\b|\bnha tro\b|"
    r"\btien (?:phong|tro|thue nha)\b|\bgame\b|\bskin\b|\blien quan\b|\bfree fire\b|\bpubg\b|"
    r"\bphan anh\b|"
    r"\bkhieu nai\b|\bto cao\b|\bbi lua\b|\blua dao\b|\bsan (?:sale|deal|ma|voucher|hang giam)\b|\bmua o dau\b|"
    r"\bthuc te\b|\bmuon (?:tra lai|doi tra|doi hang)\b|\bkhong (?:cho|chiu) (?:doi|tra|bao hanh)\b|\bhang loi\b|"
    r"\b(?:bi|da|gio) hong\b|\bxong roi\b|"
    r"\bket thuc roi\b|\bda ket thuc\b|\b(?:em|toi|minh) (?:duoc|da duoc|vua duoc) tang\b|\bmua qua\b|"
    r"\b(?:cho|tang) (?:ban gai|ban trai|nguoi yeu|vo|chong|bo me|ba me|ong ba|sep|co giao)\b"
)
#: A programme that ran or is running, an inspection, a prize won: not a plan, unless a new one starts ahead.
_PAST_OR_RUNNING = (
    r"\bnam ngoai\b|\bhom truoc\b|\btruoc day\b|\bthang (?:roi|truoc\b(?! tet))|"
    r"\bdang (?:chay|lam|ap dung|trien khai|co) (?:chuong trinh|ct|ctkm|khuyen mai|km|giam|tang|sale)|"
    r"\bhet (?:sach )?(?:qua|hang tang|ly tang|giai|phan qua|suat)\b|"
    r"\bdung (?:som|luon|lai|chuong trinh|ct|ctkm|km|khuyen mai)\b|\bket thuc som\b"
)
#: Words of a merchant's own plan, strong enough to read a message with no number or date as a plan to complete.
_PLANNING = (
    r"(?<!quy )(?<!xac )(?<!nhat )(?<!chi )(?<!on )(?<!co )(?<!nuoc )\bdinh\b(?! (?:gia|nghia|danh|ky|muc)\\b)|"
    r"\b(?:du kien|ke hoach|chuan bi|"
    r"(?:tinh|muon) (?:giam|sale|lam|chay|to chuc|tang|khuyen mai|km|quay so|boc tham|xa))\b"
)
#: A question asked of the law ("… có được không?"), not a plan told to be checked.
_ASKING = r"\?|\b(?:duoc|dc|sao|gi|nao|khong|ko|chua|may)\s*(?:a|ah|vay|nhi|nhe|the)?\s*$"
_DUTY = r"(?:can|phai) (?:thong bao|dang ky|bao (?:cao )?so|xin phep)"
_GOODS: tuple[tuple[str, str], ...] = (
    ("tobacco", r"thuoc la|xi ga|thuoc lao|\bvape\b|pod dien tu"),
    ("spirits", r"\bruou\b|whisk(?:e)?y|vodka|cognac|brandy|\bsoju\b|\bsake\b|champagne"),
    ("beer", r"\bbia\b"),
    ("lottery", r"xo so|ve so"),
    ("breast_milk_substitute", r"thay the sua me|sua (?:bot )?cong thuc|sua bot so 1\b|"
     r"sua (?:bot )?(?:[a-z0-9]+ ){0,3}\(?(?:0|tu 0) ?(?:-|den|toi) ?6 thang|sua bot (?:cho )?(?:tre|be|em be|so sinh)|"
     r"sua (?:cho )?(?:tre|be) (?:duoi|so sinh)"),
    ("medicine", r"thuoc chua benh|thuoc tay|duoc pham|thuoc khang sinh|thuoc bo|\bthuoc\b"),
    ("price_stabilisation", r"binh on gia"),
    ("fresh_food", FRESH_FOOD),
    ("bankruptcy", r"pha san"),
    ("dissolution", r"giai the"),
    ("relocation", r"chuyen (?:qua |sang |ve |toi |den )?(?:dia diem|mat bang|cho|cua hang|tiem|shop) moi|"
     r"chuyen dia diem|doi dia diem|don (?:tiem|cua hang|shop|cho) (?:qua|sang|ve|di)"),
    ("change_of_line", r"(?:thay doi|chuyen doi|doi) nganh"),
)  # fmt: skip
_NOT_GOODS = (
    r"\bthuoc (?:ve|danh muc|loai|nhom|dien|tinh|khu vuc|san|doi tuong|truong hop|chuong trinh|dang)\b|"
    r"\bthuoc (?:tru sau|diet co|diet chuot|diet con trung|bao ve thuc vat|bvtv|thu y|nhuom|son|xit muoi)\b|"
    r"\b(?:nha|hieu|quay|tiem) thuoc\b|\bthuoc (?:thi )?(?:khong|ko|k|chua) (?:giam|km|khuyen mai|ap dung)\b"
)
_ONLINE = r"online|\bonl\b|truc tuyen|tren mang|website|\bweb\b|facebook|\bfb\b|fanpage|zalo|livestream|\blive\b|" \
          r"san (?:tmdt|thuong mai dien tu)|shopee|lazada|tiktok|tiki|sendo"  # fmt: skip
_PLATFORM = r"san (?:tmdt|thuong mai dien tu)|\bsan\b|shopee|lazada|tiktok|tiki|sendo"
#: "không có cửa hàng", "(sàn) … thôi": sold through the platforms only.
_NO_SHOP = (
    r"\b(?:khong|ko|k|chua) (?:co )?(?:cua hang|shop ngoai|tiem|mat bang|cho ban)\b|"
    r"(?:shopee|lazada|tiktok(?: shop)?|tiki|sendo) (?:thoi|a thoi|thoi a)\b"
)
_ONLY_ONLINE = (
    r"chi ban (?:hang )?(?:online|onl|truc tuyen|tren mang|tren san|qua san|tren shopee|tren lazada|tren tiktok)"
)


@dataclass
class Reading:
    """What a message says about a planned promotion."""

    plan: dict[str, Any]
    missing: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def fields(self) -> dict[str, Any]:
        """The fields an evaluation compares: forms, discount_percent, start, end, provinces_count."""
        plan = self.plan
        percent = plan.get("discount_percent", plan.get("voucher_percent"))
        price, sale = plan.get("price"), plan.get("sale_price")
        if percent is None and "discount" in plan.get("forms", []) and price and sale is not None and sale <= price:
            percent = round((1 - sale / price) * 100, 1)  # "500k còn 200k" is a 60 % discount
        return {
            "forms": sorted(plan.get("forms", [])),
            "discount_percent": percent,
            "start": plan.get("start"),
            "end": plan.get("end"),
            "provinces_count": len(plan.get("provinces", [])),
        }


def folded(text: str) -> str:
    """Lower-case text without diacritics, spaces collapsed ("Giảm  GIÁ" → "giam gia"); words whose diacritics say
    they are not what their folded form reads ("tăng" is not "tặng", "thuộc" not "thuốc") are blanked."""
    words = unicodedata.normalize("NFC", text).lower().split()
    kept = ["#" if w.strip(".,;:!?()\"'") in _ACCENTED_FALSE else _ACCENTED_AS.get(w, w) for w in words]
    return re.sub(_FOLDED_FALSE, "#", fold(" ".join(kept)))


#: Words whose folded form reads as another word: "tối 5/9" (the evening of) is not "tới 5/9" (until).
_ACCENTED_AS = {"tối": "dem"}
_ACCENTED_FALSE = frozenset({"thuộc", "bìa", "bịa", "bía", "tăng", "tầng", "giám", "giàm", "chị"})
_FOLDED_FALSE = (
    r"\b(?:giam (?:doc|sat|dinh|ho|can|beo|mo|stress|dau|sot|toc)|tang (?:gap|len|gia|truong|ca|thue|luong|cuong)|"
    r"gia tang)\b"
)


def read_forms(text: str) -> list[str]:
    """The promotion forms named in folded *text*, in the library's order of :data:`FORM_PATTERNS`."""
    found: list[str] = []
    rest = text
    for form, pattern in FORM_PATTERNS:
        if re.search(pattern, rest):
            if not (form == "gift" and "gift_no_purchase" in found):
                found.append(form)
            rest = re.sub(pattern, " # ", rest)
    if not found and re.search(r"\btang\b", rest):  # "tặng" alone: a gift, unless another form explains it
        found.append("gift")
    if re.search(_NO_FORM_YET, text) or (len(found) >= 2 and re.search(_UNDECIDED, text)):
        return []  # "chưa biết nên giảm hay tặng", "chưa nghĩ ra làm kiểu gì": the form is asked
    return found


#: The merchant's own business named ("shop em", "cửa hàng mình").
_OWN_SHOP = r"\b(?:shop|cua hang|tiem|quan|cty|cong ty|dai ly|sieu thi) (?:em|e|minh|mik|toi|tui|chung toi|chung em)\b"
#: Beers that may be brewed at 15° or more: their degrees are asked.
_STRONG_BEER = (
    r"\bbia (?:\w+ )?(?:thu cong|craft|nhap khau|ngoai nhap|duc|manh|nang do)\b|"
    r"\b(?:stout|ipa|strong ale|barley wine)\b"
)
#: The merchant has not thought of a form yet.
_NO_FORM_YET = (
    r"\b(?:chua nghi ra|chua biet (?:nen )?lam (?:kieu|gi|sao|hinh thuc)|lam (?:kieu|hinh thuc) (?:gi|nao)|"
    r"khuyen mai gi do|(?:nen|chon) hinh thuc (?:gi|nao))\b"
)
#: The merchant has not chosen between the forms named.
_UNDECIDED = (
    r"\b(?:chua biet|chua quyet|chua chon|khong biet|ko biet|k biet|phan van|nen chon)\b[^.?]{0,30}\b(?:nen|hinh thuc|"
    r"lam|chon|giam|tang|boc|quay)[^.?]{0,60}\b(?:hay|hoac)\b"
)


def read_goods(text: str) -> tuple[list[str], float | None]:
    """Goods categories in folded *text* (see :func:`folded`) and the alcohol degrees named."""
    clean = re.sub(_NOT_GOODS, " ", text)
    if re.search(r"\bbia\b", clean):  # "bia có bị cấm như rượu không": rượu named to compare, not sold
        clean = re.sub(r"\b(?:nhu|giong(?: nhu)?|khac|so voi|cung nhu|khong phai(?: la)?) ruou\b", " ", clean)
    found: list[str] = []
    for category, pattern in _GOODS:
        if re.search(pattern, clean):
            found.append(category)
            clean = re.sub(pattern, " ", clean)
    degrees = None
    if {"spirits", "beer"} & set(found):
        m = re.search(r"(\d{1,2}(?:[.,]\d)?)\s*(?:do\b|%\s*(?:vol|con|alc)|% ?abv|do con)", text)
        degrees = float(m.group(1).replace(",", ".")) if m else None
    return found, degrees


def _places(text: str, original: str, start: str | None, today: date, plan: dict[str, Any]) -> list[str]:
    """Provinces as on the programme's start (the clock's day when no date is given), online, platform only."""
    day = date.fromisoformat(start[:10]) if start else today
    provinces = find_places(original, day)
    offline = r"online\s*friday|\b(?:khong|ko|chua) (?:biet |co )?ban (?:\w+ )?(?:tren mang|online|onl|truc tuyen)"
    online = re.search(_ONLINE, re.sub(offline, " ", text))
    if re.search(r"toan quoc|ca nuoc|khap cac tinh|63 tinh|34 tinh", text) and not online:
        provinces = provinces if len(provinces) >= 2 else list(PROVINCES)
    if provinces:
        plan["provinces"] = provinces
    if online:
        plan["online"] = True
    nationwide = re.search(r"toan quoc|ca nuoc|khap cac tinh|moi tinh|63 tinh|34 tinh", text)
    if "lucky_draw" in plan["forms"] and online and len(provinces) == 1 and not nationwide:
        plan.pop("provinces"), plan.pop("online")  # one province's customers, or anyone online? asked
        return [DRAW_WHERE.format(province=provinces[0])]
    only = re.search(r"\bchi\b[^.]{0,40}(?:" + _PLATFORM + ")", text) or re.search(_NO_SHOP, text)
    if re.search(_ONLY_ONLINE, text) or (only and re.search(_PLATFORM, text)):
        plan["online"] = plan["platform_only"] = True
    elif (shop := re.search(_SHOP_ON_PLATFORM, text)) and not provinces:  # "shop em trên Shopee", nothing else
        rest = text[: shop.start()] + " " + text[shop.end() :]
        if not re.search(_OTHER_CHANNEL, rest):  # only there, or there among others? asked where it matters
            plan["online"] = plan["platform_maybe"] = True
    return []


_SHOP_ON_PLATFORM = (
    r"\b(?:shop|gian hang|cua hang)\s*(?:cua\s*)?(?:em|e|minh|mik|toi|tui)?\s*(?:ban\s*(?:hang\s*)?)?(?:tren|o)\s*"
    r"(?:san\s*)?"
    r"(?:shopee|lazada|tiktok(?: shop)?|tiki|sendo)\b"
)
_OTHER_CHANNEL = (
    r"cua hang|\btiem\b|\bquan\b|sieu thi|chi nhanh|offline|truc tiep|tai shop|website|\bweb\b|facebook|\bfb\b|"
    r"zalo|fanpage|\bva\b[^.]{0,12}(?:shop|cua hang|tiem)"
)
_CAMPAIGN_WORDS = r"online\s*friday|\bolf\b|\bof\b|ngay mua sam truc tuyen|tuan le (?:thuong mai dien tu|tmdt)"
UNCONFIRMED = (
    "Lịch của Sở chưa có ngày chính thức của Online Friday / Tuần lễ Thương mại điện tử năm {year}, nên mình chưa "
    "thể nói mức 100 % có áp dụng cho những ngày này không (ngoài khung khuyến mại tập trung, mức tối đa là 50 %). "
    "Bạn cho mình văn bản tổ chức của Bộ Công Thương, hoặc hỏi Sở Công Thương để được xác nhận nhé."
)


def _unconfirmed(text: str, start: str | None, windows: Sequence[CampaignWindow]) -> list[str]:
    """A campaign named for a year the calendar does not confirm: its 100 % is asked, never assumed either way."""
    if not windows or not start or not re.search(_CAMPAIGN_WORDS, text):
        return []
    year = int(start[:4])
    return [] if any(s.year == year for _, s, _ in main_events(windows)) else [UNCONFIRMED.format(year=year)]


def missing_of(plan: dict[str, Any]) -> list[str]:
    """What the verdict still needs: forms, the amount of a capped form, the dates, the place of a draw, the degrees
    of a beer that may be strong (craft, imported: an ordinary beer is brewed under 15°, the verdict says so)."""
    missing: list[str] = []
    forms = plan.get("forms") or []
    if not forms:
        missing.append("forms")
    n = plan.get
    measurable = {
        "discount": n("discount_percent") is not None or (n("price") and n("sale_price") is not None),
        "gift": (n("buy_quantity") and n("free_quantity") is not None) or (n("gift_value") and n("price")),
        "voucher": (n("voucher_value") is not None and bool(n("order_value") or n("price")))
        or n("voucher_percent") is not None,
    }
    if any(not measurable[f] for f in forms if f in MEASURED) and not no_cap(plan) and not banned_outright(plan):
        missing.append("amount")
    missing += [key for key in ("start", "end") if not plan.get(key)]
    if plan.get("strong_beer") and plan.get("alcohol_degrees") is None:
        missing.append("degrees")
    if "lucky_draw" in forms and not (plan.get("provinces") or plan.get("online") or plan.get("platform_only")):
        missing.append("place")
    return missing


#: Goods that may never be promoted nor given (Đ.5 Nghị định 81/2018), whatever their amount or strength.
BANNED_OUTRIGHT = frozenset({"spirits", "tobacco", "lottery", "breast_milk_substitute"})


def banned_outright(plan: dict[str, Any]) -> bool:
    """The plan promotes or gives goods banned outright: the verdict is "banned" without asking the amount."""
    return bool(BANNED_OUTRIGHT & set(plan.get("goods") or []))


def no_cap(plan: dict[str, Any]) -> bool:
    """Discounts on goods without a cap (fresh food…) need no amount."""
    forms = set(plan.get("forms") or []) & set(MEASURED)
    free = {"price_stabilisation", "fresh_food", "bankruptcy", "dissolution", "relocation", "change_of_line"}
    return forms == {"discount"} and bool(free & set(plan.get("goods") or []))


def validate(plan: dict[str, Any]) -> list[str]:
    """The library's questions on values it cannot take (an end before the start…); those dates are dropped."""
    _, questions = parse_plan(plan)
    problems = [q for q in questions if q not in (texts.Q_NO_FORMS, texts.Q_NO_START, texts.Q_NO_END)]
    if any(q.startswith(_END_BEFORE) for q in problems):
        plan.pop("start", None)
        plan.pop("end", None)
    if texts.Q_SALE_ABOVE_PRICE in problems:  # the two prices are asked again
        plan.pop("price", None)
        plan.pop("sale_price", None)
    return problems


_END_BEFORE = texts.Q_END_BEFORE_START.split("(", 1)[0]


def read_plan(text: str, now: datetime, windows: Sequence[CampaignWindow] = ()) -> Reading:
    """The plan a message describes at *now* (local time), with what is missing and the questions on bad input."""
    if len(text) > MAX_CHARS:
        return Reading({}, ["forms", "start", "end"], [TOO_LONG.format(limit=f"{MAX_CHARS:,}".replace(",", "."))])
    f = folded(text)
    plan: dict[str, Any] = {"forms": read_forms(f)}
    numbers, problems = read_amounts(f, plan["forms"])
    percent_only = numbers.get("discount_percent") is not None and not set(plan["forms"]) & {"discount", "gift"}
    voucher_percent = "voucher" in plan["forms"] and bool(re.search(_VOUCHER_PERCENT, f))
    if voucher_percent and "discount" not in plan["forms"] and numbers.get("discount_percent") is not None:
        numbers["voucher_percent"] = numbers.pop("discount_percent")  # "voucher giảm 30 %": the voucher's own
    elif percent_only and ("voucher" in plan["forms"] or not plan["forms"]) and not re.search(_UNDECIDED, f):
        plan["forms"] = [*plan["forms"], "discount"]
    problems += _game(f, plan)
    capped = set(plan["forms"]) & set(MEASURED)  # a fair's 100 % matters only to a capped form
    if capped and re.search(_STATE_PROGRAMME, f) and not re.search(r"online\s*friday|\bof\b|tuan le|\btet\b", f):
        problems.append(STATE_PROGRAMME)
    if ("buy_quantity" in numbers or OTHER_GIFT in problems) and "gift" not in plan["forms"]:
        plan["forms"].append("gift")
    if "loyalty" in plan["forms"] and "buy_quantity" not in numbers:  # "10 ly tặng 1 ly": the loyalty reward
        plan["forms"] = [f for f in plan["forms"] if f != "gift"]
    plan.update(numbers)
    dates = read_dates(f, now, windows)
    problems += dates.problems
    if dates.start:
        plan["start"] = dates.start
    if dates.end:
        plan["end"] = dates.end
    if dates.approximate:
        plan["approximate"] = True
    goods, degrees = read_goods(f)
    if goods:
        plan["goods"] = goods
    if "medicine" in goods and re.search(_DRUG_TRADERS, f):  # medicines may be promoted to drug traders (Đ.5)
        plan["to_drug_traders"] = True
    if degrees is not None:
        plan["alcohol_degrees"] = degrees
    elif "beer" in goods and re.search(_STRONG_BEER, f):
        plan["strong_beer"] = True
    if banned_outright(plan):  # the programme cannot run as told: what the gift is worth changes nothing
        problems = [p for p in problems if p != OTHER_GIFT]
    problems += _places(f, text, dates.start, now.date(), plan)
    problems += _unconfirmed(f, dates.start, windows)
    problems += validate(plan)
    return Reading(plan, missing_of(plan), problems, dates.notes)


_VOUCHER_PERCENT = r"(?:voucher|phieu|\bma\b|coupon)[^.,;%]{0,25}?\d+\s*(?:%|phan tram)"
_GAME = r"mini ?game|give ?away"


def _game(text: str, plan: dict[str, Any]) -> list[str]:
    """A "minigame" is a contest when players answer or guess, a lucky draw when winners are drawn at random; with
    neither said, the form (notify or register?) is asked rather than guessed. Its prizes are not a gift form."""
    if not re.search(_GAME, text) or {"contest", "lucky_draw"} & set(plan["forms"]):
        return []
    if re.search(r"ngau nhien|random|\bquay\b|may man", text):
        found = "lucky_draw"
    elif re.search(r"tra loi|cau hoi|\bdoan\b|du doan|ai dung|thi tai", text):
        found = "contest"
    else:
        plan["forms"] = [f for f in plan["forms"] if f != "gift"]
        return [GAME_FORM]
    plan["forms"] = [found, *(f for f in plan["forms"] if f != "gift")]
    return []


_STATE_PROGRAMME = (
    r"ngay hoi mua sam|(?<!cau )\bhoi cho\b|tuan hang|"
    r"khuyen mai tap trung|chuong trinh (?:cua|do) (?:tinh|so|ubnd|bo|nha nuoc)|"
    r"(?:tinh|so cong thuong|ubnd|thanh pho|bo cong thuong) (?:to chuc|phat dong)"
)
STATE_PROGRAMME = (
    "Nếu chương trình do cơ quan nhà nước (Bộ, tỉnh) quyết định tổ chức thì đó là khuyến mại tập trung, mức tối đa "
    "100 %; lịch của Sở mà mình có chưa ghi chương trình này. Bạn cho mình tên văn bản tổ chức, hoặc hỏi Sở Công "
    "Thương để được xác nhận nhé."
)
DRAW_WHERE = (
    "Quay số có cả kênh trực tuyến: nếu chỉ khách ở {province} tham gia thì đăng ký với Sở Công Thương, nếu khách "
    "ở nhiều tỉnh hoặc cả nước thì đăng ký với Bộ Công Thương."
)
GAME_FORM = (
    "«Minigame» có thể là cuộc thi (người chơi trả lời, dự đoán: phải thông báo) hoặc quay số, chọn ngẫu nhiên "
    "người trúng (phải đăng ký), nên mình cần bạn nói rõ cách chọn người nhận quà."
)
TOO_LONG = (
    "Tin nhắn dài quá để mình đọc chính xác (tối đa {limit} ký tự). Bạn tóm tắt chương trình trong vài câu: "
    "hình thức, mức giảm hoặc giá trị quà, ngày bắt đầu và kết thúc, nơi thực hiện nhé."
)


def looks_like_plan(text: str, now: datetime | None = None) -> bool:
    """True when *text* describes a planned promotion (a form with a %, an amount or dates, and a plan or a
    first person), not a general question such as "Online Friday được giảm tối đa bao nhiêu?". Dates are read
    at *now* (a fixed day when not given)."""
    f = folded(text[: MAX_CHARS + 1])
    forms = read_forms(f)
    undecided = bool(re.search(_NO_FORM_YET, f) or re.search(_UNDECIDED, f))  # no form chosen yet, still a plan
    promo = bool(forms) or bool(re.search(_PROMO, f)) or undecided
    if not promo:
        return False
    numbers, problems = read_amounts(f, forms)
    number = bool(numbers) or bool(problems)
    dates = read_dates(f, now or _NOON, ())
    explicit = dates.kind == "explicit" or bool(dates.problems)
    intent = bool(re.search(_INTENT, f))
    if len(text) > MAX_CHARS:
        return number or explicit
    day = (now or _NOON).date().isoformat()
    ahead = dates.kind == "explicit" and dates.start is not None and dates.start[:10] >= day
    if re.search(_NOT_A_PLAN, f) or (re.search(_PAST_OR_RUNNING, f) and not ahead) or not (forms or intent):
        return False
    planning = bool(re.search(_PLANNING, f)) or bool(re.search(r"\bcung (?:muon|se|dinh)\b", f))
    if re.match(_THIRD_PARTY, f) and not planning and not re.search(_OWNER, f):  # "lazada sale 12.12 giảm 90%…"
        return False
    if re.search(_OBSERVED, f) and not planning:  # "em thấy quảng cáo giảm 70 %…": someone else's programme
        return False
    if _told(f, forms, dates, number or planning) and (number or not re.search(_ASKED_LIMIT, f)):
        return True
    if re.search(_GENERAL, f):  # a general question, unless a plan with its dates is told around it
        ranged = bool(dates.start and dates.end) and bool(re.search(r"\d\s*[/.]\s*\d", f))  # "từ 1/11 đến 10/11 …"
        told = bool(forms) and ranged and ((number and intent) or planning)
        unnamed = not forms and ranged and intent and bool(re.search(_PROMO, f))  # "muốn chạy khuyến mại từ 1/12 …"
        own = bool(forms) and number and bool(re.search(_OWN_SHOP, f))  # "shop em sale 60% …, cần thủ tục gì"
        return told or unnamed or own or (planning and bool(forms) and (number or (explicit and len(f) > 120)))
    if number:
        return explicit or intent or (dates.seen and bool(re.search(_DUTY, f)))
    if planning and not re.search(_DUTY, f) and not re.search(_ASKING, f):  # "em định tặng quà dịp Trung thu"
        return bool(forms) or dates.seen
    return bool(forms) and explicit and intent


def _told(f: str, forms: list[str], dates: Dates, owned: bool) -> bool:
    """A programme told with its own dates: a form, its days, and the merchant's number, plan or business."""
    ranged = bool(dates.start and dates.end) and dates.kind == "explicit"
    owner = bool(re.search(_OWNER, f))
    free = bool(set(forms) & set(NO_AMOUNT))  # contests, draws, loyalty…: no amount to name
    spelled = dates.start != dates.end and bool(re.search(r"\d{1,2}\s*/\s*\d{1,2}", f))  # "từ 1/12 đến 10/12"
    started = bool(dates.start) and free and owner  # "từ 1/8 … tích điểm … chưa biết khi nào kết thúc"
    if not forms or not (ranged or started) or not (owned or spelled or owner or free):
        return False
    spanned = ranged and dates.start != dates.end  # "tháng sau", not the one day of "thứ Hai tới"
    return bool(re.search(r"\d", f)) or (free and owner and spanned)  # a number, or a dated draw of one's own


_NOON = datetime(2025, 6, 15, 12)
#: The merchant speaking of their own business ("tới" folds to "toi" too, so "tôi" alone does not count).
_OWNER = (
    r"\b(?:shop|cua hang|ben|cty|cong ty|tiem|quan|nha|cua|chuoi|sieu thi) (?:em|e|minh|mik|mk|toi|tui|chung toi)\b|"
    r"\b(?:em|e|minh|mik|mk|tui|chung toi|chung em)\b"
)
_DRUG_TRADERS = (
    r"\b(?:cho|toi|den) (?:cac )?(?:nha thuoc|quay thuoc|hieu thuoc|dai ly thuoc|cong ty duoc|doanh nghiep duoc|"
    r"thuong nhan kinh doanh thuoc|nha phan phoi thuoc)"
)
_OBSERVED = (
    r"\b(?:thay|nghe noi|doc duoc)\b[^.?]{0,25}\b(?:quang cao|shop|cua hang|sieu thi|tren mang|tren facebook|ben)\b|"
    r"\b(?:di|ra|vao) (?:sieu thi|cho|cua hang|trung tam thuong mai)[^.?]{0,10}\bthay\b"
)
#: A message about a platform's or a chain's own sale, not the writer's plan.
_THIRD_PARTY = (
    r"\s*(?:san\s+)?(?:shopee|lazada|tiki|tiktok|sendo|(?:sieu thi\s+)?co\.?\s?op|bach hoa xanh|dien may xanh|"
    r"the gioi di dong|cac shop|shop kia|cua hang kia|grab|gojek|ngan hang|the tin dung|vi dien tu|momo|zalopay|"
    r"viettel|vinaphone|mobifone|vietjet|vietnam airlines|nha mang)\b"
)
#: Forms whose verdict needs no amount (exempt from the per-unit cap).
NO_AMOUNT = ("sample", "gift_no_purchase", "contest", "lucky_draw", "loyalty", "event")
#: A question on the limit itself ("được giảm tối đa bao nhiêu?"): the Q&A's, unless the plan names its own %.
_ASKED_LIMIT = r"toi da (?:bao nhieu|la bao nhieu|may)|bao nhieu (?:phan tram|%)|\bmax\b"
