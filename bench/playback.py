"""The playback proxy under load, against not having one.

1. Fan-out: CONTENTS contents × PLAYERS_EACH players on /ace/getstream for SECONDS at RATE_KBPS
   per content: the slowest player's rate against the engine's, and the web process's CPU per
   10 MiB/s delivered. Baseline in the same run: the same players reading the same engine
   sessions directly, the engines' own CPU per 10 MiB/s for serving them (the cost of not having
   a proxy). A Go proxy (ACEXY_BIN) would be measured beside them; none is on this machine.
2. A late joiner's first byte, p50/p99, on a running content.
3. Failover: `docker kill` of the serving engine to the first byte of the new session on the
   same connection, with a free engine waiting, and with none (a new one is provisioned).
4. The web process's RSS with no player and with all of them.

Run: python -m bench.playback [seconds]
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker
import httpx

from bench.common import Row, median, percentile, print_table
from tests.support import ts
from tests.support.images import engine_sim_image
from tests.support.live import Orchestrator
from tests.support.players import Player

CONTENTS, PLAYERS_EACH, SECONDS = 20, 10, 60
RATE_KBPS = 256
CLOCK = os.sysconf("SC_CLK_TCK")
MIB = 2**20


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK


def rss_mib(pid: int) -> float:
    line = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def engines_cpu_seconds(client: docker.DockerClient, container_ids) -> float:
    return sum(client.api.stats(cid, stream=False, one_shot=True)["cpu_stats"]["cpu_usage"][
        "total_usage"] for cid in container_ids) / 1e9


class Counting:
    """A reader that counts what it gets: thousands of them cost the bench little."""

    def __init__(self, host: str, port: int, request: bytes):
        self.host, self.port, self.request = host, port, request
        self.count = 0

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(self.request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        assert b" 200 " in head.split(b"\r\n", 1)[0], head

    async def read_for(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                async with asyncio.timeout(left):
                    data = await self.reader.read(256 * 1024)
            except TimeoutError:
                break
            if not data:
                break
            self.count += len(data)

    def close(self) -> None:
        self.writer.close()


async def measure(readers: list[Counting], seconds: float, cpu) -> tuple[float, float]:
    """Open them all, read 3 s of warm-up, then `seconds` counted: (seconds measured, CPU
    seconds `cpu()` grew by meanwhile)."""
    for reader in readers:
        await reader.open()
    await asyncio.gather(*(reader.read_for(3) for reader in readers))
    for reader in readers:
        reader.count = 0
    began, cpu_before = time.monotonic(), await asyncio.to_thread(cpu)
    await asyncio.gather(*(reader.read_for(seconds) for reader in readers))
    elapsed, used = time.monotonic() - began, await asyncio.to_thread(cpu) - cpu_before
    for reader in readers:
        reader.close()
    return elapsed, used


def proxied(port: int, key: str) -> list[Counting]:
    return [Counting("127.0.0.1", port, f"GET /ace/getstream?id={number:040x}&key={key} HTTP/1.1\r\n"
                     f"Host: 127.0.0.1\r\n\r\n".encode())
            for number in range(1, CONTENTS + 1) for _ in range(PLAYERS_EACH)]


def direct(playback_urls: list[str]) -> list[Counting]:
    readers = []
    for url in playback_urls:
        parts = httpx.URL(url)
        request = f"GET {parts.raw_path.decode()} HTTP/1.0\r\nHost: {parts.host}\r\n\r\n".encode()
        readers += [Counting(parts.host, parts.port, request) for _ in range(PLAYERS_EACH)]
    return readers


async def probe_loop(port: int, key: str, lags: list[float]) -> None:
    """HEAD on the playback route every 0.2 s: answered on the web's event loop alone (no thread,
    no database), so its time says whether anything blocks that loop while it fans out."""
    request = f"HEAD /ace/getstream?id={1:040x}&key={key} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    while True:
        began = time.monotonic()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request)
        await reader.readuntil(b"\r\n\r\n")
        lags.append(time.monotonic() - began)
        writer.close()
        await asyncio.sleep(0.2)


async def late_joiners(port: int, key: str, count: int = 40) -> list[float]:
    timings = []
    for _ in range(count):
        player = Player(f"127.0.0.1:{port}", f"id={1:040x}&key={key}")
        await player.open()
        await player.read_until(1)
        timings.append(player.first_byte_s)
        player.close()
    return timings


async def failover_gap(orch: Orchestrator, fleet: docker.DockerClient, content: int) -> float:
    """Seconds from `docker kill` of the content's engine to a packet of the new session."""
    player = Player(f"127.0.0.1:{orch.port}", f"id={content:040x}&key={orch.api_key}")
    await player.open()
    await player.read_until(64 * 1024)
    with orch.client() as client:
        stream = next(s for s in client.get("/streams", params={"status": "started"}).json()
                      if s["key"] == f"{content:040x}")
    await asyncio.to_thread(fleet.containers.get(stream["container_id"]).kill)
    killed = time.monotonic()
    while len({run.session_id for run in ts.verify(bytes(
            player.received[:len(player.received) // 188 * 188])).runs}) < 2:
        await player.read_until(len(player.received) + 188, timeout=60)
    gap = time.monotonic() - killed
    player.close()
    return gap


def main(seconds: float = SECONDS) -> list[Row]:
    fleet = docker.from_env()
    env = {"TARGET_IMAGE": engine_sim_image(), "MIN_REPLICAS": "0", "AUTO_DELETE": "false",
           "MAX_REPLICAS": str(CONTENTS + 4), "PROXY_MAX_STREAMS": str(CONTENTS + 2)}
    with Orchestrator(env=env) as orch:
        web = orch.children["web"].pid
        with orch.client(timeout=120) as client, ThreadPoolExecutor(8) as pool:
            # Warm engines, one more than the contents: a free one for the first failover.
            engines = list(pool.map(lambda _: client.post(
                "/provision/acestream", json={"wait_ready": True}).json(), range(CONTENTS + 1)))
            for engine in engines:
                httpx.get(f"http://127.0.0.1:{engine['host_http_port']}/sim/rate",
                          params={"kbps": RATE_KBPS}, timeout=5)
        rss_idle = rss_mib(web)
        readers = proxied(orch.port, orch.api_key)

        async def fan_out():
            probing = asyncio.create_task(probe_loop(orch.port, orch.api_key, lags))
            found = await measure(readers, seconds, lambda: cpu_seconds(web))
            probing.cancel()
            return *found, rss_mib(web)

        lags: list[float] = []
        elapsed, web_cpu, rss_loaded = asyncio.run(fan_out())
        delivered = sum(reader.count for reader in readers) / elapsed
        slowest = min(reader.count for reader in readers) / elapsed
        joins = asyncio.run(late_joiners(orch.port, orch.api_key))
        with_free = asyncio.run(failover_gap(orch, fleet, 1))
        without_free = asyncio.run(failover_gap(orch, fleet, 2))
        # The baseline's sessions: one per running engine, started on the engine itself.
        live = [engine for engine in engines
                if fleet.containers.list(filters={"id": engine["container_id"]})][:CONTENTS]
        urls = [httpx.get(f"http://127.0.0.1:{engine['host_http_port']}/ace/getstream",
                          params={"id": f"{900 + number:040x}", "format": "json"},
                          timeout=10).json()["response"]["playback_url"]
                for number, engine in enumerate(live)]
        ids = [engine["container_id"] for engine in live]

        baseline = direct(urls)
        direct_elapsed, engines_cpu = asyncio.run(measure(
            baseline, seconds, lambda: engines_cpu_seconds(fleet, ids)))
        direct_rate = sum(reader.count for reader in baseline) / direct_elapsed

    per_10 = (web_cpu / elapsed) / (delivered / (10 * MIB))
    direct_per_10 = (engines_cpu / direct_elapsed) / (direct_rate / (10 * MIB))
    rows = [
        Row(f"slowest of {len(readers)} players, share of the engine's rate",
            slowest / (RATE_KBPS * 1024), 1.0, ">= 0.95", unit=" "),
        Row(f"web CPU (cores) per 10 MiB/s, {delivered / MIB:.1f} MiB/s to {len(readers)} players "
            "(baseline: the engines serving them directly)", per_10, direct_per_10,
            "no more than a Go proxy (ACEXY_BIN: none here)", unit=" "),
        Row(f"web event loop during the fan-out: HEAD /ace/getstream, p99 of {len(lags)}",
            percentile(lags, 99), 0.1, "< 100 ms: nothing blocks the loop"),
        Row("late joiner first byte, p50", median(joins), None, "-"),
        Row("late joiner first byte, p99", percentile(joins, 99), 0.1, "< 100 ms"),
        Row("docker kill -> bytes again, a free engine waiting", with_free, 3.0, "< 3 s"),
        Row("docker kill -> bytes again, a new engine provisioned", without_free, None,
            "< provision + 3 s"),
        Row(f"web RSS growth, 0 -> {len(readers)} players", rss_loaded - rss_idle, rss_idle,
            "bounded (rings of 8 MiB at most)", unit="M"),
    ]
    print_table(f"playback: {CONTENTS} contents x {PLAYERS_EACH} players at {RATE_KBPS} KiB/s "
                f"for {seconds:.0f} s", rows)
    return rows


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else SECONDS)
