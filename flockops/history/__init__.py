"""Recorded history: every GPU sample and Ollama placement in an embedded SQLite database.

``flockops report --record`` (from cron) and ``flockops watch --record`` append to the same file at
once, so the database runs in WAL mode (readers never block the writer), waits for the lock
(``busy_timeout``) instead of failing with "database is locked", and writes each run in one short
``BEGIN IMMEDIATE`` transaction. Old rows are pruned in that same transaction (``--retention``).

Durations over time ("time above the warning temperature", "time with a model spilled") are
counted from sample intervals: a sample's state holds until the next sample of the same GPU (or
host), but never longer than :data:`MAX_GAP_S`, so a recorder that stopped for a night does not
count the night. The last sample of a series counts nothing: what came after it is unknown.

Timestamps are Unix seconds (UTC). Every function that needs the time takes ``now``.
The store (:mod:`.store`), the periods a command names (:mod:`.periods`), summaries
(:mod:`.summary`) and plots (:mod:`.plot`). Standard library only (matplotlib for plots); imported
by the CLI only when ``--record`` or ``history`` asks for it.
"""
