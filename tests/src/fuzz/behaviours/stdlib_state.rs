//! State of standard-library modules, each mutation beside the check of the same state: threading's
//! (the main thread's name, the stack size, the thread-name counter), attributes of stdlib classes
//! and ABC registrations, the state of C modules (decimal's context, faulthandler, tracemalloc,
//! socket's default timeout), and the random module's seed.

use super::Ctx;
use crate::fuzz::grammar::{Block, Gen, B};

pub(super) fn mutate_threading(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("mutate.threading", n);
    b.import("threading");
    match g.range(0, 3) {
        0 => b.body("threading.current_thread().name = \"renamed-main-$n\""),
        1 => b.body("threading.stack_size(512 * 1024)"),
        2 => b.body("threading.Thread.fuzz_attr = $n"),
        _ => b.body("for i_$n in range(3):\n    x_$n = threading.Thread(target=int)\n    x_$n.start()\n    x_$n.join()"),
    };
    b.body("print(\"threading now\", threading.current_thread().name, threading.stack_size(), hasattr(threading.Thread, \"fuzz_attr\"), threading.Thread(target=int).name)");
    b.done()
}

pub(super) fn check_threads(_: &mut Gen, n: usize) -> Block {
    B::new("check.threading", n)
        .import("threading")
        .body("print(\"threading\", threading.active_count(), threading.current_thread().name, threading.current_thread() is threading.main_thread(), threading.stack_size(), threading.Thread(target=print).name, hasattr(threading.Thread, \"fuzz_attr\"))")
        .done()
}

/// Objects of standard-library modules that a fresh python has already imported, changed in place
/// (not rebound): class attributes, ABC registrations.
pub(super) fn mutate_stdlib_objects(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("mutate.stdlib_objects", n);
    b.import("collections").import("collections.abc").import("enum");
    match g.range(0, 3) {
        0 => b.body("collections.Counter.fuzz_attr = $n"),
        1 => b.body("collections.abc.Set.register(dict)"),
        2 => b.body("enum.Enum.fuzz_attr = $n"),
        _ => b.import("json").body("json.JSONEncoder.item_separator = \";\"\nprint(json.dumps([1, 2]))"),
    };
    b.body("print(\"stdlib objects now\", hasattr(collections.Counter, \"fuzz_attr\"), isinstance({}, collections.abc.Set), hasattr(enum.Enum, \"fuzz_attr\"))");
    b.done()
}

pub(super) fn check_stdlib_objects(_: &mut Gen, n: usize) -> Block {
    B::new("check.stdlib_objects", n)
        .import("collections")
        .import("collections.abc")
        .import("enum")
        .body("print(\"stdlib objects\", hasattr(collections.Counter, \"fuzz_attr\"), isinstance({}, collections.abc.Set), hasattr(enum.Enum, \"fuzz_attr\"))")
        .done()
}

/// State of C modules that a program imports: decimal's context, faulthandler, tracemalloc,
/// socket's default timeout.
pub(super) fn mutate_c_module_state(g: &mut Gen, n: usize, ctx: &mut Ctx) -> Block {
    let mut b = B::new("mutate.c_module_state", n);
    match g.range(0, 3) {
        0 => b
            .import("decimal")
            .body("decimal.getcontext().prec = 5\nprint(\"decimal\", decimal.Decimal(2) / 3)"),
        1 => {
            ctx.faulthandler = true;
            b.import("faulthandler")
                .body("faulthandler.enable()\nprint(\"faulthandler\", faulthandler.is_enabled())")
        }
        2 => {
            b.import("tracemalloc").body("tracemalloc.start()\nprint(\"tracing\", tracemalloc.is_tracing())")
        }
        _ => b
            .import("socket")
            .body("socket.setdefaulttimeout(3.5)\nprint(\"socket timeout\", socket.getdefaulttimeout())"),
    };
    b.done()
}

pub(super) fn check_c_module_state(_: &mut Gen, n: usize) -> Block {
    B::new("check.c_module_state", n)
        .import("decimal")
        .import("faulthandler")
        .import("tracemalloc")
        .import("socket")
        .body("print(\"c modules\", decimal.getcontext().prec, faulthandler.is_enabled(), tracemalloc.is_tracing(), socket.getdefaulttimeout())")
        .done()
}

pub(super) fn mutate_random(_: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("mutate.random_seed", n);
    b.import("random");
    b.body("random.seed($n)\nprint(\"seeded random\", random.random(), random.randint(1, 1000))");
    b.done()
}
