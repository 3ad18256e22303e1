"""Neutral message types: the seam between channel adapters and the conversation core.

Adapters turn platform payloads into an :class:`IncomingMessage` and render :class:`Reply` objects
back; nothing here knows about Telegram, Zalo or the console.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class ChatKind(enum.StrEnum):
    PRIVATE = "private"
    GROUP = "group"


class MessageKind(enum.StrEnum):
    """What the user sent; anything but text and photos is only acknowledged politely."""

    TEXT = "text"
    PHOTO = "photo"
    DOCUMENT = "document"
    STICKER = "sticker"
    BUTTON = "button"
    OTHER = "other"
    # Not written by anyone: the platform's note that a forum topic was created (Telegram's service message
    # ``forum_topic_created`` of a topic the bot made): ``text`` is its name, ``thread_id`` its id.
    TOPIC_CREATED = "topic_created"


@dataclass(frozen=True, slots=True)
class ConversationKey:
    """Who a conversation belongs to: one user in one chat on one channel."""

    channel: str
    chat_id: str
    user_id: str


@dataclass(frozen=True, slots=True)
class MediaRef:
    """A photo or file the adapter can fetch later (platform file id or URL)."""

    file_id: str
    url: str | None = None
    size: int | None = None
    mime: str | None = None
    width: int | None = None
    height: int | None = None
    file_name: str | None = None


@dataclass(slots=True)
class IncomingMessage:
    channel: str
    chat_id: str
    user_id: str
    display_name: str = ""
    text: str = ""
    kind: MessageKind = MessageKind.TEXT
    chat_kind: ChatKind = ChatKind.PRIVATE
    photos: list[MediaRef] = field(default_factory=list)
    document: MediaRef | None = None
    button: str | None = None
    album_id: str | None = None
    message_id: str | None = None
    timestamp: datetime | None = None
    reply_to_message_id: str | None = None  # the platform message this one answers ("reply to"), if any
    thread_id: str | None = None  # the forum topic it was written in (Telegram ``message_thread_id``), if any
    inbox_ids: list[int] = field(default_factory=list)  # the stored updates it stands for (storage/inbox.py)
    inbox_attempts: int = 0  # failed attempts at them so far (a worker that died on them counts: see core.py)

    @property
    def key(self) -> ConversationKey:
        return ConversationKey(self.channel, self.chat_id, self.user_id)


@dataclass(frozen=True, slots=True)
class Button:
    """A choice: ``label`` is shown, ``payload`` is the short opaque answer that comes back."""

    label: str
    payload: str


@dataclass(slots=True)
class Reply:
    """One message from the assistant.

    ``buttons`` are rows of choices; a platform without buttons shows them numbered.
    ``photos`` are references to media already stored (paths or platform ids) sent with the text.
    ``alert``: shown only to the person who pressed a button, where the platform can (Telegram: an alert of
    the callback answer); elsewhere it is an ordinary message. ``reply_to``: the platform message id this
    message answers, where the platform threads replies. ``thread_id``: the forum topic it goes to (Telegram
    ``message_thread_id``). ``topic``: not a message but a forum topic's name: created (``thread_id`` unset)
    or renamed (``thread_id`` set); the platform's topic id comes back as the message id. ``drop_topic``: not a
    message either: the forum topic ``thread_id`` is deleted (closed where it cannot be).
    """

    text: str
    buttons: list[list[Button]] = field(default_factory=list)
    photos: list[str] = field(default_factory=list)
    remove_keyboard: bool = False
    alert: bool = False
    reply_to: str | None = None
    thread_id: str | None = None
    topic: str | None = None
    drop_topic: bool = False
    outbox_id: int | None = None  # the outbox row it was written to, in the step's transaction (not serialised)

    def flat_buttons(self) -> list[Button]:
        return [button for row in self.buttons for button in row]

    def to_dict(self) -> dict[str, Any]:
        """Serialise for the outbox (button payloads unsigned; the sender signs them)."""
        return {
            "text": self.text,
            "buttons": [[{"label": b.label, "payload": b.payload} for b in row] for row in self.buttons],
            "photos": list(self.photos),
            "remove_keyboard": self.remove_keyboard,
            **({"alert": True} if self.alert else {}),
            **({"reply_to": self.reply_to} if self.reply_to else {}),
            **({"thread_id": self.thread_id} if self.thread_id else {}),
            **({"topic": self.topic} if self.topic else {}),
            **({"drop_topic": True} if self.drop_topic else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reply:
        return cls(
            text=data["text"],
            buttons=[[Button(b["label"], b["payload"]) for b in row] for row in data.get("buttons", [])],
            photos=list(data.get("photos", [])),
            remove_keyboard=bool(data.get("remove_keyboard", False)),
            alert=bool(data.get("alert", False)),
            reply_to=data.get("reply_to"),
            thread_id=data.get("thread_id"),
            topic=data.get("topic"),
            drop_topic=bool(data.get("drop_topic", False)),
        )
