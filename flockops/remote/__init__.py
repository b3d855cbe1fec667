"""What runs on the controller to ask targets over SSH: connection settings (:mod:`.settings`), the
SSH connection and the one place its errors are translated (:mod:`.connection`), known_hosts, the
connection pool and the resident probe of ``watch``, the probe's zip and remote command, the POSIX
shell fallback, what a target answered (:mod:`.answer`), and the fleet runner (:mod:`.fleet`).
"""
