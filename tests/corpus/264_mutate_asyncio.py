# Mutator: installs a custom event loop policy and leaves an unclosed loop set as current.
import asyncio


class Policy(asyncio.DefaultEventLoopPolicy):
    pass


asyncio.set_event_loop_policy(Policy())
asyncio.set_event_loop(asyncio.new_event_loop())
print(type(asyncio.get_event_loop_policy()).__name__)
