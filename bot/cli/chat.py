"""``python -m bot chat [--staff AGENCY]``: the console chat, with the work ``run`` does in the background.

With no messenger configured, each agency also has a console chat (``canbo-<agency>``) and the chat runs the
leader's work (routing, reminders, the sender): a report filed in one terminal reaches the agency's staff
terminal (``--staff AGENCY``, a member of that agency), whose numbered card buttons work. Two terminals on one
SQLite file: one of them leads; what goes to the other chat waits in a folder beside the data."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path

from bot.app import App, create_app
from bot.channels.console import CHANNEL, Mailbox
from bot.cli.run import run_console
from bot.settings import Settings
from handlers.config import Agency, AppConfig, load_config
from handlers.staff import save_staff

STAFF_CHAT = "canbo-{agency}"
MAILBOX = "console-mail"


def console_config(config: AppConfig) -> AppConfig:
    """Every agency with a console chat too, so a report filed on the console is posted to a staff terminal."""
    agencies = []
    for agency in config.agencies:
        chat = STAFF_CHAT.format(agency=agency.id)
        console = [c for c in agency.chats.get(CHANNEL, []) if c != chat]
        agencies.append(agency.model_copy(update={"chats": {**agency.chats, CHANNEL: [*console, chat]}}))
    return config.model_copy(update={"agencies": agencies})


def run_chat(args, settings: Settings) -> int:
    local = not settings.any_messenger  # the console alone: it does the leader's work itself
    config = load_config(settings.bot_config)
    config = console_config(config) if local else config
    agency = None
    if args.staff:
        agency = config.agency(args.staff)
        if agency is None:
            known = ", ".join(a.id for a in config.agencies)
            print(f"Không có cơ quan «{args.staff}» trong cấu hình. Các cơ quan: {known}.", file=sys.stderr)
            return 2
        if not local:
            print("--staff chỉ dùng khi chưa cấu hình kênh nhắn tin nào (thử trên máy).", file=sys.stderr)
            return 2
    app = create_app(settings, config=config)
    user, name = args.user, args.name
    if agency is not None:
        user, name = STAFF_CHAT.format(agency=agency.id), name or f"Cán bộ {agency.short_name}"
    mailbox = Mailbox(Path(settings.media_dir).parent / MAILBOX) if local else None
    ready = (lambda app: _seat_staff(app, user, name, agency)) if agency is not None else None
    chat = None if agency is not None else args.chat
    return asyncio.run(run_console(app, user=user, chat=chat, name=name, leader=local, mailbox=mailbox, on_ready=ready))


async def _seat_staff(app: App, user: str, name: str, agency: Agency) -> None:
    """The staff terminal's person: an active member of ``agency`` (an agent), announced on screen."""
    async with app.db.unit_of_work() as uow:
        await save_staff(
            uow,
            channel=CHANNEL,
            user_id=user,
            name=name,
            agency=agency.id,
            role="agent",
            source="console",
            now=datetime.now(UTC),
        )
        await uow.commit()
    print(
        f"👮 Bạn đang là {name} ({agency.short_name}). Phản ánh gửi tới cơ quan sẽ hiện ở đây; "
        "bấm số để chọn nút trên thẻ phản ánh.",
        file=sys.stderr,
    )
