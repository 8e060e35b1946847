"""`boot2docker shellinit`: the commands that point a shell's docker client at the VM, for sh (bash,
zsh...), fish, cmd.exe and PowerShell, each quoted the way that shell reads it."""

from __future__ import annotations

import os
import shlex

SHELLS = ("sh", "fish", "cmd", "powershell")


def detect_shell(environ: dict[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    shell = os.path.basename(env.get("SHELL", "")).lower()
    if shell.startswith("fish"):
        return "fish"
    if shell:
        return "sh"
    # Windows: PowerShell sets PSModulePath for its children; cmd.exe does not.
    return "powershell" if "PSModulePath" in env else "cmd"


def _fish_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def render(shell: str, values: dict[str, str], unset: list[str]) -> str:
    lines = []
    for name, value in values.items():
        if shell == "sh":
            lines.append(f"export {name}={shlex.quote(value)}")
        elif shell == "fish":
            lines.append(f"set -gx {name} {_fish_quote(value)};")
        elif shell == "cmd":
            lines.append(f'SET "{name}={value}"')
        else:
            lines.append(f"$Env:{name} = '" + value.replace("'", "''") + "'")
    for name in unset:
        if shell == "sh":
            lines.append(f"unset {name}")
        elif shell == "fish":
            lines.append(f"set -e {name};")
        elif shell == "cmd":
            lines.append(f'SET "{name}="')
        else:
            lines.append(f"Remove-Item Env:{name} -ErrorAction SilentlyContinue")
    return "\n".join(lines) + "\n"


def environment(port: int, tls: bool, cert_path: str) -> tuple[dict[str, str], list[str]]:
    values = {"DOCKER_HOST": f"tcp://127.0.0.1:{port}"}
    if tls:
        values["DOCKER_CERT_PATH"] = cert_path
        values["DOCKER_TLS_VERIFY"] = "1"
        return values, []
    return values, ["DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"]
