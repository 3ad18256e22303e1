"""Without a browser the browser tests skip with the reason, unless REQUIRE_BROWSER=1 (CI), where they fail."""

from __future__ import annotations

import pytest

from tests.support import browser


def test_no_browser_skips_with_a_reason_or_fails_when_required(monkeypatch) -> None:
    monkeypatch.setattr(browser, "chromium_path", lambda: None)
    monkeypatch.delenv("REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception, match="Chromium"):
        browser.need_browser()
    monkeypatch.setenv("REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="REQUIRE_BROWSER=1"):
        browser.need_browser()
