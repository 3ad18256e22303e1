"""The console channel: a real channel over stdin/stdout, through the same dispatcher as Telegram.

Buttons are shown numbered; the user picks one by its number or by typing its label. ``/photo PATH``
sends a local image as a photo. Works interactively and with piped input (ends at end of input).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import mimetypes
import os
import sys
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from bot.inbox import Inbox
from handlers.matching import fold_text
from handlers.text_safety import ascii_int, clean_text
from handlers.types import Button, IncomingMessage, MediaRef, MessageKind, Reply
from storage.inbox import Received, Stored
from storage.media import MediaUnavailable, copy_limited

CHANNEL = "console"
Handle = Callable[[IncomingMessage], Awaitable[list[Reply]]]


async def download_to(ref: MediaRef, path: Path, max_bytes: int) -> None:
    """Fetch a photo sent with ``/photo PATH``: its file id is the absolute path of a local file."""
    source = Path(ref.file_id)
    if not source.is_file():
        raise MediaUnavailable("the file is gone")
    await asyncio.to_thread(copy_limited, source, path, max_bytes)


def render(reply: Reply) -> str:
    text = f"🔒 (chỉ bạn thấy) {reply.text}" if reply.alert else reply.text
    lines = [f"🤖 {line}" if i == 0 else f"   {line}" for i, line in enumerate(text.splitlines() or [""])]
    for path in reply.photos:
        lines.append(f"   🖼  {path}")
    for number, button in enumerate(reply.flat_buttons(), start=1):
        lines.append(f"   [{number}] {button.label}")
    return "\n".join(lines)


class ConsoleChannel:
    name = CHANNEL

    def __init__(
        self,
        handle: Handle,
        *,
        user_id: str = "console-user",
        chat_id: str | None = None,
        name: str = "",
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
        inbox: Inbox | None = None,
    ) -> None:
        self.handle = handle
        self.inbox = inbox  # each line stored before it is handled, like every other channel's updates
        self.session = uuid.uuid4().hex[:12]
        self.user_id = user_id
        self.chat_id = chat_id or user_id
        self.display_name = name
        self.stdin = stdin or sys.stdin
        if isinstance(self.stdin, io.TextIOWrapper):  # bytes that are not UTF-8 become text to clean, not a crash
            self.stdin.reconfigure(errors="surrogateescape")
        self.stdout = stdout or sys.stdout
        self.choices: list[Button] = []
        self.remembered: Any = None  # bot.channels.zalo_common.Choices: the options shown, kept in the database
        self.interactive = self.stdin.isatty()
        self.mailbox: Mailbox | None = None  # `chat`: what goes to another console chat waits for its terminal
        self._counter = 0
        self._sent = 0

    def _message(self, **fields) -> IncomingMessage:
        self._counter += 1
        return IncomingMessage(
            channel=CHANNEL,
            chat_id=self.chat_id,
            user_id=self.user_id,
            display_name=self.display_name,
            message_id=str(self._counter),
            timestamp=datetime.now(UTC),
            **fields,
        )

    def to_message(self, line: str) -> IncomingMessage:
        """Turn one typed line into a neutral message (a chosen button, a photo, or text)."""
        text = clean_text(line.rstrip("\r\n"))
        stripped = text.strip()
        number = ascii_int(stripped)
        if number is not None and 1 <= number <= len(self.choices):
            return self._message(kind=MessageKind.BUTTON, button=self.choices[number - 1].payload)
        folded = fold_text(stripped)
        for button in self.choices:
            if folded and fold_text(button.label) == folded:
                return self._message(kind=MessageKind.BUTTON, button=button.payload)
        if stripped.startswith("/photo"):
            return self._photo(stripped.removeprefix("/photo").strip())
        return self._message(kind=MessageKind.TEXT, text=text)

    def _photo(self, raw_path: str) -> IncomingMessage:
        path = Path(raw_path).expanduser()
        if not raw_path or not path.is_file():
            # Let the dispatcher explain: an empty photo message gets a clear answer.
            return self._message(kind=MessageKind.DOCUMENT, text="")
        mime = mimetypes.guess_type(path.name)[0]
        ref = MediaRef(
            file_id=str(path.resolve()),
            url=path.resolve().as_uri(),
            size=path.stat().st_size,
            mime=mime,
            file_name=path.name,
        )
        return self._message(kind=MessageKind.PHOTO, photos=[ref])

    async def take(self, msg: IncomingMessage) -> None:
        """Handle one typed message and show the answer: through the inbox when there is one."""
        if self.inbox is None:
            await self._answer(msg)
            return
        payload = {
            "kind": msg.kind.value,
            "text": msg.text,
            "button": msg.button,
            "photos": [ref.file_id for ref in msg.photos],
            "user": msg.user_id,
            "chat": msg.chat_id,
            "name": msg.display_name,
        }
        received = Received(f"{self.session}:{msg.message_id}", f"{msg.chat_id}:{msg.user_id}", payload)
        self.inbox.submit(await self.inbox.store(CHANNEL, [received]), self._process_stored)
        await self.inbox.drain()

    async def _process_stored(self, row: Stored) -> None:
        data = row.payload
        photos = [self._photo(path).photos[0] for path in data.get("photos", []) if Path(path).is_file()]
        msg = IncomingMessage(
            channel=CHANNEL,
            chat_id=data["chat"],
            user_id=data["user"],
            display_name=data.get("name", ""),
            kind=MessageKind(data["kind"]),
            text=data.get("text", ""),
            button=data.get("button"),
            photos=photos,
            message_id=str(row.id),
            inbox_ids=[row.id],
            inbox_attempts=row.attempts,
        )
        replies = await self._answer(msg)
        assert self.inbox is not None
        await self.inbox.sent([(r.outbox_id, None) for r in replies if r.outbox_id is not None])

    async def _answer(self, msg: IncomingMessage) -> list[Reply]:
        replies = await self.handle(msg)
        if self.remembered is not None:  # on record before it is on screen: a kill in between loses nothing
            await self.remembered.remember(self.chat_id, replies)
        self.show(replies)
        return replies

    def show(self, replies: list[Reply]) -> None:
        for reply in replies:
            print(render(reply), file=self.stdout)
            if reply.buttons:
                self.choices = reply.flat_buttons()
            elif reply.remove_keyboard:
                self.choices = []
        self.stdout.flush()

    async def deliver(self, chat_id: str, reply: Reply) -> str | None:
        """Print a message the assistant sends on its own (a reminder, an announcement); return its id. With a
        mailbox, a message for another console chat is left for that chat's terminal."""
        self._sent += 1
        if chat_id != self.chat_id and self.mailbox is not None:
            return self.mailbox.post(chat_id, reply, self.session)
        if chat_id != self.chat_id:
            print(f"🔔 (gửi tới {chat_id}, tin c{self._sent})", file=self.stdout)
        if reply.reply_to:
            print(f"↪️ (trả lời tin {reply.reply_to})", file=self.stdout)
        self.show([reply])
        return f"c{self._sent}"

    async def edit(self, chat_id: str, message_id: str, reply: Reply) -> str | None:
        """Show that a message sent earlier changed (a case card as the case moves)."""
        if chat_id != self.chat_id and self.mailbox is not None:
            self.mailbox.post(chat_id, reply, self.session, edits=message_id)
            return message_id
        print(f"✏️ (sửa tin {message_id} gửi tới {chat_id})", file=self.stdout)
        self.show([reply])
        return message_id

    async def run(self) -> int:
        """Read lines until end of input; return the exit code."""
        if self.inbox is not None:
            await self.inbox.resume(CHANNEL, self._process_stored)
            await self.inbox.drain()
        if self.mailbox is None:
            return await self._read()
        watch = asyncio.create_task(self._watch(self.mailbox))
        try:
            return await self._read()
        finally:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch

    async def _watch(self, mailbox: Mailbox, every: float = 0.3) -> None:
        """Show what other terminals left for this chat (a case card, an answer from staff)."""
        while True:
            for sent in mailbox.take(self.chat_id):
                if sent.get("edits"):
                    print(f"✏️ (sửa tin {sent['edits']})", file=self.stdout)
                self.show([Reply.from_dict(sent["reply"])])
            await asyncio.sleep(every)

    async def _read(self) -> int:
        loop = asyncio.get_running_loop()
        while True:
            if self.interactive:
                print("👤 ", end="", file=self.stdout, flush=True)
            line = await loop.run_in_executor(None, self.stdin.readline)
            if not line:
                return 0
            if not self.interactive:
                print(f"👤 {clean_text(line.rstrip())}", file=self.stdout)
            if not line.strip() and self.interactive:
                continue
            msg = self.to_message(line)
            if self.remembered is not None and msg.kind is MessageKind.TEXT and not self.choices:
                msg = await self.remembered.apply(msg)  # after a restart: "2" still means the option shown
            await self.take(msg)


