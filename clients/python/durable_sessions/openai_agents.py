"""A Session of the OpenAI Agents SDK for Python (``openai-agents``) kept by a durable-sessions actor, over the HTTP
API (docs/http-api.md). ``Runner.run(agent, input, session=DurableSession(...))``; see clients/python/README.md.

Items are the Responses API input items the SDK stores. Messages, function calls and their outputs become chat
messages (role, content, ``tool_calls``, ``tool_call_id``) so the session's window never separates a call from its
output; the item itself travels in the message's ``extra["openai_agents_python"]`` without the fields the message
already carries, so it comes back exactly. Other items (reasoning, hosted and computer calls, compaction, ...) are an
assistant note saying what they are, the item whole in ``extra``. Every ``add_items`` is one write (one version of
the session) with an Idempotency-Key, retried with the same key, so it is applied once."""

from __future__ import annotations

import asyncio
import copy
import json
import uuid
from typing import Any

import httpx

EXTRA_KEY = "openai_agents_python"
"""The key of ``Message.extra`` this adapter writes (the TypeScript adapter writes ``openai_agents``)."""

DEFAULT_WINDOW_MESSAGES = 200
"""The window of sessions the adapter creates: the most a session keeps (the SDK's own sessions keep everything)."""

STEP_MAX_MESSAGES = 64
_TEXT_PARTS = {"input_text", "output_text", "text", "summary_text", "reasoning_text"}


# How often pop_item reads again after a write came between its read and its write.
POP_ATTEMPTS = 50

