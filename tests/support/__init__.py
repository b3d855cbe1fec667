"""What the tests share: paths, the CLI runner, the fakes at the system boundary (the C NVML and
amdsmi libraries, a real sshd, an Ollama HTTP server, recorded history) and the GPUs they play.

A test module imports from here, never from another test module; fixtures live in conftest.py.
"""
