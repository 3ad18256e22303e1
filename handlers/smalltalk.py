"""Small talk: thanks, greetings, "ok" and goodbyes get a short friendly reply, not a legal search.

People end a conversation with «cảm ơn shop nhé», «ok ạ» or a 👍; matched against the knowledge base these
would get three unrelated topics and an offer to ask staff, and would land in the unanswered list. A message
is small talk only when *every* word is a small-talk word or a form of address («shop», «ad», «bạn», «ạ»…),
so «cảm ơn, cho hỏi giảm giá tối đa bao nhiêu» is still a question.
"""

from __future__ import annotations

import re
import unicodedata
from enum import Enum

from handlers.matching import fold_text


class SmallTalk(Enum):
    THANKS = "thanks"
    GOODBYE = "goodbye"
    GREETING = "greeting"
    ACK = "ack"


# Folded phrases of each kind («|»-separated); a message may combine several («ok cảm ơn ạ»): the first kind
# in this order that occurs wins.
_LISTS = {
    SmallTalk.THANKS: "cam on|camon|cmon|cam ta|thanks|thank|thank you|thanks you|thankyou|tks|thks|thx|ty",
    SmallTalk.GOODBYE: "tam biet|bye|bye bye|bai|goodbye|hen gap lai|chao tam biet",
    SmallTalk.GREETING: "chao|xin chao|hello|helo|hi|hey|alo|chao buoi sang|chao buoi chieu|chao buoi toi",
    SmallTalk.ACK: "ok|oke|okay|okie|oki|okela|vang|da|u|uh|um|uhm|duoc roi|roi|hieu roi|biet roi|ro roi|tuyet",
}
_PHRASES = {kind: frozenset(phrases.split("|")) for kind, phrases in _LISTS.items()}
# Forms of address and politeness particles that may surround small talk.
_FILLER_WORDS = (
    "shop|ad|admin|ban|em|anh|chi|co|chu|bac|minh|tro|ly|bot|so|a|nhe|nha|nhen|nhiu|nhieu|rat|lam|oi|vay|the|"
    "very|much|ha"
)
_FILLER = frozenset(_FILLER_WORDS.split("|"))
_MAX_WORDS = 8
_REPEATS = re.compile(r"([a-z])\1{2,}")
_TONE_EMOJI = re.compile("[\U0001f3fb-\U0001f3ff\ufe0f\u200d]")

REPLIES: dict[SmallTalk, str] = {
    SmallTalk.THANKS: "Không có gì ạ! 😊 Bạn cần hỏi thêm gì cứ nhắn mình nhé.",
    SmallTalk.GOODBYE: "Cảm ơn bạn đã ghé! Chúc bạn mua bán thuận lợi dịp Online Friday. 👋",
    SmallTalk.ACK: "Dạ! Bạn cần hỏi thêm gì cứ nhắn mình, hoặc gõ /menu để xem các mục nhé.",
}


def _only_emoji(text: str) -> bool:
    stripped = _TONE_EMOJI.sub("", "".join(text.split()))
    return bool(stripped) and all(unicodedata.category(ch) == "So" for ch in stripped)


def classify(text: str) -> SmallTalk | None:
    """The kind of small talk *text* is, or ``None`` when it says anything else."""
    if _only_emoji(text):
        return SmallTalk.ACK
    words = _REPEATS.sub(r"\1", fold_text(text)).split()
    if not words or len(words) > _MAX_WORDS:
        return None
    found: set[SmallTalk] = set()
    i = 0
    while i < len(words):
        for size in (3, 2, 1):
            phrase = " ".join(words[i : i + size])
            kind = next((k for k, phrases in _PHRASES.items() if phrase in phrases), None)
            if kind is not None and len(phrase.split()) == size:
                found.add(kind)
                i += size
                break
        else:
            if words[i] not in _FILLER:
                return None
            i += 1
    return next((k for k in SmallTalk if k in found), None)
