"""Command lines masked on the target: API keys and tokens never leave it (flockops.agent.secrets)."""

from __future__ import annotations

import shlex

import pytest

from flockops.agent.secrets import MASK, mask_argv

CASES = [
    # vLLM and SGLang: --api-key; TGI's and llama.cpp's Hugging Face tokens.
    ("vllm serve m --api-key sk-local-1234 --port 8000", f"vllm serve m --api-key {MASK} --port 8000"),
    ("python3 -m sglang.launch_server --model-path m --api-key=abc", f"python3 -m sglang.launch_server --model-path m "
     f"--api-key={MASK}"),
    ("llama-server -hf org/m -hft hf_abcdefghijklmnopqrstuvwxyz", f"llama-server -hf org/m -hft {MASK}"),
    ("llama-server --hf-token x --alias m", f"llama-server --hf-token {MASK} --alias m"),
    ("text-generation-launcher --model-id m --hf-token=x", f"text-generation-launcher --model-id m --hf-token={MASK}"),
    # An environment prefix, as a launch script's log shows it, and a token wherever it is given.
    ("HF_TOKEN=hf_abcdefghijklmnopqrstuvwxyz python3 -m vllm.entrypoints.openai.api_server",
     f"HF_TOKEN={MASK} python3 -m vllm.entrypoints.openai.api_server"),
    ("local-ai run --token-file /run/t hf_abcdefghijklmnopqrstuvwxyz", f"local-ai run --token-file {MASK} {MASK}"),
    # A URL's credentials (the inventory's rule).
    ("vllm serve https://user:pw@example.org/m", f"vllm serve https://{MASK}@example.org/m"),
    # Nothing secret: unchanged, flags and paths alike.
    ("llama-server -m /models/x.gguf --ssl-key-file /etc/key.pem", None),
    ("CUDA_VISIBLE_DEVICES=4,5,6,7 python -m vllm.entrypoints.openai.api_server --port 8001", None),
]


@pytest.mark.parametrize(("line", "masked"), CASES)
def test_secrets_in_command_lines_are_masked(line: str, masked: str | None) -> None:
    assert " ".join(mask_argv(shlex.split(line))) == (masked or line)
