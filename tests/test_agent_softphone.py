"""The terminal softphone's model and commands against a real server."""

from __future__ import annotations

import asyncio

from agent_fixture import call, desktop, make_settings, running, switch_answers
from rich.console import Console

from agent_gateway import messages as m
from agent_gateway.softphone import Softphone


def screen(phone: Softphone) -> str:
    console = Console(record=True, width=100)
    console.print(phone.render())
    return console.export_text()


async def _settle(phone: Softphone) -> None:
    await asyncio.sleep(0.05)
    for p in phone.c.drain():
        phone.apply(p)


async def test_softphone_shows_the_offer_and_runs_commands(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with running(make_settings(), tmp_path) as app:
        c = await desktop(app, "a1")
        phone = Softphone(c)
        phone.snap = await c.snapshot()
        await phone.command("y")
        await _settle(phone)
        assert "READY" in screen(phone)
        call(app, "c1", brand="gotone", city="suzhou", grp="n")
        await _settle(phone)
        text = screen(phone)
        assert "RINGING c1" in text and "suzhou" in text and "gotone" in text
        await phone.command("a")
        switch_answers(app, "c1", "a1")
        await _settle(phone)
        assert "call c1" in screen(phone) and "ON_CALL" in screen(phone)
        await phone.command("t agent a9")  # no such agent: refused, shown, nothing changes
        await _settle(phone)
        assert "refused: unknown_agent" in screen(phone)
        await phone.command("h")
        assert app.engine.agents["a1"].state.value == "on_call"  # until the switch confirms
        await phone.command("q")
        assert phone.done
        assert isinstance(phone.offer, m.Offer | None)
        await c.close()
