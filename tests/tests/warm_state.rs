//! The warm-state registry (`runner-embed/src/warm_state.py`, `REGISTRY`) is the one list of what a
//! warm executor restores: docs/architecture.md shows it as it is, and a retirement names the entry
//! that could not restore its state. (That the differential fuzzer mutates every entry, or says why
//! not, is checked beside its table: `tests/src/fuzz/behaviours/mutations.rs`.)

use runner_tests::{runner, text, warm_state_registry};

/// The rows of the registry table in docs/architecture.md: (entry, level, also at).
fn documented_registry() -> Vec<(String, String, Option<String>)> {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/architecture.md")).unwrap();
    let start = doc.find("<!-- registry:").expect("docs/architecture.md marks the registry table");
    let end = doc.find("<!-- /registry -->").expect("docs/architecture.md ends the registry table");
    doc[start..end]
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            let at = cells[2].trim_matches('`');
            (
                cells[0].trim_matches('`').to_string(),
                cells[1].to_string(),
                (!at.is_empty()).then(|| at.to_string()),
            )
        })
        .collect()
}

#[test]
fn docs_architecture_lists_the_registry_in_its_order() {
    let registry: Vec<_> = warm_state_registry().into_iter().map(|e| (e.name, e.level, e.at)).collect();
    assert!(registry.len() > 30, "the registry has {} entries", registry.len());
    let documented = documented_registry();
    for (i, (entry, doc)) in registry.iter().zip(&documented).enumerate() {
        assert_eq!(
            entry, doc,
            "row {i} of docs/architecture.md's registry table is not the registry's entry {i}"
        );
    }
    assert_eq!(registry.len(), documented.len(), "docs/architecture.md's registry table has another length");
}

#[test]
fn a_retirement_names_the_registry_entry_that_could_not_restore() {
    let dir = tempfile::tempdir().unwrap();
    let hook = dir.path().join("a_hook.py");
    std::fs::write(&hook, "import sys\n# A built-in that takes (event, args) and does nothing: no frame of the program stays alive.\nsys.addaudithook(slice)\nprint('hooked')\n")
        .unwrap();
    let after = dir.path().join("b_after.py");
    std::fs::write(&after, "print('after')\n").unwrap();
    let results = dir.path().join("r.jsonl");
    let out = runner()
        .args(["batch", "-q", "--workers", "1", "--mode", "warm", "-o"])
        .arg(&results)
        .args([&hook, &after])
        .env("RUNNER_DEBUG", "1")
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("retired: the program added an audit hook, which cannot be removed [audit_hooks]"),
        "{stderr}"
    );
    let stdout: Vec<String> = std::fs::read_to_string(&results)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["stdout"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(stdout, ["hooked\n", "after\n"]);
}
