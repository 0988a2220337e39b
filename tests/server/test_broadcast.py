"""The broadcast buffer (fan-out, late joiners, slow clients) and the ICY byte layout."""

from __future__ import annotations

import asyncio

import pytest

from radio.live_pacer import Segment
from server.broadcast import Broadcast, IcyWriter, icy_block


def seg(i: int, *, dur: float = 0.5, title: str = "A - One") -> Segment:
    return Segment(bytes([i % 256]) * 100, i * dur, dur, title, 0)


async def take(listener, n: int) -> list[Segment]:
    return [await asyncio.wait_for(listener.next(), 1.0) for _ in range(n)]


def test_every_listener_gets_every_segment_in_order() -> None:
    async def main() -> None:
        b = Broadcast(keep_s=5, max_queue_s=10)
        a, c = b.subscribe(at=0.0), b.subscribe(at=0.0)
        for i in range(6):
            b.publish(seg(i))
        assert [s.start for s in await take(a, 6)] == [i * 0.5 for i in range(6)]
        assert [s.start for s in await take(c, 6)] == [i * 0.5 for i in range(6)]
        assert b.listeners == 2

    asyncio.run(main())


def test_late_joiner_starts_at_the_live_point() -> None:
    async def main() -> None:
        b = Broadcast(keep_s=10, max_queue_s=10)
        for i in range(10):  # 0 .. 5 s published
            b.publish(seg(i))
        late = b.subscribe(at=3.2)  # the live point lies in the segment 3.0 .. 3.5
        got = await take(late, 4)
        assert [s.start for s in got] == [3.0, 3.5, 4.0, 4.5]
        b.publish(seg(10))
        assert (await take(late, 1))[0].start == 5.0

    asyncio.run(main())


def test_recent_history_is_bounded() -> None:
    b = Broadcast(keep_s=2, max_queue_s=10)
    for i in range(100):
        b.publish(seg(i))
    late = b.subscribe(at=0.0)  # asks for the start, gets only what is kept
    assert late.queued_seconds <= 2.5 + 1e-9


def test_slow_listener_is_dropped_without_stalling_the_others() -> None:
    async def main() -> None:
        b = Broadcast(keep_s=5, max_queue_s=3.0)
        slow, fast = b.subscribe(at=0.0), b.subscribe(at=0.0)
        got = []
        for i in range(20):  # 10 s of audio; the slow one never reads
            b.publish(seg(i))
            got += await take(fast, 1)
        assert len(got) == 20
        assert slow.dropped and slow.closed
        assert await slow.next() is None  # its stream ends
        assert b.listeners == 1 and b.dropped == 1
        assert slow.queued_seconds == 0.0  # its backlog is freed

    asyncio.run(main())


def test_waiting_listener_wakes_on_publish_and_ends_on_close() -> None:
    async def main() -> None:
        b = Broadcast()
        listener = b.subscribe(at=0.0)
        waiter = asyncio.create_task(listener.next())
        await asyncio.sleep(0.01)
        assert not waiter.done()
        b.publish(seg(0))
        got = await asyncio.wait_for(waiter, 1.0)
        assert got is not None and got.start == 0.0
        b.close()
        assert await asyncio.wait_for(listener.next(), 1.0) is None
        with pytest.raises(RuntimeError):
            b.subscribe()

    asyncio.run(main())


def test_full_station_refuses_listeners_and_leaving_frees_a_place() -> None:
    b = Broadcast(max_listeners=2)
    first = b.subscribe()
    b.subscribe()
    with pytest.raises(OverflowError, match="2 listeners"):
        b.subscribe()
    first.leave()
    b.subscribe()
    assert b.listeners == 2


def test_icy_block_layout() -> None:
    assert icy_block(None) == b"\x00"
    block = icy_block("Ann - It's")
    body = "StreamTitle='Ann - It\u2019s';".encode()
    assert block[0] == -(-len(body) // 16)
    assert len(block) == 1 + 16 * block[0]
    assert block[1 : 1 + len(body)] == body
    assert set(block[1 + len(body) :]) <= {0}
    assert len(icy_block("x" * 10000)) <= 1 + 255 * 16


def parse_icy(data: bytes, metaint: int) -> tuple[bytes, list[str | None]]:
    """Split an ICY stream back into its audio and its metadata texts (None: empty block)."""
    audio, metas, pos = bytearray(), [], 0
    while pos < len(data):
        audio += data[pos : pos + metaint]
        pos += metaint
        if pos >= len(data):
            break
        n = data[pos] * 16
        text = data[pos + 1 : pos + 1 + n].rstrip(b"\x00").decode()
        metas.append(text or None)
        pos += 1 + n
    return bytes(audio), metas


def test_icy_writer_interleaves_every_metaint_bytes_across_writes() -> None:
    w = IcyWriter(metaint=100)
    audio = bytes(range(256)) * 3  # 768 bytes, written in odd pieces
    out = (w.write(audio[:70], "A - One") + w.write(audio[70:333], "A - One")
           + w.write(audio[333:], "B - Two"))
    back, metas = parse_icy(out, 100)
    assert back == audio
    assert len(metas) == 7  # after bytes 100, 200, ..., 700
    # The title goes out once, then empty blocks until it changes.
    assert metas[0] == "StreamTitle='A - One';"
    assert metas[1:3] == [None, None]
    assert metas[3] == "StreamTitle='B - Two';"
    assert metas[4:] == [None, None, None]
