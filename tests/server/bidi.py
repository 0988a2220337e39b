"""A tiny WebDriver BiDi client for the Firefox browser test: enough to drive Debian's
``firefox-esr`` headless with no geckodriver and no network.

Firefox (ESR >= 128) carries the BiDi remote agent itself: started with
``--remote-debugging-port PORT`` it listens on ``ws://127.0.0.1:PORT/session``. `Firefox` starts it
on a fresh profile whose prefs let media autoplay and play to a mock audio device; `BiDi` sends
commands over that websocket and waits for the answer with the same id, keeping the events that
arrive meanwhile (the page's log, for its JavaScript errors). This is a test helper: it drives one
tab and does not try to be a general WebDriver client.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import subprocess
import time
from contextlib import ExitStack, suppress
from pathlib import Path
from types import TracebackType
from typing import Any

from websockets.exceptions import WebSocketException
from websockets.sync.client import ClientConnection, connect

__all__ = ["BiDi", "BiDiError", "Firefox", "firefox_exe"]

# Prefs for a headless test run: media may start without a user gesture, and nothing phones home.
PREFS: dict[str, bool | int | str] = {
    "media.autoplay.default": 0,  # 0 = allow audible autoplay
    "media.autoplay.blocking_policy": 0,
    # No sound server here: Firefox's own mock audio backend (MockCubeb) consumes the audio in real
    # time, so <audio> really plays. Without it the element raises MEDIA_ERR_DECODE
    # ("OnMediaSinkAudioError", the cubeb context cannot open).
    "media.cubeb.force_mock_context": True,
    "remote.active-protocols": 1,  # WebDriver BiDi only
    "browser.shell.checkDefaultBrowser": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "app.update.enabled": False,
}


class BiDiError(AssertionError):
    """The browser answered a command with an error (its `error` and `message` are kept)."""


def firefox_exe() -> str:
    """Path of Debian's Firefox ESR (or a plain `firefox`)."""
    exe = shutil.which("firefox-esr") or shutil.which("firefox")
    assert exe, "Debian's firefox-esr is not installed; run `make system`"
    return exe


class BiDi:
    """Commands over one BiDi websocket: `call` sends one and returns its ``result``."""

    def __init__(self, ws: ClientConnection, *, timeout: float = 30.0) -> None:
        self.ws = ws
        self.timeout = timeout
        self.events: list[dict[str, Any]] = []
        self._ids = itertools.count(1)

    def call(self, method: str, timeout: float | None = None, **params: Any) -> dict[str, Any]:
        """Send `method` with `params`; wait (up to `timeout` s) for its answer."""
        msg_id = next(self._ids)
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no answer to BiDi {method} within {timeout or self.timeout} s")
            try:
                msg = json.loads(self.ws.recv(timeout=left))
            except TimeoutError:
                continue
            if msg.get("id") != msg_id:
                if msg.get("type") == "event":
                    self.events.append(msg)
                continue
            if msg.get("type") == "error":
                raise BiDiError(f"BiDi {method}: {msg.get('error')}: {msg.get('message')}")
            result: dict[str, Any] = msg["result"]
            return result


def _value(remote: dict[str, Any]) -> Any:
    """A BiDi serialized RemoteValue as Python (primitives, arrays and plain objects)."""
    kind = remote["type"]
    if kind in ("undefined", "null"):
        return None
    if kind in ("string", "boolean"):
        return remote["value"]
    if kind == "number":
        v = remote["value"]
        return float(v) if isinstance(v, str) else v  # "NaN", "Infinity", "-0"
    if kind == "array":
        return [_value(v) for v in remote.get("value", [])]
    if kind == "object":
        return {k: _value(v) for k, v in remote.get("value", [])}
    return remote  # nodes, windows...: left as the browser described them


