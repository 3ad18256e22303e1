"""Consumer complaints: the guided report with photos (``flow``), tracking one's own reports (``tracking``)."""

from __future__ import annotations

from handlers import texts
from handlers.complaints.drafts import close_stale_drafts
from handlers.complaints.flow import ComplaintFlow
from handlers.complaints.tracking import TrackingFlow, track_command
from handlers.complaints.tracking import on_button as tracking_button
from handlers.core import Context, Router
from handlers.jobs import Interval, LeaderContext


def register(router: Router) -> None:
    complaint = ComplaintFlow()
    router.flow(complaint)
    report = complaint.begin  # offers to resume a draft in progress, so /phananh keeps the flow
    router.command(["/phananh"], report, keeps_flow=True)
    router.entry("report", report)
    router.phrase([texts.MENU_REPORT, "phản ánh"], report)
    router.intent(
        [
            r"\b(muon|can|xin|de nghi|cho toi) (gui )?phan anh\b",
            r"^phan anh (ve )?(hang|shop|cua hang|nguoi ban|san pham)\b",
            r"\b(to cao|to giac)\b.*\b(shop|nguoi ban|cua hang|hang gia|lua dao)\b",
        ],
        report,
    )

    tracking = TrackingFlow()
    router.flow(tracking)

    async def track(ctx: Context) -> None:
        await track_command(ctx, tracking)

    async def track_button(ctx: Context) -> None:
        await tracking_button(ctx, tracking)

    router.button("track", track_button)
    router.command(["/tracuu"], track)
    router.entry("track", track)
    router.phrase([texts.MENU_TRACK, "tra cứu"], track)


async def jobs(ctx: LeaderContext) -> list[Interval]:
    """Housekeeping: drafts left past their deadline are closed (each reporter is told through the outbox); it
    may run late, or twice, without harm."""

    async def close_drafts() -> int:
        return await close_stale_drafts(ctx.db, ctx.clock.now(), config=ctx.config)

    name = "Đóng phản ánh nháp quá hạn"
    return [Interval("complaints:stale_drafts", name, ctx.intervals.housekeeping, ctx.waking(close_drafts))]
