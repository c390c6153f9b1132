//! End-to-end tests of sharded campaigns without a cluster (`tests/tests/slurm.rs` has the real
//! Slurm): `runner batch --shard K/N` by the flag, by a Kubernetes Indexed Job's variables and by a
//! Slurm array's, empty shards, `--dry-run`, a termination that reaches every process of a shard (as
//! Slurm's and a machine's shutdown do) and the `--resume` that completes the shard, and
//! `runner merge`: a merged campaign equals one machine's batch of the same corpus program by
//! program, with the same summary and buckets; files of another campaign are refused in one line.

mod campaign;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use campaign::{assert_same_results, assert_same_summary, batch_args, records, write_corpus, Gate};
use runner_tests::{assert_all_die, describe, finish_within, runner, text, HANG_LIMIT};
use serde_json::{json, Value};

/// Runs `cmd` and collects its output; fails the test after [`HANG_LIMIT`].
fn finish(cmd: &mut Command) -> Output {
    finish_within(cmd, None, HANG_LIMIT)
}

/// `runner batch` of the campaign corpus at `root` with `extra` flags.
fn batch(root: &Path, extra: &[&str]) -> Command {
    let mut cmd = runner();
    cmd.args(batch_args(root)).args(extra);
    cmd
}

/// Runs the commands at once, as the machines of a cluster would, and collects their outputs.
fn all_at_once(cmds: Vec<Command>) -> Vec<Output> {
    let handles: Vec<_> = cmds
        .into_iter()
        .map(|mut cmd| std::thread::spawn(move || finish_within(&mut cmd, None, HANG_LIMIT)))
        .collect();
    handles.into_iter().map(|h| h.join().expect("a runner thread")).collect()
}

/// `runner merge` with `args`.
fn merge(args: &[&std::ffi::OsStr]) -> Output {
    let mut cmd = runner();
    cmd.arg("merge").args(args).env_remove("GITHUB_STEP_SUMMARY");
    finish(&mut cmd)
}

#[test]
fn hash_shards_merge_into_what_one_machine_gives() {
    shards_merge_into_what_one_machine_gives("hash");
}

#[test]
fn slice_shards_merge_into_what_one_machine_gives() {
    shards_merge_into_what_one_machine_gives("slice");
}

