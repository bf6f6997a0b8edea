"""The optional ``fetch`` step: download a BAG delivery (or mutation files) into the landing folder.

:func:`download` fetches one URL (the national LVBAG extract from PDOK, a municipal extract, a
mutation file) into a folder:

* it writes to ``.<name>.part`` and renames to ``<name>`` only when the file is complete and
  checked, so the landing folder never holds a half file;
* it resumes: after a dropped connection (retried with back-off) or in a later run, it asks for
  the rest with ``Range: bytes=<have>-`` and ``If-Range`` (a changed file on the server gives the
  whole new file instead of a mix of two);
* it checks the size (``Content-Length`` / ``Content-Range`` and, when configured, the expected
  size) and the checksum (a configured sha256, or a checksum file in ``sha256sum`` format at a URL);
  a mismatch removes the download and raises :class:`FetchError`;
* it sends ``If-None-Match`` / ``If-Modified-Since`` from the last download (kept next to it in
  ``.<name>.fetch.json``): an unchanged file is not downloaded again (HTTP 304);
* it reports progress to a callback (bytes done, total).

:func:`fetch_mutations` picks up mutation files from a folder or from a URL that lists them (an
HTML index with links, as web servers and object stores serve them) into a landing folder,
skipping the ones already there. Nothing here reads or loads the files: ingest does that.

Configuration (``fetch_configured``): ``KNOOPPUNT_BAG_URL`` (the extract), optionally
``KNOOPPUNT_BAG_SHA256`` or ``KNOOPPUNT_BAG_CHECKSUM_URL``, and ``KNOOPPUNT_BAG_MUTATIES`` (a folder
or URL of mutation files). The extract lands in ``<data>/bag/``, mutations in
``<data>/bag-mutaties/``.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

CHUNK = 1 << 20
Progress = Callable[[int, int | None], None]  # (bytes done, total bytes or None)

_HREF = re.compile(r"""href=["']([^"'#?]+\.(?:zip|xml))["']""", re.IGNORECASE)
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


class FetchError(Exception):
    """A download that failed or did not check out; names the URL and the reason."""

    def __init__(self, url: str, reason: str):
        self.url = url
        self.reason = reason
        super().__init__(f"{url}: {reason}")


@dataclass
class Download:
    """One file in the landing folder after :func:`download`."""

    url: str
    path: Path
    status: str  # "downloaded", "not modified", "present" (already in the landing folder)
    size: int
    sha256: str
    resumed_from: list[int]  # byte offsets at which the download was resumed
    etag: str | None = None
    last_modified: str | None = None


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _name_of(url: str) -> str:
    name = Path(urllib.parse.unquote(urllib.parse.urlparse(url).path)).name
    if not name or name.startswith("."):
        raise FetchError(url, "cannot tell the file name from the URL; pass name=")
    return name


def _state_path(target: Path) -> Path:
    return target.with_name(f".{target.name}.fetch.json")


def _read_state(target: Path) -> dict:
    path = _state_path(target)
    if not (target.exists() and path.exists()):
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _expected_sha256(sha256: str | None, checksum_url: str | None, name: str, timeout: float) -> str | None:
    if sha256:
        return sha256.strip().lower()
    if not checksum_url:
        return None
    try:
        with _request(checksum_url, {}, timeout) as resp:
            text = resp.read(1 << 20).decode("utf-8", "replace")
    except (http.client.HTTPException, OSError) as exc:
        raise FetchError(checksum_url, f"cannot read the checksum file: {exc}") from exc
    for line in text.splitlines():
        parts = line.split()
        if (
            parts
            and re.fullmatch(r"[0-9a-fA-F]{64}", parts[0])
            and (len(parts) == 1 or parts[-1].lstrip("*") == name)
        ):
            return parts[0].lower()
    raise FetchError(checksum_url, f"no sha256 for {name} in the checksum file")


def _request(url: str, headers: dict[str, str], timeout: float):
    """An http(s) GET; 304 and 416 are returned (the caller handles them), other errors raise."""
    if urllib.parse.urlparse(url).scheme not in ("http", "https"):
        raise FetchError(url, "only http:// and https:// URLs are fetched")
    request = urllib.request.Request(url, headers={"User-Agent": "knooppunt-fetch", **headers})  # noqa: S310
    try:
        return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 (scheme checked above)
    except urllib.error.HTTPError as exc:
        if exc.code in (304, 416):
            return exc
        raise FetchError(url, f"HTTP {exc.code} {exc.reason}") from exc


def _discard(*paths: Path) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def download(
    url: str,
    folder: Path,
    *,
    name: str | None = None,
    sha256: str | None = None,
    checksum_url: str | None = None,
    expected_size: int | None = None,
    progress: Progress | None = None,
    retries: int = 5,
    timeout: float = 60.0,
    backoff: float = 0.5,
) -> Download:
    """Download ``url`` into ``folder`` (see the module docstring); returns what is there now."""
    folder.mkdir(parents=True, exist_ok=True)
    name = name or _name_of(url)
    target = folder / name
    part = folder / f".{name}.part"
    expected = _expected_sha256(sha256, checksum_url, name, timeout)
    state = _read_state(target)
    resumed: list[int] = []
    # ETag or Last-Modified of the partial download (for If-Range), kept for a later run.
    part_state = folder / f".{name}.part.json"
    validator: str | None = None
    if part.exists() and part_state.exists():
        validator = json.loads(part_state.read_text()).get("validator")
    etag = last_modified = None
    total: int | None = None
    attempt = 0
    while True:
        have = part.stat().st_size if part.exists() else 0
        headers: dict[str, str] = {}
        if have and validator:
            headers["Range"] = f"bytes={have}-"
            headers["If-Range"] = validator
        elif have:
            part.unlink()  # a partial file of a previous run without a validator: start over
            have = 0
        elif state and not part.exists():
            if state.get("etag"):
                headers["If-None-Match"] = state["etag"]
            if state.get("last_modified"):
                headers["If-Modified-Since"] = state["last_modified"]
        try:
            resp = _request(url, headers, timeout)
            with resp:
                status = resp.status if hasattr(resp, "status") else resp.code
                if status == 304:
                    return Download(
                        url, target, "not modified", target.stat().st_size, state["sha256"], [],
                        state.get("etag"), state.get("last_modified"),
                    )  # fmt: skip
                if status == 416:  # our partial file is not a prefix of the file: start over
                    part.unlink(missing_ok=True)
                    validator = None
                    continue
                etag = resp.headers.get("ETag")
                last_modified = resp.headers.get("Last-Modified")
                validator = etag or last_modified
                part_state.write_text(json.dumps({"url": url, "validator": validator}))
                if status == 206:
                    m = _CONTENT_RANGE.match(resp.headers.get("Content-Range", ""))
                    if not m or int(m.group(1)) != have:
                        raise FetchError(
                            url,
                            f"the server resumed at the wrong offset: {resp.headers.get('Content-Range')}",
                        )
                    total = int(m.group(3)) if m.group(3) != "*" else None
                    resumed.append(have)
                    mode = "ab"
                else:  # 200: the whole file (also when the file changed since the partial download)
                    length = resp.headers.get("Content-Length")
                    total = int(length) if length is not None else None
                    have, mode = 0, "wb"
                with open(part, mode) as out:
                    done = have
                    while chunk := resp.read(CHUNK):
                        out.write(chunk)
                        done += len(chunk)
                        if progress:
                            progress(done, total)
            if total is not None and done < total:
                raise http.client.IncompleteRead(b"", total - done)
            break
        except (http.client.HTTPException, OSError) as exc:  # a dropped connection, a timeout
            attempt += 1
            if attempt > retries:
                raise FetchError(
                    url, f"download failed after {retries} retries ({exc}); run again to resume from "
                    f"{part.stat().st_size if part.exists() else 0} bytes"
                ) from exc  # fmt: skip
            time.sleep(min(backoff * 2 ** (attempt - 1), 30.0))
    size = part.stat().st_size
    if total is not None and size != total:
        _discard(part, part_state)
        raise FetchError(url, f"size {size} differs from the {total} bytes the server announced")
    if expected_size is not None and size != expected_size:
        _discard(part, part_state)
        raise FetchError(url, f"size {size} differs from the expected {expected_size} bytes")
    digest = _file_sha256(part)
    if expected is not None and digest != expected:
        _discard(part, part_state)
        raise FetchError(url, f"sha256 {digest} differs from the expected {expected}")
    os.replace(part, target)
    part_state.unlink(missing_ok=True)
    result = Download(url, target, "downloaded", size, digest, resumed, etag, last_modified)
    _state_path(target).write_text(
        json.dumps(
            {k: v for k, v in asdict(result).items() if k in ("url", "sha256", "etag", "last_modified")}
        )
    )
    return result


def _listing(url: str, timeout: float) -> list[str]:
    """The URLs of the ``.zip``/``.xml`` files linked from an index page at ``url``."""
    base = url if url.endswith("/") else url + "/"
    try:
        with _request(base, {}, timeout) as resp:
            page = resp.read(16 << 20).decode("utf-8", "replace")
    except (http.client.HTTPException, OSError) as exc:
        raise FetchError(base, f"cannot read the list of mutation files: {exc}") from exc
    links = dict.fromkeys(urllib.parse.urljoin(base, href) for href in _HREF.findall(page))
    return sorted(links, key=lambda u: _name_of(u))


def fetch_mutations(
    source: str, folder: Path, *, progress: Progress | None = None, timeout: float = 60.0, **kwargs
) -> list[Download]:
    """Pick up the mutation files at ``source`` (a folder or a URL listing them) into ``folder``.

    Files already in ``folder`` with the same content are left alone (status "present"); a file
    of the same name with other content is refused: a delivery does not change once delivered.
    """
    folder.mkdir(parents=True, exist_ok=True)
    results: list[Download] = []
    if re.match(r"^https?://", source):
        for url in _listing(source, timeout):
            target = folder / _name_of(url)
            if target.exists() and not _state_path(target).exists():
                results.append(
                    Download(url, target, "present", target.stat().st_size, _file_sha256(target), [])
                )
                continue
            results.append(download(url, folder, progress=progress, timeout=timeout, **kwargs))
        return results
    src = Path(source)
    if not src.is_dir():
        raise FetchError(source, "not a folder or an http(s) URL")
    for path in sorted(p for p in src.iterdir() if p.suffix.lower() in (".zip", ".xml") and p.is_file()):
        target = folder / path.name
        digest = _file_sha256(path)
        if target.exists():
            if _file_sha256(target) != digest:
                raise FetchError(
                    str(path), f"{target} exists with other content; a delivered file does not change"
                )
            results.append(Download(str(path), target, "present", target.stat().st_size, digest, []))
            continue
        part = folder / f".{path.name}.part"
        shutil.copyfile(path, part)
        os.replace(part, target)
        results.append(Download(str(path), target, "downloaded", target.stat().st_size, digest, []))
    return results


def fetch_configured(data_dir: Path, progress: Progress | None = None) -> list[Download]:
    """The fetch step as configured in the environment (nothing configured: nothing fetched)."""
    results: list[Download] = []
    if url := os.environ.get("KNOOPPUNT_BAG_URL"):
        results.append(
            download(
                url,
                data_dir / "bag",
                sha256=os.environ.get("KNOOPPUNT_BAG_SHA256"),
                checksum_url=os.environ.get("KNOOPPUNT_BAG_CHECKSUM_URL"),
                progress=progress,
            )
        )
    if source := os.environ.get("KNOOPPUNT_BAG_MUTATIES"):
        results.extend(fetch_mutations(source, data_dir / "bag-mutaties", progress=progress))
    return results
