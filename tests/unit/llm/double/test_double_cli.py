"""`python -m devmatrix.llm.double -- COMMAND`: the command runs against the double, its exit code is kept."""

from __future__ import annotations

import socket
import sys

import pytest

from devmatrix.llm.double.cli import main

pytestmark = pytest.mark.unit

# The child reads the paid backend's settings from its environment, as the test tiers do.
CHILD = """
import os, anthropic
client = anthropic.Anthropic(api_key=os.environ["ANTHROPIC_API_KEY"], base_url=os.environ["ANTHROPIC_BASE_URL"])
reply = client.messages.create(model="claude-haiku-5-5", max_tokens=8,
                               messages=[{"role": "user", "content": "What is 2 + 2?"}])
assert os.environ["LLM_BACKEND"] == "anthropic" and reply.content[0].text == "4", reply
raise SystemExit(5)
"""


def test_the_command_talks_to_the_double_and_its_exit_code_is_the_result(capsys):
    assert main(["--", sys.executable, "-c", CHILD]) == 5  # pytest's "no test collected" must not pass
    assert "messages-api double at http://127.0.0.1:" in capsys.readouterr().out


def test_bad_usage_is_exit_2_with_the_fix(capsys):
    assert main(["--latency", "-1", "--", "true"]) == 2
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        assert main(["--port", str(taken.getsockname()[1]), "--", "true"]) == 2
    assert "fix: choose another --port" in capsys.readouterr().err
