"""A reporter's way through the complaint flow on the test channel, step by step."""

from __future__ import annotations

import re

from tests.support.chat import Person

CODE = re.compile(r"PA-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{2}")


async def to_photos(
    an: Person,
    seller: str = "Shop Mỹ Phẩm Hoa Hồng",
    product: str = "Son môi Dior",
    description: str = "Son bị chảy, mùi lạ, vỏ hộp in sai chính tả",
) -> None:
    """Answer the questions up to the photo step, mixing buttons and typed answers."""
    await an.say("/phananh")
    assert "vấn đề gì" in an.text
    await an.press("Hàng giả / hàng nhái")
    assert "mua hàng ở đâu" in an.text
    await an.press("Shopee")
    await an.say(seller)
    assert "đường link" in an.text
    await an.say("https://shopee.vn/hoahong")
    await an.say(product)
    assert "ngày nào" in an.text
    await an.press("Hôm qua")
    await an.say(description)
    assert "gửi ảnh" in an.text


async def to_summary(an: Person, phone: str = "0912 345 678") -> None:
    await an.press("Đồng Xoài")
    assert "Số điện thoại" in an.text
    await an.say(phone)
    assert "đồng ý để cán bộ gọi" in an.text
    await an.press("Đồng ý")
    assert "kiểm tra lại phản ánh" in an.text


async def submit(an: Person) -> str:
    await an.press("Gửi phản ánh")
    assert "Đã gửi phản ánh" in an.text, an.text
    match = CODE.search(an.text)
    assert match, an.text
    return match.group(0)


async def file_report(an: Person, seller: str = "Shop Mỹ Phẩm Hoa Hồng", product: str = "Son môi Dior") -> str:
    await to_photos(an, seller, product)
    await an.press("Bỏ qua")
    await to_summary(an)
    return await submit(an)
