"""Countdown texts and the reminder calendar: pure functions of (configuration, moment)."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from handlers.config import AppConfig, ConfigError, QuietHours, load_config
from handlers.reminders.countdown import (
    SlotKind,
    countdown_text,
    current_campaign,
    format_duration,
    format_hours,
    reminder_slots,
    reminder_text,
)
from tests.support.configs import PLAN_2024, plan_2024
from tests.support.processes import call_cli

VN = ZoneInfo("Asia/Ho_Chi_Minh")
ROOT = Path(__file__).resolve().parents[3]
START = datetime(2024, 11, 29, 0, 0, tzinfo=VN)  # 60 giờ Online Friday 2024
END = datetime(2024, 12, 1, 12, 0, tzinfo=VN)
SECOND = timedelta(seconds=1)


@pytest.fixture(scope="module")
def config() -> AppConfig:
    return plan_2024()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


# -- the acceptance moments -------------------------------------------------------------------------------


def test_twelve_hours_before_the_window(config: AppConfig) -> None:
    text = countdown_text(config, at("2024-11-28T12:00:00+07:00"))
    assert text.startswith("⏳ Còn 12 giờ 0 phút nữa đến 60 giờ Online Friday 2024.")
    assert "Từ 00:00 thứ Sáu 29/11/2024 đến 12:00 Chủ nhật 01/12/2024 (giờ Việt Nam)" in text
    assert "Tuần lễ Thương mại điện tử quốc gia 2024 đang diễn ra" in text


def test_thirty_six_hours_left_inside_the_window(config: AppConfig) -> None:
    text = countdown_text(config, at("2024-11-30T00:00:00+07:00"))
    assert text.startswith("🔥 60 giờ Online Friday 2024 đang diễn ra — còn 36 giờ 0 phút (1 ngày 12 giờ 0 phút)")
    assert "12:00 Chủ nhật 01/12/2024" in text


def test_after_the_window_names_the_next_campaign(config: AppConfig) -> None:
    text = countdown_text(config, at("2024-12-02T08:00:00+07:00"))
    assert "60 giờ Online Friday 2024 đã kết thúc lúc 12:00 Chủ nhật 01/12/2024" in text
    assert "Lần tới: Tuần lễ Thương mại điện tử quốc gia 2025" in text
    assert "bắt đầu 00:00 thứ Năm 13/11/2025" in text
    # The 2025 calendar is not confirmed: said so.
    assert "⚠️ Khung 60 giờ Online Friday 2025 chưa được xác nhận" in text


# -- the exact edges ---------------------------------------------------------------------------------------


def test_one_second_before_the_start(config: AppConfig) -> None:
    text = countdown_text(config, START - SECOND)
    assert text.startswith("⏳ Còn chưa đầy 1 phút nữa đến 60 giờ Online Friday 2024.")


def test_at_the_start_exactly_the_window_is_running_with_60_hours_left(config: AppConfig) -> None:
    text = countdown_text(config, START)
    assert text.startswith("🔥 60 giờ Online Friday 2024 đang diễn ra — còn 60 giờ 0 phút (2 ngày 12 giờ 0 phút)")


def test_one_second_after_the_start_rounds_down(config: AppConfig) -> None:
    text = countdown_text(config, START + SECOND)
    assert "còn 59 giờ 59 phút (2 ngày 11 giờ 59 phút)" in text


def test_one_second_before_the_end(config: AppConfig) -> None:
    text = countdown_text(config, END - SECOND)
    assert text.startswith("🔥 60 giờ Online Friday 2024 đang diễn ra — còn chưa đầy 1 phút nữa là kết thúc")


@pytest.mark.parametrize("moment", [END, END + SECOND])
def test_at_and_after_the_end(config: AppConfig, moment: datetime) -> None:
    text = countdown_text(config, moment)
    assert text.startswith("✅ 60 giờ Online Friday 2024 đã kết thúc lúc 12:00 Chủ nhật 01/12/2024.")
    # The e-commerce week goes on until the end of Sunday.
    left = "12 giờ 0 phút" if moment == END else "11 giờ 59 phút"
    assert f"Tuần lễ Thương mại điện tử quốc gia 2024 đang diễn ra — còn {left}" in text
    assert "đến hết Chủ nhật 01/12/2024" in text


def test_across_midnight_and_the_month_end(config: AppConfig) -> None:
    before_midnight = countdown_text(config, at("2024-11-30T23:59:00+07:00"))
    after_midnight = countdown_text(config, at("2024-12-01T00:01:00+07:00"))
    assert "còn 12 giờ 1 phút nữa là kết thúc" in before_midnight
    assert "còn 11 giờ 59 phút nữa là kết thúc" in after_midnight
    week_end = countdown_text(config, at("2024-12-01T23:59:59+07:00"))
    assert "còn chưa đầy 1 phút, đến hết Chủ nhật 01/12/2024" in week_end


def test_the_same_instant_in_any_time_zone_reads_the_same(config: AppConfig) -> None:
    texts = {
        countdown_text(config, at(moment))
        for moment in ("2024-11-28T12:00:00+07:00", "2024-11-28T05:00:00+00:00", "2024-11-28T00:00:00-05:00")
    }
    assert len(texts) == 1


def test_a_campaign_in_another_time_zone_is_shown_in_its_own_zone(config: AppConfig) -> None:
    data = config.model_dump(mode="json")
    data["campaigns"] = [
        {
            "id": "berlin",
            "name": "Online Friday Berlin",
            "year": 2024,
            "timezone": "Europe/Berlin",
            "events": [
                {
                    "id": "window",
                    "name": "60 giờ Online Friday Berlin",
                    "start": "2024-11-29T00:00:00+01:00",
                    "end": "2024-12-01T12:00:00+01:00",
                    "main": True,
                }
            ],
        }
    ]
    berlin = AppConfig.model_validate(data)
    text = countdown_text(berlin, at("2024-11-28T12:00:00+01:00"))
    assert text.startswith("⏳ Còn 12 giờ 0 phút nữa đến 60 giờ Online Friday Berlin.")
    assert "Từ 00:00 thứ Sáu 29/11/2024 đến 12:00 Chủ nhật 01/12/2024 (giờ Europe/Berlin, UTC+01:00)" in text


# -- which campaign is current ----------------------------------------------------------------------------


def test_current_campaign_is_running_else_next_else_last(config: AppConfig) -> None:
    assert current_campaign(config, at("2024-11-27T09:00:00+07:00")).id == "online-friday-2024"  # running
    assert current_campaign(config, at("2024-06-01T00:00:00+07:00")).id == "online-friday-2024"  # next
    assert current_campaign(config, at("2025-01-01T00:00:00+07:00")).id == "online-friday-2025"  # next
    assert current_campaign(config, at("2030-01-01T00:00:00+07:00")).id == "online-friday-2025"  # last


def test_long_before_a_campaign_only_the_next_one_is_counted_down(config: AppConfig) -> None:
    text = countdown_text(config, at("2024-06-01T00:00:00+07:00"))
    assert text.startswith("⏳ Còn 181 ngày 0 giờ 0 phút nữa đến 60 giờ Online Friday 2024.")
    assert "đã kết thúc" not in text  # 2023 ended more than 30 days before


def test_after_the_last_campaign_says_the_next_is_not_announced(config: AppConfig) -> None:
    text = countdown_text(config, at("2030-01-01T00:00:00+07:00"))
    assert "đã kết thúc vào cuối ngày thứ Hai 17/11/2025" in text
    assert "Lịch lần tới chưa được công bố" in text
    assert "cần kiểm chứng" in text


def test_durations() -> None:
    assert format_duration(timedelta(seconds=59)) == "chưa đầy 1 phút"
    assert format_duration(timedelta(minutes=45, seconds=59)) == "45 phút"
    assert format_duration(timedelta(hours=12)) == "12 giờ 0 phút"
    assert format_duration(timedelta(days=1, hours=12)) == "1 ngày 12 giờ 0 phút"
    assert format_hours(timedelta(hours=36)) == "36 giờ 0 phút (1 ngày 12 giờ 0 phút)"
    assert format_hours(timedelta(hours=5, minutes=3)) == "5 giờ 3 phút"


# -- the reminder calendar ---------------------------------------------------------------------------------


def _local(moment: datetime) -> str:
    return moment.astimezone(VN).strftime("%d/%m %H:%M")


def test_the_2024_reminders_with_quiet_hours(config: AppConfig) -> None:
    slots = [s for s in reminder_slots(config) if s.campaign == "online-friday-2024"]
    got = [(s.event, s.offset, _local(s.at)) for s in slots]
    assert got == [
        ("tuan-le", "start-7d", "18/11 07:00"),  # 00:00 is in the quiet hours: moved to 07:00
        ("online-friday", "start-7d", "22/11 07:00"),
        ("tuan-le", "start-1d", "24/11 07:00"),
        # tuan-le start-1h (23:00) would move past the start it announces: dropped
        ("tuan-le", "start", "25/11 07:00"),
        ("online-friday", "start-1d", "28/11 07:00"),
        ("online-friday", "start-1h", "28/11 23:00"),  # close to the window's start: sent in the quiet hours
        ("online-friday", "start", "29/11 00:00"),
        ("online-friday", "start+12h", "29/11 12:00"),
        ("online-friday", "start+24h", "30/11 07:00"),
        ("online-friday", "start+36h", "30/11 12:00"),
        ("online-friday", "start+48h", "01/12 07:00"),
        ("online-friday", "end-1h", "01/12 11:00"),
        ("online-friday", "end", "01/12 12:00"),
    ]
    ids = [s.id for s in reminder_slots(config)]
    assert len(ids) == len(set(ids))
    # Each reminder is stale once the next one of its event fires.
    by_id = {s.id: s for s in slots}
    assert by_id["online-friday-2024:online-friday:start-1h"].expires == START.astimezone(UTC)
    assert by_id["online-friday-2024:online-friday:end"].expires == END.astimezone(UTC) + timedelta(hours=6)


def test_reminder_texts_carry_absolute_times(config: AppConfig) -> None:
    slots = {s.id: s for s in reminder_slots(config)}
    before = slots["online-friday-2024:online-friday:start-1h"]
    text = reminder_text(config, before, before.at)
    assert text.startswith("⏰ Nhắc lịch: còn 1 giờ 0 phút nữa đến 60 giờ Online Friday 2024")
    assert "bắt đầu lúc 00:00 thứ Sáu 29/11/2024" in text and "/huynhacnho" in text
    late = reminder_text(config, before, before.at + timedelta(minutes=20))  # sent late: the text says so
    assert "còn 40 phút nữa" in late
    during = slots["online-friday-2024:online-friday:start+24h"]
    assert "còn 29 giờ 0 phút (1 ngày 5 giờ 0 phút) nữa là kết thúc" in reminder_text(config, during, during.at)
    assert during.kind is SlotKind.DURING
    end = slots["online-friday-2024:online-friday:end"]
    assert "đã kết thúc" in reminder_text(config, end, end.at)
    note = slots["online-friday-2025:tuan-le:start"]
    assert "cần kiểm chứng" in reminder_text(config, note, note.at)


def test_reminders_can_be_configured_or_switched_off(config: AppConfig) -> None:
    data = config.model_dump(mode="json")
    data["reminders"] = {"before_start": ["2d", "30m"], "during_every": None, "before_end": [], "at_end": False}
    data["quiet_hours"] = {"start": "00:00", "end": "00:00"}  # none
    custom = AppConfig.model_validate(data)
    offsets = {s.offset for s in reminder_slots(custom) if s.campaign == "online-friday-2024"}
    assert offsets == {"start-2d", "start-30m", "start"}
    data["reminders"] = {"enabled": False}
    assert reminder_slots(AppConfig.model_validate(data)) == []


def test_quiet_hours_edges() -> None:
    quiet = QuietHours()
    assert not quiet.contains(datetime(2024, 11, 28, 21, 59, 59, tzinfo=VN))
    assert quiet.contains(datetime(2024, 11, 28, 22, 0, tzinfo=VN))
    assert quiet.contains(datetime(2024, 11, 29, 6, 59, 59, tzinfo=VN))
    assert not quiet.contains(datetime(2024, 11, 29, 7, 0, tzinfo=VN))
    assert quiet.release(datetime(2024, 11, 30, 23, 0, tzinfo=VN)) == datetime(2024, 12, 1, 7, 0, tzinfo=VN)
    assert quiet.release(datetime(2024, 12, 1, 3, 0, tzinfo=VN)) == datetime(2024, 12, 1, 7, 0, tzinfo=VN)
    daytime = QuietHours(start=time(12, 0), end=time(13, 0))
    assert daytime.contains(datetime(2024, 11, 29, 12, 30, tzinfo=VN))
    assert not daytime.contains(datetime(2024, 11, 29, 23, 0, tzinfo=VN))


def test_an_unquoted_clock_time_is_a_clear_config_error(tmp_path: Path) -> None:
    data = yaml.safe_load(PLAN_2024.read_text(encoding="utf-8"))
    data["quiet_hours"] = {"start": 1320, "end": "07:00"}  # what YAML makes of an unquoted 22:00
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"quiet_hours\.start.*ngoặc kép"):
        load_config(bad)


# -- the command line --------------------------------------------------------------------------------------


def countdown_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return call_cli(tmp_path, "countdown", *args)


def test_cli_countdown_at_the_three_acceptance_moments(tmp_path: Path) -> None:
    before = countdown_cli(tmp_path, "--at", "2024-11-28T12:00:00+07:00")
    assert before.returncode == 0, before.stderr
    assert before.stdout.startswith("⏳ Còn 12 giờ 0 phút nữa đến 60 giờ Online Friday 2024")
    during = countdown_cli(tmp_path, "--at", "2024-11-30T00:00:00+07:00")
    assert "còn 36 giờ 0 phút (1 ngày 12 giờ 0 phút)" in during.stdout
    after = countdown_cli(tmp_path, "--at", "2024-12-02T08:00:00+07:00")
    assert "Online Friday 2024 đã kết thúc" in after.stdout and "Lần tới:" in after.stdout
    naive = countdown_cli(tmp_path, "--at", "2024-11-28T12:00:00")  # no zone: Vietnam time
    assert naive.stdout == before.stdout
    bad = countdown_cli(tmp_path, "--at", "ngày mai")
    assert bad.returncode == 2 and "không hợp lệ" in bad.stderr