fn shards_merge_into_what_one_machine_gives(partition: &str) {
    let ctx = format!("3 shards by {partition}");
    let dir = tempfile::tempdir().unwrap();
    let root = write_corpus(dir.path(), None);
    let single_jsonl = dir.path().join("single.jsonl");
    let out = dir.path().join("out");
    let mut cmds = vec![{
        let mut c = batch(&root, &["-o"]);
        c.arg(&single_jsonl);
        c
    }];
    for k in 1..=3 {
        let shard = format!("{k}/3");
        let mut c =
            batch(&root, &["--shard", &shard, "--shard-by", partition, "-o", "out/", "--junit", "out/"]);
        c.current_dir(dir.path());
        cmds.push(c);
    }
    let outputs = all_at_once(cmds);
    let single_out = &outputs[0];
    assert_eq!(single_out.status.code(), Some(1), "{ctx}: the single machine: {}", describe(single_out));
    let single = records(&single_jsonl);
    assert_eq!(single.len(), 13, "{ctx}: the corpus");

    // Each shard wrote its own files, its records say which shard they are, and together the shards
    // ran every program once, each with its index in the whole list.
    let index_of: std::collections::BTreeMap<String, Value> =
        single.iter().map(|r| (r["program"].as_str().unwrap().to_string(), r["index"].clone())).collect();
    let mut seen = std::collections::BTreeSet::new();
    for (k, shard_out) in (1..=3).zip(&outputs[1..]) {
        let code = shard_out.status.code();
        assert!(matches!(code, Some(0 | 1)), "{ctx}: shard {k}: {}", describe(shard_out));
        let summary = text(&shard_out.stdout);
        assert!(summary.contains(&format!("shard {k} of 3 (")), "{ctx}: shard {k}'s summary:\n{summary}");
        assert!(summary.contains("from --shard"), "{ctx}: how the shard was chosen:\n{summary}");
        assert!(out.join(format!("junit-{k}-of-3.xml")).is_file(), "{ctx}: shard {k}'s JUnit report");
        let recs = records(&out.join(format!("results-{k}-of-3.jsonl")));
        for r in &recs {
            let program = r["program"].as_str().unwrap().to_string();
            assert_eq!(r["shard"]["index"], k, "{ctx}: {r}");
            assert_eq!(
                (&r["shard"]["count"], &r["shard"]["partition"], &r["shard"]["source"]),
                (&json!(3), &json!(partition), &json!("flag")),
                "{ctx}: {r}"
            );
            assert_eq!((&r["shard"]["programs"], &r["shard"]["total"]), (&json!(recs.len()), &json!(13)));
            assert_eq!(r["shard"]["root"], json!(root.to_str().unwrap()), "{ctx}: {r}");
            assert_eq!(r["index"], index_of[&program], "{ctx}: {program}'s index in the whole list");
            assert!(seen.insert(program.clone()), "{ctx}: {program} ran in two shards");
        }
    }
    assert_eq!(seen.len(), 13, "{ctx}: every program ran in some shard");

    let step_summary = dir.path().join("step_summary.md");
    std::fs::write(&step_summary, "earlier step\n").unwrap();
    let merged_jsonl = dir.path().join("merged.jsonl");
    let junit = dir.path().join("merged.xml");
    let markdown = dir.path().join("merged.md");
    let merged_out = finish(
        runner()
            .arg("merge")
            .arg(&out)
            .arg("-o")
            .arg(&merged_jsonl)
            .arg("--junit")
            .arg(&junit)
            .arg("--markdown")
            .arg(&markdown)
            .env("GITHUB_STEP_SUMMARY", &step_summary),
    );
    assert_eq!(merged_out.status.code(), Some(1), "{ctx}: merge: {}", describe(&merged_out));
    let merged = records(&merged_jsonl);
    assert_same_results(&single, &merged, &ctx);
    // `runner report` reads the shards' directory as it reads the merged file: the same campaign.
    let report_of = |input: &Path| {
        let out = finish(runner().arg("report").arg(input));
        assert_eq!(
            out.status.code(),
            Some(1),
            "{ctx}: runner report {}: {}",
            input.display(),
            describe(&out)
        );
        let md = text(&out.stdout);
        let counts = md.lines().find(|l| l.starts_with("13 programs: ")).map(String::from);
        let buckets: Vec<String> =
            md.lines().filter(|l| l.starts_with("| ") && l.contains(" | `")).map(String::from).collect();
        (counts.unwrap_or_else(|| panic!("{ctx}: no counts line in\n{md}")), buckets)
    };
    assert_eq!(
        report_of(&out),
        report_of(&merged_jsonl),
        "{ctx}: runner report of the shards and of the merge"
    );
    assert_same_summary(&text(&single_out.stdout), &text(&merged_out.stdout), &single, &ctx);
    assert!(
        text(&merged_out.stdout).contains("(3 of 3 shards merged, warm mode)"),
        "{}",
        describe(&merged_out)
    );

    let xml = std::fs::read_to_string(&junit).unwrap();
    let failures = single
        .iter()
        .filter(|r| ["failed", "crashed", "timed_out"].contains(&r["status"].as_str().unwrap()))
        .count();
    assert!(
        xml.contains(&format!(r#"tests="13" skipped="1" failures="{failures}" errors="0""#)),
        "{ctx}: {xml}"
    );
    assert_eq!(xml.matches("<testcase ").count(), 13, "{ctx}: one case per program");
    let md = std::fs::read_to_string(&markdown).unwrap();
    assert!(md.starts_with("## FAIL: runner merge: 3 of 3 shards merged"), "{ctx}: {md}");
    for k in 1..=3 {
        assert!(
            md.contains(&format!("| {k}/3 | `{}", out.join(format!("results-{k}-of-3.jsonl")).display())),
            "{md}"
        );
    }
    assert_eq!(std::fs::read_to_string(&step_summary).unwrap(), format!("earlier step\n{md}"), "appended");
}

#[test]
fn the_scheduler_names_the_shard() {
    let dir = tempfile::tempdir().unwrap();
    let root = write_corpus(dir.path(), None);
    let listed = |envs: &[(&str, &str)], extra: &[&str]| {
        let mut cmd = batch(&root, &["--dry-run"]);
        cmd.args(extra);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let out = finish(&mut cmd);
        assert_eq!(out.status.code(), Some(0), "{envs:?} {extra:?}: {}", describe(&out));
        text(&out.stdout)
    };
    let slurm = |id: &str, min: &str, max: &str, step: &str| {
        vec![
            ("SLURM_ARRAY_TASK_ID", id.to_string()),
            ("SLURM_ARRAY_TASK_COUNT", "3".to_string()),
            ("SLURM_ARRAY_TASK_MIN", min.to_string()),
            ("SLURM_ARRAY_TASK_MAX", max.to_string()),
            ("SLURM_ARRAY_TASK_STEP", step.to_string()),
        ]
    };
    // (the environment, flags, the shard they name)
    type Case<'a> = (Vec<(&'a str, String)>, Vec<&'a str>, &'a str);
    let cases: Vec<Case> = vec![
        (vec![("JOB_COMPLETION_INDEX", "2".into()), ("RUNNER_SHARD_COUNT", "3".into())], vec![], "3/3"),
        (vec![("JOB_COMPLETION_INDEX", "0".into())], vec!["--shard-count", "3"], "1/3"),
        (slurm("4", "0", "4", "2"), vec![], "3/3"),
        (slurm("1", "1", "3", "1"), vec![], "1/3"),
        (slurm("2", "0", "2", "1"), vec![], "3/3"),
    ];
    for (envs, extra, shard) in &cases {
        let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let got = listed(&envs, extra);
        assert_eq!(got, listed(&[], &["--shard", shard]), "{envs:?}: the programs of shard {shard}");
    }
    // The shards of the flag, together, are the whole corpus; an empty shard lists nothing.
    let all = listed(&[], &[]);
    let mut shards: Vec<String> = (1..=3)
        .flat_map(|k| {
            listed(&[], &["--shard", &format!("{k}/3")]).lines().map(String::from).collect::<Vec<_>>()
        })
        .collect();
    shards.sort();
    let mut every: Vec<String> = all.lines().map(String::from).collect();
    every.sort();
    assert_eq!(shards, every, "the shards together list every program once");

    // A real run says where its shard came from.
    let out = finish(
        batch(&root, &["-o", "out/"])
            .current_dir(dir.path())
            .env("JOB_COMPLETION_INDEX", "1")
            .env("RUNNER_SHARD_COUNT", "3"),
    );
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", describe(&out));
    assert!(text(&out.stdout).contains("from Kubernetes completion index 1 of 3"), "{}", describe(&out));
    for r in records(&dir.path().join("out/results-2-of-3.jsonl")) {
        assert_eq!((&r["shard"]["index"], &r["shard"]["source"]), (&json!(2), &json!("kubernetes")), "{r}");
    }

    // Kubernetes gives no count: without one, nothing runs and one line says what to pass.
    let out = finish(batch(&root, &[]).env("JOB_COMPLETION_INDEX", "1").env_remove("RUNNER_SHARD_COUNT"));
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.contains("--shard-count N"), "{err}");
    // An array that is no range (--array=1,5,7) names no shard.
    let out = finish(
        batch(&root, &[])
            .env("SLURM_ARRAY_TASK_ID", "5")
            .env("SLURM_ARRAY_TASK_COUNT", "3")
            .env("SLURM_ARRAY_TASK_MIN", "1")
            .env("SLURM_ARRAY_TASK_MAX", "7"),
    );
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(text(&out.stderr).contains("give --shard K/N"), "{}", describe(&out));
}

