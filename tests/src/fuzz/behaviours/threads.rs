//! Threads: joined before main goes on, run in parallel, a daemon blocked forever, a non-daemon
//! thread that prints only after main finished, a timer and a thread pool. Every one is joined
//! before main prints again or prints only after main ended, so no output depends on scheduling.

use super::Ctx;
use crate::fuzz::grammar::{Block, Gen, B};

pub(super) fn thread_joined(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("thread.joined", n);
    b.import("threading");
    b.def(
        "
        def worker_$n(k):
            print(\"worker $n step\", k, threading.current_thread().name)
        ",
    );
    let count = g.range(1, 3).to_string();
    b.body_with(
        "
        for k_$n in range($COUNT):
            th_$n = threading.Thread(target=worker_$n, args=(k_$n,))
            th_$n.start()
            th_$n.join()
        ",
        &[("$COUNT", &count)],
    );
    b.done()
}

pub(super) fn thread_parallel(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("thread.parallel", n);
    b.import("threading");
    let count = g.range(2, 4).to_string();
    b.def(
        "
        def compute_$n(results, i):
            results[i] = sum(range(i * 1000))
        ",
    );
    b.body_with(
        "
        results_$n = [None] * $COUNT
        threads_$n = [threading.Thread(target=compute_$n, args=(results_$n, i)) for i in range($COUNT)]
        for th_$n in threads_$n:
            th_$n.start()
        for th_$n in threads_$n:
            th_$n.join()
        print(\"results $n\", results_$n, [th.name for th in threads_$n])
        ",
        &[("$COUNT", &count)],
    );
    b.done()
}

/// A daemon thread blocked forever: it must not keep the program alive.
pub(super) fn thread_daemon(_: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("thread.daemon", n);
    b.import("threading");
    b.def(
        "
        def daemon_$n(started):
            print(\"daemon $n started\", flush=True)
            started.set()
            threading.Event().wait()
        ",
    );
    b.body(
        "
        started_$n = threading.Event()
        dt_$n = threading.Thread(target=daemon_$n, args=(started_$n,), daemon=True)
        dt_$n.start()
        started_$n.wait()
        print(\"daemon $n alive\", dt_$n.is_alive(), dt_$n.daemon)
        ",
    );
    b.done()
}

/// A non-daemon thread that prints only once the main thread has finished: python waits for it at
/// exit, before the atexit handlers.
pub(super) fn thread_late(g: &mut Gen, n: usize, ctx: &mut Ctx) -> Block {
    if ctx.late_thread {
        return thread_joined(g, n, ctx);
    }
    ctx.late_thread = true;
    let mut b = B::new("thread.outlives_main", n);
    b.import("threading").import("time");
    let tail = g.pick(&["", "raise ValueError(\"late thread $n failed\")"]);
    b.def_with(
        "
        def late_$n():
            while threading.main_thread().is_alive():
                time.sleep(0.002)
            print(\"late thread $n finished\")
            $TAIL
        ",
        &[("$TAIL", tail)],
    );
    b.body("threading.Thread(target=late_$n).start()");
    b.done()
}

pub(super) fn thread_timer(_: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("thread.timer", n);
    b.import("threading");
    b.def("def ring_$n():\n    print(\"timer $n fired\")");
    b.body("tm_$n = threading.Timer(0.005, ring_$n)\ntm_$n.start()\ntm_$n.join()");
    b.done()
}

pub(super) fn thread_pool(_: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("thread.pool", n);
    b.import("concurrent.futures");
    b.body(
        "
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool_$n:
            print(\"pool $n\", list(pool_$n.map(abs, [-1, -2, 3])))
        ",
    );
    b.done()
}
