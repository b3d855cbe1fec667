"""Code objects for the methods that ``dataclasses`` writes, compiled once and shipped to the probe.

``dataclasses`` writes each ``__init__``, ``__repr__``, ``__eq__``, ``__hash__`` and frozen
``__setattr__`` as source text and compiles it when the class is created: for the eleven classes
the probe imports, 66 compiles and about 8 ms of a probe's 60. The controller compiles those very
texts when it imports the same modules, so it keeps the code objects made for flockops's own
modules (:func:`shipped`); they travel in the probe's zip beside the modules' own code objects
(same bytecode magic only), and the probe runs them instead of compiling the text again
(:func:`install`). A lookup is by the exact text: a target whose ``dataclasses`` writes other
text compiles it as before, and the class is the same either way.

The hook is a module global ``exec`` in ``dataclasses``, which its own calls then find before the
builtin; it compiles as ``exec`` of a string would there: file ``<string>``, no inherited
``__future__`` flags.
"""

from __future__ import annotations

import builtins
import dataclasses
import marshal
from collections.abc import Collection
from types import CodeType

_CODE: dict[str, CodeType] = {}  # text -> code object, for flockops's modules only
_USERS: dict[str, set[str]] = {}  # text -> the modules that made a class with it in this process
_PACKAGE = __name__.split(".")[0]


def _exec(source: object, globals: dict[str, object] | None = None, locals: object = None) -> None:
    if not isinstance(source, str):
        builtins.exec(source, globals, locals)  # type: ignore[arg-type]
        return
    code = _CODE.get(source)
    module = (globals or {}).get("__name__")
    ours = isinstance(module, str) and module.split(".")[0] == _PACKAGE
    if code is None:
        code = compile(source, "<string>", "exec", dont_inherit=True)
        if ours:
            _CODE[source] = code
    if ours:
        _USERS.setdefault(source, set()).add(str(module))
    builtins.exec(code, globals, locals)  # type: ignore[arg-type]


def install(compiled: bytes | None = None) -> None:
    """Route ``dataclasses``'s compiles through the cache; ``compiled`` is :func:`shipped` output
    made by a Python with this one's bytecode magic (the probe's bootstrap passes it)."""
    if compiled:
        loaded = marshal.loads(compiled)
        if isinstance(loaded, dict):
            _CODE.update((k, v) for k, v in loaded.items() if isinstance(k, str) and isinstance(v, CodeType))
    if vars(dataclasses).get("exec") is not _exec:
        dataclasses.exec = _exec  # type: ignore[attr-defined]


def count() -> int:
    return len(_CODE)


def shipped(modules: Collection[str] | None = None) -> bytes:
    """The code objects for flockops's dataclasses: all of them (kept for the next run), or those
    of the classes that ``modules`` have made in this process (for the probe's zip)."""
    if modules is None:
        return marshal.dumps(dict(_CODE))
    return marshal.dumps({text: _CODE[text] for text, users in _USERS.items() if users & set(modules)})
