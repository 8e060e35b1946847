"""The iptables rules of the bridge network: pure builders for every rule, and a small runner.

Layout (CHAIN is the daemon's chain name, DOCKER by default; BR the bridge). Every rule also carries
`-m comment --comment lxc-docker:BR` (`owner_comment`): other engines (Docker itself, libvirt) put
rules of their own in the same tables, often in a chain called DOCKER too, and the comment is how a
start or a stop of this daemon finds exactly its own rules and nothing else (hostrules.py).

    nat    PREROUTING   -m addrtype --dst-type LOCAL -j CHAIN
    nat    OUTPUT       ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j CHAIN
    nat    POSTROUTING  -s SUBNET ! -o BR -j MASQUERADE
    nat    CHAIN        one DNAT rule per published port
    filter FORWARD      -i BR -j CHAIN  and  -o BR -j CHAIN
    filter CHAIN        per published port and per link ACCEPT rules (inserted at the top), then the
                        bridge policy: established replies in, containers out, container to container
                        ACCEPT (--icc=true) or DROP (--icc=false)

Everything that depends on containers lives in the two CHAIN chains; a restart first deletes every
rule with its comment, so a daemon that crashed leaves nothing that a restart would duplicate.
Loopback is left out of the OUTPUT jump on purpose: the kernel will not route 127.0.0.1 to another
interface, so connections to 127.0.0.1:hostPort go through the userland proxy instead.
"""

from __future__ import annotations

import subprocess
import threading
from dataclasses import dataclass

from ..errors import SystemError_

ANY_IP = "0.0.0.0"
OWNER_PREFIX = "lxc-docker:"


def owner_comment(bridge: str) -> str:
    """The comment on every rule a daemon using `bridge` adds."""
    return OWNER_PREFIX + bridge


def _tagged(bridge: str, args: tuple[str, ...]) -> tuple[str, ...]:
    """`args` with the owner comment just before the target (-j), where iptables -S prints it too."""
    tag = ("-m", "comment", "--comment", owner_comment(bridge))
    at = args.index("-j") if "-j" in args else len(args)
    return (*args[:at], *tag, *args[at:])


@dataclass(frozen=True)
class Rule:
    """One rule: where it goes and its match/target arguments."""

    table: str
    chain: str
    args: tuple[str, ...]

    def command(self, action: str) -> list[str]:
        """The iptables arguments to apply `action` (-A, -I, -D, -C) to this rule."""
        return ["-t", self.table, action, self.chain, *self.args]

    def restore_line(self, action: str) -> str:
        """The same command as a line of iptables-restore input (its table is the section's)."""
        return restore_line([action, self.chain, *self.args])


def restore_line(words: list[str]) -> str:
    """Words as iptables-restore reads them: it splits on blanks and knows only double quotes."""
    out = []
    for w in words:
        if '"' in w or "\n" in w:
            raise ValueError(f"iptables-restore cannot carry the argument {w!r}")
        out.append(f'"{w}"' if not w or any(c.isspace() for c in w) else w)
    return " ".join(out)


def nat_jump_rules(chain: str, bridge: str) -> list[Rule]:
    return [
        Rule("nat", "PREROUTING", _tagged(bridge, ("-m", "addrtype", "--dst-type", "LOCAL", "-j", chain))),
        Rule(
            "nat",
            "OUTPUT",
            _tagged(bridge, ("!", "-d", "127.0.0.0/8", "-m", "addrtype", "--dst-type", "LOCAL", "-j", chain)),
        ),
    ]


def masquerade_rule(subnet: str, bridge: str) -> Rule:
    return Rule("nat", "POSTROUTING", _tagged(bridge, ("-s", subnet, "!", "-o", bridge, "-j", "MASQUERADE")))


def forward_jump_rules(chain: str, bridge: str) -> list[Rule]:
    return [
        Rule("filter", "FORWARD", _tagged(bridge, ("-i", bridge, "-j", chain))),
        Rule("filter", "FORWARD", _tagged(bridge, ("-o", bridge, "-j", chain))),
    ]


