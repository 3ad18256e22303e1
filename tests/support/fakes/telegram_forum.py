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
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.support.fakes.telegram_api import FakeTelegramAPI

FORUM_METHODS = frozenset({"createForumTopic", "editForumTopic"})
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


class ForumTopics:
    """The topics of the fake's chats, by chat and thread id."""

    def __init__(self, api: FakeTelegramAPI) -> None:
        self.api = api
        self.topics: dict[Any, dict[int, Topic]] = {}

    def methods(self) -> list[tuple[str, Any]]:
        return [("createForumTopic", self.create), ("editForumTopic", self.edit)]

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
        return {"message_thread_id": thread_id, "name": name, "icon_color": 7322096}

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
