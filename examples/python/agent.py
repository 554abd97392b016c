"""An agent service in Python that writes a turn into a durable session and reads the window back.

It speaks the session actor protocol (docs/actor-protocol.md) with the plain `temporalio` client and the payload
codec of docs/encryption.md (session_codec.py): no code from durable-sessions is needed. The turn goes in with
signal-with-start (the "durable" acknowledgement: acknowledged once Temporal has persisted it, applied once by turn
id), or with `--applied` as the `appendTurn` update; with `--tool NAME ARGUMENTS RESULT` it is a whole agent step
with a tool call (user, assistant calling NAME, the tool's RESULT, the answer), sent as one `appendMessages` update.
The window comes back with the `recentMessages` query. Prints one JSON object.

    python3 agent.py demo-1 "What is on my calendar?" "Two meetings today." --user-id 42 --agent-type schedule
    python3 agent.py demo-1 "Weather in Paris?" "It is 18 °C." --tool get_weather '{"city":"Paris"}' '{"temp_c":18}'
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import traceback
import uuid
from typing import Any, Awaitable, Callable, TypeVar

from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError

import session_codec

# The protocol, version 1 (docs/actor-protocol.md).
WORKFLOW_TYPE = "sessionActor"
TURN_SIGNAL = "turn"
APPEND_TURN_UPDATE = "appendTurn"
APPEND_MESSAGES_UPDATE = "appendMessages"
RECENT_MESSAGES_QUERY = "recentMessages"
TURN_STATUS_QUERY = "turnStatus"
ACTOR_BUSY = "session actor busy"

T = TypeVar("T")


def workflow_id(session_id: str) -> str:
    return f"session/{session_id}"


async def ask(handle: WorkflowHandle[Any, Any], query: Callable[[], Awaitable[T]], attempts: int = 40) -> T:
    """Runs a query, asking again while the actor is busy (loading its state or applying received turns)."""
    delay = 0.005
    for attempt in range(attempts):
        try:
            return await query()
        except WorkflowQueryFailedError as err:
            if ACTOR_BUSY not in str(err) or attempt == attempts - 1:
                raise
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.25)
    raise AssertionError("unreachable")


async def write_turn(
    client: Client,
    task_queue: str,
    session_id: str,
    user: str,
    assistant: str,
    *,
    user_id: int,
    agent_type: str = "",
    turn_id: str | None = None,
) -> tuple[WorkflowHandle[Any, Any], str]:
    """Signal-with-start: starts the session's actor if it is not running and delivers the turn to it."""
    turn_id = turn_id or str(uuid.uuid4())
    turn = {"turn_id": turn_id, "user": user, "assistant": assistant, "user_id": user_id}
    if agent_type:
        turn["agent_type"] = agent_type
    handle = await client.start_workflow(
        WORKFLOW_TYPE,
        actor_input(session_id),
        id=workflow_id(session_id),
        task_queue=task_queue,
        start_signal=TURN_SIGNAL,
        start_signal_args=[turn],
        static_summary=f"Session {session_id}",
    )
    return handle, turn_id


# With keys per session the actor removes a session in a local activity (docs/actor-protocol.md, remove_locally).
REMOVE_LOCALLY = False


def actor_input(session_id: str) -> dict[str, Any]:
    return {"session_id": session_id, **({"remove_locally": True} if REMOVE_LOCALLY else {})}


def start_operation(task_queue: str, session_id: str) -> WithStartWorkflowOperation[Any, Any]:
    """The start half of update-with-start: the session's actor, reached when running, started when not."""
    return WithStartWorkflowOperation(
        WORKFLOW_TYPE,
        actor_input(session_id),
        id=workflow_id(session_id),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        static_summary=f"Session {session_id}",
    )


