"""Pre-flight: every broken target is named with its reason before any stage runs."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from warmray.audit.targets import check_targets, parse_target
from warmray.preflight import PreflightError, check_adapter, check_endpoint

KEY = "sk-test-key"


class _Models(BaseHTTPRequestHandler):
    """An OpenAI-style /v1/models that wants a bearer key."""

    def do_GET(self):  # noqa: N802 - the http.server hook's name
        if self.path != "/v1/models":
            self.send_error(404)
            return
        if self.headers.get("Authorization") != f"Bearer {KEY}":
            self.send_error(401)
            return
        body = json.dumps({"data": [{"id": "served-model"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def endpoint():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Models)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def test_endpoint_with_the_key_and_the_model_passes(endpoint, monkeypatch):
    monkeypatch.setenv("AUDIT_KEY", KEY)
    assert check_endpoint(endpoint, "served-model", "AUDIT_KEY") is None


def test_endpoint_problems_are_said_in_the_users_terms(endpoint, monkeypatch):
    monkeypatch.delenv("AUDIT_KEY", raising=False)
    assert "no key ($AUDIT_KEY is not set) (HTTP 401)" in check_endpoint(
        endpoint, "served-model", "AUDIT_KEY"
    )
    monkeypatch.setenv("AUDIT_KEY", "wrong")
    assert "refused the key in $AUDIT_KEY" in check_endpoint(endpoint, "served-model", "AUDIT_KEY")
    monkeypatch.setenv("AUDIT_KEY", KEY)
    assert "it serves ['served-model']" in check_endpoint(endpoint, "other", "AUDIT_KEY")
    assert "ends in /v1" in check_endpoint(endpoint.removesuffix("/v1"), "served-model", "AUDIT_KEY")
    assert "cannot reach" in check_endpoint("http://127.0.0.1:9/v1", "served-model", "AUDIT_KEY")


def test_adapter_folder_is_checked(tmp_path):
    assert "no adapter_config.json" in check_adapter(tmp_path)
    (tmp_path / "adapter_config.json").write_text(json.dumps({"r": 1024}))
    assert "outside what vLLM serves" in check_adapter(tmp_path)
    (tmp_path / "adapter_config.json").write_text(json.dumps({"r": 8}))
    assert check_adapter(tmp_path) is None


def test_every_failing_target_is_listed_before_anything_runs(endpoint, tmp_path, monkeypatch):
    monkeypatch.delenv("AUDIT_KEY", raising=False)
    folder = tmp_path / "not-a-model"
    folder.mkdir()
    targets = [parse_target(f"{endpoint}#served-model", "AUDIT_KEY"), parse_target(str(folder))]
    judge = parse_target("builtin:no-such-model")
    with pytest.raises(PreflightError) as err:
        check_targets(targets, ["remote", "local"], judge)
    text = str(err.value)
    assert text.startswith("cannot audit; nothing was run:")
    assert "remote (" in text and "HTTP 401" in text
    assert "local (" in text and "no config.json" in text
    assert "judge (builtin:no-such-model): unknown builtin model" in text
