//! Shrinking: the smallest reproduction of a difference that a greedy search finds. A reproduction is
//! a list of programs run in that order in one runner batch, the last being the program whose result
//! differs; the others are the programs that ran before it in the same warm executor (empty for a
//! difference the program shows on its own). The search drops predecessors, then blocks of every
//! program, while the caller's predicate says the difference persists. It runs nothing itself.

use super::grammar::Program;

/// The result of a search.
pub struct Shrunk {
    /// The smallest reproduction found.
    pub programs: Vec<Program>,
    /// How many candidates the predicate was asked about.
    pub runs: usize,
}

struct Search<'p> {
    budget: usize,
    runs: usize,
    still_differs: &'p mut dyn FnMut(&[Program]) -> bool,
}

impl Search<'_> {
    fn holds(&mut self, candidate: &[Program]) -> bool {
        if self.runs >= self.budget {
            return false;
        }
        self.runs += 1;
        (self.still_differs)(candidate)
    }
}

/// Shrinks `programs` (the predicate holds for it) while `still_differs` holds, asking it at most
/// `budget` times. Predecessors go first (the nearest single one that still reproduces, else one at
/// a time), then blocks, the target's first, last block first, until nothing more can go; a program
/// left without blocks among the predecessors goes too. Last, the `__main__` guard goes where no
/// block needs it.
pub fn shrink(
    programs: Vec<Program>,
    budget: usize,
    still_differs: &mut dyn FnMut(&[Program]) -> bool,
) -> Shrunk {
    let mut search = Search { budget, runs: 0, still_differs };
    let mut current = programs;

    if current.len() > 2 {
        let target = current.last().expect("a reproduction has a target").clone();
        let single = current[..current.len() - 1]
            .iter()
            .rev()
            .map(|p| vec![p.clone(), target.clone()])
            .find(|candidate| search.holds(candidate));
        match single {
            Some(candidate) => current = candidate,
            None => {
                let mut i = 0;
                while i + 1 < current.len() {
                    let mut candidate = current.clone();
                    candidate.remove(i);
                    if search.holds(&candidate) {
                        current = candidate;
                    } else {
                        i += 1;
                    }
                }
            }
        }
    }

    'again: loop {
        for p in (0..current.len()).rev() {
            for b in (0..current[p].blocks.len()).rev() {
                let mut candidate = current.clone();
                candidate[p].blocks.remove(b);
                let is_target = p + 1 == candidate.len();
                if candidate[p].blocks.is_empty() && !is_target {
                    candidate.remove(p);
                }
                if search.holds(&candidate) {
                    current = candidate;
                    continue 'again;
                }
            }
        }
        break;
    }

    for p in 0..current.len() {
        if current[p].guarded && !current[p].blocks.iter().any(|b| b.needs_guard) {
            let mut candidate = current.clone();
            candidate[p].guarded = false;
            if search.holds(&candidate) {
                current = candidate;
            }
        }
    }
    Shrunk { programs: current, runs: search.runs }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzz::grammar::B;

    fn program(index: u64, kinds: &[&'static str]) -> Program {
        let blocks = kinds.iter().enumerate().map(|(n, k)| B::new(k, n).body("pass").done()).collect();
        Program { seed: 0, index, guarded: true, blocks }
    }

    fn has(p: &Program, kind: &str) -> bool {
        p.blocks.iter().any(|b| b.kind == kind)
    }

    #[test]
    fn keeps_only_the_leaking_predecessor_and_the_blocks_that_matter() {
        let repro = vec![
            program(1, &["a", "mutate.x", "b"]),
            program(2, &["c"]),
            program(3, &["d", "e"]),
            program(4, &["check.x", "f", "g"]),
        ];
        let mut still = |c: &[Program]| {
            let target = c.last().unwrap();
            has(target, "check.x") && c[..c.len() - 1].iter().any(|p| has(p, "mutate.x"))
        };
        let shrunk = shrink(repro, 1000, &mut still);
        let kinds: Vec<Vec<&str>> = shrunk.programs.iter().map(|p| p.kinds().collect()).collect();
        assert_eq!(kinds, vec![vec!["mutate.x"], vec!["check.x"]]);
        assert_eq!(shrunk.programs[0].index, 1);
        assert!(shrunk.programs.iter().all(|p| !p.guarded));
    }

    #[test]
    fn drops_predecessors_one_at_a_time_when_no_single_one_reproduces() {
        let repro = vec![program(1, &["x"]), program(2, &["noise"]), program(3, &["y"]), program(4, &["t"])];
        let mut still = |c: &[Program]| c.iter().any(|p| has(p, "x")) && c.iter().any(|p| has(p, "y"));
        let shrunk = shrink(repro, 1000, &mut still);
        let indices: Vec<u64> = shrunk.programs.iter().map(|p| p.index).collect();
        assert_eq!(indices, vec![1, 3, 4]);
        assert!(shrunk.programs[2].blocks.is_empty(), "the target's own block did not matter");
    }

    #[test]
    fn stops_at_the_budget() {
        let repro = vec![program(1, &["a", "b", "c", "d"])];
        let mut calls = 0;
        let mut still = |_: &[Program]| {
            calls += 1;
            true
        };
        let shrunk = shrink(repro, 2, &mut still);
        assert_eq!(shrunk.runs, 2);
        assert_eq!(shrunk.programs[0].blocks.len(), 2);
        assert_eq!(calls, 2);
    }
}
