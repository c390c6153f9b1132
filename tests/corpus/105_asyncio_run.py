# asyncio.run on a fresh interpreter.
import asyncio


async def compute(n):
    await asyncio.sleep(0)
    return n * 2


async def main():
    return await asyncio.gather(*(compute(i) for i in range(4)))


print(asyncio.run(main()))
