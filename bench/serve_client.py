"""The Python side of `cargo xtask bench --only serve`: runs programs one at a time through a
`runner serve` with runner_client's ProgramRunner, as a ProgramRunner loop would, and times each
round trip.

    python serve_client.py SOCKET PROGRAM...

Prints one JSON list: for each program, {"round_trip": seconds from the call to its return,
"program_time": the program's own time as the executor measured it, "duration": the server's
duration}. Run with python/runner-client/src on PYTHONPATH (or the package installed).
"""

import json
import sys
import time

from runner_client import ProgramRunner


def main():
    socket, programs = sys.argv[1], sys.argv[2:]
    runner = ProgramRunner(socket)
    timings = []
    for program in programs:
        started = time.perf_counter()
        result = runner.run(program)
        round_trip = time.perf_counter() - started
        if result["returncode"] != 0:
            sys.exit(f"{program} failed through the server: {result}")
        timings.append(
            {"round_trip": round_trip, "program_time": result.get("program_time"), "duration": result["duration"]}
        )
    json.dump(timings, sys.stdout)


if __name__ == "__main__":
    main()
