"""Recognising today's communes and wards of Đồng Nai, and old addresses, from what people type."""

from __future__ import annotations

from handlers.areas import province_units, recognise
from tests.support.areas_eval import load, score

DN = "Đồng Nai"


def test_the_dev_table_is_recognised_without_confident_mistakes() -> None:
    result = score(load("areas_dev.yaml"))
    assert result.total >= 150
    assert result.accuracy >= 0.95, result.misses
    assert result.nonsense_confident_wrong == 0 and result.confident_wrong == 0, result.misses


def test_today_there_are_95_units_and_no_district() -> None:
    units = province_units(DN)
    assert len(units) == 95
    assert {unit.name.split()[0] for unit in units} == {"Phường", "Xã"}
    assert len({unit.id for unit in units}) == 95  # the two «Lộc Thạnh/Lộc Thành» twins get their own ids


def test_old_addresses_map_to_today() -> None:
    tan_phu = recognise("phường Tân Phú, Đồng Xoài", DN)
    assert tan_phu.kind == "one" and tan_phu.ids == ("phuong-binh-phuoc",) and "Đồng Xoài" in tan_phu.was
    loc_ninh = recognise("huyện Lộc Ninh cũ", DN)
    assert loc_ninh.kind == "several" and "xa-loc-ninh" in loc_ninh.ids and "Lộc Ninh" in loc_ninh.was
    bu_dang = recognise("bu dang", DN)  # today's xã Bù Đăng, or anywhere in the old huyện Bù Đăng
    assert bu_dang.kind == "several" and bu_dang.ids[0] == "xa-bu-dang"


def test_outside_and_nonsense() -> None:
    assert recognise("Quận 3, TP Hồ Chí Minh", DN).kind == "outside"
    assert recognise("ngoài tỉnh", DN).kind == "outside"
    for nonsense in ("1", "xin chào", "hàng giả", "asdf asdf", ""):
        assert recognise(nonsense, DN).kind == "unknown", nonsense
    assert recognise("Long An", DN).kind == "several"  # a ward of old Long Thành, or the province: asked
