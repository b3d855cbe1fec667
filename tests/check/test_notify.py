"""`--notify` against a webhook that misbehaves: the verdict, its exit code and the state survive,
a POST is never turned into a GET, and what was not delivered is sent again at the next run."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.units import GIB
from support.webhook import Webhook


def hot(index: int) -> dict[str, Any]:
    return {"name": "NVIDIA L40S", "uuid": f"GPU-{index}", "memory_total": 48 * GIB, "memory_used": 8 * GIB,
            "temperature": 95, "temp_slowdown": 89, "temp_shutdown": 92, "util_gpu": 30, "clocks_event_reasons": 0}


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.close()


def check(flockops, env: dict[str, str], state: Path, url: str, *extra: str):  # type: ignore[no-untyped-def]
    return flockops("check", "--no-ollama", "--state-file", str(state), "--notify", url, *extra, env=env)


def due(state: Path) -> dict[str, int]:
    """Items whose change the webhook has not taken yet: key -> the state it last heard of."""
    items = json.loads(state.read_text())["items"]
    return {key: entry["notified"] for key, entry in items.items() if "notified" in entry}


@pytest.mark.parametrize("behaviour", ["hang", "trickle"])
def test_a_webhook_that_hangs_or_trickles_costs_its_budget_not_the_verdict(
        behaviour: str, tmp_path: Path, webhook: Webhook, flockops, nvml_env) -> None:  # type: ignore[no-untyped-def]
    """Eight changes, one budget for all of them: the run ends on time CRITICAL, its state written,
    and the messages are sent at the next run, once the webhook answers."""
    env, state = nvml_env([hot(i) for i in range(8)]), tmp_path / "state.json"
    webhook.behaviour = behaviour
    started = time.monotonic()
    run = check(flockops, env, state, webhook.url, "--notify-timeout", "1", "--deadline", "30")
    elapsed = time.monotonic() - started
    assert run.returncode == 2 and run.stdout.startswith("FLOCKOPS CRITICAL - "), run.stdout + run.stderr
    assert elapsed < 1 + 10, elapsed  # one budget for the eight, not eight (plus the interpreter's start)
    assert "failed for 8 items: no complete answer within the notification budget of 1 s" in run.stderr
    assert due(state) == {f"localhost/gpu{i}/temperature": 0 for i in range(8)}  # still due: heard OK last
    webhook.behaviour = "ok"
    webhook.received.clear()
    again = check(flockops, env, state, webhook.url)
    assert again.returncode == 2 and "notification" not in again.stderr, again.stderr
    assert sorted((m["check"], m["from"], m["to"]) for m in webhook.posts()) == [
        (f"localhost/gpu{i}/temperature", "OK", "CRITICAL") for i in range(8)]
    assert due(state) == {}
    webhook.received.clear()
    assert check(flockops, env, state, webhook.url).returncode == 2 and webhook.posts() == []  # said once


def test_the_deadline_leaves_the_verdict_its_time(tmp_path: Path, webhook: Webhook, flockops, nvml_env) -> None:  # type: ignore[no-untyped-def]
    """A webhook that hangs within a tight --deadline: the run ends CRITICAL, never UNKNOWN."""
    webhook.behaviour = "hang"
    started = time.monotonic()
    run = check(flockops, nvml_env([hot(0)]), tmp_path / "state.json", webhook.url, "--deadline", "3")
    assert time.monotonic() - started < 3 + 3
    assert run.returncode == 2 and run.stdout.startswith("FLOCKOPS CRITICAL - "), run.stdout + run.stderr
    assert "notification to" in run.stderr


@pytest.mark.parametrize("code", [301, 302, 303])
def test_a_redirect_that_would_turn_the_post_into_a_get_is_not_followed(
        code: int, tmp_path: Path, webhook: Webhook, flockops, nvml_env) -> None:  # type: ignore[no-untyped-def]
    webhook.behaviour = f"redirect:{code}:/elsewhere"
    state = tmp_path / "state.json"
    run = check(flockops, nvml_env([hot(0)]), state, webhook.url)
    assert run.returncode == 2
    assert f"the webhook answered {code}" in run.stderr and "give --notify the final URL" in run.stderr
    assert [r.path for r in webhook.received] == ["/hook"]  # nothing went to /elsewhere, as a GET or else
    assert due(state) == {"localhost/gpu0/temperature": 0}  # sent again at the next run


@pytest.mark.parametrize("code", [307, 308])
def test_a_redirect_that_keeps_the_method_is_followed_with_the_body(
        code: int, tmp_path: Path, webhook: Webhook, flockops, nvml_env) -> None:  # type: ignore[no-untyped-def]
    webhook.by_path["/hook"] = f"redirect:{code}:/moved"
    run = check(flockops, nvml_env([hot(0)]), tmp_path / "state.json", webhook.url)
    assert run.returncode == 2 and "notification" not in run.stderr, run.stderr
    assert [(m["check"], m["to"]) for m in webhook.posts("/moved")] == [("localhost/gpu0/temperature", "CRITICAL")]


def test_a_server_error_is_sent_again_at_the_next_run(tmp_path: Path, webhook: Webhook, flockops, nvml_env) -> None:  # type: ignore[no-untyped-def]
    env, state = nvml_env([hot(0)]), tmp_path / "state.json"
    webhook.behaviour = "status:500"
    run = check(flockops, env, state, webhook.url)
    assert run.returncode == 2 and "the webhook answered HTTP 500" in run.stderr
    webhook.behaviour = "ok"
    assert check(flockops, env, state, webhook.url).returncode == 2
    assert [m["to"] for m in webhook.posts()] == ["CRITICAL", "CRITICAL"]  # the failed one, then the retry
    assert due(state) == {}


def test_credentials_in_the_url_are_sent_as_basic_auth_and_never_shown(
        tmp_path: Path, webhook: Webhook, flockops, nvml_env) -> None:  # type: ignore[no-untyped-def]
    url = webhook.url.replace("http://", "http://alerts:S3cr%40t@") + "?token=Tok3n"
    webhook.behaviour = "status:500"
    run = check(flockops, nvml_env([hot(0)]), tmp_path / "state.json", url)
    [received] = webhook.received
    assert received.headers["Authorization"] == "Basic " + base64.b64encode(b"alerts:S3cr@t").decode()
    assert received.path == "/hook?token=Tok3n"
    assert "S3cr" not in run.stdout + run.stderr and "Tok3n" not in run.stdout + run.stderr
    assert "notification to http://…@127.0.0.1" in run.stderr


def test_a_textfile_that_cannot_be_written_costs_the_textfile_only(tmp_path: Path, flockops, nvml_env) -> None:  # type: ignore[no-untyped-def]
    """What a full disk or a stray directory does to --textfile: a warning naming the file; the
    check's verdict stands, and report prints its report with its own exit code for the failed output."""
    textfile = tmp_path / "textfile"
    (textfile / "flockops.prom").mkdir(parents=True)  # the rename onto it fails, as a write to a full disk
    env = nvml_env([hot(0)])
    run = flockops("check", "--no-ollama", "--textfile", str(textfile), env=env)
    assert run.returncode == 2 and run.stdout.startswith("FLOCKOPS CRITICAL - "), run.stdout + run.stderr
    assert f"cannot write {textfile}/flockops.prom" in run.stderr
    report = flockops("report", "--no-ollama", "-o", "json", "--textfile", str(textfile), env=env)
    assert report.returncode == 6, report.stderr
    assert report.json()["hosts"][0]["gpus"][0]["temperature_c"] == 95  # the report itself, whole
    assert f"cannot write {textfile}/flockops.prom" in report.stderr
    assert [p.name for p in textfile.iterdir()] == ["flockops.prom"]  # no temp file left behind
