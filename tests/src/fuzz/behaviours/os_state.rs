//! Process state kept by the kernel and the C library, each mutation beside the check of the same
//! state: the working directory, the environment (`os.environ` and the C-level one that a child
//! inherits), the umask, scheduling priority, CPU affinity, resource limits and dlopen flags (with
//! the coroutine origin tracking depth, which `mutate.process` varies among them), the locale and
//! time zone, and open descriptors.

use super::Ctx;
use crate::fuzz::grammar::{lit, Block, Gen, B};

pub(super) fn mutate_cwd(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("mutate.cwd", n);
    b.import("os");
    let dir =
        g.pick(&["\"/\"", "\"/tmp\"", "\"..\"", "\"/usr\"", "os.path.dirname(os.path.abspath(__file__))"]);
    b.body(&format!("os.chdir({dir})\nprint(\"cwd now\", os.getcwd())"));
    b.done()
}

pub(super) fn check_cwd(_: &mut Gen, n: usize) -> Block {
    B::new("check.cwd", n).import("os").body("print(\"cwd\", os.getcwd())").done()
}

pub(super) fn mutate_environ(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("mutate.environ", n);
    b.import("os");
    let key = g.range(1, 3);
    match g.range(0, 6) {
        0 | 1 => b.body(&format!("os.environ[\"FUZZ_VAR_{key}\"] = {}", lit(g.word()))),
        2 => b.body("os.environ.pop(\"HOME\", None)"),
        3 => b.body("os.environ.update(FUZZ_A=\"1\", FUZZ_B=\"2\")"),
        4 => b.body(&format!("os.putenv(\"FUZZ_PUTENV_{key}\", \"c-level only\")")),
        5 => b.body("os.unsetenv(\"LANG\")"),
        _ => b.body("os.environ.clear()"),
    };
    b.body("print(\"fuzz env\", sorted((k, v) for k, v in os.environ.items() if k.startswith(\"FUZZ\")), \"HOME\" in os.environ)");
    b.done()
}

pub(super) fn check_environ(_: &mut Gen, n: usize) -> Block {
    B::new("check.environ", n)
        .import("os")
        .body("print(\"environ\", sorted((k, v) for k, v in os.environ.items() if k.startswith(\"FUZZ\")), \"HOME\" in os.environ, os.environ.get(\"TZ\"), os.environ.get(\"LANG\"), \"PYTHONUNBUFFERED\" in os.environ)")
        .done()
}

pub(super) fn check_environ_keys(_: &mut Gen, n: usize) -> Block {
    B::new("check.environ_keys", n)
        .import("os")
        .body("print(\"environ keys\", sorted(k for k in os.environ if k != \"CUDA_VISIBLE_DEVICES\"))")
        .done()
}

/// What a child process inherits: the C-level environment (os.putenv), not only os.environ.
pub(super) fn check_child_environ(_: &mut Gen, n: usize) -> Block {
    B::new("check.child_environ", n)
        .import("subprocess")
        .import("sys")
        .body("sys.stdout.flush()\nsubprocess.run([sys.executable, \"-c\", \"import os; print('child environ', sorted(k for k in os.environ if k.startswith('FUZZ')), os.environ.get('TZ'), 'HOME' in os.environ)\"])")
        .done()
}

pub(super) fn mutate_umask(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("mutate.umask", n);
    b.import("os");
    let mask = g.pick(&["0o077", "0o000", "0o027", "0o002"]);
    b.body(&format!("print(\"umask was\", oct(os.umask({mask})))"));
    b.done()
}

pub(super) fn check_umask(_: &mut Gen, n: usize) -> Block {
    B::new("check.umask", n)
        .import("os")
        .body("umask_$n = os.umask(0o022)\nos.umask(umask_$n)\nprint(\"umask\", oct(umask_$n))")
        .done()
}

/// Per-process state kept by the kernel or the C library: niceness, affinity, limits, dlopen flags.
pub(super) fn mutate_process(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("mutate.process", n);
    b.import("os").import("sys").import("resource");
    match g.range(0, 4) {
        0 => b.body("os.nice(1)"),
        1 => b.body("os.sched_setaffinity(0, {0})"),
        2 => b.body("soft_$n, hard_$n = resource.getrlimit(resource.RLIMIT_NOFILE)\nresource.setrlimit(resource.RLIMIT_NOFILE, (min(soft_$n, 1000), hard_$n))"),
        3 => b.body("sys.setdlopenflags(os.RTLD_NOW | os.RTLD_GLOBAL)"),
        _ => b.body("sys.set_coroutine_origin_tracking_depth(5)"),
    };
    b.body("print(\"process now\", os.nice(0), sorted(os.sched_getaffinity(0)), resource.getrlimit(resource.RLIMIT_NOFILE), sys.getdlopenflags(), sys.get_coroutine_origin_tracking_depth())");
    b.done()
}

pub(super) fn check_process(_: &mut Gen, n: usize) -> Block {
    B::new("check.process", n)
        .import("os")
        .import("sys")
        .import("resource")
        .body("print(\"process\", os.nice(0), sorted(os.sched_getaffinity(0)), resource.getrlimit(resource.RLIMIT_NOFILE), sys.getdlopenflags(), sys.get_coroutine_origin_tracking_depth())")
        .done()
}

pub(super) fn mutate_locale_tz(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("mutate.locale_tz", n);
    b.import("locale").import("os").import("time");
    match g.range(0, 3) {
        0 => b.body("locale.setlocale(locale.LC_ALL, \"C\")"),
        1 => b.body("locale.setlocale(locale.LC_NUMERIC, \"C.UTF-8\")"),
        2 => b.body(&format!(
            "os.environ[\"TZ\"] = {}\ntime.tzset()",
            lit(g.pick(&["UTC0", "EST+5EDT", "JST-9"]))
        )),
        _ => b.body("os.environ[\"TZ\"] = \"JST-9\""),
    };
    b.body("print(\"locale now\", locale.setlocale(locale.LC_ALL), time.tzname, time.timezone)");
    b.done()
}

pub(super) fn check_locale_tz(_: &mut Gen, n: usize) -> Block {
    B::new("check.locale_tz", n)
        .import("locale")
        .import("time")
        .body("print(\"locale\", locale.setlocale(locale.LC_ALL), locale.localeconv()[\"decimal_point\"], time.tzname, time.timezone)")
        .done()
}

pub(super) fn mutate_fds(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("mutate.fds", n);
    b.import("os");
    match g.range(0, 2) {
        0 => b.body("leaked_$n = [os.open(os.devnull, os.O_RDONLY) for _ in range(3)]\nprint(\"leaked\", len(leaked_$n))"),
        1 => b.body("pipe_$n = os.pipe()\nprint(\"pipe open\")"),
        _ => b.body("os.close(0)\nprint(\"stdin descriptor closed\")"),
    };
    b.done()
}

pub(super) fn check_fds(_: &mut Gen, n: usize) -> Block {
    B::new("check.fds", n)
        .import("os")
        .body("fd_$n = os.open(os.devnull, os.O_RDONLY)\nprint(\"first free fd\", fd_$n)\nos.close(fd_$n)")
        .done()
}
