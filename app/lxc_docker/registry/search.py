"""`docker search`: the index's `GET /v1/search?q=` (Docker 0.9's Index API), then the filters and
limit later Docker's `GET /images/search` applies.

A term naming a registry (`127.0.0.1:5000/busy`) searches that registry's index for `busy`; any other
term searches the default index, as Docker's `splitReposSearchTerm` does. Only a v1 index serves
search: a v2-only registry (distribution, Debian's `docker-registry`) has no such endpoint, which is
said plainly instead of a bare 404.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import InvalidParameter
from .auth import Credentials

# Docker's registry.DefaultSearchLimit, and the range its daemon accepts.
DEFAULT_LIMIT = 25
MAX_LIMIT = 100
FILTERS = ("is-automated", "is-official", "stars")


def split_term(term: str, default_host: str) -> tuple[str, str]:
    """(registry host, what to ask its index for). The first component names a registry when it
    holds a '.' or a ':' or is `localhost`; the default index is asked without `library/`."""
    first, sep, rest = term.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    if term.startswith("library/"):
        term = term[len("library/") :]
    # Docker Hub serves pulls from registry-1 but its search from the index host.
    return ("index.docker.io" if default_host == "registry-1.docker.io" else default_host), term


def check_limit(limit: int) -> None:
    if limit < 1 or limit > MAX_LIMIT:
        raise InvalidParameter(f"Limit {limit} is outside the range of [1, {MAX_LIMIT}]")


def _flag(filters: Mapping[str, Sequence[str]], key: str) -> bool | None:
    values = list(filters.get(key) or ())
    if not values:
        return None
    if values == ["true"]:
        return True
    if values == ["false"]:
        return False
    raise InvalidParameter(f"Invalid filter '{key}={values[0] if len(values) == 1 else values}'")


def _min_stars(filters: Mapping[str, Sequence[str]]) -> int | None:
    values = list(filters.get("stars") or ())
    if not values:
        return None
    best = 0
    for v in values:
        try:
            best = max(best, int(v))
        except ValueError:
            raise InvalidParameter(f"Invalid filter 'stars={v}'") from None
    return best


def check_filters(filters: Mapping[str, Sequence[str]]) -> None:
    """Refuse what Docker 1.13+ refuses: unknown keys, non-boolean flags, non-integer stars."""
    for key in sorted(filters):
        if key not in FILTERS:
            raise InvalidParameter(f"Invalid filter '{key}'")
    _flag(filters, "is-automated")
    _flag(filters, "is-official")
    _min_stars(filters)


def result_row(raw: Any) -> dict[str, Any] | None:
    """One index result in the shape `/images/search` answers: Docker 0.9's keys plus the later
    `is_automated` (an index of the 0.9 era says `is_trusted` for the same thing)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        return None
    trusted = bool(raw.get("is_trusted") or raw.get("is_automated"))
    try:
        stars = int(raw.get("star_count") or 0)
    except (TypeError, ValueError):
        stars = 0
    return {
        "star_count": stars,
        "is_official": bool(raw.get("is_official")),
        "name": raw["name"],
        "is_trusted": trusted,
        "is_automated": trusted,
        "description": str(raw.get("description") or ""),
    }


def apply(
    results: list[dict[str, Any]], filters: Mapping[str, Sequence[str]], limit: int
) -> list[dict[str, Any]]:
    """The index's answer cut to `limit` (Docker asks the index for `n=limit`), then filtered."""
    automated, official, stars = (
        _flag(filters, "is-automated"),
        _flag(filters, "is-official"),
        _min_stars(filters),
    )
    out = []
    for row in results[:limit]:
        if automated is not None and row["is_automated"] != automated:
            continue
        if official is not None and row["is_official"] != official:
            continue
        if stars is not None and row["star_count"] < stars:
            continue
        out.append(row)
    return out


def search(
    host: str,
    term: str,
    creds: Credentials,
    limit: int = DEFAULT_LIMIT,
    filters: Mapping[str, Sequence[str]] | None = None,
) -> list[dict[str, Any]]:
    """Ask `host`'s index for `term`; the rows `/images/search` answers."""
    from .session import RegistryError, Session, Unauthorized

    filters = filters or {}
    check_limit(limit)
    check_filters(filters)
    session = Session(host, creds)
    try:
        # Credentials go along as Basic auth, as Docker sends them to the index; search is public.
        headers = {} if creds.anonymous or not creds.username else {"Authorization": creds.basic_header()}
        resp = session.request(
            "GET", "/v1/search", scopes=[], ok_404=True, params={"q": term, "n": str(limit)}, headers=headers
        )
        with resp:
            if resp.status_code in (404, 405):
                raise RegistryError(
                    f"{host} does not offer search: GET /v1/search answered {resp.status_code} "
                    "(only a v1 index serves search; v2 registries have no search endpoint)"
                )
            if resp.status_code == 401:
                raise Unauthorized(f"search on {host}: unauthorized")
            if resp.status_code != 200:
                raise RegistryError(
                    f"search on {host}: GET /v1/search answered HTTP status {resp.status_code}"
                )
            try:
                doc = resp.json()
            except ValueError:
                raise RegistryError(f"search on {host}: the answer is not JSON") from None
    finally:
        session.close()
    raw = doc.get("results") if isinstance(doc, dict) else None
    if not isinstance(raw, list):
        raise RegistryError(f"search on {host}: the answer has no results list")
    rows = [r for r in (result_row(x) for x in raw) if r is not None]
    return apply(rows, filters, limit)
