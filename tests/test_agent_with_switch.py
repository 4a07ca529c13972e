"""The agent desktop and the switch link together: a real server, the simulated switch on
/switch and a softphone client on /agent. Call control goes to the switch as commands and
the desktop sees the result only when the switch confirms."""

from __future__ import annotations

from pathlib import Path

from switch_harness import TOKEN, start_app, until, write_center

from acd.app import App
from acd.settings import load_settings
from agent_gateway import messages as m
from agent_gateway.auth import hash_secret
from agent_gateway.client import AgentClient
from loadtest.sim_switch import Caller, SimSwitch

CREDS = '\n[credentials.agents]\na1 = "{h1}"\na2 = "{h2}"\n'


async def _gateway(app: App) -> None:
    from agent_gateway.server import component

    gw = component(app)
    await gw.start(app)
    app.components[gw.name] = gw


async def test_offer_with_screen_pop_accept_hold_hangup_through_the_switch(tmp_path: Path) -> None:
    extra = CREDS.format(h1=hash_secret("s1", log_n=4), h2=hash_secret("s2", log_n=4))
    settings = load_settings(write_center(tmp_path / "c", extra=extra))
    app, journal = await start_app(settings, tmp_path / "d")
    await _gateway(app)
    try:
        sw = SimSwitch(
            f"ws://127.0.0.1:{app.web.port}/switch", "pbx-1", TOKEN,
            caller=Caller(keys={"menu": "2", "pin": "1234"}),
        )  # fmt: skip
        await sw.connect()
        agent = AgentClient(f"ws://127.0.0.1:{app.web.port}/agent")
        await agent.connect()
        await agent.sign_in("a2", "s2")
        await agent.ready()
        c = await sw.place("13900000002")
        offer = await agent.next_push(m.Offer)
        pop = offer.screen
        assert offer.call_id == c.id and offer.group == "general"
        assert (pop.caller, pop.brand, pop.city) == ("13900000002", "mzone", "suzhou")
        assert pop.inputs == {"menu": "2", "pin": "1234"} and "pin" in pop.ivr_path
        assert pop.customer.get("name") == "Huang Lei"
        await agent.accept(c.id)
        connected = await agent.next_push(m.CallChanged)  # after the switch's agent_answered
        assert (connected.event, connected.agents) == ("connected", ["a2"])
        assert c.state == "connected" and c.agent_id == "a2"
        await agent.hold(c.id)
        held = await agent.next_push(m.CallChanged)
        assert held.event == "held" and c.held
        await agent.retrieve(c.id)
        assert (await agent.next_push(m.CallChanged)).event == "retrieved"
        await agent.hangup(c.id)  # DropLeg on the link; the switch reports the leg ended
        ended = await agent.next_push(m.CallEnded)
        assert ended.call_id == c.id and ended.by == "a2"
        await until(lambda: journal.ended(c.id) is not None)
        st = await agent.next_push(m.StateChanged)
        while st.old != "on_call":
            st = await agent.next_push(m.StateChanged)
        assert st.state == "ready"  # group "general" has no wrap-up
        assert not sw.errors
        await agent.close()
        await sw.close()
    finally:
        await app.stop()