def bridge_policy_rules(chain: str, bridge: str, icc: bool) -> list[Rule]:
    """The tail of the filter chain, in order."""
    established = ("-o", bridge, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT")
    return [
        Rule("filter", chain, _tagged(bridge, established)),
        Rule("filter", chain, _tagged(bridge, ("-i", bridge, "!", "-o", bridge, "-j", "ACCEPT"))),
        Rule(
            "filter", chain, _tagged(bridge, ("-i", bridge, "-o", bridge, "-j", "ACCEPT" if icc else "DROP"))
        ),
    ]


def port_rules(
    chain: str, bridge: str, proto: str, host_ip: str, host_port: int, ip: str, port: int
) -> list[Rule]:
    """The DNAT of one published port and the ACCEPT that lets it through when it comes from outside."""
    # No -d for 0.0.0.0: iptables would read it as 0.0.0.0/32, not "any address".
    dest = () if host_ip == ANY_IP else ("-d", host_ip)
    return [
        Rule(
            "nat",
            chain,
            _tagged(bridge, (
                "-p", proto, *dest, "--dport", str(host_port), "!", "-i", bridge,
                "-j", "DNAT", "--to-destination", f"{ip}:{port}",
            )),
        ),
        Rule(
            "filter",
            chain,
            _tagged(bridge, (
                "-d", ip, "!", "-i", bridge, "-o", bridge, "-p", proto, "--dport", str(port), "-j", "ACCEPT",
            )),
        ),
    ]  # fmt: skip


def link_rules(chain: str, bridge: str, parent_ip: str, child_ip: str, port: int, proto: str) -> list[Rule]:
    """With --icc=false: the parent may open `port` on the child, and the child may answer."""
    return [
        Rule(
            "filter",
            chain,
            _tagged(bridge, (
                "-i", bridge, "-o", bridge, "-p", proto, "-s", parent_ip, "-d", child_ip,
                "--dport", str(port), "-j", "ACCEPT",
            )),
        ),
        Rule(
            "filter",
            chain,
            _tagged(bridge, (
                "-i", bridge, "-o", bridge, "-p", proto, "-s", child_ip, "-d", parent_ip,
                "--sport", str(port), "-j", "ACCEPT",
            )),
        ),
    ]  # fmt: skip


class IptablesError(SystemError_):
    """iptables refused a command; the message carries its stderr."""


class Iptables:
    """Runs iptables with argument lists; -w waits for the xtables lock instead of failing."""

    def __init__(self, binary: str = "iptables") -> None:
        self.binary = binary

    def run(self, args: list[str]) -> subprocess.CompletedProcess:
        try:
            return subprocess.run(
                [self.binary, "-w", *args],
                capture_output=True,
                text=True,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except FileNotFoundError:
            raise IptablesError(
                f"{self.binary} not found: install iptables or start the daemon with --iptables=false"
            )

    def check(self, args: list[str]) -> None:
        proc = self.run(args)
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip()
            raise IptablesError(f"iptables failed: {self.binary} {' '.join(args)}: {detail}")

    def exists(self, rule: Rule) -> bool:
        return self.run(rule.command("-C")).returncode == 0

    def add(self, rule: Rule, insert: bool = False) -> None:
        self.check(rule.command("-I" if insert else "-A"))

    def ensure(self, rule: Rule, insert: bool = False) -> bool:
        """Add `rule` unless it is already there; returns whether it was added."""
        if self.exists(rule):
            return False
        self.add(rule, insert)
        return True

    def delete(self, rule: Rule) -> bool:
        """Delete one copy of `rule`; returns False when there was none."""
        return self.run(rule.command("-D")).returncode == 0

    def delete_all(self, rule: Rule) -> int:
        """Delete every copy of `rule` (a crashed older run may have left duplicates)."""
        count = 0
        while self.delete(rule):
            count += 1
        return count

    def ensure_chain(self, table: str, chain: str) -> bool:
        """Create `chain` if missing; returns whether it was created."""
        proc = self.run(["-t", table, "-N", chain])
        if proc.returncode == 0:
            return True
        if "exists" in (proc.stderr or ""):
            return False
        raise IptablesError(
            f"iptables failed to create chain {chain} in table {table}: {proc.stderr.strip()}"
        )

    def delete_chain(self, table: str, chain: str) -> bool:
        """Delete `chain` if it is empty and nothing jumps to it (iptables refuses otherwise).

        Never a flush: what is left in a chain after our own rules are gone is someone else's.
        """
        return self.run(["-t", table, "-X", chain]).returncode == 0

    def restore(self, batch: dict[str, list[str]]) -> None:
        """One `iptables-restore --noflush` run for `batch`, table -> restore lines ("-A CHAIN ...",
        "-I CHAIN ...", "-N CHAIN"): each table's lines apply together or not at all (one COMMIT per
        table, nat then filter, so a failure in a later table leaves the earlier one applied). One
        process instead of one per rule: the start of the daemon adds ten rules and chains."""
        text = "".join(
            f"*{table}\n" + "".join(f"{ln}\n" for ln in lines) + "COMMIT\n"
            for table, lines in batch.items()
            if lines
        )
        if not text:
            return
        try:
            proc = subprocess.run(
                [f"{self.binary}-restore", "-w", "--noflush"],
                input=text,
                capture_output=True,
                text=True,
                check=False,
            )
        except FileNotFoundError:
            raise IptablesError(
                f"{self.binary}-restore not found: install iptables or start the daemon with --iptables=false"
            )
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip()
            raise IptablesError(f"{self.binary}-restore failed: {detail}; its input was:\n{text.rstrip()}")

    def list_tables(self, tables: tuple[str, ...]) -> dict[str, list[str]]:
        """The -P, -N and -A lines `iptables -t TABLE -S` prints, for each of `tables`, from one
        `iptables-save` run. A table the kernel has not loaded yet lists nothing (iptables -S would
        load it to list its empty built-in chains)."""
        try:
            proc = subprocess.run(
                [f"{self.binary}-save"], capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL
            )
        except FileNotFoundError:
            proc = None
        if proc is None or proc.returncode != 0:  # no -save beside this binary: one -S per table
            return {table: self.list_table(table) for table in tables}
        listed: dict[str, list[str]] = {table: [] for table in tables}
        lines: list[str] | None = None
        for line in proc.stdout.splitlines():
            if line.startswith("*"):
                lines = listed.get(line[1:].strip())
            elif lines is None or line.startswith("#") or line == "COMMIT":
                continue
            elif line.startswith(":"):
                # ":CHAIN POLICY [packets:bytes]", POLICY "-" for a chain of the user's
                name, _, rest = line[1:].partition(" ")
                policy = rest.split(" ", 1)[0]
                lines.append(f"-N {name}" if policy == "-" else f"-P {name} {policy}")
            else:
                lines.append(line)
        return listed

    def list_table(self, table: str) -> list[str]:
        """`iptables -t table -S`: the -P, -N and -A lines of every chain."""
        proc = self.run(["-t", table, "-S"])
        if proc.returncode != 0:
            raise IptablesError(f"iptables cannot list table {table}: {(proc.stderr or '').strip()}")
        return proc.stdout.splitlines()


class RuleBook:
    """Reference-counted rules in the daemon's own chains: added on first use, deleted on last.

    The daemon deletes every rule with its comment when it starts, so this count is the whole truth
    about its chains and no `-C` round trip is needed per container. Filter rules go on top, ahead
    of the bridge policy.
    """

    def __init__(self, iptables: Iptables) -> None:
        self.iptables = iptables
        self._refs: dict[Rule, int] = {}
        self._lock = threading.Lock()

    def add(self, rules: list[Rule]) -> None:
        """Add every rule, or none of them if one fails."""
        done: list[Rule] = []
        with self._lock:
            try:
                for rule in rules:
                    if not self._refs.get(rule):
                        self.iptables.add(rule, insert=rule.table == "filter")
                    self._refs[rule] = self._refs.get(rule, 0) + 1
                    done.append(rule)
            except BaseException:
                self._drop(done)
                raise

    def remove(self, rules: list[Rule]) -> None:
        with self._lock:
            self._drop(rules)

    def _drop(self, rules: list[Rule]) -> None:
        for rule in rules:
            count = self._refs.get(rule, 0)
            if count <= 0:
                continue
            if count == 1:
                del self._refs[rule]
                self.iptables.delete(rule)
            else:
                self._refs[rule] = count - 1

    def forget(self) -> None:
        """Drop the counts (the rules were deleted)."""
        with self._lock:
            self._refs.clear()

    def rules(self) -> dict[Rule, int]:
        with self._lock:
            return dict(self._refs)
