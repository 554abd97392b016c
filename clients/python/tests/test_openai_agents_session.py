"""DurableSession (durable_sessions.openai_agents) against the real HTTP API: a real Agent with a scripted model in a
process and a new runner in a new process continuing it, every item type round-tripping, the SDK's SQLiteSession
side by side, 20 concurrent runs on one session, a retried write applied once."""

from __future__ import annotations

import asyncio
import copy
import json
import os
import subprocess
import sys

import httpx
from agents import SQLiteSession, SessionSettings

from durable_sessions.openai_agents import DurableSession
from tests.scripted import run_turn

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

ALL_ITEMS: list[dict] = [
    {"role": "user", "content": "plain user text"},
    {"type": "message", "role": "user", "content": [
        {"type": "input_text", "text": "look at this"},
        {"type": "input_image", "image_url": "https://example.com/cat.png", "detail": "low"},
    ]},
    {"type": "message", "role": "user", "content": [{"type": "input_image", "image_url": "data:image/png;base64,AA"}]},
    {"role": "system", "content": "system text"},
    {"role": "developer", "content": "developer text"},
    {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "thinking"}],
     "encrypted_content": "gAAAA"},
    {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "get_weather",
     "arguments": "{\"city\":\"Paris\"}", "status": "completed"},
    {"type": "function_call_output", "call_id": "call_1", "output": "18C"},
    {"type": "function_call", "call_id": "call_2", "name": "lookup", "arguments": ""},
    {"type": "function_call_output", "call_id": "call_2",
     "output": [{"type": "input_text", "text": "a"}, {"type": "input_image", "image_url": "https://x/y.png"}]},
    {"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {"type": "search", "query": "q"}},
    {"type": "computer_call", "id": "cu_1", "call_id": "cc_1", "status": "completed",
     "action": {"type": "click", "x": 1, "y": 2, "button": "left"}, "pending_safety_checks": []},
    {"type": "computer_call_output", "call_id": "cc_1",
     "output": {"type": "computer_screenshot", "image_url": "data:image/png;base64,AA"}},
    {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed", "content": [
        {"type": "output_text", "text": "answer", "annotations": [], "logprobs": []},
        {"type": "refusal", "refusal": "no"},
    ]},
    {"type": "message", "role": "assistant", "status": "completed", "content": []},
    {"type": "compaction", "encrypted_content": "opaque"},
    {"type": "item_reference", "id": "msg_0"},
]


def api(stack, method: str, path: str) -> dict:
    r = httpx.request(method, stack["base_url"] + path, headers={"authorization": f"Bearer {stack['api_key']}"})
    r.raise_for_status()
    return r.json()


def open_(stack, session_id: str, **kw) -> DurableSession:
    return DurableSession(session_id, base_url=stack["base_url"], api_key=stack["api_key"], **kw)


