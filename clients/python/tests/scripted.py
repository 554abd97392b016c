"""A scripted model for tests (no network): it calls ``get_weather`` for the city in the last user message, then
answers from the tool's result. ``python -m tests.scripted SESSION_ID TEXT`` runs one turn of a real Agent with a
new Runner on a DurableSession in this process and prints the final output and the model's first request as JSON."""

from __future__ import annotations

import asyncio
import copy
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from typing import Any

from agents import Agent, ModelResponse, Runner, RunConfig, Usage, function_tool, set_tracing_disabled
from agents.models.interface import Model
from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage, ResponseOutputText

set_tracing_disabled(True)


class ScriptedModel(Model):
    def __init__(self) -> None:
        self.requests: list[list[dict[str, Any]]] = []

    async def get_response(self, system_instructions, input, model_settings, tools, output_schema, handoffs,
                           tracing, *, previous_response_id=None, conversation_id=None, prompt=None, **kwargs):
        items = [{"role": "user", "content": input}] if isinstance(input, str) else copy.deepcopy(list(input))
        self.requests.append(items)
        last = items[-1]
        n = len(self.requests)
        if last.get("type") == "function_call_output":
            text = f"It is {last['output']} there."
            out = ResponseOutputMessage(id=f"msg_{n}", type="message", role="assistant", status="completed",
                                        content=[ResponseOutputText(type="output_text", text=text, annotations=[])])
            return ModelResponse(output=[out], usage=Usage(), response_id=f"resp_{n}")
        user = next(i for i in reversed(items) if i.get("role") == "user")
        city = str(user["content"]).removeprefix("weather in ")
        call = ResponseFunctionToolCall(id=f"fc_{n}", type="function_call", call_id=f"call_{uuid.uuid4().hex[:12]}",
                                        name="get_weather", arguments=json.dumps({"city": city}), status="completed")
        return ModelResponse(output=[call], usage=Usage(), response_id=f"resp_{n}")

    def stream_response(self, *args, **kwargs) -> AsyncIterator[Any]:
        raise NotImplementedError("the scripted model does not stream")


@function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"18C in {city}"


def weather_agent(model: Model) -> Agent:
    return Agent(name="weather", instructions="Answer about the weather.", model=model, tools=[get_weather])


async def run_turn(session, text: str) -> tuple[str, ScriptedModel]:
    model = ScriptedModel()
    result = await Runner.run(weather_agent(model), text, session=session,
                              run_config=RunConfig(tracing_disabled=True))
    return result.final_output, model


def open_session(session_id: str):
    from durable_sessions.openai_agents import DurableSession

    return DurableSession(session_id, base_url=os.environ["DS_BASE_URL"], api_key=os.environ["DS_API_KEY"])


if __name__ == "__main__":
    final, model = asyncio.run(run_turn(open_session(sys.argv[1]), sys.argv[2]))
    print(json.dumps({"final_output": final, "first_request": model.requests[0]}))
