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
from types import CodeType

_CODE: dict[str, CodeType] = {}  # text -> code object, for flockops's modules only
_PACKAGE = __name__.split(".")[0]


def _exec(source: object, globals: dict[str, object] | None = None, locals: object = None) -> None:
    if not isinstance(source, str):
        builtins.exec(source, globals, locals)  # type: ignore[arg-type]
        return
    code = _CODE.get(source)
    if code is None:
        code = compile(source, "<string>", "exec", dont_inherit=True)
        module = (globals or {}).get("__name__")
        if isinstance(module, str) and module.split(".")[0] == _PACKAGE:
            _CODE[source] = code
    builtins.exec(code, globals, locals)  # type: ignore[arg-type]


def install(compiled: bytes | None = None) -> None:
    """Route ``dataclasses``'s compiles through the cache; ``compiled`` is :func:`shipped` output
    made by a Python with this one's bytecode magic (the probe's bootstrap passes it)."""
    if compiled:
        _CODE.update(marshal.loads(compiled))
    if vars(dataclasses).get("exec") is not _exec:
        dataclasses.exec = _exec  # type: ignore[attr-defined]


def shipped() -> bytes:
    """The code objects compiled so far for flockops's dataclasses, for the probe's zip."""
    return marshal.dumps(dict(_CODE))
