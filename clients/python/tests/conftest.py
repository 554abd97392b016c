"""The stack the tests run against comes from the environment: test/adapters-python.test.ts starts the HTTP API on a
real Temporal dev server and Postgres and sets DS_BASE_URL and DS_API_KEY (a ``user:`` key). Without them the tests
fail: nothing is skipped."""

import os
import sys
import uuid

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


@pytest.fixture(scope="session")
def stack() -> dict[str, str]:
    missing = [k for k in ("DS_BASE_URL", "DS_API_KEY") if not os.environ.get(k)]
    if missing:
        pytest.fail(f"set {', '.join(missing)} (test/adapters-python.test.ts does) to run against a real stack")
    return {"base_url": os.environ["DS_BASE_URL"], "api_key": os.environ["DS_API_KEY"]}


@pytest.fixture
def session_id() -> str:
    return f"py-{uuid.uuid4().hex}"
