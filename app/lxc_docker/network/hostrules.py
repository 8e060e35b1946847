"""Sharing the host with other engines: which bridges, rules and chains are this daemon's.

Docker itself, libvirt or another lxc-docker may run beside this daemon and keep rules in the same
iptables tables, Docker in a chain called DOCKER as ours is by default. Two marks tell ours apart:

- every rule the daemon adds carries `-m comment --comment lxc-docker:BRIDGE` (iptables.owner_comment);
- a live daemon holds an exclusive flock on /run/lxc-docker/netNS-BRIDGE.lock (NS: the inode of its
  network namespace, where the bridge lives), which the kernel releases when the process dies,
  however it dies.

So at start, with the lock taken, a rule carrying our comment can only be left by a crashed run of
ours and is deleted; a rule naming the bridge (-i/-o), sitting in our chain or jumping to it without
our comment belongs to another engine, and the daemon refuses the bridge rather than share it. At stop
the daemon deletes the rules with its comment and the chains it created, never a flush, and a chain
only when nothing else is left in it or points at it. The state file (network.json in the daemon's
root) records those chains and the bridge, so that a restart with another -b still cleans up after
a crashed run on the old one. `HostClaim` ties all of it to one daemon's lifecycle.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import shlex
from dataclasses import dataclass, field

from ..errors import SystemError_
from ..sysutil import atomic
from .iptables import Iptables, IptablesError, owner_comment, restore_line

log = logging.getLogger(__name__)

LOCK_DIR = "/run/lxc-docker"
STATE_VERSION = 2
TABLES = ("nat", "filter")
# How many foreign rules an error message quotes.
_QUOTED = 3


@dataclass(frozen=True)
class Listed:
    """One rule as `iptables -S` prints it."""

    table: str
    chain: str
    args: tuple[str, ...]

    def values(self, *flags: str) -> list[str]:
        """The words after each of `flags` (`-i`, `-o`, `-j`...), negated or not."""
        return [self.args[i + 1] for i, a in enumerate(self.args[:-1]) if a in flags]

    @property
    def comment(self) -> str | None:
        found = self.values("--comment")
        return found[0] if found else None

    def text(self) -> str:
        """The rule as iptables -S prints it, for messages."""
        words = ["-t", self.table, "-A", self.chain, *self.args]
        return " ".join(
            shlex.quote(w) if not w or any(c.isspace() or c in "'\"" for c in w) else w for w in words
        )


@dataclass
class HostTables:
    """A listing of the nat and filter tables: chain names and rules."""

    chains: dict[str, set[str]] = field(default_factory=dict)
    rules: list[Listed] = field(default_factory=list)

    @classmethod
    def read(cls, ipt: Iptables) -> HostTables:
        view = cls()
        for table, lines in ipt.list_tables(TABLES).items():  # one iptables-save for both
            names = view.chains.setdefault(table, set())
            for line in lines:
                words = shlex.split(line)
                if len(words) >= 2 and words[0] in ("-P", "-N"):
                    names.add(words[1])
                elif len(words) >= 2 and words[0] == "-A":
                    view.rules.append(Listed(table, words[1], tuple(words[2:])))
        return view

    def has_chain(self, table: str, chain: str) -> bool:
        return chain in self.chains.get(table, set())

    def touching(self, table: str, chain: str) -> list[Listed]:
        """Rules in `chain` and rules jumping to it."""
        return [
            r for r in self.rules if r.table == table and (r.chain == chain or chain in r.values("-j", "-g"))
        ]

    def foreign(self, bridge: str, chain: str, comment: str) -> list[Listed]:
        """Rules without our comment that name the bridge as an interface, or sit in or jump to our chain."""
        found = []
        for r in self.rules:
            if r.comment == comment:
                continue
            if bridge in r.values("-i", "-o") or r.chain == chain or chain in r.values("-j", "-g"):
                found.append(r)
        return found

    def ours(self, comment: str) -> list[Listed]:
        return [r for r in self.rules if r.comment == comment]


def delete_rules(ipt: Iptables, rules: list[Listed]) -> None:
    """Delete each rule by its own spec, so whatever else is in the chain stays where it is: all in
    one iptables-restore, or, when that fails (a table's lines apply all or none, and a rule may have
    gone meanwhile), one `iptables -D` each."""
    if not rules:
        return
    batch: dict[str, list[str]] = {}
    try:
        for r in rules:
            batch.setdefault(r.table, []).append(restore_line(["-D", r.chain, *r.args]))
        ipt.restore(batch)
        return
    except (IptablesError, ValueError) as e:
        log.debug("deleting rules one by one: %s", e)
    for r in rules:
        ipt.run(["-t", r.table, "-D", r.chain, *r.args])


def delete_chains_if_unused(ipt: Iptables, chains: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Delete each (table, chain) that is empty and unreferenced; returns those that had to stay."""
    if not chains:
        return []
    view = HostTables.read(ipt)
    kept = []
    for table, chain in chains:
        if not view.has_chain(table, chain):
            continue
        if view.touching(table, chain) or not ipt.delete_chain(table, chain):
            kept.append((table, chain))
    return kept


