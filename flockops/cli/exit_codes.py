"""The exit codes of every command, as ``--help`` lists them."""

from __future__ import annotations

import enum

# `flockops check` speaks the monitoring-plugin codes (flockops.check.rules.State); its UNKNOWN is
# needed before that module is worth importing (usage errors), so it is spelt here once.
CHECK_UNKNOWN = 3


class ExitCode(enum.IntEnum):
    OK = 0
    USAGE = 1  # a usage or inventory error; nothing was collected
    HOST_FAILED = 2  # some host (or this machine) could not be reported
    INTERNAL = 3  # a bug in flockops; the message asks for a report
    HOST_UNREACHABLE = 4  # some host could not be reached
    NO_FIT = 5  # flockops fit: nothing can hold the size asked for
    OUTPUT_FAILED = 6  # the report was collected and printed, but --textfile or --record could not be written


EXIT_CODES_HELP = """exit codes:
  0  every host reported (some GPUs or fields may still read N/A; see the report)
  1  usage or inventory error: nothing was collected
  2  some host failed to report (timeout, authentication, host key, probe)
  3  internal error in flockops (please report it, with FLOCKOPS_DEBUG=1 output)
  4  some host was unreachable, and none failed otherwise
  5  flockops fit: no GPU or node can hold SIZE now (fit exits 0 when one can, even if some host failed)
  6  every host reported and the report was printed, but an output failed (--textfile, --record):
     stderr says which (2 and 4 take precedence)
"""
