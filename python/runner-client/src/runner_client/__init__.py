"""torchfuzz's ProgramRunner, with its programs run by a warm `runner serve` server.

    from runner_client import ProgramRunner

is the whole switch: `run_program` and `run_and_validate` print and return what the seed's do.
"""

from ._client import PROTOCOL_VERSION, ProgramRunner, ServerError
from ._server import Server, find_runner

__all__ = ["PROTOCOL_VERSION", "ProgramRunner", "Server", "ServerError", "find_runner"]
__version__ = "0.1.0"
