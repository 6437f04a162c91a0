"""No API key or Authorization value is stored, printed or output, whatever path it arrives by."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from typer.testing import CliRunner

from ponder._util.secrets import REDACTED, redact, redact_data, register_secret
from ponder.agents.cot import CoT
from ponder.backends.openai_compat import OpenAICompatBackend
from ponder.cli import app
from ponder.errors import BackendError
from ponder.traces.store import TraceStore

BASE = "http://llm.test/v1"
URL = f"{BASE}/chat/completions"


def echo_headers(request: httpx.Request) -> httpx.Response:
    """A broken proxy: answers 200 with a text page that echoes the request headers."""
    lines = "\n".join(f"{k}: {v}" for k, v in request.headers.items())
    return httpx.Response(200, text=f"debug echo\n{lines}")


def backend(key: str, **kw: Any) -> OpenAICompatBackend:
    b = OpenAICompatBackend(base_url=BASE, api_key=key, model="m", backoff=0.0, **kw)

    async def no_sleep(_: float) -> None:
        return None

    b._sleep = no_sleep
    return b


def assert_clean(db: Path, secret: str) -> None:
    for f in db.parent.iterdir():
        data = f.read_bytes()
        assert secret.encode() not in data, f"the key leaked into {f.name}"


def test_redact_forms() -> None:
    key = "sk-forms-7f3a9c2e1d"
    register_secret(key)
    assert redact(f"error: {key} refused") == f"error: {REDACTED} refused"
    assert key not in redact(json.dumps({"note": f'said "{key}"'}))
    # header values are removed even when the value is not a registered key
    assert redact("Authorization: Bearer abc.def-123\nhost: x") == f"Authorization: {REDACTED}\nhost: x"
    assert redact('{"api-key": "zzz-unknown"}') == f'{{"api-key": "{REDACTED}"}}'
    assert redact("{'x-api-key': 'q1w2e3r4'}") == f"{{'x-api-key': '{REDACTED}'}}"
    assert redact('\\"authorization\\": \\"Basic Zm9vOmJhcg==\\"') == f'\\"authorization\\": \\"{REDACTED}\\"'
    assert redact_data({"headers": {"Authorization": "Bearer other"}, "n": 1}) == {
        "headers": {"Authorization": REDACTED},
        "n": 1,
    }
    # ordinary text is left alone
    assert redact("the authorization of the king; api keys are secret") == (
        "the authorization of the king; api keys are secret"
    )
    register_secret("ab")  # too short to be a key: redacting it would mangle words
    assert redact("abc") == "abc"


@respx.mock
async def test_an_echoed_header_page_never_reaches_the_store(tmp_path: Path) -> None:
    key = "sk-echo-1b2c3d4e5f60718293"
    respx.post(URL).mock(side_effect=echo_headers)
    db = tmp_path / "t.db"
    store = TraceStore(db)
    with pytest.raises(BackendError) as info:
        await CoT().arun("What is 2 + 2?", backend=backend(key, max_retries=1), store=store)
    assert key not in str(info.value) and "not JSON" in str(info.value)
    (run,) = store.list_runs()
    assert run.error and "not JSON" in run.error and key not in run.error
    (call,) = store.llm_calls(run.id)
    assert call.error and key not in call.error
    # the retry attempt records carry the snippet too, redacted
    assert call.attempts and len(call.attempts) == 2
    assert all("not JSON" in a["error"] and key not in a["error"] for a in call.attempts)
    events = store.events(run.id)
    assert all(key not in (e.summary + e.label) for e in events)
    store.close()
    assert_clean(db, key)


@respx.mock
async def test_a_key_echoed_in_an_error_message_or_a_reply_is_redacted(tmp_path: Path) -> None:
    key = "sk-msg-99aa88bb77cc66dd"
    respx.post(URL).mock(
        side_effect=[
            httpx.Response(500, json={"error": {"message": f"upstream said: key {key} is rate limited"}}),
            httpx.Response(
                200,
                json={
                    "model": "m",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": f"Your key is {key}. 4"}}],
                },
            ),
        ]
    )
    db = tmp_path / "t.db"
    store = TraceStore(db)
    result = await CoT().arun("What is 2 + 2?", backend=backend(key), store=store)
    (call,) = store.llm_calls(result.run_id)
    assert call.attempts and "rate limited" in call.attempts[0]["error"]
    assert call.response and REDACTED in json.dumps(call.response)
    store.close()
    assert_clean(db, key)


@respx.mock
def test_cli_output_and_json_output_never_show_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = "sk-cli-0f1e2d3c4b5a69788796"
    monkeypatch.setenv("ECHO_KEY", key)
    config = tmp_path / "config.toml"  # no retries: the CLI backs off for real
    config.write_text(f'[profiles.echo]\nbase_url = "{BASE}"\nmodel = "m"\napi_key_env = "ECHO_KEY"\nmax_retries = 0\n')
    monkeypatch.setenv("PONDER_CONFIG", str(config))
    respx.post(URL).mock(side_effect=echo_headers)
    db = tmp_path / "t.db"
    runner = CliRunner()
    args = ["--backend", "echo", "--db", str(db)]
    res = runner.invoke(app, ["run", "What is 2 + 2?", *args])
    assert res.exit_code == 2, res.output
    assert "not JSON" in res.output and key not in res.output
    res = runner.invoke(app, ["run", "What is 2 + 2?", "--json", *args])
    assert res.exit_code == 2 and key not in res.output
    res = runner.invoke(app, ["runs", "--json", "--db", str(db)])
    assert res.exit_code == 0
    runs = json.loads(res.output)
    assert runs and all("not JSON" in r["error"] for r in runs) and key not in res.output
    res = runner.invoke(app, ["show", runs[0]["id"], "--format", "json", "--db", str(db)])
    assert res.exit_code == 0 and key not in res.output and "authorization" in res.output.lower()
    assert_clean(db, key)
