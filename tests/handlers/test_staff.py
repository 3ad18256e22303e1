"""Admins manage staff by chat command; only active staff may use staff commands."""

from __future__ import annotations

from tests.support.chat import ChatHarness
from tests.support.processes import call_cli
from tests.support.qa import OUT_OF_SCOPE


async def test_admin_adds_and_removes_staff_by_chat(staffed: ChatHarness) -> None:
    admin = staffed.person("staff-1", name="Hoa")
    newcomer = staffed.person("new-1", name="Lâm")
    await newcomer.say("/canbo")
    assert "chỉ dành cho cán bộ" in newcomer.text

    await admin.say("/canbo them console new-1 khong-co-co-quan agent Trần Lâm")
    assert "Không có cơ quan «khong-co-co-quan»" in admin.text
    await admin.say("/canbo them console new-1 qltt sep Trần Lâm")
    assert "Vai trò «sep» không hợp lệ" in admin.text
    await admin.say("/canbo them console new-1 qltm agent Trần Lâm")  # the agency that answers merchants
    assert "Đã cập nhật cán bộ Trần Lâm" in admin.text
    await admin.say("/canbo")
    assert "Trần Lâm – qltm (agent) – console:new-1" in admin.text

    asker = staffed.person("merchant-7")
    await asker.say(OUT_OF_SCOPE)
    await asker.press("gửi câu hỏi cho cán bộ")
    await newcomer.say("/traloi Q1 Câu hỏi này không thuộc phạm vi của Sở.")
    assert "Đã ghi nhận" in newcomer.text
    await newcomer.say("/canbo")
    assert "chỉ dành cho quản trị viên; bạn đang là cán bộ xử lý của qltm" in newcomer.text  # not an admin

    await admin.say("/canbo xoa console new-1")
    assert "Đã ngừng quyền" in admin.text
    await newcomer.say("/traloi Q1 lần nữa")
    assert "chỉ dành cho cán bộ" in newcomer.text
    async with staffed.app.db.unit_of_work() as uow:
        user = await uow.users.get("console", "new-1")
    assert user.role == "citizen"


def test_staff_cli_add_list_remove(tmp_path) -> None:
    bad = call_cli(tmp_path, "staff", "add", "telegram", "42", "khong-co", "agent", "Lan")
    assert bad.returncode == 2 and "Không có cơ quan" in bad.stderr
    assert call_cli(tmp_path, "staff", "add", "telegram", "42", "qltt", "supervisor", "Lê Lan").returncode == 0
    listing = call_cli(tmp_path, "staff", "list")
    assert "telegram:42\tqltt\tsupervisor\tLê Lan" in listing.stdout
    assert call_cli(tmp_path, "staff", "remove", "telegram", "42").returncode == 0
    assert "Lê Lan" not in call_cli(tmp_path, "staff", "list").stdout
    assert "đã ngừng" in call_cli(tmp_path, "staff", "list", "--all").stdout
    assert call_cli(tmp_path, "staff", "remove", "telegram", "42").returncode == 1


def test_staff_cli_validates_and_says_what_it_did(tmp_path) -> None:
    empty = call_cli(tmp_path, "staff", "list")
    assert empty.returncode == 0 and "Chưa có cán bộ nào" in empty.stdout and "staff add" in empty.stdout
    blank = call_cli(tmp_path, "staff", "add", "telegram", "42", "qltt", "agent", "  ")
    assert blank.returncode == 2 and "ít nhất 2 ký tự" in blank.stderr
    added = call_cli(tmp_path, "staff", "add", "telegram", "42", "qltt", "agent", "Lê\x00 Lan")
    assert "Đã thêm cán bộ Lê Lan" in added.stdout
    again = call_cli(tmp_path, "staff", "add", "telegram", "42", "qltt", "supervisor", "Lê Lan")
    assert "Đã cập nhật cán bộ Lê Lan (qltt, supervisor)" in again.stdout


def test_config_check_counts_staff_added_from_the_command_line(tmp_path) -> None:
    before = call_cli(tmp_path, "config", "check")
    assert before.returncode == 0 and "cán bộ trong tệp" in before.stdout
    call_cli(tmp_path, "staff", "add", "telegram", "42", "qltt", "agent", "Lê Lan")
    after = call_cli(tmp_path, "config", "check")
    assert "1 đang hoạt động trong cơ sở dữ liệu" in after.stdout, after.stdout
