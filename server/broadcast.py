"""The shared broadcast buffer: one station's MP3 segments fanned out to every listener.

The live engine (`radio.live`) publishes whole-MP3-frame `Segment`s about in real time (each a
fraction of a second, released a little ahead of the station's live point). `Broadcast` keeps
the last few seconds for late joiners and puts every new segment in each listener's own bounded
queue. A listener that joins late starts at the segment holding the live point, so it hears what
every other listener hears; a listener whose queue holds more than ``max_queue_s`` seconds (its
connection cannot keep up) is dropped, so one slow client never stalls the others or grows
memory. `IcyWriter` interleaves SHOUTcast/ICY ``StreamTitle`` metadata for players that ask for
it with ``Icy-MetaData: 1``.

Everything here runs on the server's event loop (publishers on other threads hand segments
over with ``loop.call_soon_threadsafe``), so there are no locks; nothing here touches audio.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator

from radio.live_pacer import Segment

__all__ = ["Broadcast", "IcyWriter", "Listener", "icy_block"]


class Listener:
    """One client's view of a broadcast: a bounded queue of segments to send."""

    def __init__(self, broadcast: Broadcast) -> None:
        self._broadcast = broadcast
        self._queue: deque[Segment] = deque()
        self._queued_s = 0.0
        self._wake = asyncio.Event()
        self.dropped = False  # fell too far behind
        self.closed = False  # the station stopped or the client left
        self.sent_bytes = 0

    @property
    def queued_seconds(self) -> float:
        return self._queued_s

    def _put(self, segment: Segment) -> None:
        self._queue.append(segment)
        self._queued_s += segment.duration
        self._wake.set()

    def _close(self, *, dropped: bool = False) -> None:
        self.dropped = self.dropped or dropped
        self.closed = True
        self._queue.clear()
        self._queued_s = 0.0
        self._wake.set()

    async def next(self) -> Segment | None:
        """The next segment, waiting for it; None once this listener is closed or dropped."""
        while not self._queue:
            if self.closed:
                return None
            self._wake.clear()
            await self._wake.wait()
        if self.closed:
            return None
        segment = self._queue.popleft()
        self._queued_s -= segment.duration
        self.sent_bytes += len(segment.data)
        return segment

    async def __aiter__(self) -> AsyncIterator[Segment]:
        while (segment := await self.next()) is not None:
            yield segment

    def leave(self) -> None:
        """The client went away: stop receiving."""
        self._close()
        self._broadcast._remove(self)


class Broadcast:
    """Fan-out of one station's segments.

    Parameters
    ----------
    keep_s : float
        Seconds of recent segments kept for listeners that join.
    max_queue_s : float
        A listener with more than this many seconds waiting is dropped.
    max_listeners : int
        `subscribe` refuses more (the caller turns that into a 503).
    """

    def __init__(self, *, keep_s: float = 10.0, max_queue_s: float = 15.0,
                 max_listeners: int = 200) -> None:
        self.keep_s = keep_s
        self.max_queue_s = max_queue_s
        self.max_listeners = max_listeners
        self._recent: deque[Segment] = deque()
        self._listeners: set[Listener] = set()
        self.closed = False
        self.dropped = 0  # listeners dropped for being too slow, in all
        self.published = 0  # segments

    @property
    def listeners(self) -> int:
        return len(self._listeners)

    @property
    def newest(self) -> Segment | None:
        return self._recent[-1] if self._recent else None

    def publish(self, segment: Segment) -> None:
        """Append ``segment`` (the next in station time) and hand it to every listener."""
        if self.closed:
            return
        self.published += 1
        self._recent.append(segment)
        end = segment.start + segment.duration
        while self._recent and self._recent[0].start + self._recent[0].duration < end - self.keep_s:
            self._recent.popleft()
        for listener in list(self._listeners):
            listener._put(segment)
            if listener.queued_seconds > self.max_queue_s:
                self.dropped += 1
                listener._close(dropped=True)
                self._listeners.discard(listener)

    def subscribe(self, *, at: float | None = None) -> Listener:
        """A new listener starting at station time ``at`` (the live point; None: the newest).

        It first receives the kept segment holding ``at`` and every later one, then each new
        segment as it is published. Raises `OverflowError` when the station is full and
        `RuntimeError` when it has stopped.
        """
        if self.closed:
            raise RuntimeError("this station has stopped")
        if len(self._listeners) >= self.max_listeners:
            raise OverflowError(f"this station already has {self.max_listeners} listeners")
        listener = Listener(self)
        if at is None:
            backlog = [self._recent[-1]] if self._recent else []
        else:
            backlog = [s for s in self._recent if s.start + s.duration > at]
        for segment in backlog:
            listener._put(segment)
        self._listeners.add(listener)
        return listener

    def _remove(self, listener: Listener) -> None:
        self._listeners.discard(listener)

    def close(self) -> None:
        """End the broadcast: every listener's iteration finishes."""
        self.closed = True
        for listener in list(self._listeners):
            listener._close()
        self._listeners.clear()
        self._recent.clear()


def icy_block(title: str | None) -> bytes:
    """One ICY metadata block: a length byte (x16) and ``StreamTitle='...';`` padded with NULs.

    None gives the one-byte empty block. ICY has no escaping, so a ``'`` in the title becomes a
    typographic apostrophe; the text is cut to fit the block's 4080-byte maximum.
    """
    if title is None:
        return b"\x00"
    text = title.replace("'", "\u2019").replace("\x00", "")
    body = f"StreamTitle='{text}';".encode()
    if len(body) > 255 * 16:
        cut = text.encode()[: 255 * 16 - 16].decode("utf-8", "ignore")
        body = f"StreamTitle='{cut}';".encode()
    n = -(-len(body) // 16)
    return bytes([n]) + body.ljust(n * 16, b"\x00")


class IcyWriter:
    """Interleaves a metadata block after every ``metaint`` bytes of audio.

    A block carries the title only when it changed since the last one sent (players keep the
    last title), otherwise it is the single byte 0.
    """

    def __init__(self, metaint: int = 16000) -> None:
        if metaint < 1:
            raise ValueError("metaint must be positive")
        self.metaint = metaint
        self._left = metaint  # audio bytes until the next block
        self._sent_title: str | None = None

    def write(self, audio: bytes, title: str) -> bytes:
        """``audio`` with metadata blocks inserted where they fall; ``title`` is now playing."""
        out = bytearray()
        pos = 0
        while len(audio) - pos >= self._left:
            out += audio[pos : pos + self._left]
            pos += self._left
            new = title if title != self._sent_title else None
            out += icy_block(new)
            self._sent_title = title
            self._left = self.metaint
        out += audio[pos:]
        self._left -= len(audio) - pos
        return bytes(out)
