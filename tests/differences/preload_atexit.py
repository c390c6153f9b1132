# docs/differences.md "atexit handlers of preloaded modules": not run at the end of the program.
import atexit_printer  # noqa: F401
