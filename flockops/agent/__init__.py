"""What runs on a target: the data model and its JSON codec, sentinel parsing, field checks, the
driver base and the per-vendor fallback chain, PCI detection, the built-in drivers and the probe's
entry point (:mod:`flockops.agent.main`).

The package travels whole to every target in the probe's zip (:mod:`flockops.remote.bundle`), so
its modules import only each other, :mod:`flockops.errors`, the standard library and vendor
bindings (pynvml, amdsmi); ``tests/test_architecture.py`` reads their imports and fails on
anything else. The controller uses the same modules for this machine's own report.
"""