class DurableSessionError(Exception):
    """An answer of the API other than 2xx: ``status``, ``code`` and ``message`` of its error body."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


def _parts_text(parts: Any) -> str:
    if isinstance(parts, str):
        return parts
    if isinstance(parts, dict):
        parts = [parts]
    if not isinstance(parts, list):
        return ""
    texts = []
    for p in parts:
        if isinstance(p, dict) and isinstance(p.get("text"), str) and p.get("type") in _TEXT_PARTS:
            texts.append(p["text"])
        elif isinstance(p, dict) and isinstance(p.get("refusal"), str):
            texts.append(p["refusal"])
    return "\n".join(t for t in texts if t)


def _stored(message: dict[str, Any], item: dict[str, Any], taken: list[str] | None = None) -> dict[str, Any]:
    rest = {k: v for k, v in item.items() if k not in (taken or [])}
    value: dict[str, Any] = {"item": rest}
    if taken:
        value["taken"] = taken
    return {**message, "extra": {EXTRA_KEY: value}}


_NAME_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-")


def _fits_tool_call(call_id: Any, name: Any) -> bool:
    return (isinstance(call_id, str) and 0 < len(call_id) <= 128 and all(0x21 <= ord(c) <= 0x7E for c in call_id)
            and isinstance(name, str) and 0 < len(name) <= 64 and set(name) <= _NAME_CHARS)


def item_to_message(item: Any) -> dict[str, Any]:
    """One SDK item as one session message (wire form)."""
    item = json.loads(json.dumps(item))
    kind = item.get("type", "message")
    role = item.get("role")
    if kind == "message" and isinstance(role, str):
        chat_role = role if role in ("user", "assistant") else "system"
        content = item.get("content")
        if isinstance(content, str) and content:
            return _stored({"role": chat_role, "content": content}, item, ["content"])
        text = _parts_text(content)
        if not text:
            kinds = [str(p.get("type", "part")) for p in content] if isinstance(content, list) else []
            text = f"[{', '.join(kinds) or 'empty'}]"
        return _stored({"role": chat_role, "content": text}, item)
    if kind == "function_call" and _fits_tool_call(item.get("call_id"), item.get("name")):
        args = item.get("arguments")
        call = {"id": item["call_id"], "type": "function",
                "function": {"name": item["name"], "arguments": args if isinstance(args, str) else ""}}
        return _stored({"role": "assistant", "content": "", "tool_calls": [call]}, item,
                       ["arguments"] if isinstance(args, str) else [])
    if kind == "function_call_output" and _fits_tool_call(item.get("call_id"), "x"):
        output = item.get("output")
        if isinstance(output, str):
            return _stored({"role": "tool", "content": output, "tool_call_id": item["call_id"]}, item, ["output"])
        return _stored({"role": "tool", "content": _parts_text(output), "tool_call_id": item["call_id"]}, item)
    text = _parts_text(item.get("summary")) or _parts_text(item.get("content"))
    return _stored({"role": "assistant", "content": text or f"[{kind}]"}, item)


def _restore(own: dict[str, Any], message: dict[str, Any], call: int) -> dict[str, Any]:
    item = copy.deepcopy(own["item"])
    for key in own.get("taken", []):
        if key == "arguments":
            calls = message.get("tool_calls") or []
            item["arguments"] = calls[call]["function"]["arguments"] if call < len(calls) else ""
        else:
            item[key] = message.get("content", "")
    return item


def _is_lone_call(m: dict[str, Any]) -> bool:
    own = (m.get("extra") or {}).get(EXTRA_KEY) or {}
    return (m.get("role") == "assistant" and m.get("content") == "" and len(m.get("tool_calls") or []) == 1
            and isinstance(own.get("item"), dict) and own["item"].get("type") == "function_call")


def items_to_messages(items: list[Any]) -> list[dict[str, Any]]:
    """The messages of one write: one per item, except that consecutive function calls (parallel tool calls) become
    one assistant message with several tool calls, as chat APIs expect them (``extra[...]["items"]``)."""
    out: list[dict[str, Any]] = []
    for m in (item_to_message(i) for i in items):
        prev = out[-1] if out else None
        prev_own = ((prev or {}).get("extra") or {}).get(EXTRA_KEY) or {}
        if prev and _is_lone_call(m) and (_is_lone_call(prev) or "items" in prev_own) \
                and len(prev["tool_calls"]) < 32 and m["tool_calls"][0]["id"] not in {c["id"] for c in prev["tool_calls"]}:
            stored = prev_own["items"] if "items" in prev_own else [prev_own]
            merged = {"role": "assistant", "content": "", "tool_calls": prev["tool_calls"] + m["tool_calls"],
                      "extra": {EXTRA_KEY: {"items": stored + [m["extra"][EXTRA_KEY]]}}}
            if len(json.dumps(merged["extra"], ensure_ascii=False).encode()) <= 32 * 1024:
                out[-1] = merged
                continue
        out.append(m)
    return out


def message_to_items(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The SDK items of one session message: the stored items when this adapter wrote it, else the chat message read
    as items (a message written through the API or another client)."""
    own = (message.get("extra") or {}).get(EXTRA_KEY)
    if isinstance(own, dict) and isinstance(own.get("items"), list):
        return [_restore(one, message, k) for k, one in enumerate(own["items"])]
    if isinstance(own, dict) and isinstance(own.get("item"), dict):
        return [_restore(own, message, 0)]
    role, content = message.get("role"), message.get("content", "")
    if role == "tool":
        return [{"type": "function_call_output", "call_id": message.get("tool_call_id"), "output": content}]
    items: list[dict[str, Any]] = []
    if role != "assistant" or content:
        items.append({"role": role, "content": content})
    for call in message.get("tool_calls") or []:
        fn = call.get("function", {})
        items.append({"type": "function_call", "call_id": call.get("id"), "name": fn.get("name"),
                      "arguments": fn.get("arguments", "")})
    return items


