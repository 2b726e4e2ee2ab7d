"""The ax command line, run as a user runs it: a subprocess, reading the environment and .env."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from db.migrate import head_revision

AX = [sys.executable, "-m", "ax.cli"]
ROOT = Path(__file__).resolve().parent.parent


def ax(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("AX_")}
    full_env["PYTHONPATH"] = str(ROOT)
    full_env.update(env or {})
    return subprocess.run([*AX, *args], capture_output=True, text=True, env=full_env, cwd=cwd, timeout=300)


def _one_clear_line(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    message = result.stderr.strip()
    assert message.startswith("ax: ") and len(message.splitlines()) == 1, message
    for fragment in fragments:
        assert fragment in message


def test_init_twice_then_demo_then_status(store, tmp_path):
    env = {"AX_DATABASE_URL": store.url}
    first, second = ax("init", env=env, cwd=tmp_path), ax("init", env=env, cwd=tmp_path)
    assert first.returncode == second.returncode == 0, first.stderr
    assert f"revision {head_revision()}" in second.stdout
    loaded = ax("demo", "--agents", "8", "--days", "10", "--seed", "2", env=env, cwd=tmp_path)
    assert loaded.returncode == 0, loaded.stderr
    assert "demo accounts" in loaded.stdout
    status = ax("status", "--json", env=env, cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    (demo,) = json.loads(status.stdout)
    assert demo["source"] == "demo"
    assert demo["rows"]["agent"] == 8 and demo["rows"]["contact"] > 100
    assert {s["stream"] for s in demo["streams"]} == {"directory", "activity", "surveys"}
    assert demo["last_error"] is None and demo["last_success_at"]
    again = ax("demo", "--if-empty", env=env, cwd=tmp_path)
    assert "already has data" in again.stdout


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql://root@localhost/ax", "AX_DATABASE_URL"),
        ("postgresql+psycopg://postgres@127.0.0.1:1/ax", "Cannot reach the database"),
        ("postgresql+nodriver://postgres@127.0.0.1/ax", "driver"),
    ],
)
def test_bad_database_url_gives_one_clear_message(url, expected, tmp_path):
    _one_clear_line(ax("init", env={"AX_DATABASE_URL": url}, cwd=tmp_path), expected)


def test_corrupt_env_file_gives_one_clear_message(tmp_path):
    (tmp_path / ".env").write_text("AX_PORT=8502\nthis line is not a setting\n")
    _one_clear_line(ax("status", cwd=tmp_path), ".env", "line 2")
    (tmp_path / ".env").write_bytes(b"AX_PORT=\xff\xfe\n")
    _one_clear_line(ax("status", cwd=tmp_path), ".env")
    (tmp_path / ".env").write_text("AX_PORT=eighty\n")
    _one_clear_line(ax("status", cwd=tmp_path), "AX_PORT")
    (tmp_path / ".env").write_text("AX_TIMEZONE=Mars/Olympus\n")
    _one_clear_line(ax("status", cwd=tmp_path), "AX_TIMEZONE", "unknown timezone")


def test_env_file_is_read(tmp_path, store):
    (tmp_path / ".env").write_text(f"# AX settings\nAX_DATABASE_URL={store.url}\n")
    result = ax("status", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "no data yet" in result.stdout


def test_status_on_a_database_without_schema_says_to_run_init(tmp_path):
    result = ax("status", env={"AX_DATABASE_URL": f"sqlite:///{tmp_path}/empty.db"}, cwd=tmp_path)
    _one_clear_line(result, "ax init")
