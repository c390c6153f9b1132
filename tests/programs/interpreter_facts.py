# Prints how the interpreter was started: what the embedded interpreter must reproduce.
import json
import os
import sys

print(json.dumps({
    "executable": sys.executable,
    "prefix": sys.prefix,
    "base_prefix": sys.base_prefix,
    "exec_prefix": sys.exec_prefix,
    "path": sys.path,
    "flags": list(sys.flags),
    "argv": sys.argv,
    "stdout": [sys.stdout.encoding, sys.stdout.errors, sys.stdout.line_buffering, sys.stdout.write_through],
    "stderr": [sys.stderr.encoding, sys.stderr.errors, sys.stderr.line_buffering, sys.stderr.write_through],
    "stdin": [sys.stdin.encoding, sys.stdin.errors],
    # Only reproducible when the seed is fixed.
    "hash": hash("runner") if os.environ.get("PYTHONHASHSEED") else None,
    "warnoptions": sys.warnoptions,
    "dont_write_bytecode": sys.dont_write_bytecode,
}, indent=1, sort_keys=True))
