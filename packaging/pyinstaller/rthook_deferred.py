"""PyInstaller run-time hook: runs PyInstaller's hooks for inspect, multiprocessing and pkgutil when
their module is first imported, instead of importing those modules on every start (docker.spec).

docker.spec fills HOOKS with the hooks' sources, keyed by module name. A finder placed first on
sys.meta_path finds nothing itself: for a deferred module it asks the finders behind it and wraps
the loader, so that the hook runs right after the module has executed, before anyone uses it.
"""

import sys

HOOKS: dict[str, str] = {}


class _DeferredHooks:
    @classmethod
    def find_spec(cls, name, path=None, target=None):
        source = HOOKS.pop(name, None)
        if source is None:
            return None
        if not HOOKS:
            sys.meta_path.remove(cls)
        for finder in sys.meta_path:
            if finder is cls:
                continue
            spec = getattr(finder, "find_spec", lambda *a: None)(name, path, target)
            if spec is not None:
                break
        else:
            return None
        spec.loader = _HookedLoader(spec.loader, name, source)
        return spec


class _HookedLoader:
    """The module's own loader, with the deferred hook run after the module has executed."""

    def __init__(self, loader, name, source):
        self._loader, self._name, self._source = loader, name, source

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        code = compile(self._source, f"<PyInstaller's run-time hook for {self._name}>", "exec")
        exec(code, {"__name__": "__pyi_rth__"})

    def __getattr__(self, attr):
        return getattr(self._loader, attr)


if HOOKS:
    sys.meta_path.insert(0, _DeferredHooks)
