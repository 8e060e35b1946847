"""Execution drivers: they run a container's process described by a `base.Command`.

The in-container init is imported through this package, so it stays empty: see `select` for the
factory and `base` for the interface.
"""
