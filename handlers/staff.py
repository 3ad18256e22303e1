"""Staff of the agencies in the plan: who they are (from the configuration) and their chat commands."""

from __future__ import annotations

import logging
from datetime import datetime

from handlers.config import Agency, AppConfig
from handlers.core import Context, Router
from storage.db import UnitOfWork
from storage.models import Role
from storage.staff import STAFF_ROLES, StaffMember

logger = logging.getLogger(__name__)

NOT_STAFF = "Lệnh này chỉ dành cho cán bộ được phân công."
ROLE_NAMES = {"admin": "quản trị viên", "supervisor": "lãnh đạo cơ quan", "agent": "cán bộ xử lý"}


def lead_agency_for_questions(config: AppConfig) -> Agency:
    """The agency that answers merchants' questions (the routing rule for merchant questions)."""
    for rule in config.routing:
        if rule.kind == "merchant_question":
            agency = config.agency(rule.lead)
            if agency is not None:
                return agency
    return config.agencies[0]


async def staff_member(ctx: Context) -> StaffMember | None:
    return await ctx.uow.staff.active(ctx.msg.channel, ctx.msg.user_id)


async def require_staff(ctx: Context, *roles: str) -> StaffMember | None:
    """Return the active staff member, or refuse (and log) anyone else."""
    member = await staff_member(ctx)
    if member is None or (roles and member.role not in roles):
        logger.warning("refused staff command %r from %s/%s", ctx.text[:40], ctx.msg.channel, ctx.msg.user_id)
        ctx.reply(NOT_STAFF if member is None else wrong_role(member, roles))
        return None
    return member


def wrong_role(member: StaffMember, roles: tuple[str, ...]) -> str:
    """The refusal for staff whose role does not allow the command (not "only for staff": they are staff)."""
    allowed = " hoặc ".join(ROLE_NAMES.get(role, role) for role in roles)
    now = ROLE_NAMES.get(member.role, member.role)
    return f"Lệnh này chỉ dành cho {allowed}; bạn đang là {now} của {member.agency}."


async def save_staff(
    uow: UnitOfWork, *, channel: str, user_id: str, name: str, agency: str, role: str, source: str, now: datetime
) -> None:
    """Add or update a staff member, and give their user the matching role (admin, else staff)."""
    await uow.staff.upsert(
        channel=channel, user_id=user_id, name=name, agency=agency, role=role, source=source, now=now
    )
    await uow.users.set_role(channel, user_id, Role.ADMIN if role == "admin" else Role.STAFF, now)


async def remove_staff(uow: UnitOfWork, channel: str, user_id: str, now: datetime) -> bool:
    """Take an active staff member's rights away (their user becomes a citizen); False if there is none."""
    if not await uow.staff.deactivate(channel, user_id, now):
        return False
    await uow.users.set_role(channel, user_id, Role.CITIZEN, now)
    return True


async def on_start(uow: UnitOfWork, config: AppConfig, now: datetime) -> None:
    """At start: upsert the staff listed in the configuration (members added by admins are kept)."""
    for member in config.staff:
        await save_staff(
            uow,
            channel=member.channel,
            user_id=member.user_id,
            name=member.name,
            agency=member.agency,
            role=member.role,
            source="config",
            now=now,
        )


STAFF_USAGE = (
    "Quản lý cán bộ (chỉ quản trị viên):\n"
    "/canbo – danh sách cán bộ\n"
    "/canbo them KÊNH ID CƠ_QUAN VAI_TRÒ Họ tên – thêm hoặc sửa (vai trò: agent, supervisor, admin)\n"
    "/canbo xoa KÊNH ID – ngừng quyền cán bộ\n"
    "Ví dụ: /canbo them telegram 123456 qltm agent Nguyễn Văn A"
)


async def manage_staff_command(ctx: Context) -> None:
    """/canbo — list, add or remove staff (admins only)."""
    admin = await require_staff(ctx, "admin")
    if admin is None:
        return
    parts = ctx.text.split(maxsplit=6)
    action = parts[1].lower() if len(parts) > 1 else ""
    if action == "":
        members = await ctx.uow.staff.list()
        lines = [f"• {m.name} – {m.agency} ({m.role}) – {m.channel}:{m.user_id}" for m in members]
        ctx.reply("Cán bộ đang hoạt động:\n" + ("\n".join(lines) or "(chưa có)") + "\n\n" + STAFF_USAGE)
        return
    if action == "them" and len(parts) == 7:
        _, _, channel, user_id, agency, role, name = parts
        problem = validate_staff(ctx.config, channel, agency, role)
        if problem:
            ctx.reply(f"❌ {problem}\n\n{STAFF_USAGE}")
            return
        await save_staff(
            ctx.uow, channel=channel, user_id=user_id, name=name, agency=agency, role=role, source="chat", now=ctx.now
        )
        logger.info("staff %s:%s set to %s/%s by %s", channel, user_id, agency, role, admin.name)
        ctx.reply(f"✅ Đã cập nhật cán bộ {name} ({agency}, {role}).")
        return
    if action == "xoa" and len(parts) == 4:
        if await remove_staff(ctx.uow, parts[2], parts[3], ctx.now):
            ctx.reply(f"✅ Đã ngừng quyền cán bộ của {parts[2]}:{parts[3]}.")
        else:
            ctx.reply("Không tìm thấy cán bộ đang hoạt động với kênh và ID này.")
        return
    ctx.reply(STAFF_USAGE)


def validate_staff(config: AppConfig, channel: str, agency: str, role: str) -> str | None:
    """Return a Vietnamese explanation of what is wrong, or None."""
    if channel not in ("telegram", "zalo_bot", "zalo_oa", "console"):
        return f"Kênh «{channel}» không hợp lệ (telegram, zalo_bot, zalo_oa, console)."
    if config.agency(agency) is None:
        return f"Không có cơ quan «{agency}». Các mã: " + ", ".join(a.id for a in config.agencies)
    if role not in STAFF_ROLES:
        return f"Vai trò «{role}» không hợp lệ (agent, supervisor, admin)."
    return None


async def reload_knowledge_command(ctx: Context) -> None:
    """/capnhatkb — reload the knowledge-base files without a restart."""
    if await require_staff(ctx, "supervisor", "admin") is None:
        return
    kb = ctx.services.knowledge
    if kb is None:
        ctx.reply("Chưa nạp cơ sở tri thức.")
        return
    try:
        kb.reload()
    except Exception as exc:  # a broken file must not take the running knowledge base down
        logger.exception("knowledge reload failed")
        ctx.reply(f"❌ Không nạp lại được: {exc}\nCơ sở tri thức cũ vẫn được dùng.")
        return
    ctx.reply(f"✅ Đã nạp lại cơ sở tri thức: {len(kb)} mục.")


def register(router: Router) -> None:
    router.command(["/capnhatkb"], reload_knowledge_command, keeps_flow=True)
    router.command(["/canbo"], manage_staff_command, keeps_flow=True)
