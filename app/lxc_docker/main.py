"""Entry point of the one `docker` program: daemon with `-d`, client otherwise."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["init"]:  # the container init: keep this path free of the CLI's imports
        from .execution.native.init import main as init_main

        return init_main(args[1:])
    from .cli.main import main as cli_main

    return cli_main(args)


if __name__ == "__main__":
    sys.exit(main())