async def append_turn(
    client: Client,
    task_queue: str,
    session_id: str,
    user: str,
    assistant: str,
    *,
    agent_type: str = "",
    turn_id: str | None = None,
) -> tuple[WorkflowHandle[Any, Any], str, dict[str, Any]]:
    """Update-with-start of `appendTurn` (the "applied" acknowledgement): answers with the new version once the
    actor has applied it. The update id is the turn id, so a retry with the same id is applied once."""
    turn_id = turn_id or str(uuid.uuid4())
    turn: dict[str, Any] = {"user": user, "assistant": assistant}
    if agent_type:
        turn["agent_type"] = agent_type
    start = start_operation(task_queue, session_id)
    ack = await client.execute_update_with_start_workflow(
        APPEND_TURN_UPDATE, turn, start_workflow_operation=start, id=turn_id
    )
    return await start.workflow_handle(), turn_id, ack


def tool_step(
    user: str, assistant: str, tool: str, arguments: str, result: str, *, result_for: str | None = None
) -> list[dict[str, Any]]:
    """One agent step in the OpenAI chat shape: the question, the model's tool call, the tool's result (answering
    that call, or `result_for` to see the actor refuse a result for a call it does not know), the answer."""
    call_id = f"call_{uuid.uuid4().hex[:12]}"
    return [
        {"role": "user", "content": user},
        {
            "role": "assistant",
            "content": "",  # OpenAI sends null here; the protocol takes "" (docs/actor-protocol.md, Messages)
            "tool_calls": [{"id": call_id, "type": "function", "function": {"name": tool, "arguments": arguments}}],
        },
        {"role": "tool", "content": result, "tool_call_id": result_for or call_id},
        {"role": "assistant", "content": assistant},
    ]


async def append_messages(
    client: Client,
    task_queue: str,
    session_id: str,
    messages: list[dict[str, Any]],
    *,
    agent_type: str = "",
    turn_id: str | None = None,
) -> tuple[WorkflowHandle[Any, Any], str, dict[str, Any]]:
    """Update-with-start of `appendMessages`: the whole step is one command and one version, applied once per
    `turn_id` (in the arguments; the update id is fresh for every call, as the protocol recommends)."""
    turn_id = turn_id or str(uuid.uuid4())
    args: dict[str, Any] = {"messages": messages, "turn_id": turn_id}
    if agent_type:
        args["agent_type"] = agent_type
    start = start_operation(task_queue, session_id)
    ack = await client.execute_update_with_start_workflow(
        APPEND_MESSAGES_UPDATE, args, start_workflow_operation=start, id=f"auto:{uuid.uuid4()}"
    )
    return await start.workflow_handle(), turn_id, ack


def advertised(env: dict[str, str], field: str) -> str:
    """What `npm start` advertises in `<data dir>/stack.json`: `temporalAddress`, `databaseUrl`."""
    file = session_codec.data_dir(env) / "stack.json"
    try:
        return str(json.loads(file.read_text(encoding="utf-8"))[field])
    except (OSError, ValueError, KeyError) as err:
        raise SystemExit(
            f"no running stack found ({file}: {err}): start one with `npm start`, or set TEMPORAL_ADDRESS"
        ) from err


def database_url(env: dict[str, str], embedded: bool) -> str | None:
    """Where the session keys are (DS_CODEC_SESSION_KEYS, on by default): DATABASE_URL, else the embedded stack's."""
    if not session_codec.session_keys_on(env):
        return None
    if env.get("DATABASE_URL"):
        return env["DATABASE_URL"]
    if embedded:
        return advertised(env, "databaseUrl")
    raise SystemExit(
        "keys per session (DS_CODEC_SESSION_KEYS) need the stack's Postgres: set DATABASE_URL, "
        "or DS_CODEC_SESSION_KEYS=0 for a stack that runs without them"
    )


