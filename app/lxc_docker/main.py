"""Entry point of the one `docker` program: daemon with `-d`, client otherwise.

The daemon (`engine`) and the client (`cli`) never import each other; only this module knows both.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["init"]:  # the container init: keep this path free of the CLI's imports
        from .execution.native.init import main as init_main

        return init_main(args[1:])
    if args[:1] == ["keeper"]:  # the native driver's keeper (execution/native/keeper.py), as lean
        from .execution.native.keeper import main as keeper_main

        return keeper_main(args[1:])
    if args[:1] == ["sharedbind"]:  # the lxc driver's shared binds (execution/lxc/sharedbinds.py)
        from .execution.lxc.sharedbinds import main as sharedbind_main

        return sharedbind_main(args[1:])
    if args[:1] == ["registry"]:  # the registry server (registry/server/), never on the client's path
        from .registry.server.main import main as registry_main

        return registry_main(args[1:])
    from .cli.main import parse_global

    parsed = parse_global(args)
    if isinstance(parsed, int):
        return parsed
    opts, rest = parsed
    if opts.daemon:
        if rest:
            sys.stderr.write(f"Error: extra arguments after -d: {' '.join(rest)}\n")
            return 2
        import gc

        # No cyclic collection while the daemon imports and wires itself (thousands of new objects,
        # none of them garbage) is time the start need not spend. engine.run_daemon turns it back on
        # once serving.
        gc.disable()
        from .engine import run_daemon

        return run_daemon(opts)
    from .cli.main import end_on_closed_pipe
    from .cli.main import main as cli_main

    return end_on_closed_pipe(cli_main(opts, rest))


if __name__ == "__main__":
    sys.exit(main())
