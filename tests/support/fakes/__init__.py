"""In-process fakes of external services used by the tests and benchmarks."""

from .telegram_api import (
    Call,
    FakeTelegramAPI,
    UploadedFile,
    callback_update,
    document_update,
    photo_update,
    sticker_update,
    text_update,
)

__all__ = [
    "Call",
    "FakeTelegramAPI",
    "UploadedFile",
    "callback_update",
    "document_update",
    "photo_update",
    "sticker_update",
    "text_update",
]
