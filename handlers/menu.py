"""Greeting, main menu, help and contact."""

from __future__ import annotations

from handlers import texts
from handlers.core import Context, Router, start


async def show_menu(ctx: Context) -> None:
    """Show the main menu."""
    ctx.reply(texts.MENU_PROMPT, texts.menu_buttons())


async def show_help(ctx: Context) -> None:
    """List the commands."""
    ctx.reply(texts.HELP, texts.menu_buttons())


async def show_contact(ctx: Context) -> None:
    """Tell who to contact, from the deployment's configuration."""
    department = ctx.config.department
    lines = [f"☎️ Liên hệ {department.name}:"]
    lines += [f"• {line}" for line in department.contact_lines]
    ctx.reply("\n".join(lines), texts.menu_buttons())


def coming_soon(item: str):
    """Answer honestly that a menu item is not built yet."""

    async def handler(ctx: Context) -> None:
        ctx.reply(texts.COMING_SOON.format(item=item), texts.menu_buttons())

    return handler


__all__ = ["coming_soon", "show_contact", "show_help", "show_menu", "start"]


def register(router: Router) -> None:
    router.command(["/start"], start)
    router.command(["/menu"], show_menu)
    router.command(["/help", "/trogiup"], show_help, keeps_flow=True)
    router.command(["/lienhe"], show_contact, keeps_flow=True)
    router.entry("contact", show_contact)

    async def menu_button(ctx: Context) -> None:
        handler = router.entries.get(ctx.arg)
        await (handler(ctx) if handler else show_menu(ctx))

    router.button("menu", menu_button)
    # Menu labels typed by hand (or picked on a channel without buttons) act like the buttons.
    router.phrase([texts.MENU_CONTACT, "liên hệ"], show_contact)
    router.phrase(["menu", "bắt đầu", "start"], start)  # greetings: handlers.smalltalk
    router.phrase(["help", "trợ giúp", "hướng dẫn"], show_help)
