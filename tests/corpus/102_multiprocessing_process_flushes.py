# multiprocessing flushes the standard streams before it forks, so a pending print appears once;
# the child's own print is flushed when the child exits.
import multiprocessing


def child():
    print("in child")


if __name__ == "__main__":
    print("before fork")
    p = multiprocessing.get_context("fork").Process(target=child)
    p.start()
    p.join()
    print("child exit code", p.exitcode)
