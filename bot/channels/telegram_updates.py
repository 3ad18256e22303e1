"""Telegram updates as neutral messages, and replies as Telegram keyboards: the translation both ways, kept
apart from the channel's delivery and lifecycle (bot/channels/telegram.py)."""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, ReplyKeyboardRemove, Update

from handlers.types import ChatKind, IncomingMessage, MediaRef, MessageKind, Reply

CHANNEL = "telegram"


def to_incoming(update: Update) -> IncomingMessage | None:
    """Translate a Telegram update into a neutral message; None for updates we do not handle."""
    if update.callback_query is not None:
        query = update.callback_query
        message = query.message
        chat = message.chat if message is not None else None
        return IncomingMessage(
            channel=CHANNEL,
            chat_id=str(chat.id if chat else query.from_user.id),
            user_id=str(query.from_user.id),
            display_name=query.from_user.full_name,
            kind=MessageKind.BUTTON,
            chat_kind=ChatKind.PRIVATE if chat is None or chat.type == "private" else ChatKind.GROUP,
            button=query.data or "",
            message_id=str(message.message_id) if message is not None else None,
            thread_id=topic_of(message),
        )
    message = update.message
    if message is None or message.from_user is None:
        return None
    base = {
        "channel": CHANNEL,
        "chat_id": str(message.chat.id),
        "user_id": str(message.from_user.id),
        "display_name": message.from_user.full_name,
        "chat_kind": ChatKind.PRIVATE if message.chat.type == "private" else ChatKind.GROUP,
        "album_id": message.media_group_id,
        "message_id": str(message.message_id),
        "timestamp": message.date,
        "reply_to_message_id": str(message.reply_to_message.message_id) if message.reply_to_message else None,
        "thread_id": topic_of(message),
    }
    if message.forum_topic_created is not None:
        # The note of a forum topic created, kept only for the bot's own topics (a case's: handlers/cases/topics.py).
        if not message.from_user.is_bot:
            return None
        return IncomingMessage(**base, kind=MessageKind.TOPIC_CREATED, text=message.forum_topic_created.name)
    if message.photo:
        largest = message.photo[-1]
        ref = MediaRef(largest.file_id, size=largest.file_size, width=largest.width, height=largest.height)
        return IncomingMessage(**base, kind=MessageKind.PHOTO, text=message.caption or "", photos=[ref])
    if message.document is not None:
        doc = message.document
        ref = MediaRef(doc.file_id, size=doc.file_size, mime=doc.mime_type, file_name=doc.file_name)
        if (doc.mime_type or "").startswith("image/"):
            # A photo sent "as a file" keeps its original quality: treat it as a photo.
            return IncomingMessage(
                **base, kind=MessageKind.PHOTO, text=message.caption or "", photos=[ref], document=ref
            )
        return IncomingMessage(**base, kind=MessageKind.DOCUMENT, text=message.caption or "", document=ref)
    if message.sticker is not None:
        return IncomingMessage(**base, kind=MessageKind.STICKER)
    if message.text is not None:
        return IncomingMessage(**base, kind=MessageKind.TEXT, text=message.text)
    return IncomingMessage(**base, kind=MessageKind.OTHER)


def topic_of(message: Any) -> str | None:
    """The forum topic a message is in (a supergroup with topics), if any."""
    if message is None or not getattr(message, "is_topic_message", False) or not message.message_thread_id:
        return None
    return str(message.message_thread_id)


def keyboard(reply: Reply) -> InlineKeyboardMarkup | ReplyKeyboardRemove | None:
    if reply.buttons:
        return InlineKeyboardMarkup(
            [[InlineKeyboardButton(b.label, callback_data=b.payload) for b in row] for row in reply.buttons]
        )
    return ReplyKeyboardRemove() if reply.remove_keyboard else None


def pressed_label(message: Message | None, data: str) -> str | None:
    if message is None or message.reply_markup is None:
        return None
    for row in message.reply_markup.inline_keyboard:
        for button in row:
            if button.callback_data == data:
                return button.text
    return None


def chat_ref(chat_id: str) -> int | str:
    """A chat id as the Bot API takes it: a number, or a public channel's ``@username``."""
    return chat_id if chat_id.startswith("@") else int(chat_id)
