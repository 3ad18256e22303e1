"""Forum topics for the fake Telegram Bot API: ``createForumTopic``, ``editForumTopic`` and
``message_thread_id`` checks, as Telegram answers them.

* Only a supergroup (``chat_id`` starting with ``-100``) can hold topics: elsewhere ``createForumTopic``
  answers 400 «the chat is not a forum».
* The topic's id is the message id of its creation's service message (as on Telegram): it is taken from
  the chat's message counter, so messages and topics never share an id.
* A name is 1-128 characters; renaming to the same name answers 400 ``TOPIC_NOT_MODIFIED``; an unknown topic
  ``TOPIC_ID_INVALID``; a message sent with an unknown ``message_thread_id`` «message thread not found».
* Both methods post a service message in the group, so they count toward the fake's message limits like a
  ``sendMessage`` (the fake lists them among its sending methods): a burst of renames gets 429s there.
* ``createForumTopic`` posts its service message as Telegram does and the bot receives it as an update: a
  message from the bot with ``forum_topic_created`` (name, icon colour), ``message_thread_id`` = its own id and
  ``is_topic_message``. ``hold_notes`` keeps those updates back until ``release_notes()`` (a note that arrives
  late); ``notes = False`` never sends them.
* ``deleteForumTopic`` removes a topic (``deleted``), needing ``can_delete`` (the right to delete messages),
  else 400; ``closeForumTopic`` closes one (``closed``), allowed to the bot as the topic's creator.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.support.fakes.telegram_api import FakeTelegramAPI

FORUM_METHODS = frozenset({"createForumTopic", "editForumTopic"})
ICON_COLOR = 7322096
NAME_LIMIT = 128


class ForumError(Exception):
    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


@dataclass
class Topic:
    chat_id: Any
    thread_id: int
    name: str
    names: list[str] = field(default_factory=list)  # every name it had, the first one first
    closed: bool = False


class ForumTopics:
    """The topics of the fake's chats, by chat and thread id."""

    def __init__(self, api: FakeTelegramAPI) -> None:
        self.api = api
        self.topics: dict[Any, dict[int, Topic]] = {}
        self.deleted: list[Topic] = []
        self.notes = True  # post the service message of each topic created as an update for the bot
        self.hold_notes = False
        self.held: list[dict[str, Any]] = []
        self.can_delete = True  # the bot's right to delete messages (deleteForumTopic)

    def methods(self) -> list[tuple[str, Any]]:
        return [
            ("createForumTopic", self.create),
            ("editForumTopic", self.edit),
            ("deleteForumTopic", self.delete),
            ("closeForumTopic", self.close),
        ]

    def release_notes(self) -> None:
        """Deliver the service messages held back so far, in the order the topics were created."""
        held, self.held = self.held, []
        for update in held:
            self.api.push_update(update)

    def all(self, chat_id: Any = None) -> list[Topic]:
        chats = [chat_id] if chat_id is not None else list(self.topics)
        return [topic for chat in chats for topic in self.topics.get(chat, {}).values()]

    @staticmethod
    def _name(params: dict[str, Any]) -> str:
        name = str(params.get("name") or "")
        if not 1 <= len(name) <= NAME_LIMIT:
            raise ForumError("Bad Request: TOPIC_NAME_INVALID")
        return name

    def create(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self.api._chat_id(params)
        if not str(chat_id).startswith("-100"):
            raise ForumError("Bad Request: the chat is not a forum")
        name = self._name(params)
        thread_id = self.api._next_message_id(chat_id)
        self.topics.setdefault(chat_id, {})[thread_id] = Topic(chat_id, thread_id, name, [name])
        if self.notes:
            note = self._note(chat_id, thread_id, name)
            if self.hold_notes:
                self.held.append(note)
            else:
                self.api.push_update(note)
        return {"message_thread_id": thread_id, "name": name, "icon_color": ICON_COLOR}

    def _note(self, chat_id: Any, thread_id: int, name: str) -> dict[str, Any]:
        chat = {**self.api._chat_for(chat_id), "is_forum": True}
        message = {
            "message_id": thread_id,
            "from": self.api.bot_user,
            "chat": chat,
            "date": int(time.time()),
            "message_thread_id": thread_id,
            "is_topic_message": True,
            "forum_topic_created": {"name": name, "icon_color": ICON_COLOR},
        }
        return {"message": message}

    def _topic(self, params: dict[str, Any]) -> Topic:
        chat_id = self.api._chat_id(params)
        topic = self.topics.get(chat_id, {}).get(int(params.get("message_thread_id") or 0))
        if topic is None:
            raise ForumError("Bad Request: TOPIC_ID_INVALID")
        return topic

    def delete(self, params: dict[str, Any]) -> bool:
        topic = self._topic(params)
        if not self.can_delete:
            raise ForumError("Bad Request: not enough rights to delete the topic")
        del self.topics[topic.chat_id][topic.thread_id]
        self.deleted.append(topic)
        return True

    def close(self, params: dict[str, Any]) -> bool:
        topic = self._topic(params)
        if topic.closed:
            raise ForumError("Bad Request: TOPIC_NOT_MODIFIED")
        topic.closed = True
        return True

    def edit(self, params: dict[str, Any]) -> bool:
        chat_id = self.api._chat_id(params)
        topic = self.topics.get(chat_id, {}).get(int(params.get("message_thread_id") or 0))
        if topic is None:
            raise ForumError("Bad Request: TOPIC_ID_INVALID")
        name = self._name(params)
        if name == topic.name:
            raise ForumError("Bad Request: TOPIC_NOT_MODIFIED")
        topic.name = name
        topic.names.append(name)
        return True

    def check_thread(self, chat_id: Any, thread: Any) -> None:
        """A message sent into a topic: the topic must exist in that chat."""
        if thread and int(thread) not in self.topics.get(chat_id, {}):
            raise ForumError("Bad Request: message thread not found")


def in_topic(update: dict[str, Any], thread_id: int, *, reply_to: int | None = None) -> dict[str, Any]:
    """An update (``text_update``, ``photo_update``…) written in a forum topic: Telegram marks it a topic
    message and, unless it answers another message, a reply to the topic's creation message."""
    msg = update["message"]
    msg["message_thread_id"] = thread_id
    msg["is_topic_message"] = True
    msg["reply_to_message"] = {"message_id": reply_to or thread_id, "chat": msg["chat"], "date": msg["date"]}
    return update
