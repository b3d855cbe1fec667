"""What is a secret, by its name, and a command line with its secrets masked.

One set of rules for the inventory's variables (:mod:`flockops.inventory.secrets` reads them from
here) and for what a target sends back: the command lines of the processes holding GPU memory
carry API keys and access tokens (``vllm serve --api-key X``, ``llama-server --hf-token X``,
``HF_TOKEN=... python -m sglang.launch_server``), and they are masked on the target, before they
leave it. Standard library only: this module also runs inside the remote probe.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

MASK = "********"
# Connection secrets by name; any other variable whose name contains one of SECRET_WORDS is masked too.
SECRET_VARS = frozenset({"ansible_password", "ansible_ssh_pass", "ansible_ssh_password", "ansible_become_password",
                         "ansible_become_pass", "ansible_sudo_pass", "ansible_su_pass", "ansible_private_key"})
# Also ansible-core 2.19's ansible_private_key_passphrase and the *_pass of other connection plugins
# (ansible_httpapi_pass, ansible_winrm_pass, ansible_net_auth_pass); a key *file* is a path, shown.
SECRET_WORDS = ("password", "passwd", "passphrase", "secret", "token", "credential", "api_key", "apikey")
SECRET_SUFFIXES = ("_pass", "_pw", "_pwd", "_private_key", "_key_data")
# Short options whose value is a secret though their name says nothing: llama.cpp's -hft
# (--hf-token), TGI's and vLLM's "--api-key" has no short form.
SECRET_SHORT_OPTIONS = frozenset({"-hft"})
# Values that are tokens whatever option carries them: Hugging Face (hf_...), OpenAI-style (sk-...),
# GitHub (ghp_...): a prefix and at least 20 letters and digits.
TOKEN_PREFIXES = ("hf_", "sk-", "ghp_", "gho_", "ghu_", "ghs_", "ghr_")


def _token_shaped(word: str) -> bool:
    """String tests, not a pattern: every word of every holder's command line is asked."""
    for prefix in TOKEN_PREFIXES:
        if word.startswith(prefix):
            rest = word[len(prefix):].replace("-", "").replace("_", "")
            return len(rest) >= 20 and rest.isalnum() and rest.isascii()
    return False


def is_secret(name: str) -> bool:
    """True for a variable whose value must not be printed: passwords, passphrases, secrets."""
    lowered = name.lower().replace("-", "_")  # api-key, x-auth-token: names of headers and flags
    return (lowered in SECRET_VARS or lowered == "pwd" or any(word in lowered for word in SECRET_WORDS)
            or lowered.endswith(SECRET_SUFFIXES))


# A URL's user information: user:password@ in any scheme, and over HTTP a user alone, which is how
# tokens travel (https://TOKEN@github.com); ssh://ops@host keeps its user ...
_URL_USERINFO = r"(?i)\b([a-z][a-z0-9+.-]*://)([^/?#@\s]+)@"  # patterns compiled on first use (re caches them)
# ... and a query parameter that carries a credential (?token=, &api_key=, a signed URL's &sig=).
_URL_PARAMETER = r"([?&;])([^=&;#\s]+)=([^&;#\s]*)"
_CREDENTIAL_PARAMETERS = frozenset({"key", "sig", "signature", "auth", "code", "access_key", "session",
                                    "x_amz_signature", "x_amz_credential", "x_amz_security_token"})


def mask_text(text: str) -> str:
    """``text`` with the credentials of each URL in it as ``MASK``: the user information before
    ``@``, and the value of each query parameter named like a secret. A webhook or registry URL in
    a variable carries its token in either place, whatever the variable is called."""
    if "://" not in text and "=" not in text:
        return text
    def userinfo(match: re.Match[str]) -> str:
        if ":" in match.group(2) or match.group(1).lower().startswith(("http", "ws")):
            return f"{match.group(1)}{MASK}@"
        return match.group(0)

    masked = re.sub(_URL_USERINFO, userinfo, text) if "://" in text else text  # it needs a scheme

    def parameter(match: re.Match[str]) -> str:
        name = match.group(2).lower().replace("-", "_")
        if is_secret(name) or name in _CREDENTIAL_PARAMETERS:
            return f"{match.group(1)}{match.group(2)}={MASK}"
        return match.group(0)

    return re.sub(_URL_PARAMETER, parameter, masked) if "?" in masked else masked


def _secret_option(option: str) -> bool:
    """``--api-key``, ``--hf_token``, ``-hft``: an option whose value is a secret."""
    if option in SECRET_SHORT_OPTIONS:
        return True
    return option.startswith("--") and is_secret(option[2:].replace("-", "_"))


def mask_argv(argv: Sequence[str]) -> list[str]:
    """``argv`` with every secret value replaced by MASK: the value after (or ``=`` in) a secret
    option, a ``NAME=VALUE`` word whose NAME is a secret's (an environment prefix), a token-shaped
    word, and the credentials of a URL (:func:`mask_text`). The option names themselves stay: they
    say what was given."""
    out: list[str] = []
    hide_next = False
    for word in argv:
        if hide_next:
            out.append(MASK)
            hide_next = False
            continue
        name, equals, _ = word.partition("=")
        if word.startswith("-") and equals and _secret_option(name):
            out.append(f"{name}={MASK}")
        elif word.startswith("-") and _secret_option(word):
            out.append(word)
            hide_next = True
        elif equals and not word.startswith("-") and name.isidentifier() and is_secret(name):
            out.append(f"{name}={MASK}")
        elif _token_shaped(word):
            out.append(MASK)
        else:
            out.append(mask_text(word))
    return out