#[test]
fn an_empty_shard_is_a_clean_run_and_merges() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("corpus");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("only.py"), "print('only')\n").unwrap();
    let mut empty = 0;
    for k in 1..=4 {
        let out = finish(batch(&root, &["--shard", &format!("{k}/4"), "-o", "out/"]).current_dir(dir.path()));
        assert_eq!(out.status.code(), Some(0), "shard {k}/4: {}", describe(&out));
        let recs = records(&dir.path().join(format!("out/results-{k}-of-4.jsonl")));
        if recs.is_empty() {
            empty += 1;
            assert!(text(&out.stdout).contains("PASS 0 of 0 programs run"), "{}", describe(&out));
        }
    }
    assert_eq!(empty, 3, "one program, four shards");
    let out = merge(&[dir.path().join("out").as_os_str()]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(
        text(&out.stdout).contains("PASS 1 of 1 programs run (4 of 4 shards merged"),
        "{}",
        describe(&out)
    );
}

/// Slurm (at a time limit, a preemption, `scancel`) and a machine's shutdown send SIGTERM to every
/// process of the job, not only to runner: the program that is running dies of it, and so may the
/// engine's processes. The shard must lose that program only (no record, not a crash), keep what
/// finished before, and `--resume` must complete it to what one machine gives.
#[test]
fn a_termination_of_every_process_loses_only_the_running_program_and_resume_completes_the_shard() {
    let dir = tempfile::tempdir().unwrap();
    let mut gate = Gate::new(dir.path());
    let root = write_corpus(dir.path(), Some(&gate.path));
    let jsonl = dir.path().join("out/results-1-of-1.jsonl");
    let shard_args = ["--shard", "1/1", "-o", "out/", "--interrupt-grace", "5"];
    let mut cmd = batch(&root, &shard_args);
    cmd.current_dir(dir.path()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0).spawn().expect("start runner")
    };
    let pid = child.id();
    assert_eq!(gate.wait(), "-", "the gate program runs");
    // Every process of the shard, the deepest first (runner last: the harder order for it).
    let mut tree = campaign::descendants(pid);
    tree.push(pid);
    for p in &tree {
        // SAFETY: signals processes of this test's own runner.
        unsafe { libc::kill(*p as libc::pid_t, libc::SIGTERM) };
    }
    let out = runner_tests::wait_within(child, HANG_LIMIT, "the terminated shard");
    assert_eq!(out.status.code(), Some(130), "{}", describe(&out));
    assert_all_die(&tree, "the terminated shard's processes");
    let recs = records(&jsonl);
    let programs: Vec<&str> = recs.iter().map(|r| r["program"].as_str().unwrap()).collect();
    let gate_path = root.join(campaign::GATE);
    assert!(!programs.contains(&gate_path.to_str().unwrap()), "the killed gate has no record: {recs:?}");
    for r in &recs {
        let rel = Path::new(r["program"].as_str().unwrap()).strip_prefix(&root).unwrap();
        assert!(rel < Path::new(campaign::GATE), "{} ran after the termination: {r}", rel.display());
        assert!(
            r["returncode"] != json!(-15) && r["returncode"] != json!(-9) || r["timed_out"] == true,
            "a casualty of the termination recorded as the program's result: {r}"
        );
    }
    assert_eq!(recs.len(), 5, "the programs before the gate (crash/, fail/) are kept: {programs:?}");
    // The gate is cancelled. So are the programs the worker took in the moment between the engine's
    // processes getting their SIGTERM and runner getting its own (each found its executor or zygote
    // terminated; as many as three were seen): they were running when the termination reached
    // runner. None has a record (above), so --resume runs them all (below).
    let cancelled = text(&out.stdout)
        .lines()
        .find_map(|l| l.trim().strip_prefix("cancelled ")?.split(':').next()?.parse::<usize>().ok());
    assert!(cancelled.is_some_and(|n| (1..=14 - 5).contains(&n)), "{}", describe(&out));

    // The next attempt, with the gate open, completes the shard.
    drop(gate);
    let resumed = finish(batch(&root, &shard_args).arg("--resume").current_dir(dir.path()));
    assert_eq!(resumed.status.code(), Some(1), "{}", describe(&resumed));
    assert!(text(&resumed.stdout).contains("5 already recorded (--resume)"), "{}", describe(&resumed));
    let single_jsonl = dir.path().join("single.jsonl");
    let single_out = finish(batch(&root, &["-o"]).arg(&single_jsonl));
    let merged_jsonl = dir.path().join("merged.jsonl");
    let merged_out = merge(&[dir.path().join("out").as_os_str(), "-o".as_ref(), merged_jsonl.as_os_str()]);
    assert_eq!(merged_out.status.code(), Some(1), "{}", describe(&merged_out));
    let single = records(&single_jsonl);
    assert_same_results(&single, &records(&merged_jsonl), "terminated, then resumed");
    assert_same_summary(
        &text(&single_out.stdout),
        &text(&merged_out.stdout),
        &single,
        "terminated, then resumed",
    );
}

