"""Turning reports into text: tables a person reads, JSON and CSV a script reads, Prometheus text.

The only package that writes ``N/A`` or converts bytes to MiB/GiB (:mod:`.units`). tabulate is
imported only when a table is drawn (:mod:`.table`). One module per thing shown: the report
(:mod:`.report`), its Ollama part (:mod:`.ollama`), ``fit`` (:mod:`.fit`), ``watch``
(:mod:`.watch`), ``history`` (:mod:`.history`) and Prometheus's text format (:mod:`.prometheus`).
"""
