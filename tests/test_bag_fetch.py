"""The fetch step against a real HTTP server on 127.0.0.1 serving the Doesburg extract: resume
after a dropped connection, size and checksum checks, conditional GET, mutation pick-up."""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assets.ingest.bag import load_bag
from assets.ingest.bag_mutations import apply_bag_mutations
from pipelines.cli import app
from pipelines.fetch import FetchError, download, fetch_configured, fetch_mutations
from pipelines.warehouse import Warehouse
from sources.synthetic.bag_mutations import MutationSeries

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
EXTRACT = FIXTURES / "bag" / "BAGNLDL-15092020-small.zip"


class Remote:
    """What the server serves and what it was asked (a stand-in for PDOK: same HTTP semantics)."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.version = 1
        self.drop_after: list[int] = []  # per coming body response: close after this many bytes
        self.requests: list[dict[str, str]] = []

    def etag(self, path: str) -> str:
        return f'"{hashlib.sha256(self.files[path]).hexdigest()[:16]}-{self.version}"'

    last_modified = formatdate(1_600_000_000, usegmt=True)


def _handler(remote: Remote) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet test output
            pass

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            remote.requests.append({"path": self.path, **dict(self.headers.items())})
            if self.path.endswith("/"):
                links = "".join(
                    f'<a href="{name.rsplit("/", 1)[1]}">{name}</a>'
                    for name in sorted(remote.files)
                    if name.startswith(self.path)
                )
                return self._send(200, f"<html><body>{links}</body></html>".encode(), {})
            data = remote.files.get(self.path)
            if data is None:
                return self._send(404, b"not found", {})
            tags = {"ETag": remote.etag(self.path), "Last-Modified": remote.last_modified}
            if self.headers.get("If-None-Match") == tags["ETag"]:
                return self._send(304, b"", tags)
            start = 0
            rng = self.headers.get("Range")
            if rng and self.headers.get("If-Range") in (tags["ETag"], tags["Last-Modified"]):
                start = int(rng.removeprefix("bytes=").rstrip("-"))
                if start >= len(data):
                    return self._send(416, b"", {"Content-Range": f"bytes */{len(data)}"})
                tags["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
                return self._send(206, data[start:], tags)
            return self._send(200, data, tags)

        def _send(self, code: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(code)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if code in (304,):
                return
            if code in (200, 206) and remote.drop_after and len(body) > 1000:
                cut = remote.drop_after.pop(0)
                self.wfile.write(body[:cut])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)  # the connection drops mid-file
                return
            self.wfile.write(body)

    return Handler


@pytest.fixture
def remote():
    state = Remote()
    state.files["/lvbag/lvbag-extract-nl.zip"] = EXTRACT.read_bytes()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_download_resumes_after_a_dropped_connection(remote, tmp_path) -> None:
    data = remote.files["/lvbag/lvbag-extract-nl.zip"]
    remote.drop_after = [100_000, 150_000]  # two drops: at 100,000 and at 250,000 bytes
    seen: list[tuple[int, int | None]] = []
    result = download(
        f"{remote.base}/lvbag/lvbag-extract-nl.zip",
        tmp_path / "bag",
        sha256=_sha(data),
        progress=lambda done, total: seen.append((done, total)),
        backoff=0.01,
    )
    assert result.status == "downloaded"
    assert result.resumed_from == [100_000, 250_000]
    assert result.path.read_bytes() == data
    assert [r.get("Range") for r in remote.requests] == [None, "bytes=100000-", "bytes=250000-"]
    assert remote.requests[1]["If-Range"] == remote.etag("/lvbag/lvbag-extract-nl.zip")
    assert seen[-1] == (len(data), len(data))
    assert sorted(p.name for p in (tmp_path / "bag").iterdir()) == [
        ".lvbag-extract-nl.zip.fetch.json",
        "lvbag-extract-nl.zip",
    ]


def test_an_unchanged_file_is_not_downloaded_again(remote, tmp_path) -> None:
    url = f"{remote.base}/lvbag/lvbag-extract-nl.zip"
    first = download(url, tmp_path)
    again = download(url, tmp_path)
    assert again.status == "not modified"
    assert again.sha256 == first.sha256 == _sha(remote.files["/lvbag/lvbag-extract-nl.zip"])
    assert remote.requests[-1]["If-None-Match"] == remote.etag("/lvbag/lvbag-extract-nl.zip")
    assert remote.requests[-1]["If-Modified-Since"] == remote.last_modified
    remote.version = 2  # a new extract on the server: downloaded again
    assert download(url, tmp_path).status == "downloaded"


def test_a_later_run_resumes_and_a_changed_file_starts_over(remote, tmp_path) -> None:
    url = f"{remote.base}/lvbag/lvbag-extract-nl.zip"
    remote.drop_after = [60_000]
    with pytest.raises(FetchError, match="run again to resume from 60000 bytes"):
        download(url, tmp_path, retries=0)
    assert not (tmp_path / "lvbag-extract-nl.zip").exists()  # never a half file under the real name
    result = download(url, tmp_path)  # the next run asks for the rest
    assert result.resumed_from == [60_000]
    assert result.path.read_bytes() == remote.files["/lvbag/lvbag-extract-nl.zip"]

    other = tmp_path / "other"
    remote.drop_after = [60_000]
    with pytest.raises(FetchError):
        download(url, other, retries=0)
    remote.version = 3  # the file changed on the server: If-Range fails, the whole new file comes
    result = download(url, other)
    assert result.resumed_from == []
    assert remote.requests[-1]["Range"] == "bytes=60000-"
    assert result.path.read_bytes() == remote.files["/lvbag/lvbag-extract-nl.zip"]


def test_checksum_and_size_are_checked(remote, tmp_path) -> None:
    url = f"{remote.base}/lvbag/lvbag-extract-nl.zip"
    data = remote.files["/lvbag/lvbag-extract-nl.zip"]
    with pytest.raises(FetchError, match="sha256 .* differs from the expected 0000"):
        download(url, tmp_path, sha256="0" * 64)
    with pytest.raises(FetchError, match=f"size {len(data)} differs from the expected 12 bytes"):
        download(url, tmp_path, expected_size=12)
    assert list(tmp_path.iterdir()) == []  # nothing left behind
    remote.files["/lvbag/lvbag-extract-nl.zip.sha256"] = f"{_sha(data)}  lvbag-extract-nl.zip\n".encode()
    result = download(url, tmp_path, checksum_url=f"{url}.sha256")
    assert result.sha256 == _sha(data)


def test_a_truncated_response_is_not_taken_as_the_file(remote, tmp_path) -> None:
    url = f"{remote.base}/lvbag/lvbag-extract-nl.zip"
    remote.drop_after = [1000] * 3
    with pytest.raises(FetchError, match="after 2 retries"):
        download(url, tmp_path, retries=2, backoff=0.01)
    assert not (tmp_path / "lvbag-extract-nl.zip").exists()


def test_mutation_files_from_a_url_and_from_a_folder(remote, tmp_path) -> None:
    series = MutationSeries(start=dt.date(2026, 11, 1), addresses=20, seed=5)
    series.advance(3)
    produced = [
        series.write_mutations(tmp_path / "produced", series.start + dt.timedelta(days=i)) for i in range(3)
    ]
    for path in produced:
        remote.files[f"/mutaties/{path.name}"] = path.read_bytes()
    landing = tmp_path / "data" / "bag-mutaties"
    fetched = fetch_mutations(f"{remote.base}/mutaties/", landing)
    assert [f.status for f in fetched] == ["downloaded"] * 3
    assert sorted(p.name for p in landing.glob("*.zip")) == [p.name for p in produced]
    assert [f.status for f in fetch_mutations(f"{remote.base}/mutaties/", landing)] == ["not modified"] * 3

    from_folder = tmp_path / "data2" / "bag-mutaties"
    assert [f.status for f in fetch_mutations(str(tmp_path / "produced"), from_folder)] == ["downloaded"] * 3
    assert [f.status for f in fetch_mutations(str(tmp_path / "produced"), from_folder)] == ["present"] * 3

    # What landed is what ingest applies.
    warehouse = Warehouse(tmp_path / "wh")
    load_bag(warehouse, series.write_stand(tmp_path / "stand", series.start), processes=1)
    report = apply_bag_mutations(warehouse, landing)
    assert report.extra["as_of"] == str(series.start + dt.timedelta(days=3))


def test_fetch_configured_by_environment(remote, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("KNOOPPUNT_BAG_URL", f"{remote.base}/lvbag/lvbag-extract-nl.zip")
    monkeypatch.setenv("KNOOPPUNT_BAG_SHA256", _sha(remote.files["/lvbag/lvbag-extract-nl.zip"]))
    monkeypatch.delenv("KNOOPPUNT_BAG_MUTATIES", raising=False)
    (result,) = fetch_configured(tmp_path / "data")
    assert result.path == tmp_path / "data" / "bag" / "lvbag-extract-nl.zip"
    monkeypatch.delenv("KNOOPPUNT_BAG_URL")
    assert fetch_configured(tmp_path / "data") == []


def test_only_http_urls_are_fetched(tmp_path) -> None:
    with pytest.raises(FetchError, match="only http:// and https://"):
        download(f"file://{EXTRACT}", tmp_path)


def test_knooppunt_fetch(remote, tmp_path) -> None:
    url = f"{remote.base}/lvbag/lvbag-extract-nl.zip"
    remote.drop_after = [200_000]
    result = CliRunner().invoke(app, ["fetch", "--url", url, "--data", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "downloaded:" in result.output and "MB of" in result.output
    assert (tmp_path / "bag" / "lvbag-extract-nl.zip").read_bytes() == EXTRACT.read_bytes()
    bad = CliRunner().invoke(
        app, ["fetch", "--url", url, "--sha256", "0" * 64, "--data", str(tmp_path / "x")]
    )
    assert bad.exit_code == 1
    assert "differs from the expected 0000" in " ".join(bad.output.split())
