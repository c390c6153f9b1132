# runner fuzz: seed 424242, program 211
# behaviours: mutate.at_fork, exc.in_del
import os


class DelFail_2:
    def __call__(self):
        print("finalizer 2 runs")
        raise SystemExit(5)

    def __repr__(self):
        return "<Res_2.__del__>"


class Res_2:
    __del__ = DelFail_2()


os.register_at_fork(before=lambda: os.write(1, b"before fork hook 0\n"), after_in_child=lambda: os.getpid())
print("fork hooks registered", flush=True)
res_2 = Res_2()