def refusal(bridge: str, chain: str, foreign: list[Listed]) -> SystemError_:
    """The error for a bridge, or our chain name, that another engine's rules use."""
    on_bridge = [r for r in foreign if bridge in r.values("-i", "-o")]
    shown = on_bridge or foreign
    quoted = "; ".join(r.text() for r in shown[:_QUOTED])
    more = f" (and {len(shown) - _QUOTED} more)" if len(shown) > _QUOTED else ""
    if on_bridge:
        what = f"bridge {bridge} is managed by another engine (Docker, libvirt, an older lxc-docker)"
    else:
        what = f"iptables chain {chain}, which this daemon uses for bridge {bridge}, is another engine's"
    return SystemError_(
        f"{what}: iptables has rules lxc-docker did not add: {quoted}{more}. Refusing to share them: "
        f"start the daemon with -b/--bridge naming a bridge of its own (create it first; its chain is "
        f"DOCKER-<bridge>), or with -b none to run containers without networking."
    )


class BridgeLock:
    """The host-wide claim of a live daemon on one bridge: an flock the kernel drops when we die."""

    def __init__(self, bridge: str, directory: str = LOCK_DIR) -> None:
        self.bridge = bridge
        # Per network namespace: a daemon in a namespace of its own (ip netns) has a docker0 of its own.
        self.path = os.path.join(directory, f"net{_netns_id()}-{bridge}.lock")
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> bool:
        """Take the lock without waiting; False when another live process holds it."""
        if self._fd is not None:
            return True
        os.makedirs(os.path.dirname(self.path), mode=0o755, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                os.close(fd)
                if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                    return False
                raise
            # The previous holder unlinks the file as it lets go: if that happened between our open
            # and our flock, we hold a lock on a file nobody else will ever open. Try again.
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def holder(self) -> str:
        """The pid the holder wrote, for messages."""
        try:
            with open(self.path) as f:
                return f.read().strip() or "?"
        except OSError:
            return "?"

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.unlink(self.path)
        except OSError:
            pass
        os.close(self._fd)
        self._fd = None


def _netns_id() -> str:
    for path in ("/proc/thread-self/ns/net", "/proc/self/ns/net"):
        try:
            return str(os.stat(path).st_ino)
        except OSError:
            continue
    return "0"


def claim_bridge(bridge: str, directory: str = LOCK_DIR) -> BridgeLock:
    """The bridge's lock, or a refusal naming the daemon that holds it."""
    lock = BridgeLock(bridge, directory)
    try:
        acquired = lock.acquire()
    except OSError as e:
        raise SystemError_(f"cannot take the lock of bridge {bridge} in {directory}: {e}")
    if not acquired:
        raise SystemError_(
            f"bridge {bridge} is in use by another lxc-docker daemon (pid {lock.holder()}, lock "
            f"{lock.path}): start this one with -b/--bridge naming another bridge, or with -b none"
        )
    return lock


# -- what a run leaves for the next one -------------------------------------------------------------


def read_state(path: str | None) -> dict:
    """The bridge, chain and created chains a previous run recorded ({} when none or unreadable)."""
    if not path or not os.path.exists(path):
        return {}
    try:
        data = atomic.read_json(path)
    except (OSError, ValueError) as e:
        log.warning("ignoring unreadable network state %s: %s", path, e)
        return {}
    if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
        return {}  # an older layout recorded rules without our comment; nothing to reuse
    chains = [(t, c) for t, c in data.get("chains") or [] if isinstance(t, str) and isinstance(c, str)]
    return {"bridge": str(data.get("bridge") or ""), "chain": str(data.get("chain") or ""), "chains": chains}


def write_state(path: str | None, bridge: str, chain: str, chains: list[tuple[str, str]]) -> None:
    if not path:
        return
    data = {"version": STATE_VERSION, "bridge": bridge, "chain": chain, "chains": [list(c) for c in chains]}
    try:
        atomic.write_json(path, data)
    except OSError as e:
        log.warning("cannot record network state in %s: %s", path, e)


def clear_previous_bridge(ipt: Iptables, state: dict, bridge: str, lock_dir: str) -> None:
    """A crashed run of ours on another bridge: remove its rules and chains unless a daemon holds it now."""
    previous = state.get("bridge") or ""
    if not previous or previous == bridge:
        return
    lock = BridgeLock(previous, lock_dir)
    if not lock.acquire():
        return  # another daemon of ours runs there: those rules are its own now
    try:
        delete_rules(ipt, HostTables.read(ipt).ours(owner_comment(previous)))
        delete_chains_if_unused(ipt, state.get("chains") or [])
    finally:
        lock.release()


# -- one daemon's hold on its bridge and chains -----------------------------------------------------


def _merged(first: dict[str, list[str]], then: dict[str, list[str]]) -> dict[str, list[str]]:
    """Restore lines by table: `first`'s lines of each table before `then`'s."""
    out = {table: list(lines) for table, lines in first.items()}
    for table, lines in then.items():
        out.setdefault(table, []).extend(lines)
    return out


class HostClaim:
    """The bridge lock, the chains this daemon created and the state file that remembers them.

    `claim()` before the bridge is touched, `ensure_chains()` before the first rule goes in,
    `release()` at shutdown (or when setup fails half way).
    """

    def __init__(
        self, ipt: Iptables, bridge: str, chain: str, *, iptables: bool, state_path: str | None, lock_dir: str
    ) -> None:
        self.ipt, self.bridge, self.chain = ipt, bridge, chain
        self.use_iptables, self.state_path, self.lock_dir = iptables, state_path, lock_dir
        self.comment = owner_comment(bridge)
        self.lock: BridgeLock | None = None
        # (table, chain) this daemon created, or adopted from a crashed run of its own.
        self.chains: list[tuple[str, str]] = []
        # Tables where our chain existed at claim() (chain_lines() creates it in the others).
        self._present: set[str] = set()
        # (table, chain) the state file of our last run on this bridge named as ours.
        self._recorded: set[tuple[str, str]] = set()

    def claim(self) -> None:
        """Take the bridge; refuse one another engine manages; delete what a crashed run of ours left."""
        lock = claim_bridge(self.bridge, self.lock_dir)
        try:
            if self.use_iptables:
                self._clear_stale()
        except BaseException:
            lock.release()
            raise
        self.lock = lock

    def _clear_stale(self) -> None:
        # With the lock held, every rule with our comment is from a dead daemon.
        state = read_state(self.state_path)
        clear_previous_bridge(self.ipt, state, self.bridge, self.lock_dir)
        self._recorded = set(state.get("chains") or []) if state.get("bridge") == self.bridge else set()
        self._adopt(HostTables.read(self.ipt))
        delete_chains_if_unused(self.ipt, [c for c in self._recorded if c[1] != self.chain])

    def _adopt(self, view: HostTables) -> None:
        """From a listing: refuse a chain or bridge another engine uses, take our chain as ours where
        it is, delete every rule with our comment."""
        foreign = view.foreign(self.bridge, self.chain, self.comment)
        if foreign:
            raise refusal(self.bridge, self.chain, foreign)
        self.chains = []
        self._present = {table for table in TABLES if view.has_chain(table, self.chain)}
        for table in TABLES:
            # Nothing foreign touches it, so a chain with rules of ours in it or jumping to it is
            # ours from a crashed run even when the state file went with another root (-g).
            if view.has_chain(table, self.chain) and (
                (table, self.chain) in self._recorded or view.touching(table, self.chain)
            ):
                self.chains.append((table, self.chain))
        delete_rules(self.ipt, view.ours(self.comment))

    def restore_with_chains(self, batch: dict[str, list[str]]) -> None:
        """chain_lines() and `batch` in one iptables-restore --noflush. Our chain may be created by
        another program between claim()'s listing and this run (another engine starting, a firewall
        reload); its `-N` then fails with "Chain already exists". So on a failure: list again, and if
        the chain is now there where it was missing, adopt the listing as claim() does (a chain with
        foreign rules is refused, an empty one is used but not ours to delete, the rules a committed
        table of the failed run added are deleted) and run once more, without that `-N`. Never a
        `:CHAIN - [0:0]` line instead: with --noflush it flushes an existing chain (iptables 1.8.9,
        nf_tables), which would drop the other program's rules."""
        try:
            self.ipt.restore(_merged(self.chain_lines(), batch))
            return
        except IptablesError as first:
            view = HostTables.read(self.ipt)
            appeared = [t for t in TABLES if t not in self._present and view.has_chain(t, self.chain)]
            if not appeared:
                raise
            log.info("iptables chain %s appeared in %s meanwhile (%s); again", self.chain, appeared, first)
        self._adopt(view)
        self.ipt.restore(_merged(self.chain_lines(), batch))

    def ensure_chains(self) -> None:
        """Our chain in nat and filter; recorded before the first rule goes in, so that a crash from
        then on is cleaned up by the next start. A chain that was there, empty and unused, is used but
        not ours to delete."""
        for table in TABLES:
            if self.ipt.ensure_chain(table, self.chain) and (table, self.chain) not in self.chains:
                self.chains.append((table, self.chain))
        write_state(self.state_path, self.bridge, self.chain, self.chains)

    def chain_lines(self) -> dict[str, list[str]]:
        """ensure_chains() as iptables-restore lines, to go in one batch with the first rules: `-N`
        for our chain in each table where claim()'s listing did not show it (no second listing), the
        chains recorded as ours before the batch runs."""
        batch: dict[str, list[str]] = {}
        for table in TABLES:
            if table not in self._present:
                batch[table] = [f"-N {self.chain}"]
                if (table, self.chain) not in self.chains:
                    self.chains.append((table, self.chain))
        write_state(self.state_path, self.bridge, self.chain, self.chains)
        return batch

    def release(self) -> None:
        """Exactly the rules with our comment, then the chains we created if nothing else uses them."""
        if self.lock is None:
            return
        try:
            if self.use_iptables:
                try:
                    delete_rules(self.ipt, HostTables.read(self.ipt).ours(self.comment))
                    self.chains = delete_chains_if_unused(self.ipt, self.chains)
                except IptablesError as e:
                    log.warning("removing the network rules: %s", e)
                write_state(self.state_path, self.bridge, self.chain, self.chains)
        finally:
            self.lock.release()
            self.lock = None
