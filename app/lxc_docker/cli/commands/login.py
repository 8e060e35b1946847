"""`docker login [-e EMAIL] [-p PASSWORD] [-u USERNAME] [SERVER]`: check credentials with the daemon
(`POST /auth`), then keep them in `~/.dockercfg` for pull and push."""

from __future__ import annotations

import sys

from .. import authconfig
from ..main import CommandError


def flags(cli):
    fs = cli.flags(
        "login",
        "[OPTIONS] [SERVER]",
        "Register or log in to a Docker registry server, if no server is specified "
        f'"{authconfig.INDEX_SERVER}" is the default.',
    )
    fs.string(["e", "-email"], "", "Email")
    fs.string(["p", "-password"], "", "Password")
    fs.string(["u", "-username"], "", "Username")
    return fs


def run(cli, args: list[str]) -> int:
    opts, rest = cli.parse(flags(cli), args, 0, 1)
    server = rest[0] if rest else authconfig.INDEX_SERVER
    try:
        entries = authconfig.load()
    except OSError as e:
        raise CommandError(str(e)) from None
    key = authconfig.key_for(server, entries)
    old_user, _ = authconfig.decode_entry(entries[key]) if key else ("", "")
    old_email = str(entries[key].get("email") or "") if key else ""
    username, password, email = opts.username, opts.password, opts.email
    if not password or not username:
        if not (sys.stdin.isatty() and hasattr(sys.stdin, "fileno")):
            raise CommandError("Cannot perform an interactive login from a non TTY device")
        username = (
            username or _prompt(cli, f"Username ({old_user}): " if old_user else "Username: ") or old_user
        )
        if not username:
            raise CommandError("Username cannot be empty")
        if not password:
            import getpass

            password = getpass.getpass("Password: ")
            if not password:
                raise CommandError("Password cannot be empty")
        if not email and not opts.email:
            email = _prompt(cli, f"Email ({old_email}): " if old_email else "Email: ") or old_email
    body = {"username": username, "password": password, "email": email or old_email, "serveraddress": server}
    result = cli.client.json("POST", "/auth", json_body=body) or {}
    authconfig.save_entry(server, username, password, email or old_email)
    cli.out.write(f"{result.get('Status') or 'Login Succeeded'}\n")
    return 0


def _prompt(cli, text: str) -> str:
    cli.out.write(text)
    cli.out.flush()
    line = sys.stdin.readline()
    return line.strip()
