from __future__ import annotations

import unicodedata

import pytest

from knowledge import fold, normalize
from knowledge.normalize import has_diacritics, tokenize


def test_fold_removes_all_diacritics_including_d_stroke() -> None:
    assert fold("Đăng ký khuyến mại ĐẶC BIỆT") == "Dang ky khuyen mai DAC BIET"
    assert fold("đường ưu đãi ở Huế") == "duong uu dai o Hue"


def test_fold_accepts_nfd_input() -> None:
    nfd = unicodedata.normalize("NFD", "Hàng hóa được giảm giá")
    assert fold(nfd) == "Hang hoa duoc giam gia"


def test_nfd_and_nfc_normalise_identically() -> None:
    text = "Mức giảm giá tối đa trong Online Friday là bao nhiêu?"
    nfd = unicodedata.normalize("NFD", text)
    assert nfd != text
    assert normalize(nfd) == normalize(text)
    assert unicodedata.is_normalized("NFC", normalize(nfd))


def test_case_punctuation_and_whitespace() -> None:
    assert normalize("  Giảm   GIÁ!!!\tTối-đa?? ") == "giảm giá tối đa"
    assert normalize("...") == ""
    assert tokenize("") == []


def test_zero_width_and_lookalike_characters() -> None:
    assert normalize("khuyến\u200b mại") == "khuyến mại"
    assert normalize("ðăng ký") == "đăng ký"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("km", "khuyến mại"),
        ("kmai", "khuyến mại"),
        ("khuyen mai", "khuyến mại"),
        ("khuyến mãi", "khuyến mại"),
        ("Khuyến Mãi", "khuyến mại"),
        ("ctkm", "chương trình khuyến mại"),
        ("sct", "sở công thương"),
        ("tmđt", "thương mại điện tử"),
        ("tmdt", "thương mại điện tử"),
        ("OF 2024", "online friday 2024"),
        ("hàng fake", "hàng giả"),
        ("có mgg ko", "có mã giảm giá không"),
        ("ko dc", "không được"),
        ("k đc", "không được"),
        ("hok duoc", "không được"),
        ("khong", "không"),
        ("sp", "sản phẩm"),
        ("hh", "hàng hóa"),
        ("bn", "bao nhiêu"),
        ("bnhieu", "bao nhiêu"),
        ("j", "gì"),
        ("ntn", "như thế nào"),
        ("vs", "với"),
        ("nđ 81", "nghị định 81"),
        ("nd 128", "nghị định 128"),
        ("dn", "doanh nghiệp"),
        ("50%", "50 phần trăm"),
        ("giảm 50 %", "giảm 50 phần trăm"),
    ],
)
def test_abbreviations(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_abbreviations_inside_a_sentence() -> None:
    assert (
        normalize("Shop km giảm 70% ko cần tb vs SCT à?")
        == "shop khuyến mại giảm 70 phần trăm không cần thông báo với sở công thương à"
    )


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("hàng hoá", "hàng hóa"),
        ("hoà giải", "hòa giải"),
        ("thuỷ sản", "thủy sản"),
        ("uỷ ban", "ủy ban"),
        ("khoẻ", "khỏe"),
        ("đăng kí", "đăng ký"),
        ("qui định", "quy định"),
        ("tỉ lệ", "tỷ lệ"),
        ("xử lí", "xử lý"),
    ],
)
def test_spelling_variants_are_unified(a: str, b: str) -> None:
    assert normalize(a) == normalize(b)


def test_closed_syllables_and_qu_are_not_touched() -> None:
    assert normalize("toán hoạt quý") == "toán hoạt quý"
    assert normalize("qúy") == "quý"


def test_numbers_units_and_document_numbers() -> None:
    assert normalize("1.000.000đ") == "1000000 đồng"
    assert normalize("giảm 100k") == "giảm 100 nghìn"
    assert normalize("2tr") == "2 triệu"
    assert normalize("Nghị định 81/2018/NĐ-CP") == "nghị định 81 2018 nđcp"


def test_folded_forms_of_accented_and_unaccented_questions_agree() -> None:
    accented = "Khuyến mãi giảm giá tối đa bao nhiêu phần trăm?"
    unaccented = "khuyen mai giam gia toi da bn %"
    assert fold(normalize(accented)) == fold(normalize(unaccented))


def test_has_diacritics() -> None:
    assert has_diacritics("giảm")
    assert has_diacritics("đi")
    assert not has_diacritics("giam gia")