class Mailbox:
    """Messages between console terminals on one database: one owner-only file per message in a folder per chat
    (written whole, then renamed into place), read in order and removed by that chat's terminal."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._seq = 0

    def _box(self, chat_id: str) -> Path:
        return self.folder / "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "_" for c in chat_id)

    def post(self, chat_id: str, reply: Reply, session: str, *, edits: str | None = None) -> str:
        self._seq += 1
        message_id = f"{session}-{self._seq}"
        box = self._box(chat_id)
        box.mkdir(parents=True, exist_ok=True, mode=0o700)
        name = f"{datetime.now(UTC):%Y%m%d%H%M%S%f}-{message_id}.json"
        temporary = box / f".{name}"
        temporary.write_text(json.dumps({"reply": reply.to_dict(), "edits": edits}, ensure_ascii=False), "utf-8")
        os.replace(temporary, box / name)
        return message_id

    def take(self, chat_id: str) -> list[dict[str, Any]]:
        box = self._box(chat_id)
        if not box.is_dir():
            return []
        taken = []
        for path in sorted(p for p in box.iterdir() if p.suffix == ".json" and not p.name.startswith(".")):
            with contextlib.suppress(OSError, ValueError):
                taken.append(json.loads(path.read_text("utf-8")))
            path.unlink(missing_ok=True)
        return taken
