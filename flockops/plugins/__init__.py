"""Plugins: the hooks a plugin implements (:mod:`.hookspecs`), the plugin manager and the driver list
it yields (:mod:`.manager`), and the ``flockops`` entry points of installed distributions
(:mod:`.entrypoints`). See the ``flockops`` package docstring for writing a driver plugin.
"""