async def main() -> int:
    parser = argparse.ArgumentParser(description="Write a turn into a durable session and read the window back.")
    parser.add_argument("session_id")
    parser.add_argument("user", help="the user message")
    parser.add_argument("assistant", help="the assistant's reply")
    parser.add_argument("--user-id", type=int, help="owner; a durable turn creates the session for this user")
    parser.add_argument("--agent-type", default="")
    parser.add_argument("--turn-id", help="retry a turn by sending it again with the same id")
    parser.add_argument(
        "--applied", action="store_true", help="append with the appendTurn update (the session must exist)"
    )
    parser.add_argument(
        "--tool",
        nargs=3,
        metavar=("NAME", "ARGUMENTS", "RESULT"),
        help="write a whole step with a tool call as one appendMessages update (the session must exist)",
    )
    parser.add_argument("--result-for", help=argparse.SUPPRESS)  # a tool result for another call id (refused)
    parser.add_argument("--last", type=int, default=0, help="how many recent messages to read (0: all)")
    parser.add_argument("--address", default=os.environ.get("TEMPORAL_ADDRESS") or None)
    parser.add_argument("--namespace", default=os.environ.get("TEMPORAL_NAMESPACE") or "default")
    parser.add_argument("--task-queue", default=os.environ.get("TEMPORAL_TASK_QUEUE") or "durable-sessions")
    args = parser.parse_args()
    if args.user_id is None and not args.applied and not args.tool:
        parser.error("a durable turn needs --user-id (it creates the session when missing)")

    env = dict(os.environ)
    # Like the project's own CLI: no address means the embedded stack of this checkout (`npm start`), whose address
    # and generated key file are in its data directory; an address means keys are given explicitly.
    embedded = args.address is None
    address = advertised(env, "temporalAddress") if embedded else args.address
    keys = session_codec.resolve_keys(env, embedded=embedded)
    codec = session_codec.codec_for(keys, database_url(env, embedded) if keys.ring else None)
    global REMOVE_LOCALLY
    REMOVE_LOCALLY = isinstance(codec, session_codec.SessionKeyCodec)
    client = await Client.connect(
        address, namespace=args.namespace, data_converter=session_codec.data_converter(codec)
    )
    out: dict[str, Any] = {"session_id": args.session_id}
    if args.applied or args.tool:
        try:
            if args.tool:
                name, arguments, result = args.tool
                step = tool_step(args.user, args.assistant, name, arguments, result, result_for=args.result_for)
                handle, turn_id, ack = await append_messages(
                    client, args.task_queue, args.session_id, step, agent_type=args.agent_type, turn_id=args.turn_id
                )
            else:
                handle, turn_id, ack = await append_turn(
                    client,
                    args.task_queue,
                    args.session_id,
                    args.user,
                    args.assistant,
                    agent_type=args.agent_type,
                    turn_id=args.turn_id,
                )
        except WorkflowUpdateFailedError as err:
            # The actor's failure details (e.g. the field a ValidationError names) are encrypted payloads too.
            cause = err.cause
            error: dict[str, Any] = {"message": str(cause)}
            if isinstance(cause, ApplicationError):
                error.update(type=cause.type, details=list(cause.details))
            print(json.dumps({**out, "turn_id": args.turn_id, "error": error}))
            return 2
        out.update(turn_id=turn_id, version=ack["version"])
    else:
        handle, turn_id = await write_turn(
            client,
            args.task_queue,
            args.session_id,
            args.user,
            args.assistant,
            user_id=args.user_id,
            agent_type=args.agent_type,
            turn_id=args.turn_id,
        )
        # Queries see every signal acknowledged before them, so the turn's outcome is already known here.
        out.update(turn_id=turn_id, turn_status=await ask(handle, lambda: handle.query(TURN_STATUS_QUERY, turn_id)))
    out["messages"] = await ask(handle, lambda: handle.query(RECENT_MESSAGES_QUERY, args.last))
    print(json.dumps(out))
    return 0 if args.applied or args.tool or out["turn_status"].get("status") == "applied" else 2


if __name__ == "__main__":
    try:
        code = asyncio.run(main())
    except session_codec.CodecError as err:
        print(f"agent.py: {err}", file=sys.stderr)
        code = 1
    except Exception:
        traceback.print_exc()
        code = 1
    # The SDK's native runtime threads can abort interpreter finalisation ("PyGILState_Release … finalizing",
    # seen in CI); the work is done and printed, so leave without finalising.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
