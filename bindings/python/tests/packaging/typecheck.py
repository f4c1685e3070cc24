# SPDX-License-Identifier: MIT
"""Type-checked (not run) by the pip install test: mypy must find the
installed package's stub through py.typed and type the calls."""

import timefuture


async def main() -> int:
    await timefuture.sleep(0.001)
    timer = timefuture.Timer(0.01)
    timer.reset(0.02)
    await timer
    return 21


reveal_type(timefuture.Timer(1).deadline)
reveal_type(timefuture.run(main()))


async def manual(d: timefuture.Driver) -> int:
    await timefuture.sleep(0.005, driver=d)
    return d.advance(d.now() + 5_000_000)


with timefuture.Driver(clock="manual", mode="host", start=0) as drv:
    reveal_type(drv.next_deadline())


async def periodic(d: timefuture.Driver) -> int:
    total = 0
    async for n in timefuture.interval(0.01, missed="skip", driver=d):
        total += n
        if total > 3:
            break
    it = timefuture.interval(1)
    first: int = await it.tick()
    await it.aclose()
    return total + first


async def bounded() -> str:
    word: str = await timefuture.sleep(0.001, "done")
    await timefuture.sleep(-1)
    async with timefuture.timeout(0.5) as t:
        t.reschedule(timefuture.monotonic() + 1)
    async with timefuture.timeout_at(None):
        pass
    assert not t.expired()
    return word


reveal_type(timefuture.interval(1).deadline)
reveal_type(timefuture.timeout(1).when())