#[test]
fn merge_refuses_what_is_not_one_campaign_in_one_line_and_warns_of_a_cut_line() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("corpus");
    std::fs::create_dir(&root).unwrap();
    for i in 0..6 {
        std::fs::write(root.join(format!("p{i}.py")), format!("print({i})\n")).unwrap();
    }
    let run = |extra: &[&str]| {
        let out = finish(batch(&root, extra).current_dir(dir.path()));
        assert_eq!(out.status.code(), Some(0), "{extra:?}: {}", describe(&out));
    };
    run(&["--shard", "1/2", "-o", "a/"]);
    run(&["--shard", "2/2", "-o", "a/"]);
    run(&["--shard", "2/3", "-o", "other_n/"]);
    run(&["--shard", "2/2", "--max-output", "1000", "-o", "other_settings/"]);
    let a1 = dir.path().join("a/results-1-of-2.jsonl");
    let a2 = dir.path().join("a/results-2-of-2.jsonl");
    let copy = dir.path().join("copy-2-of-2.jsonl");
    std::fs::copy(&a2, &copy).unwrap();
    let cases = [
        (vec![a1.clone(), dir.path().join("other_n/results-2-of-3.jsonl")], "N differs"),
        (vec![a1.clone(), a2.clone(), copy.clone()], "is in two files"),
        (vec![a1.clone(), dir.path().join("other_settings/results-2-of-2.jsonl")], "other settings"),
    ];
    let merged = dir.path().join("merged.jsonl");
    std::fs::write(&merged, "an earlier merge\n").unwrap();
    for (files, want) in cases {
        let mut args: Vec<&std::ffi::OsStr> = files.iter().map(|f| f.as_os_str()).collect();
        args.extend(["-o".as_ref(), merged.as_os_str()]);
        let out = merge(&args);
        assert_eq!(out.status.code(), Some(2), "{want}: {}", describe(&out));
        let err = text(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{want}: one line: {err}");
        assert!(err.contains(want), "{want}: {err}");
        assert_eq!(std::fs::read_to_string(&merged).unwrap(), "an earlier merge\n", "{want}: nothing lost");
    }

    // A file named twice is read once; a cut last line (a writer killed mid-line) is left out with a
    // warning naming the file, and its program counts as not run.
    let first_line = std::fs::read_to_string(&a2).unwrap().lines().next().unwrap().to_string();
    let mut cut = std::fs::read_to_string(&a2).unwrap();
    let kept = cut.lines().count();
    cut.truncate(cut.len() - first_line.len() / 2 - 1);
    std::fs::write(&a2, &cut).unwrap();
    let out = merge(&[a1.as_os_str(), a2.as_os_str(), a2.as_os_str(), "-o".as_ref(), merged.as_os_str()]);
    let err = text(&out.stderr);
    assert!(err.contains("is named twice"), "{err}");
    assert!(err.contains(&format!("{}: its last line (line {kept}) is cut", a2.display())), "{err}");
    assert_eq!(out.status.code(), Some(3), "a program without a result: {}", describe(&out));
    assert!(text(&out.stdout).contains("1 of its"), "{}", describe(&out));
    assert_eq!(records(&merged).len(), 5);
}

