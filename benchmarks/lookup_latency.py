"""Lookup latency and throughput of the officers' web interface on a generated municipality.

    .venv/bin/python benchmarks/lookup_latency.py --addresses 100000
    .venv/bin/python benchmarks/lookup_latency.py --addresses 100000 --reuse   # skip the pipeline run

Generates a synthetic municipality (``sources.synthetic.generate``), runs the main job
(``pipelines.runner.run_pipeline``) into ``benchmarks/out/lookup-<N>/`` and serves the real app with
uvicorn on 127.0.0.1. It then measures, over real HTTP with a signed-in session (CSRF, rate limiter
raised out of the way, every lookup logged in the hash-chained processing log as in production):

* address hit/no-hit (``POST /zoeken``): p50/p95/p99 of sequential requests over random addresses;
* the same through ``web.lookups.LookupService.hit`` in process (no HTTP), for the breakdown;
* details (``POST /details``, with the map) for hits;
* throughput with 1, 4 and 8 concurrent users (each its own account and session).

Traffic goes only to 127.0.0.1; every loop is bounded by a request count.
"""

from __future__ import annotations

import argparse
import random
import re
import secrets
import shutil
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import uvicorn

from pipelines.warehouse import Warehouse, connect, current_release
from web.accounts import AccountStore
from web.app import create_app
from web.config import WebSettings
from web.lookups import LookupService
from web.validation import TargetInput

OUT = Path(__file__).resolve().parent / "out"
PURPOSE = "bibob_screening"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
REQUEST = re.compile(r'name="verzoek" value="([^"]+)"')


