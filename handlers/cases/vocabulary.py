"""The words of the cases feature: its outbox kinds, the card views, the audit events that are not staff actions
(those are in the table of :mod:`handlers.cases.actions`), the case states as staff read them.

The values are stored (outbox rows, the audit trail) and sent (button payloads): never change one."""

from __future__ import annotations

import enum

from storage.cases import CaseStatus


class OutboxKind(enum.StrEnum):
    """The outbox kinds of cases."""

    CARD = "case_card"
    COPY = "case_copy"
    DIGEST = "case_digest"
    EDIT = "case_edit"
    RELAY = "case_relay"
    NOTICE = "case_notice"  # to the reporter
    REMINDER = "case_reminder"
    ESCALATION = "case_escalation"
    CONTACT = "case_contact"  # a contact sent privately to the staff member who asked (no alerts there)
    UNREACHABLE = "case_unreachable"  # to the lead agency: a message to the reporter did not get through
    CHAT_LOST = "case_chat_lost"  # to admins and the coordinator: a staff chat the bot cannot post to
    VERDICT = "case_verdict"  # to the reporter after a closing: was it solved?
    REOPENED = "case_reopened"  # to the lead agency: the reporter says it was not solved, the case is open again
    TOPIC = "case_topic"  # a forum topic for the case in a staff group (agencies with ``topics: true``)
    TOPIC_RENAME = "case_topic_rename"  # the topic's name follows the case's status
    TOPIC_DROP = "case_topic_drop"  # a second topic of the case (a retry after a crash) deleted or closed


# What waits in a staff chat's queue (a long one turns new cards into digests; a chat lost shows there).
QUEUED_KINDS = (
    OutboxKind.CARD,
    OutboxKind.COPY,
    OutboxKind.DIGEST,
    OutboxKind.EDIT,
    OutboxKind.RELAY,
    OutboxKind.REMINDER,
    OutboxKind.ESCALATION,
    OutboxKind.UNREACHABLE,
    OutboxKind.REOPENED,
)


class CardView(enum.StrEnum):
    """How a card shows its case."""

    LEAD = "lead"  # the lead agency's card
    COPY = "copy"  # a copy agency's card, marked BẢN SAO
    FORMER = "former"  # the former lead's card after a transfer, kept for reference


class Audit(enum.StrEnum):
    """Audit events that are not a staff action on a card (each of those has its code in the action table)."""

    ROUTED = "routed"
    REPORTER_ADDED = "reporter_added"
    CONTACT_EXPORTED = "contact_exported"
    REPORTER_UNREACHABLE = "reporter_unreachable"
    REFUSED = "refused"
    SLA_ACK_REMINDER = "sla_ack_reminder"
    SLA_ACK_ESCALATION = "sla_ack_escalation"
    SLA_RESOLVE_ESCALATION = "sla_resolve_escalation"
    CONFIG_MOVE = "config_move"  # moved to another agency when the configuration changed (``config move``)
    EXPORTED = "exported"  # in a file downloaded from the web console (contacts masked)
    VERDICT = "verdict"  # the reporter answered whether it was solved
    REOPENED = "reporter_reopened"  # … that it was not, in time: the case is open again
    MERGED_IN = "merged_in"  # a duplicate was merged into this case


EVENT_LABELS = {
    Audit.ROUTED: "Chuyển tới cơ quan chủ trì",
    Audit.REPORTER_ADDED: "Người phản ánh bổ sung",
    Audit.CONTACT_EXPORTED: "Xuất gói chứng cứ kèm liên hệ",
    Audit.REPORTER_UNREACHABLE: "Không gửi được tin tới người phản ánh",
    Audit.SLA_ACK_REMINDER: "Nhắc quá hạn tiếp nhận",
    Audit.SLA_ACK_ESCALATION: "Báo lãnh đạo: quá hạn tiếp nhận",
    Audit.SLA_RESOLVE_ESCALATION: "Báo lãnh đạo: quá hạn xử lý",
    Audit.CONFIG_MOVE: "Chuyển cơ quan do đổi cấu hình",
    Audit.EXPORTED: "Tải về từ bảng điều khiển",
    Audit.VERDICT: "Người phản ánh đánh giá kết quả",
    Audit.REOPENED: "Người phản ánh báo chưa được giải quyết — mở lại",
    Audit.MERGED_IN: "Gộp thêm phản ánh trùng",
}

CASE_STATUS_LABELS = {
    CaseStatus.NEW: "🆕 Mới — chờ tiếp nhận",
    CaseStatus.ACKNOWLEDGED: "📥 Đã tiếp nhận",
    CaseStatus.IN_PROGRESS: "🔎 Đang xử lý",
    CaseStatus.WAITING: "⏳ Chờ người phản ánh bổ sung",
    CaseStatus.RESOLVED: "✅ Đã hoàn tất",
    CaseStatus.REJECTED: "⛔ Đã từ chối",
    CaseStatus.TRANSFERRED: "🔁 Được chuyển đến — chờ tiếp nhận",
    CaseStatus.MERGED: "🔗 Đã gộp vào phản ánh khác",
}


class CaseError(Exception):
    """An action that cannot be done on the case as it is; the message is for the staff member (Vietnamese)."""
