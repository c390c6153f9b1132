//! Signal state, the mutation beside the check: handlers, the blocked mask, the real-time interval
//! timer and the wakeup descriptor. Signals go to the calling thread (`signal.raise_signal`), so where
//! a handler runs never depends on other threads.

use super::Ctx;
use crate::fuzz::grammar::{Block, Gen, B};

/// Signal state and a line that prints it (handler names, blocked signals, an armed timer).
const SIGNAL_STATE: &str = "print(\"signals\", [getattr(h, \"__name__\", str(h)) for h in map(signal.getsignal, (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM, signal.SIGPIPE, signal.SIGHUP, signal.SIGCHLD, signal.SIGXFSZ))], sorted(signal.pthread_sigmask(signal.SIG_BLOCK, [])), signal.getitimer(signal.ITIMER_REAL)[0] > 0)";

pub(super) fn mutate_signals(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("mutate.signals", n);
    b.import("signal").import("os");
    match g.range(0, 6) {
        6 => {
            b.body(
                "
                def raising_handler_$n(signum, frame):
                    raise ValueError(\"from the handler of \" + signal.Signals(signum).name)
                signal.signal(signal.SIGUSR1, raising_handler_$n)
                try:
                    signal.raise_signal(signal.SIGUSR1)
                except ValueError as e_$n:
                    print(\"handler raised:\", e_$n)
                ",
            );
        }
        0 => {
            b.def(
                "
                def on_signal_$n(signum, frame):
                    print(\"handler $n got\", signal.Signals(signum).name)
                ",
            );
            let sig = g.pick(&["SIGUSR1", "SIGUSR2", "SIGTERM", "SIGHUP", "SIGALRM", "SIGINT"]);
            b.body_with(
                "signal.signal(signal.$SIG, on_signal_$n)\nsignal.raise_signal(signal.$SIG)\nprint(\"after the handler $n\")",
                &[("$SIG", sig)],
            );
        }
        1 => {
            let sig = g.pick(&["SIGINT", "SIGTERM", "SIGUSR1", "SIGHUP"]);
            b.body_with(
                "signal.signal(signal.$SIG, signal.SIG_IGN)\nsignal.raise_signal(signal.$SIG)",
                &[("$SIG", sig)],
            );
        }
        2 => {
            b.body("signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR2])");
        }
        3 => {
            b.body("signal.signal(signal.SIGALRM, signal.SIG_IGN)\nsignal.setitimer(signal.ITIMER_REAL, 60)");
        }
        4 => {
            b.body("wr_$n, ww_$n = os.pipe()\nos.set_blocking(ww_$n, False)\nprint(\"old wakeup fd\", signal.set_wakeup_fd(ww_$n))");
        }
        _ => {
            b.body("signal.signal(signal.SIGPIPE, signal.SIG_DFL)\nsignal.signal(signal.SIGCHLD, signal.SIG_IGN)");
        }
    }
    b.body(SIGNAL_STATE);
    b.done()
}

pub(super) fn check_signals(_: &mut Gen, n: usize) -> Block {
    B::new("check.signals", n)
        .import("signal")
        .body(SIGNAL_STATE)
        .body("print(\"wakeup fd\", signal.set_wakeup_fd(-1))")
        .done()
}
