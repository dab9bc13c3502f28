#!/usr/bin/env python3
"""A sample bot for the gateway's sidecar protocol 1.1 (docs/sidecar-protocol.md), in Python 3 with asyncio and
`websockets` (Debian: apt-get install python3-websockets; else pip install websockets). The same bot as
examples/sidecar-bot.mjs.

    python3 examples/sidecar_bot.py --port 8765        (listens on 127.0.0.1; --host 0.0.0.0 for all interfaces)
    BOT_ADAPTER=remote BOT_URL=ws://127.0.0.1:8765 npm start

It greets the caller, answers what it hears ("You said ...", streamed as a few `say` pieces), reads back key presses,
says goodbye and hangs up on "goodbye" or #, and on 0 says it is transferring, waits until that has played (its reply
id comes back in the playback event), then transfers the call to TRANSFER_NUMBER. Every message it receives is printed
to stdout as one JSON line. If BOT_AUTH_TOKEN is set, connections must carry that bearer token.
"""
import argparse
import asyncio
import http
import json
import os
import re
import signal
import sys
from urllib.parse import parse_qs, urlparse

try:
    import websockets
except ImportError:
    sys.exit("sidecar_bot.py needs the websockets module: apt-get install python3-websockets (for /usr/bin/python3), "
             "or pip install websockets")

SUBPROTOCOL = "vonage-gateway.v1"  # protocol 1.x; answering it gets the 1.1 error codes
TRANSFER_TO = os.environ.get("TRANSFER_NUMBER", "447700900000")  # an Ofcom drama number: replace with yours
TOKEN = os.environ.get("BOT_AUTH_TOKEN")


def emit(obj):
    print(json.dumps(obj), flush=True)


async def check_request(path, headers):
    """Refuse the upgrade (401) without the bearer token. The upgrade names the call: route or authorise on it here."""
    if TOKEN and headers.get("Authorization") != f"Bearer {TOKEN}":
        return http.HTTPStatus.UNAUTHORIZED, [], b"bad token\n"
    return None


class Call:
    """One call: one WebSocket from the gateway."""

    def __init__(self, ws):
        self.ws = ws
        self.n = 0  # our reply ids: the gateway echoes them in playback.finished / playback.interrupted
        self.transfer_after = None  # the id of the "transferring you now" reply

    async def send(self, msg):
        await self.ws.send(json.dumps(msg))

    async def say(self, text, **more):
        self.n += 1
        reply_id = more.pop("id", f"r{self.n}")
        await self.send({"type": "say", "text": text, **more, "id": reply_id})
        return reply_id

    async def stream(self, text):
        """Stream a reply in pieces, as an LLM would: end false on each, end true on the last; the id on the first."""
        words = text.split(" ")
        self.n += 1
        for i in range(0, len(words), 2):
            piece = {"type": "say", "text": (" " if i else "") + " ".join(words[i:i + 2]), "end": i + 2 >= len(words)}
            if i == 0:
                piece["id"] = f"r{self.n}"
            await self.send(piece)

    async def goodbye(self):
        await self.say("Thank you for calling. Goodbye!", interruptible=False, id="goodbye")
        await self.send({"type": "hangup", "reason": "caller said goodbye"})  # after the goodbye has played

    async def on_message(self, msg):
        kind = msg.get("type")
        if kind == "call.started":
            await self.say("Hello! You are talking to the sample bot. Say something, or press a key.", id="greeting")
        elif kind == "transcript":
            text = msg["text"].strip()
            if not msg["final"] or not text:
                return
            if re.search(r"\bgood ?bye\b", text, re.I):
                await self.goodbye()
            else:
                await self.stream(f"You said {text}.")
        elif kind == "dtmf":
            digit = msg["digit"]
            if digit == "#":
                await self.goodbye()
            elif digit == "0":
                self.transfer_after = await self.say("Transferring you now.", interruptible=False)
            else:
                await self.say(f"You pressed {'star' if digit == '*' else digit}.")
        elif kind in ("playback.finished", "playback.interrupted"):
            if msg.get("id") is not None and msg.get("id") == self.transfer_after:
                self.transfer_after = None
                await self.send({"type": "transfer", "phone": TRANSFER_TO})
        elif kind == "error":
            print(f"gateway refused a message: {msg['code']} {msg['reason']}", file=sys.stderr, flush=True)
        # speech.started, speech.ended, call.ended, and types added later: nothing to do here.


async def handle(ws, path=None):
    path = path if path is not None else getattr(ws, "path", "")
    call_id = parse_qs(urlparse(path).query).get("callId", [None])[0]
    emit({"event": "connected", "callId": call_id, "header": ws.request_headers.get("X-Vonage-Call-Id"), "subprotocol": ws.subprotocol})
    call = Call(ws)
    try:
        async for data in ws:
            msg = json.loads(data)
            emit({"received": msg})
            await call.on_message(msg)
    except websockets.ConnectionClosed:
        pass
    emit({"event": "closed", "code": ws.close_code})


async def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8765")))
    p.add_argument("--host", default="127.0.0.1")
    a = p.parse_args()
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    async with websockets.serve(handle, a.host, a.port, subprotocols=[SUBPROTOCOL], process_request=check_request, max_size=1024 * 1024) as server:
        emit({"event": "listening", "port": server.sockets[0].getsockname()[1]})
        await stop


if __name__ == "__main__":
    asyncio.run(main())
