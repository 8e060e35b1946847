"""A v2 repository's tags (`GET /v2/<name>/tags/list`, following `Link` pages), for `pull -a`."""

from __future__ import annotations

from urllib.parse import urljoin

from ..errors import NotFound
from .session import RegistryError, Session

MAX_PAGES = 100  # 100 pages of the registry's own size: a registry that never ends is refused


def list_tags(session: Session, repo: str, name: str) -> list[str]:
    tags: list[str] = []
    url = f"/v2/{repo}/tags/list"
    for _ in range(MAX_PAGES):
        try:
            resp = session.request("GET", url, scopes=[f"repository:{repo}:pull"])
        except NotFound:
            raise NotFound(f"image {name} not found") from None
        try:
            if resp.status_code != 200:
                raise RegistryError(f"tags of {repo}: HTTP status {resp.status_code}")
            doc = resp.json()
            link = resp.headers.get("Link", "")
        except ValueError:
            raise RegistryError(f"tags of {repo}: the registry's answer is not JSON") from None
        finally:
            resp.close()
        page = doc.get("tags") if isinstance(doc, dict) else None
        tags += [t for t in page or [] if isinstance(t, str) and t not in tags]
        # `Link: </v2/name/tags/list?n=100&last=x>; rel="next"`
        if 'rel="next"' not in link or "<" not in link:
            return tags
        url = urljoin(session.base + "/", link.split("<", 1)[1].split(">", 1)[0])
    raise RegistryError(f"tags of {repo}: more than {MAX_PAGES} pages")
