# Checker: the resource limits are the ones the runner was started with.
import resource

print([resource.getrlimit(getattr(resource, n)) for n in ("RLIMIT_NOFILE", "RLIMIT_CORE", "RLIMIT_STACK")])
