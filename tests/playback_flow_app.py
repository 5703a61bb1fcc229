"""A tiny ASGI app for tests/test_playback_flow_guard.py, run by a real daphne:

  GET /stream   streams 64 KiB bodies as fast as `Flow.writable()` lets it, until the client leaves
  GET /status   JSON: bytes handed to send so far, whether the flow is paused, its class, disconnects

The writer yields to the loop after each send, as the hub's players do (daphne's send itself never
yields), so without backpressure it would run free and fill daphne's buffer at memory speed.
"""

import asyncio
import json

from playback.flow import Flow

CHUNK = b"\x47" + b"\xff" * (64 * 1024 - 1)
state = {"sent": 0, "paused": None, "flow": None, "streams": 0, "disconnects": 0}


async def application(scope, receive, send):
    if scope["type"] != "http":
        return
    if scope["path"] == "/status":
        body = json.dumps(state).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})
    elif scope["path"] == "/stream":
        await stream(receive, send)
    else:
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def stream(receive, send):
    flow = Flow.for_send(send)
    state["flow"] = type(flow).__name__
    state["streams"] += 1
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"video/mp2t")]})

    async def writer():
        while True:
            await flow.writable()
            if flow.stopped:
                return
            await send({"type": "http.response.body", "body": CHUNK, "more_body": True})
            state["sent"] += len(CHUNK)
            state["paused"] = flow.paused
            await asyncio.sleep(0)

    task = asyncio.create_task(writer())
    try:
        while (await receive())["type"] != "http.disconnect":
            pass
        state["disconnects"] += 1
    finally:
        task.cancel()
        flow.close()