/// docs/cluster.md gives the hash partition in Python so that other tools can compute a split
/// without runner. Run as written there, it must give what `runner batch --dry-run --shard K/N`
/// lists, on a corpus small enough that many programs find their first choice full.
#[test]
fn the_hash_partition_documented_in_python_deals_as_runner_does() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/cluster.md")).unwrap();
    let after = doc.split_once("```python\n").expect("docs/cluster.md has the Python partition").1;
    let code: String = after
        .split_once("```")
        .expect("its code block ends")
        .0
        .lines()
        .map(|l| format!("{}\n", l.strip_prefix("  ").unwrap_or(l)))
        .collect();
    assert!(code.contains("def deal("), "the block is the partition: {code}");

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("corpus");
    let mut relatives = Vec::new();
    for i in 0..300 {
        let rel = format!("d{}/prog_{i}.py", i % 4);
        std::fs::create_dir_all(root.join(&rel).parent().unwrap()).unwrap();
        std::fs::write(root.join(&rel), "pass\n").unwrap();
        relatives.push(rel);
    }
    relatives.sort();
    let n = 7;
    // The documented `deal`, then, computed apart from it, how many programs are not in their first
    // choice (so the test knows it exercised the bounded loads).
    const TAIL: &str = r#"
import sys
def first_choice(name, n):
    m = (1 << 64) - 1
    h = 0xcbf29ce484222325
    for b in name:
        h = ((h ^ b) * 0x100000001b3) & m
    h ^= h >> 33; h = (h * 0xff51afd7ed558ccd) & m
    h ^= h >> 33; h = (h * 0xc4ceb9fe1a85ec53) & m
    return (h ^ (h >> 33)) % n + 1