def build(addresses: int, seed: int, reuse: bool) -> Path:
    from pipelines.runner import run_pipeline
    from sources.synthetic import generate

    base = OUT / f"lookup-{addresses}"
    root = base / "warehouse"
    if reuse and (root / "releases" / "CURRENT").exists():
        print(f"reusing {root}")
        return root
    shutil.rmtree(base, ignore_errors=True)
    t = time.perf_counter()
    generate(base / "data", addresses, seed)
    print(f"generated {addresses:,} addresses in {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    outcome = run_pipeline(base / "data", root)
    if not outcome.success:
        sys.exit(f"pipeline failed: {outcome.failures}")
    print(f"pipeline run and release in {time.perf_counter() - t:.1f} s")
    return root


def sample_addresses(root: Path, n: int, seed: int) -> list[dict[str, str]]:
    con = connect(current_release(Warehouse(root)), read_only=True)
    try:
        rows = con.execute(
            """SELECT postcode, CAST(huisnummer AS VARCHAR), coalesce(huisletter, ''),
                      coalesce(huisnummertoevoeging, ''),
                      nummeraanduiding_id IN (SELECT nummeraanduiding_id FROM signals.flags
                                              WHERE nummeraanduiding_id IS NOT NULL)
               FROM bag.adres WHERE postcode IS NOT NULL"""
        ).fetchall()
    finally:
        con.close()
    rng = random.Random(seed)
    flagged = [r for r in rows if r[4]]
    picked = rng.sample(rows, min(n, len(rows))) + flagged[: max(1, n // 10)]
    rng.shuffle(picked)
    keys = ("postcode", "huisnummer", "huisletter", "toevoeging")
    return [dict(zip(keys, r[:4], strict=True)) for r in picked]


def percentiles(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return (
        f"n={len(ms):>5}  p50={q[49]:7.1f} ms  p95={q[94]:7.1f} ms  p99={q[98]:7.1f} ms  max={ms[-1]:7.1f} ms"
    )


class Officer:
    def __init__(self, base_url: str, user: str, password: str):
        self.http = httpx.Client(base_url=base_url, follow_redirects=False, timeout=60)
        token = CSRF.search(self.http.get("/aanmelden").text).group(1)
        r = self.http.post(
            "/aanmelden", data={"csrf_token": token, "gebruiker": user, "wachtwoord": password}
        )
        assert r.status_code == 303, r.text
        self.token = CSRF.search(self.http.get("/zoeken").text).group(1)

    def search(self, address: dict[str, str], case: str = "BENCH-1") -> httpx.Response:
        data = {"csrf_token": self.token, "soort": "address", "doel": PURPOSE, "zaak": case, **address}
        r = self.http.post("/zoeken", data=data)
        assert r.status_code == 200, r.text[:500]
        return r

    def details(self, page: str) -> httpx.Response:
        r = self.http.post(
            "/details", data={"csrf_token": self.token, "verzoek": REQUEST.search(page).group(1)}
        )
        assert r.status_code == 200
        return r


def timed_searches(officer: Officer, addresses: list[dict[str, str]]) -> list[float]:
    times = []
    for a in addresses:
        t = time.perf_counter()
        officer.search(a)
        times.append(time.perf_counter() - t)
    return times


def serve(root: Path) -> tuple[str, uvicorn.Server, threading.Thread]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(WebSettings(warehouse_root=root, lookups_per_minute=10**9))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server, thread


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--addresses", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20201)
    parser.add_argument("--requests", type=int, default=500, help="sequential lookups to time")
    parser.add_argument("--concurrency", default="1,4,8", help="concurrent users for the throughput runs")
    parser.add_argument("--per-user", type=int, default=100, help="lookups per user in a throughput run")
    parser.add_argument("--reuse", action="store_true", help="reuse an earlier generated warehouse")
    args = parser.parse_args()

    root = build(args.addresses, args.seed, args.reuse)
    users = [int(c) for c in args.concurrency.split(",")]
    password = secrets.token_urlsafe(16)
    store = AccountStore(root)
    for i in range(max(users) + 1):
        if store.get(f"bench{i}") is None:
            store.add(f"bench{i}", "bibob_officer", password, f"Benchmark {i}")
        else:
            store.set_password(f"bench{i}", password)
    addresses = sample_addresses(root, args.requests, args.seed)
    print(f"{len(addresses):,} sampled addresses ({args.addresses:,}-address municipality)")

    service = LookupService(root)
    service.hit(
        "bench0", "bibob_officer", PURPOSE, "BENCH-0", TargetInput("address", "0000AA|1||", "")
    )  # warm
    in_process = []
    for a in addresses:
        value = f"{a['postcode']}|{a['huisnummer']}|{a['huisletter']}|{a['toevoeging']}"
        t = time.perf_counter()
        service.hit("bench0", "bibob_officer", PURPOSE, "BENCH-0", TargetInput("address", value, ""))
        in_process.append(time.perf_counter() - t)

    base_url, server, thread = serve(root)
    try:
        officer = Officer(base_url, "bench0", password)
        officer.search(addresses[0])  # warm the shared release connection
        http_hit, http_detail, hits = [], [], 0
        for a in addresses:
            t = time.perf_counter()
            r = officer.search(a)
            http_hit.append(time.perf_counter() - t)
            if "<h1>Treffer</h1>" in r.text and len(http_detail) < 100:
                hits += 1
                t = time.perf_counter()
                officer.details(r.text)
                http_detail.append(time.perf_counter() - t)

        print("\naddress lookup latency")
        print(f"  hit/no-hit, in process (LookupService.hit)     {percentiles(in_process)}")
        print(f"  hit/no-hit, HTTP POST /zoeken                  {percentiles(http_hit)}")
        if http_detail:
            print(f"  details with map, HTTP POST /details           {percentiles(http_detail)}")
        print(f"  ({hits} hits among the sequential lookups)")

        print("\nthroughput with concurrent users (HTTP, one uvicorn worker)")
        for n in users:
            officers = [Officer(base_url, f"bench{i + 1}", password) for i in range(n)]
            work = [addresses[(i * 37) % len(addresses) :] + addresses for i in range(n)]

            t = time.perf_counter()
            with ThreadPoolExecutor(n) as pool:
                runs = pool.map(timed_searches, officers, [w[: args.per_user] for w in work])
                results = [x for times in runs for x in times]
            wall = time.perf_counter() - t
            print(f"  {n:>2} users: {len(results) / wall:7.1f} lookups/s   {percentiles(results)}")
    finally:
        server.should_exit = True
        thread.join(timeout=10)


if __name__ == "__main__":
    main()
