"""``flockops check``: the temperature and throttle check for cron and monitoring.

The rules (:mod:`.rules`: a fleet report in, check items out), the run as cron does it (:mod:`.run`:
a lock, a deadline, state across runs, notifications), the state file (:mod:`.state`), the webhook
(:mod:`.notify`) and the Nagios/Icinga plugin output (:mod:`.nagios`).
"""
