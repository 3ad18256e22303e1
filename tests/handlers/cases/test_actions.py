"""The table of staff actions: what the cards offer in each state, and the table's own rules."""

from __future__ import annotations

from handlers.buttons import ButtonCodec
from handlers.cases.actions import ACTIONS, AUDIT_LABELS, CARD_HISTORY, case_payload
from handlers.cases.cards import card_buttons
from handlers.cases.vocabulary import Audit, CardView
from storage.cases import Case, CaseStatus
from storage.complaints import Complaint


def case(status: CaseStatus) -> Case:
    return Case(id=7, complaint_id=3, code="PA0003", lead="qltt", status=status.value)


def complaint(*, phone: str | None = "0912345678", anonymous: bool = False) -> Complaint:
    return Complaint(id=3, code="PA0003", phone=phone, anonymous=anonymous)


def shown(status: CaseStatus, view: CardView = CardView.LEAD, **reporter) -> list[list[tuple[str, str]]]:
    rows = card_buttons(case(status), complaint(**reporter), view=view)
    return [[(b.label, b.payload) for b in row] for row in rows]


def test_a_new_case_card_offers_every_action_in_its_rows() -> None:
    assert shown(CaseStatus.NEW) == [
        [("📥 Tiếp nhận", "case:ack:7.0"), ("🙋 Nhận xử lý", "case:take:7.0")],
        [("👥 Phân công", "case:assign:7.0"), ("🔁 Chuyển cơ quan", "case:xfer:7.0")],
        [("📝 Yêu cầu bổ sung", "case:more:7.0"), ("💬 Trả lời người phản ánh", "case:reply:7.0")],
        [("✅ Hoàn tất", "case:done:7.0"), ("⛔ Từ chối", "case:rej:7.0")],
        [("📞 Xem liên hệ", "case:contact:7.0")],
    ]


def test_the_buttons_follow_the_state_and_the_card() -> None:
    assert [label for label, _ in shown(CaseStatus.IN_PROGRESS)[0]] == ["🙋 Nhận xử lý"]
    assert [label for label, _ in shown(CaseStatus.TRANSFERRED)[0]] == ["📥 Tiếp nhận", "🙋 Nhận xử lý"]
    assert shown(CaseStatus.RESOLVED) == [[("📞 Xem liên hệ", "case:contact:7.0")]]
    assert shown(CaseStatus.REJECTED, phone=None) == []
    assert shown(CaseStatus.NEW, anonymous=True)[-1] == [
        ("✅ Hoàn tất", "case:done:7.0"),
        ("⛔ Từ chối", "case:rej:7.0"),
    ]
    assert shown(CaseStatus.WAITING, CardView.COPY) == [[("👀 Đã nắm thông tin", "case:seen:7.0")]]
    assert shown(CaseStatus.RESOLVED, CardView.COPY) == []
    assert shown(CaseStatus.NEW, CardView.FORMER) == []


def test_the_table_keeps_its_own_rules() -> None:
    actions = list(ACTIONS.values())
    audits = [a.audit for a in actions if a.audit]
    assert len(audits) == len(set(audits)) and not set(audits) & set(Audit)
    assert all(a.audit and a.audit_label for a in actions if a.history)
    assert all(a.status is not None for a in actions if a.code in ("ack", "more", "done", "rej"))
    assert all(a.statuses and a.done for a in actions if a.prompt)
    assert set(AUDIT_LABELS) == set(audits) | set(Audit) - {Audit.REFUSED}
    listed = {
        "ack",
        "take",
        "assign",
        "transfer",
        "more",
        "reply",
        "resolve",
        "reject",
        "copy_seen",
        "reporter_added",
        "reporter_reopened",
        "merge",
        "not_duplicate",
        "merged_in",
        "config_move",  # a case moved by ``config move``
    }
    assert listed == CARD_HISTORY
    codec = ButtonCodec(b"k" * 32)  # a code, a large case id and an agency or staff id fit a signed payload
    assert all(codec.encode(case_payload(code, Case(id=10**9), "x" * 24)) for code in ACTIONS)
