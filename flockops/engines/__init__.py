"""Inference engines as sources: what a vLLM, SGLang, llama.cpp, TGI, LocalAI or LM Studio server
says it serves, how full its KV cache is, how much of each GPU it took.

Where to ask (:mod:`.endpoints`): the sockets a holder's engine listens on, as the probe found them
on the target (``GpuProcess.listening``), and the ``engine_urls`` inventory variable. A socket on
the target's loopback is reached through the host's SSH connection (a ``direct-tcpip`` channel,
:mod:`flockops.remote.connection`), so nothing needs opening; nothing else is ever connected to.

The HTTP client (:mod:`.client`) speaks over a socket or an SSH channel alike; the Prometheus text
format is read by :mod:`.exposition`; each engine's answers by one small reader (:mod:`.vllm`,
:mod:`.sglang`, :mod:`.llama_cpp`, :mod:`.tgi`, :mod:`.localai`, :mod:`.lmstudio`), each tested
with recorded bodies; :mod:`.query` asks many endpoints at once, each with its deadline; what
``fit`` subtracts is in :mod:`.reservations`.

Every failure becomes an :class:`~flockops.agent.engine_model.EngineReport` with a status and a
reason; nothing here raises past :func:`.query.ask`.
"""