n = int(sys.argv[1])
names = sys.stdin.buffer.read().split(b"\n")
shards = deal(names, n)
print(" ".join(str(k) for k in shards))
print(sum(1 for name, k in zip(names, shards) if k != first_choice(name, n)))
"#;
    let script = format!("{code}{TAIL}");
    let mut python = Command::new(runner_tests::test_python());
    python
        .args(["-c", &script, &n.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = python.spawn().unwrap();
    {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(relatives.join("\n").as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the documented partition: {}", describe(&out));
    let stdout = text(&out.stdout);
    let mut lines = stdout.lines();
    let dealt: Vec<u32> = lines.next().unwrap().split(' ').map(|k| k.parse().unwrap()).collect();
    let displaced: usize = lines.next().unwrap().parse().unwrap();
    assert_eq!(dealt.len(), relatives.len());
    assert!(displaced > 0, "no program was displaced: the test checks nothing");

    for k in 1..=n {
        let dry = finish(runner().args(["batch", "--dry-run", "--shard", &format!("{k}/{n}")]).arg(&root));
        assert_eq!(dry.status.code(), Some(0), "shard {k}: {}", describe(&dry));
        let listed: Vec<String> = text(&dry.stdout).lines().map(String::from).collect();
        let documented: Vec<String> = relatives
            .iter()
            .zip(&dealt)
            .filter(|(_, &s)| s == k)
            .map(|(rel, _)| root.join(rel).display().to_string())
            .collect();
        assert_eq!(listed, documented, "shard {k}/{n}: runner and the documented partition differ");
    }
}