def run_process(stack, session_id: str, text: str) -> dict:
    env = {**os.environ, "DS_BASE_URL": stack["base_url"], "DS_API_KEY": stack["api_key"],
           "PYTHONPATH": HERE, "PYTHONDONTWRITEBYTECODE": "1"}
    out = subprocess.run([sys.executable, "-m", "tests.scripted", session_id, text], cwd=HERE, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_real_agent_in_one_process_is_continued_by_a_new_runner_in_another(stack, session_id):
    first = run_process(stack, session_id, "weather in Paris")
    assert first["final_output"] == "It is 18C in Paris there."
    stored = asyncio.run(open_(stack, session_id).get_items())
    assert [i.get("type", "message") for i in stored] == ["message", "function_call", "function_call_output",
                                                          "message"]
    # The actor holds chat messages a model API takes as they are: the call and its result pair up.
    ctx = api(stack, "GET", f"/v1/sessions/{session_id}")
    assert [(m["role"], m.get("tool_call_id")) for m in ctx["messages"]] == [
        ("user", None), ("assistant", None), ("tool", stored[1]["call_id"]), ("assistant", None)]
    assert ctx["messages"][1]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert ctx["agent_type"] == "openai-agents"

    second = run_process(stack, session_id, "weather in Oslo")
    assert second["final_output"] == "It is 18C in Oslo there."
    assert second["first_request"] == stored + [{"role": "user", "content": "weather in Oslo"}]
    assert len(asyncio.run(open_(stack, session_id).get_items())) == 8


def test_every_item_type_round_trips_exactly(stack, session_id):
    async def go():
        await open_(stack, session_id).add_items(copy.deepcopy(ALL_ITEMS))
        assert await open_(stack, session_id).get_items() == ALL_ITEMS
        assert await open_(stack, session_id).get_items(3) == ALL_ITEMS[-3:]

    asyncio.run(go())


def test_parallel_calls_are_one_chat_message_and_come_back_exactly(stack, session_id):
    step = [
        {"role": "user", "content": "two cities"},
        {"type": "function_call", "call_id": "ca", "name": "get_weather", "arguments": "{\"city\":\"A\"}"},
        {"type": "function_call", "call_id": "cb", "name": "get_weather", "arguments": "{\"city\":\"B\"}"},
        {"type": "function_call_output", "call_id": "ca", "output": "1C"},
        {"type": "function_call_output", "call_id": "cb", "output": "2C"},
        {"role": "assistant", "content": "cold"},
    ]

    async def go():
        s = open_(stack, session_id)
        await s.add_items(copy.deepcopy(step))
        assert await open_(stack, session_id).get_items() == step
        ctx = api(stack, "GET", f"/v1/sessions/{session_id}")
        assert [[c["id"] for c in m.get("tool_calls", [])] for m in ctx["messages"]] == [[], ["ca", "cb"], [], [], []]
        for _ in range(4):
            await s.pop_item()
        assert await s.get_items() == step[:2]

    asyncio.run(go())


def test_a_retried_write_is_applied_once_and_is_one_version(stack, session_id):
    async def go():
        s = open_(stack, session_id)
        await s.add_items([{"role": "user", "content": "hi"}])
        v1 = s.last_version
        await s.add_items(copy.deepcopy(ALL_ITEMS[6:10]), turn_id="step-1")
        assert s.last_version == v1 + 1
        await s.add_items(copy.deepcopy(ALL_ITEMS[6:10]), turn_id="step-1")
        assert s.last_version == v1 + 1
        assert len(await s.get_items()) == 5

    asyncio.run(go())


def test_sqlite_session_and_ours_answer_the_same(stack, session_id, tmp_path):
    async def go():
        ours = open_(stack, session_id)
        theirs = SQLiteSession(session_id, str(tmp_path / "theirs.db"))
        log = []

        async def same(op):
            a, b = await op(ours), await op(theirs)
            log.append(a)
            assert a == b

        await same(lambda x: x.get_items())
        await same(lambda x: x.pop_item())
        await same(lambda x: x.get_items(3))
        await same(lambda x: x.add_items(copy.deepcopy(ALL_ITEMS[:6])))
        await same(lambda x: x.add_items([]))
        await same(lambda x: x.add_items(copy.deepcopy(ALL_ITEMS[6:])))
        for limit in (None, -1, 0, 1, 2, 5, len(ALL_ITEMS), len(ALL_ITEMS) + 10):
            await same(lambda x, limit=limit: x.get_items(limit))
        for _ in range(4):
            await same(lambda x: x.pop_item())
        await same(lambda x: x.get_items())
        await same(lambda x: x.clear_session())
        await same(lambda x: x.get_items())
        await same(lambda x: x.pop_item())
        await same(lambda x: x.add_items(copy.deepcopy(ALL_ITEMS[:3])))
        # session_settings.limit is the default limit of get_items, as in the SDK's sessions.
        ours.session_settings = theirs.session_settings = SessionSettings(limit=2)
        await same(lambda x: x.get_items())
        await same(lambda x: x.get_items(1))
        theirs.close()

    asyncio.run(go())


def test_twenty_concurrent_runs_on_one_session_lose_nothing(stack, session_id):
    async def go():
        results = await asyncio.gather(
            *(run_turn(open_(stack, session_id), f"weather in city{i}") for i in range(20)))
        assert [r[0] for r in results] == [f"It is 18C in city{i} there." for i in range(20)]
        items = await open_(stack, session_id).get_items()
        assert len(items) == 80
        users = sorted(i["content"] for i in items if i.get("role") == "user")
        assert users == sorted(f"weather in city{i}" for i in range(20))
        calls = {i["call_id"] for i in items if i.get("type") == "function_call"}
        outputs = {i["call_id"] for i in items if i.get("type") == "function_call_output"}
        assert len(calls) == 20 and calls == outputs

    asyncio.run(go())


def test_a_session_written_by_another_client_reads_as_items(stack, session_id):
    async def go():
        async with httpx.AsyncClient() as client:
            h = {"authorization": f"Bearer {stack['api_key']}"}
            await client.post(f"{stack['base_url']}/v1/sessions/{session_id}/recover", json={}, headers=h)
            r = await client.post(f"{stack['base_url']}/v1/sessions/{session_id}/steps", headers=h, json={"messages": [
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": "", "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                {"role": "tool", "content": "r", "tool_call_id": "c1"},
                {"role": "assistant", "content": "a"},
            ]})
            r.raise_for_status()
        assert await open_(stack, session_id).get_items() == [
            {"role": "user", "content": "q"},
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "r"},
            {"role": "assistant", "content": "a"},
        ]

    asyncio.run(go())


def test_an_item_added_between_a_pops_read_and_write_is_never_lost(stack, session_id):
    """The pop's write waits until another writer's add is acknowledged: the added item is popped (or kept), never
    silently dropped."""
    async def go():
        other = open_(stack, session_id)
        await other.add_items([{"role": "user", "content": "first"}, {"role": "user", "content": "second"}])
        popper = open_(stack, session_id)
        real = popper._request
        held = []

        async def racing(method, tail, body=None, key=None, if_match=None, with_etag=False):
            if method == "PUT" and not held:
                held.append(True)
                await other.add_items([{"role": "user", "content": "added during the pop"}])
            return await real(method, tail, body, key, if_match=if_match, with_etag=with_etag)

        popper._request = racing
        popped = await popper.pop_item()
        assert held
        left = [i["content"] for i in await other.get_items()]
        assert popped["content"] == "added during the pop"
        assert sorted(left + [popped["content"]]) == sorted(["first", "second", "added during the pop"])

    asyncio.run(go())
