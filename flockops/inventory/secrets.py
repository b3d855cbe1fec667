"""What in an inventory is a secret, and how it is kept out of every output and error message.

A variable is a secret by its name (:func:`is_secret`) or by its tag (``!vault``); output masks it,
and an error quoting a line that names one quotes nothing of the value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# The rules are the agent's too (a holder's command line is masked on the target with them): one set.
from flockops.agent.secrets import MASK, SECRET_SUFFIXES, SECRET_VARS, SECRET_WORDS, is_secret, mask_text

__all__ = ["MASK", "SECRET_SUFFIXES", "SECRET_VARS", "SECRET_WORDS", "Vaulted", "brief", "is_secret", "mask_secrets",
           "mask_text", "names_secret", "shown"]


@dataclass(frozen=True, slots=True)
class Vaulted:
    """A ``!vault`` value. flockops cannot decrypt it, so it is treated as a secret that is not there."""

    ciphertext: str = field(repr=False)


def names_secret(text: str) -> bool:
    """``text`` (a line, or words of one) names a secret variable anywhere (``ansible_password Secr3t``,
    ``ansible_password:Secr3t``, ``{ansible_password: x}``): a value beside it may be a secret too."""
    return any(is_secret(word) for word in re.split(r"[\s=:'\"{},]+", text) if word)


def shown(text: str) -> str:
    """``text`` quoted for an error message, unless it names a secret: then it is not shown."""
    return "text that sets a secret (not shown)" if names_secret(text) else repr(mask_text(text))


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
