# runner fuzz: seed 424242, program 226
# behaviours: mutate.audit_hook, exc.in_del
import sys


def audit_4(event, args):
    if event.startswith("fuzz."):
        print("audit hook 4 saw", event, args)


class DelFail_5:
    def __call__(self):
        print("finalizer 5 runs")
        raise SystemExit(5)

    def __repr__(self):
        return "<Res_5.__del__>"


class Res_5:
    __del__ = DelFail_5()


sys.addaudithook(audit_4)
sys.audit("fuzz.event", 4)
res_5 = Res_5()