class Firefox:
    """Headless Firefox with the BiDi agent on `port` and a fresh profile in `profile`.

    A context manager: entering starts the browser, opens a session and sets `bidi` and `context`
    (the first tab); leaving ends the session and stops the browser. Firefox's stdout and stderr
    go to ``profile/../firefox.log``.
    """

    def __init__(self, *, port: int, profile: Path, width: int = 1000, height: int = 800,
                 prefs: dict[str, bool | int | str] | None = None) -> None:
        self.port = port
        self.profile = profile
        self.size = (width, height)
        self.prefs = {**PREFS, **(prefs or {})}
        self.log = profile.parent / "firefox.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._ws: ClientConnection | None = None
        self._stack = ExitStack()
        self.bidi: BiDi
        self.context: str

    def __enter__(self) -> Firefox:
        self.profile.mkdir(parents=True, exist_ok=True)
        self.profile.joinpath("user.js").write_text("".join(
            f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in self.prefs.items()))
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                [firefox_exe(), "--headless", "--no-remote", "--remote-debugging-port",
                 str(self.port), "--profile", str(self.profile), "about:blank"],
                stdout=out, stderr=subprocess.STDOUT,
                env={**os.environ, "MOZ_HEADLESS_WIDTH": str(self.size[0]),
                     "MOZ_HEADLESS_HEIGHT": str(self.size[1])})
        try:
            self._ws = self._connect(deadline=time.monotonic() + 45)
            self.bidi = BiDi(self._ws)
            self.bidi.call("session.new", capabilities={})
            self.bidi.call("session.subscribe", events=["log.entryAdded"])
            tree = self.bidi.call("browsingContext.getTree", maxDepth=0)
            self.context = tree["contexts"][0]["context"]
            self.bidi.call("browsingContext.setViewport", context=self.context,
                           viewport={"width": self.size[0], "height": self.size[1]})
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _connect(self, *, deadline: float) -> ClientConnection:
        url = f"ws://127.0.0.1:{self.port}/session"
        while True:
            try:  # proxy=None: loopback, whatever the environment's proxy says
                return self._stack.enter_context(
                    connect(url, max_size=None, open_timeout=5, proxy=None))
            except (OSError, WebSocketException):
                assert self.process is not None
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"firefox did not open BiDi on {url}:\n"
                                         f"{self.log.read_text(errors='replace')}") from None
                time.sleep(0.3)

    def navigate(self, url: str) -> None:
        """Load `url` in the tab and wait for its load event."""
        self.bidi.call("browsingContext.navigate", context=self.context, url=url, wait="complete")

    def evaluate(self, expression: str) -> Any:
        """Evaluate `expression` in the page (promises awaited); return its value as Python."""
        res = self.bidi.call("script.evaluate", expression=expression, awaitPromise=True,
                             target={"context": self.context}, resultOwnership="none")
        if res["type"] == "exception":
            details = res["exceptionDetails"]
            raise BiDiError(f"page threw on {expression!r}: {details.get('text')}")
        return _value(res["result"])

    def wait_for(self, expression: str, *, timeout: float, poll: float = 0.2) -> Any:
        """Poll `expression` until it is truthy; return that value or fail after `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"{expression!r} still {value!r} after {timeout} s")
            time.sleep(poll)

    def _node(self, selector: str) -> dict[str, Any]:
        res = self.bidi.call("browsingContext.locateNodes", context=self.context,
                             locator={"type": "css", "value": selector}, maxNodeCount=1)
        assert res["nodes"], f"no element matches {selector!r}"
        node: dict[str, Any] = res["nodes"][0]
        return {"sharedId": node["sharedId"]}

    def click(self, selector: str) -> None:
        """A real mouse click (a user gesture) in the middle of the element at `selector`."""
        self.bidi.call("input.performActions", context=self.context, actions=[{
            "type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
            "actions": [
                {"type": "pointerMove", "x": 0, "y": 0,
                 "origin": {"type": "element", "element": self._node(selector)}},
                {"type": "pointerDown", "button": 0}, {"type": "pointerUp", "button": 0}]}])

    def type_text(self, selector: str, text: str) -> None:
        """Click into the field at `selector` and type `text` key by key."""
        self.click(selector)
        keys: list[dict[str, str]] = []
        for ch in text:
            keys += [{"type": "keyDown", "value": ch}, {"type": "keyUp", "value": ch}]
        self.bidi.call("input.performActions", context=self.context, actions=[
            {"type": "key", "id": "keyboard", "actions": keys}])

    def screenshot(self, path: Path) -> None:
        """Save a PNG of the whole document (``origin: document``) to `path`."""
        res = self.bidi.call("browsingContext.captureScreenshot", context=self.context,
                             origin="document")
        path.write_bytes(base64.b64decode(res["data"]))

    def page_errors(self) -> list[str]:
        """Uncaught JavaScript errors the page logged so far (``log.entryAdded`` events)."""
        return [e["params"].get("text", "") for e in self.bidi.events
                if e.get("method") == "log.entryAdded" and e["params"].get("type") == "javascript"
                and e["params"].get("level") == "error"]

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._ws is not None:
            # The browser is stopped below either way.
            with suppress(BiDiError, TimeoutError, WebSocketException):
                self.bidi.call("session.end", timeout=5)
            self._stack.close()
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

