"""`flockops watch`: the fleet table, refreshed in place every few seconds.

Each refresh collects the fleet as ``flockops report`` does, with the SSH connections kept open
between refreshes (:class:`flockops.remote.pool.ConnectionPool`). A host that stops answering keeps
its last good data on screen, marked STALE with its age, instead of vanishing.

On a terminal each frame is drawn over the last one with plain ANSI sequences (cursor home, clear
to end of line, clear below): no curses. Anywhere else (a pipe, a log file) every refresh prints
one table, with a blank line between them, and no escape codes.

The refresh loop is :mod:`.loop`; drawing frames on a terminal, :mod:`.screen`.
"""
