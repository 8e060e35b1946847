"""Filters of `ps`, `images` and `events` (the `filters` query parameter) and how each one matches.

`FilterArgs` is Docker's `filters.Args`: a key holds a set of values; `exact_match`, `match`
(a regular expression searched in the value), `fuzzy_match` (a prefix) and `match_kv_list`
(`label=key` or `label=key=value`, every one required) mean what they mean in Docker 1.12's
daemon. The predicates below apply Docker 1.12's rules for each endpoint (daemon/list.go,
daemon/images.go, daemon/events/filter.go); the API layer parses the query into a `FilterArgs`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import InvalidParameter

if TYPE_CHECKING:
    from .container import Container
    from .events import Event

# The keys each endpoint knows; any other is refused with "Invalid filter 'x'" (a 400), as Docker.
CONTAINER_FILTERS = frozenset(
    {"id", "name", "label", "status", "exited", "ancestor", "before", "since", "volume", "network", "health"}
)
IMAGE_FILTERS = frozenset({"dangling", "label", "before", "since", "reference"})
EVENT_FILTERS = frozenset({"type", "event", "container", "image", "label", "volume", "network", "daemon"})
# Docker 1.12's container.IsValidStateString.
STATES = ("created", "restarting", "running", "paused", "exited", "dead", "removing")


class FilterArgs:
    """Filter keys with their values (a set per key), as the client sent them."""

    def __init__(self, fields: Mapping[str, Iterable[str]] | None = None) -> None:
        self.fields: dict[str, set[str]] = {k: set(v) for k, v in (fields or {}).items() if v}

    def __bool__(self) -> bool:
        return bool(self.fields)

    def __repr__(self) -> str:
        return f"FilterArgs({self.fields!r})"

    def validate(self, accepted: Iterable[str]) -> None:
        allowed = set(accepted)
        for key in sorted(self.fields):
            if key not in allowed:
                raise InvalidParameter(f"Invalid filter '{key}'")

    def include(self, key: str) -> bool:
        return key in self.fields

    def get(self, key: str) -> list[str]:
        return sorted(self.fields.get(key, ()))

    def exact_match(self, key: str, value: str) -> bool:
        """True when `key` is not filtered on, or one of its values is `value`."""
        values = self.fields.get(key)
        return not values or value in values

    def match(self, key: str, value: str) -> bool:
        """Exact, or a value read as a regular expression found in `value` (Docker's `Match`)."""
        values = self.fields.get(key)
        if not values or value in values:
            return True
        for pattern in values:
            try:
                if re.search(pattern, value):
                    return True
            except re.error:
                continue  # Docker skips a pattern that does not compile
        return False

    def fuzzy_match(self, key: str, value: str) -> bool:
        """Exact, or a value that `value` starts with (Docker's `FuzzyMatch`: ids by prefix)."""
        values = self.fields.get(key)
        if not values or value in values:
            return True
        return any(value.startswith(v) for v in values)

    def match_kv_list(self, key: str, sources: Mapping[str, str] | None) -> bool:
        """Every `k` or `k=v` value of `key` present in `sources` (labels): all must hold."""
        values = self.fields.get(key)
        if not values:
            return True
        if not sources:
            return False
        for wanted in values:
            name, eq, value = wanted.partition("=")
            if name not in sources or (eq and sources[name] != value):
                return False
        return True


# -- containers --------------------------------------------------------------------------------------


def state_string(c: Container) -> str:
    """The state `status=` compares with (Docker 1.12's `State.StateString`)."""
    s = c.state
    if s.running:
        return "paused" if getattr(s, "paused", False) else "running"
    if getattr(s, "restarting", False):
        return "restarting"
    if s.finished_at.startswith("0001-"):
        return "created"
    return "exited"


def _exit_codes(args: FilterArgs) -> list[int]:
    codes = []
    for value in args.get("exited"):
        try:
            codes.append(int(value))
        except ValueError:
            raise InvalidParameter(f'strconv.Atoi: parsing "{value}": invalid syntax') from None
    return codes


def check_container_filters(args: FilterArgs) -> bool:
    """Refuse unknown keys and bad values before anything is listed; True when `status` asks for all."""
    args.validate(CONTAINER_FILTERS)
    _exit_codes(args)
    for value in args.get("status"):
        if value not in STATES:
            raise InvalidParameter("Unrecognised filter value for status")
    for value in args.get("health"):
        if value not in ("starting", "healthy", "unhealthy", "none"):
            raise InvalidParameter("Unrecognised filter value for health")
    # Docker 1.12: a status filter lists stopped containers too (`docker ps -f status=exited`).
    return args.include("status")


def mount_names(c: Container) -> set[str]:
    """What `volume=` matches: each mount's destination, its source, and a volume's name."""
    names = set()
    for dest, src in (c.volumes or {}).items():
        names.update((dest, src))
        name = volume_name(src)
        if name:
            names.add(name)
    return names


def volume_name(source: str) -> str:
    """A daemon-made volume lives in `<root>/volumes/<name>/_data`; a bind has no name."""
    parts = source.rstrip("/").split("/")
    if len(parts) >= 3 and parts[-1] == "_data" and parts[-3] == "volumes":
        return parts[-2]
    return ""


def network_name(c: Container) -> str:
    mode = (c.host_config or {}).get("NetworkMode") or "default"
    return "bridge" if mode == "default" else mode


def container_matcher(args: FilterArgs, descendants: set[str] | None) -> Callable[[Container], bool]:
    """A predicate for one container (id, name, label, status, exited, ancestor, volume, network).

    `before`/`since` order the listing and are applied by the caller; `descendants` is the set of
    containers an `ancestor=` filter allows (made from a named image or a descendant of one), None
    without that filter.
    """
    codes = _exit_codes(args)

    def accept(c: Container) -> bool:
        if not args.match("id", c.id):
            return False
        if not args.match("name", c.name):
            return False
        if not args.match_kv_list("label", c.config.get("Labels")):
            return False
        if codes:
            s = c.state
            if s.running or s.started_at.startswith("0001-") or s.exit_code not in codes:
                return False
        if not args.exact_match("status", state_string(c)):
            return False
        if not args.exact_match("health", (getattr(c.state, "health", None) or {}).get("Status", "none")):
            return False
        if descendants is not None and c.id not in descendants:
            return False
        if args.include("volume") and not (mount_names(c) & args.fields["volume"]):
            return False
        networks = {network_name(c), *((c.network_settings or {}).get("Networks") or {})}
        return not args.include("network") or any(args.exact_match("network", n) for n in networks)

    return accept


# -- images ------------------------------------------------------------------------------------------


def check_image_filters(args: FilterArgs) -> bool | None:
    """Refuse unknown keys; the dangling choice: True (only), False (none), None (no filter)."""
    args.validate(IMAGE_FILTERS)
    if not args.include("dangling"):
        return None
    values = args.fields["dangling"]
    if "true" in values:
        return True
    if "false" in values:
        return False
    raise InvalidParameter(f"Invalid filter 'dangling={args.get('dangling')[0]}'")


def reference_matches(repo_tag: str, pattern: str) -> bool:
    """`reference=busybox`, `reference=busy*:lat*`: a shell pattern over `name` or `name:tag`."""
    import fnmatch

    repo = repo_tag.rpartition(":")[0]
    return fnmatch.fnmatchcase(repo_tag, pattern) or fnmatch.fnmatchcase(repo, pattern)


def image_matcher(
    args: FilterArgs, created_of: Callable[[str], int]
) -> Callable[[dict[str, Any], Mapping[str, str] | None], bool]:
    """A predicate over one `/images/json` row and its image's labels (label, before, since, reference).

    `created_of` turns a `before`/`since` image name into its creation time (NotFound propagates).
    """
    before = [created_of(v) for v in args.get("before")]
    since = [created_of(v) for v in args.get("since")]

    def accept(row: dict[str, Any], labels: Mapping[str, str] | None) -> bool:
        if args.include("label") and not args.match_kv_list("label", labels):
            return False
        if any(row["Created"] >= t for t in before):
            return False
        if any(row["Created"] <= t for t in since):
            return False
        if args.include("reference"):
            tags = [t for t in row.get("RepoTags") or () if t != "<none>:<none>"]
            kept = [t for t in tags if any(reference_matches(t, p) for p in args.fields["reference"])]
            if not kept:
                return False
            row["RepoTags"] = kept
        return True

    return accept


# -- events ------------------------------------------------------------------------------------------


def _strip_tag(name: str) -> str:
    repo, _, tag = name.rpartition(":")
    return repo if repo and "/" not in tag else name


def event_matcher(args: FilterArgs) -> Callable[[Event], bool]:
    """Docker 1.12's events filter (daemon/events/filter.go) over our events."""
    args.validate(EVENT_FILTERS)

    def accept(e: Event) -> bool:
        attrs = dict(e.attributes)
        if not args.exact_match("event", e.action) or not args.exact_match("type", e.type):
            return False
        if args.include("container"):
            if e.type != "container":
                return False
            if not (
                args.fuzzy_match("container", e.id) or args.fuzzy_match("container", attrs.get("name", ""))
            ):
                return False
        if args.include("image"):
            name = attrs.get("name", "") if e.type == "image" else (e.from_ or attrs.get("image", ""))
            # Image events carry the bare id; clients of API 1.22+ know it as `sha256:<id>`.
            candidates = {e.id, "sha256:" + e.id, name, _strip_tag(name)}
            if not candidates & args.fields["image"]:
                return False
        for key in ("volume", "network", "daemon"):
            if args.include(key) and (e.type != key or not args.fuzzy_match(key, e.id)):
                return False
        return not args.include("label") or args.match_kv_list("label", attrs)

    return accept