class DurableSession:
    """The SDK's Session protocol on a durable-sessions actor, through the HTTP API.

    ``api_key`` is a Bearer key of the API; with a ``service`` or ``admin`` key, ``user_id`` names the user the
    session belongs to. ``window_messages`` (1..200) and ``transcript`` apply to a session this creates.
    ``pop_item`` reads and then writes the session (it is not one command).
    """

    def __init__(self, session_id: str, *, base_url: str, api_key: str, user_id: int | None = None,
                 agent_type: str = "openai-agents", window_messages: int = DEFAULT_WINDOW_MESSAGES,
                 transcript: bool = False, session_settings: Any = None, attempts: int = 4,
                 timeout: float = 30.0) -> None:
        self.session_id = session_id
        self.session_settings = session_settings
        self.last_version = 0
        """The session's version after this object's last write (0 before one)."""
        self._base = base_url.rstrip("/")
        self._headers = {"authorization": f"Bearer {api_key}"}
        if user_id is not None:
            self._headers["x-user-id"] = str(user_id)
        self._agent_type = agent_type
        self._settings: dict[str, Any] = {"window_messages": window_messages}
        if transcript:
            self._settings["transcript"] = True
        self._attempts = max(1, attempts)
        self._timeout = timeout

    # ---- the Session protocol ----------------------------------------------------------------------------------

    async def get_items(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The items, oldest first; ``limit`` (else ``session_settings.limit``): the last ``limit`` of them, none for
        0 and all for a negative one (as SQLiteSession)."""
        if limit is None and self.session_settings is not None:
            limit = getattr(self.session_settings, "limit", None)
        if limit == 0:
            return []
        items = [i for m in await self._messages() for i in message_to_items(m)]
        return items if limit is None or limit < 0 else items[-limit:]

    async def add_items(self, items: list[Any], turn_id: str | None = None) -> None:
        """Appends the items as one write (one version; more than 64 items are several), with ``turn_id`` (default:
        a new one) as the Idempotency-Key: the same write sent again is applied once."""
        if not items:
            return
        turn_id = turn_id or str(uuid.uuid4())
        messages = items_to_messages(items)
        for start in range(0, len(messages), STEP_MAX_MESSAGES):
            key = turn_id if len(messages) <= STEP_MAX_MESSAGES else f"{turn_id}/{start}"
            body = {"messages": messages[start:start + STEP_MAX_MESSAGES], "agent_type": self._agent_type}
            try:
                answer = await self._request("POST", "/steps", body, key)
            except DurableSessionError as err:
                if err.status != 404:
                    raise
                # The first write of a session creates it; the step keeps its key, so a retry is still applied once.
                await self._request("POST", "/recover", {"agent_type": self._agent_type, "settings": self._settings})
                answer = await self._request("POST", "/steps", body, key)
            self.last_version = answer["version"]

    async def pop_item(self) -> dict[str, Any] | None:
        """Removes and returns the last item. The write is made on the condition that the session is still at the
        version read (If-Match with GET's ETag): an item another writer added in between is never lost; the pop
        reads again and takes that one."""
        for attempt in range(1, POP_ATTEMPTS + 1):
            try:
                ctx, etag = await self._request("GET", "", with_etag=True)
            except DurableSessionError as err:
                if err.status == 404:
                    return None
                raise
            messages = ctx["messages"]
            if not messages:
                return None
            last = message_to_items(messages[-1])
            # A message may hold several items (parallel calls, or text and calls from another client): the others
            # stay.
            rest = items_to_messages(last[:-1])
            body = {"agent_type": ctx["agent_type"], "metadata": ctx["metadata"], "messages": messages[:-1] + rest}
            if ctx.get("settings"):
                body["settings"] = ctx["settings"]
            try:
                await self._request("PUT", "", body, if_match=etag)
            except DurableSessionError as err:
                if err.status == 412 and attempt < POP_ATTEMPTS:
                    continue
                raise
            return last[-1] if last else None
        raise AssertionError("unreachable")

    async def clear_session(self) -> None:
        try:
            await self._request("DELETE", "/messages")
        except DurableSessionError as err:
            if err.status != 404:
                raise

    # ---- HTTP ----------------------------------------------------------------------------------------------------

    async def _messages(self) -> list[dict[str, Any]]:
        try:
            return (await self._request("GET", "/messages"))["messages"]
        except DurableSessionError as err:
            if err.status == 404:
                return []
            raise

    async def _request(
        self,
        method: str,
        tail: str,
        body: Any = None,
        key: str | None = None,
        if_match: str | None = None,
        with_etag: bool = False,
    ) -> Any:
        url = f"{self._base}/v1/sessions/{self.session_id}{tail}"
        headers = dict(self._headers)
        if key is not None:
            headers["idempotency-key"] = key
        if if_match is not None:
            headers["if-match"] = if_match
        retryable = method == "GET" or key is not None
        async with httpx.AsyncClient(timeout=self._timeout) as client:
            for attempt in range(1, self._attempts + 1):
                try:
                    r = await client.request(method, url, headers=headers, json=body)
                except httpx.TransportError:
                    if not retryable or attempt == self._attempts:
                        raise
                    await asyncio.sleep(0.05 * 2**attempt)
                    continue
                if r.is_success:
                    answer = None if r.status_code == 204 else r.json()
                    return (answer, r.headers.get("etag")) if with_etag else answer
                if retryable and r.status_code in (429, 503) and attempt < self._attempts:
                    await asyncio.sleep(min(float(r.headers.get("retry-after") or 0.05 * 2**attempt), 5.0))
                    continue
                try:
                    err = r.json()
                except ValueError:
                    err = {}
                raise DurableSessionError(r.status_code, err.get("code", "unknown"), err.get("message", r.text))
        raise AssertionError("unreachable")
