//! Child processes: multiprocessing with the fork start method (a Process, a Pool), with the spawn
//! start method (rarely: it starts a fresh python), a bare `os.fork` and subprocesses. The parent
//! waits for every child before it goes on.

use super::Ctx;
use crate::fuzz::grammar::{Block, Gen, B};

pub(super) fn mp_fork(g: &mut Gen, n: usize, ctx: &mut Ctx) -> Block {
    let mut b = B::new("mp.fork", n);
    b.import("multiprocessing").import("sys").import("os");
    let child_end = g.pick(&["", "raise ValueError(\"child $n failed\")", "sys.exit(3)", "os._exit(4)"]);
    b.def_with(
        "
        def mp_child_$n(k):
            print(\"mp child $n\", k)
            $END
        ",
        &[("$END", child_end)],
    );
    if g.chance(0.3) && !ctx.threading_hook {
        b.body(
            "
            with multiprocessing.get_context(\"fork\").Pool(2) as pool_$n:
                print(\"pool map\", pool_$n.map(abs, [-1, -2, -3]))
            ",
        );
    } else {
        b.body(
            "
            p_$n = multiprocessing.get_context(\"fork\").Process(target=mp_child_$n, args=($n,))
            p_$n.start()
            p_$n.join()
            print(\"mp exit code\", p_$n.exitcode, p_$n.name)
            ",
        );
    }
    b.done()
}

pub(super) fn mp_spawn_rare(g: &mut Gen, n: usize, ctx: &mut Ctx) -> Block {
    // A spawned child starts a fresh python (and multiprocessing's resource tracker): costly, so
    // only one draw in four.
    if !g.chance(0.25) {
        return mp_fork(g, n, ctx);
    }
    let mut b = B::new("mp.spawn", n);
    b.import("multiprocessing");
    b.def(
        "
        def spawn_child_$n(k):
            print(\"spawned child $n\", k, __name__)
        ",
    );
    b.body(
        "
        sp_$n = multiprocessing.get_context(\"spawn\").Process(target=spawn_child_$n, args=(7,))
        sp_$n.start()
        sp_$n.join()
        print(\"spawn exit code\", sp_$n.exitcode)
        ",
    );
    b.guard();
    b.done()
}

pub(super) fn mp_os_fork(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("mp.os_fork", n);
    b.import("os").import("sys");
    if g.chance(0.5) {
        b.body("sys.stdout.flush()");
    }
    let child = g.pick(&["os._exit(5)", "sys.stdout.flush()\n    os._exit(0)", "sys.exit(3)"]);
    b.body_with(
        "
        pid_$n = os.fork()
        if pid_$n == 0:
            print(\"forked child $n\")
            $CHILD
        _, status_$n = os.waitpid(pid_$n, 0)
        print(\"child status $n\", os.waitstatus_to_exitcode(status_$n))
        ",
        &[("$CHILD", child)],
    );
    b.done()
}

pub(super) fn mp_subprocess(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("mp.subprocess", n);
    b.import("subprocess").import("sys");
    if g.chance(0.6) {
        b.body("sys.stdout.flush()");
    }
    match g.range(0, 2) {
        0 => b.body(
            "
            r_$n = subprocess.run([sys.executable, \"-c\", \"import sys; print('child says', len(sys.argv)); sys.exit(3)\"])
            print(\"child returncode\", r_$n.returncode)
            ",
        ),
        1 => b.body(
            "
            r_$n = subprocess.run([sys.executable, \"-c\", \"import sys; print('out'); print('err', file=sys.stderr)\"], capture_output=True, text=True)
            print(\"captured\", repr(r_$n.stdout), repr(r_$n.stderr), r_$n.returncode)
            ",
        ),
        _ => b.body("subprocess.run([\"echo\", \"from echo $n\"])"),
    };
    b.done()
}
