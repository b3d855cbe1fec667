"""What in an inventory is a secret, and how it is kept out of every output and error message.

A variable is a secret by its name (:func:`is_secret`) or by its tag (``!vault``); output masks it,
and an error quoting a line that names one quotes nothing of the value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MASK = "********"
# Connection secrets by name; any other variable whose name contains one of SECRET_WORDS is masked too.
SECRET_VARS = frozenset({"ansible_password", "ansible_ssh_pass", "ansible_ssh_password", "ansible_become_password",
                         "ansible_become_pass", "ansible_sudo_pass", "ansible_su_pass", "ansible_private_key"})
# Also ansible-core 2.19's ansible_private_key_passphrase and the *_pass of other connection plugins
# (ansible_httpapi_pass, ansible_winrm_pass, ansible_net_auth_pass); a key *file* is a path, shown.
SECRET_WORDS = ("password", "passwd", "passphrase", "secret", "token", "credential", "api_key", "apikey")
SECRET_SUFFIXES = ("_pass", "_pw", "_pwd", "_private_key", "_key_data")


@dataclass(frozen=True, slots=True)
class Vaulted:
    """A ``!vault`` value. flockops cannot decrypt it, so it is treated as a secret that is not there."""

    ciphertext: str = field(repr=False)


def is_secret(name: str) -> bool:
    """True for a variable whose value must not be printed: passwords, passphrases, secrets."""
    lowered = name.lower().replace("-", "_")  # api-key, x-auth-token: names of headers and flags
    return (lowered in SECRET_VARS or lowered == "pwd" or any(word in lowered for word in SECRET_WORDS)
            or lowered.endswith(SECRET_SUFFIXES))


def names_secret(text: str) -> bool:
    """``text`` (a line, or words of one) names a secret variable anywhere (``ansible_password Secr3t``,
    ``ansible_password:Secr3t``, ``{ansible_password: x}``): a value beside it may be a secret too."""
    return any(is_secret(word) for word in re.split(r"[\s=:'\"{},]+", text) if word)


def shown(text: str) -> str:
    """``text`` quoted for an error message, unless it names a secret: then it is not shown."""
    return "text that sets a secret (not shown)" if names_secret(text) else repr(mask_text(text))


# A URL's user information: user:password@ in any scheme, and over HTTP a user alone, which is how
# tokens travel (https://TOKEN@github.com); ssh://ops@host keeps its user ...
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/?#@\s]+)@")
# ... and a query parameter that carries a credential (?token=, &api_key=, a signed URL's &sig=).
_URL_PARAMETER = re.compile(r"([?&;])([^=&;#\s]+)=([^&;#\s]*)")
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

    masked = _URL_USERINFO.sub(userinfo, text)

    def parameter(match: re.Match[str]) -> str:
        name = match.group(2).lower().replace("-", "_")
        if is_secret(name) or name in _CREDENTIAL_PARAMETERS:
            return f"{match.group(1)}{match.group(2)}={MASK}"
        return match.group(0)

    return _URL_PARAMETER.sub(parameter, masked) if "?" in masked else masked


# Names in messages are cut to this many characters: a host name of a megabyte is a mistake to name,
# not to print.
BRIEF_CHARACTERS = 80


def brief(text: object) -> str:
    """``text`` quoted for a one-line message, its middle cut when it is long."""
    quoted = repr(text)
    if len(quoted) <= BRIEF_CHARACTERS:
        return quoted
    half = BRIEF_CHARACTERS // 2
    return f"{quoted[:half]}…{quoted[-half:]} ({len(str(text)):,} characters)"


def mask_secrets(variables: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``variables`` with each secret (see ``is_secret``, at any depth, and ``!vault``) as
    ``MASK``, and the credentials of any URL in a value masked (see ``mask_text``)."""
    return {key: MASK if is_secret(str(key)) else _mask_value(value) for key, value in variables.items()}


def _mask_value(value: Any) -> Any:
    if isinstance(value, Vaulted):
        return MASK
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, Mapping):
        return mask_secrets(value)
    if isinstance(value, (list, tuple)):
        return [_mask_value(v) for v in value]
    return value
