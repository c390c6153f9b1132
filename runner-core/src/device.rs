//! Which GPU a program gets, by torchfuzz ProgramRunner's rules.
//!
//! If `CUDA_VISIBLE_DEVICES` is set and non-empty, its comma-separated entries (trimmed, empties dropped)
//! are the candidates: indices, `GPU-<uuid>` and `MIG-...` names are all just strings here. Otherwise the
//! GPUs are counted (through NVML, loaded at run time; no library or no driver means zero GPUs) and the
//! candidates are all of them for `run`, or all but GPU 0 when there are several for `validate`
//! (run_and_validate leaves GPU 0 to the parent). One candidate is chosen at random; with no candidate
//! the environment is left as it is. The choice is a pure function of (variable, count, purpose, rng),
//! which is what the tests pin.

use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};

/// The variable the device policy reads and sets.
pub const CUDA_VISIBLE_DEVICES: &str = "CUDA_VISIBLE_DEVICES";

/// Which of ProgramRunner's two entry points a run follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// `run_program`: any GPU.
    Run,
    /// `run_and_validate`: GPU 0 is left to the parent when there are several.
    Validate,
}

/// The devices a program may be given, by the seed's rules.
pub fn candidates(visible: Option<&str>, gpu_count: usize, purpose: Purpose) -> Vec<String> {
    // Python's `if cuda_visible_devices:` treats an empty value as unset.
    if let Some(value) = visible.filter(|v| !v.is_empty()) {
        return value.split(',').map(str::trim).filter(|d| !d.is_empty()).map(String::from).collect();
    }
    let first = match purpose {
        Purpose::Validate if gpu_count > 1 => 1,
        _ => 0,
    };
    (first..gpu_count).map(|i| i.to_string()).collect()
}

/// Picks one of `candidates` uniformly, or `None` when there are none.
pub fn choose(candidates: &[String], rng: &mut impl Rng) -> Option<String> {
    candidates.choose(rng).cloned()
}

/// Counts the GPUs through NVML. No NVML library, no driver or any NVML error counts as zero GPUs.
pub fn count_gpus() -> usize {
    match nvml_wrapper::Nvml::init() {
        Ok(nvml) => nvml.device_count().map(|n| n as usize).unwrap_or(0),
        Err(_) => 0,
    }
}

/// The device policy of one run: the candidates, fixed at configuration time, and the random source.
#[derive(Debug)]
pub struct DevicePolicy {
    candidates: Vec<String>,
    rng: rand_chacha::ChaCha8Rng,
}

impl DevicePolicy {
    /// Builds the policy from the environment value and GPU count; `seed` makes choices reproducible.
    pub fn new(visible: Option<&str>, gpu_count: usize, purpose: Purpose, seed: Option<u64>) -> Self {
        let rng = match seed {
            Some(seed) => rand_chacha::ChaCha8Rng::seed_from_u64(seed),
            None => rand_chacha::ChaCha8Rng::from_os_rng(),
        };
        DevicePolicy { candidates: candidates(visible, gpu_count, purpose), rng }
    }

    /// Reads `CUDA_VISIBLE_DEVICES` from this process's environment and counts GPUs only when needed.
    pub fn from_env(purpose: Purpose, seed: Option<u64>) -> Self {
        let visible = std::env::var(CUDA_VISIBLE_DEVICES).ok();
        let gpus = if visible.as_deref().is_some_and(|v| !v.is_empty()) { 0 } else { count_gpus() };
        Self::new(visible.as_deref(), gpus, purpose, seed)
    }

    /// The devices this policy chooses among.
    pub fn candidates(&self) -> &[String] {
        &self.candidates
    }

    /// Chooses the device for the next program, or `None` when no device is known.
    pub fn pick(&mut self) -> Option<String> {
        choose(&self.candidates, &mut self.rng)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn candidate_table() {
        use Purpose::*;
        let cases: &[(Option<&str>, usize, Purpose, &[&str])] = &[
            // Set: split, trim, drop empties; the GPU count is not consulted.
            (Some("0,1,2"), 0, Run, &["0", "1", "2"]),
            (Some(" 3 , 5 "), 8, Validate, &["3", "5"]),
            (Some("1,,2,"), 0, Run, &["1", "2"]),
            (Some("GPU-1f2e,MIG-abc/1/0"), 0, Run, &["GPU-1f2e", "MIG-abc/1/0"]),
            (Some(" , "), 4, Run, &[]),
            (Some("0"), 0, Validate, &["0"]),
            // Empty counts as unset (Python truthiness).
            (Some(""), 2, Run, &["0", "1"]),
            // Unset: all GPUs for run; 1..n for validate when n > 1.
            (None, 0, Run, &[]),
            (None, 0, Validate, &[]),
            (None, 1, Run, &["0"]),
            (None, 1, Validate, &["0"]),
            (None, 4, Run, &["0", "1", "2", "3"]),
            (None, 4, Validate, &["1", "2", "3"]),
            (None, 2, Validate, &["1"]),
        ];
        for (visible, count, purpose, want) in cases {
            assert_eq!(candidates(*visible, *count, *purpose), s(want), "{visible:?} {count} {purpose:?}");
        }
    }

    #[test]
    fn no_candidates_means_no_device() {
        let mut p = DevicePolicy::new(None, 0, Purpose::Run, Some(1));
        assert_eq!(p.pick(), None);
    }

    #[test]
    fn choice_is_uniformish_and_covers_every_candidate() {
        let mut p = DevicePolicy::new(Some("a,b,c"), 0, Purpose::Run, Some(7));
        let seen: BTreeSet<_> = (0..200).filter_map(|_| p.pick()).collect();
        assert_eq!(seen, s(&["a", "b", "c"]).into_iter().collect());
    }

    #[test]
    fn seed_makes_choices_reproducible() {
        let draw = |seed| {
            let mut p = DevicePolicy::new(None, 8, Purpose::Run, Some(seed));
            (0..20).map(|_| p.pick().unwrap()).collect::<Vec<_>>()
        };
        assert_eq!(draw(42), draw(42));
        assert_ne!(draw(42), draw(43));
    }
}
