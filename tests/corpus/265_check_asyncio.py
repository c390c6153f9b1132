# Checker: asyncio's default policy, no current loop, and asyncio.run works.
import asyncio

print(type(asyncio.get_event_loop_policy()).__name__, asyncio._get_running_loop())


async def main():
    return "ran"


print(asyncio.run(main()))
