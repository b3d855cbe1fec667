"""Ollama as a source: which models a server has loaded, and where (``GET /api/ps``).

Where to ask (:mod:`.endpoints`), the HTTP client (:mod:`.client`), reading the answers
(:mod:`.parsing`), asking many endpoints at once (:mod:`.query`), timing embeddings as a labelled
guess (:mod:`.inference`) and what fits where (:mod:`.capacity`).

Asked from the machine running flockops, never over SSH: an Ollama endpoint is plain HTTP. The
standard library's ``http.client`` does the talking, not the ``ollama`` package (importing that costs
more than a whole local report), and it is imported only once something has accepted
the TCP connection: a refused connect on the local default port costs the report next to nothing.

Every failure becomes an :class:`~flockops.agent.ollama_model.OllamaReport` with a status and a reason; nothing
here raises past :func:`.query.query`. Statuses: ``ok``; ``not_running`` (connection refused on the implicit
local endpoint); ``unreachable`` (refused on a configured endpoint, DNS, no route, connect timeout);
``error`` (it accepted the connection but gave no usable answer: read timeout, HTTP error, not JSON,
or a server older than 0.1.38, which answers ``/api/ps`` with a plain-text ``404 page not found``).

``--infer`` times ``POST /api/embed``: a labelled guess, never a VRAM size (see :func:`.inference.infer`).
"""
