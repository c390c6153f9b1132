//! A real cluster: a single-node Slurm (Debian's `slurm-wlm` daemons and `munge`) started on this
//! machine by the test, with a configuration it writes into a temporary directory, runs a campaign
//! as an `sbatch --array` of `runner batch` (three tasks, `--array=1-3`, so the mapping of a
//! 1-based array is exercised too). One task is terminated mid-run with `scancel --signal=TERM
//! --full` (SIGTERM to every process of the task, as Slurm's time limit, preemption and `scancel`
//! do), requeued (its script always passes `--resume`, so the next attempt completes the shard), and
//! the merged result must equal a single-machine `runner batch` of the same corpus, program by
//! program, with the same summary. The task's GPUs (`CUDA_VISIBLE_DEVICES`, as Slurm's GPU
//! allocation sets it) are the devices its workers use.
//!
//! `cargo xtask test` installs Slurm when it is missing and it runs as root. Without Slurm this test
//! fails when `CI` is set and says why it skips otherwise. The daemons run in the foreground as
//! children of the test (the test is a child subreaper, so the job steps they start stay below it),
//! and a guard stops them and kills whatever is left below the test when it ends, however it ends.
//! Nothing sleeps to wait: the daemons are ready when they say so on stderr, the terminated task's
//! program tells the test through a FIFO that it runs, and an `srun` that depends on a task waits
//! for it to end.

mod campaign;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use campaign::{assert_same_results, assert_same_summary, batch_args, records, write_corpus, Gate};
use runner_tests::{describe, finish_within, runner, runner_bin, test_python, text, HANG_LIMIT};
use serde_json::json;

/// The programs Slurm needs here.
const SLURM_PROGRAMS: &[&str] = &["munged", "slurmctld", "slurmd", "sbatch", "srun", "scancel", "scontrol"];

/// How long the daemons may take to say they are ready, and a task to end. Bounds a hang; measures
/// nothing.
const LIMIT: Duration = Duration::from_secs(120);

/// The array's tasks: `--array=1-3`.
const TASKS: u32 = 3;

/// `CUDA_VISIBLE_DEVICES` as Slurm sets it for a task granted two GPUs.
const GRANTED: &str = "4,6";

#[test]
fn a_campaign_on_a_slurm_job_array_survives_a_terminated_task_and_merges_into_one_machine_s_result() {
    if let Some(missing) = SLURM_PROGRAMS.iter().find(|p| which(p).is_none()) {
        let why = format!(
            "{missing} is not installed: Slurm (Debian's slurmctld, slurmd, slurm-client, munge) is needed; \
             `cargo xtask test` installs it when it runs as root"
        );
        assert!(std::env::var_os("CI").is_none(), "{why}");
        eprintln!("skipped: {why}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("gate");
    let root = write_corpus(dir.path(), Some(&fifo));

    // One machine, while the cluster starts (the gate's FIFO does not exist yet: it runs through).
    let single_jsonl = dir.path().join("single.jsonl");
    let single = {
        let mut cmd = runner();
        cmd.args(batch_args(&root)).arg("-o").arg(&single_jsonl);
        std::thread::spawn(move || finish_within(&mut cmd, None, HANG_LIMIT))
    };
    let cluster = Cluster::start(&dir.path().join("slurm"));
    let single_out = single.join().expect("the single-machine run");
    assert_eq!(single_out.status.code(), Some(1), "one machine: {}", describe(&single_out));

    let mut gate = Gate::new(dir.path());
    assert_eq!(gate.path, fifo);
    let out_dir = dir.path().join("out");
    let script = dir.path().join("shard.sh");
    let mut batch = format!("exec {} batch", shell(&runner_bin()));
    for arg in batch_args(&root).iter().skip(1) {
        batch.push(' ');
        batch.push_str(&shell(Path::new(arg)));
    }
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n\
             #SBATCH --cpus-per-task=1\n\
             #SBATCH --open-mode=append\n\
             #SBATCH --output={log}/task-%a.out\n\
             {batch} -o {out}/ --resume --interrupt-grace 1\n",
            log = dir.path().display(),
            out = out_dir.display(),
        ),
    )
    .unwrap();
    let job = cluster.submit(&["--array", &format!("1-{TASKS}"), script.to_str().unwrap()]);

    // The task that runs the gate is terminated while the gate runs, then requeued.
    let task = gate.wait();
    let killed = format!("{job}_{task}");
    cluster.ok(Command::new("scancel").args(["--signal=TERM", "--full", &killed]));
    cluster.wait_for(&killed);
    let k: usize = task.parse().expect("the gate's task id");
    let shard_file = out_dir.join(format!("results-{k}-of-{TASKS}.jsonl"));
    let cut = records(&shard_file);
    let gate_program = root.join(campaign::GATE);
    assert!(
        cut.iter().all(|r| r["program"] != json!(gate_program.to_str().unwrap())),
        "the terminated gate has no record: {cut:?}"
    );
    for r in &cut {
        let casualty =
            (r["returncode"] == json!(-15) || r["returncode"] == json!(-9)) && r["timed_out"] != true;
        assert!(!casualty, "a program killed by the termination is recorded as its result: {r}");
    }
    let state = cluster.output(Command::new("scontrol").args(["show", "job", &killed]));
    assert!(state.contains("ExitCode=130:0"), "the terminated task exits 130:\n{state}");
    let log = std::fs::read_to_string(dir.path().join(format!("task-{task}.out"))).unwrap_or_default();
    assert!(log.contains("interrupted"), "the task's summary says it was interrupted:\n{log}");

    drop(gate);
    cluster.ok(Command::new("scontrol").args(["requeue", &killed]));
    // A requeued job waits two minutes before it may start again; this one may start now.
    cluster.ok(Command::new("scontrol").args(["update", &format!("JobId={killed}"), "StartTime=now"]));
    cluster.wait_for(&job);
    let log = std::fs::read_to_string(dir.path().join(format!("task-{task}.out"))).unwrap_or_default();
    let resumed = format!("{} already recorded (--resume)", cut.len());
    assert!(cut.is_empty() || log.contains(&resumed), "the second attempt resumed the shard:\n{log}");

    // Every shard's records say Slurm chose it, and its workers used the task's GPUs.
    for k in 1..=TASKS {
        for r in records(&out_dir.join(format!("results-{k}-of-{TASKS}.jsonl"))) {
            assert_eq!(
                (&r["shard"]["index"], &r["shard"]["count"], &r["shard"]["source"]),
                (&json!(k), &json!(TASKS), &json!("slurm")),
                "{r}"
            );
            assert!(GRANTED.split(',').any(|d| r["device"] == json!(d)), "a granted GPU: {r}");
        }
    }

    let merged_jsonl = dir.path().join("merged.jsonl");
    let merged_out = finish_within(
        runner().arg("merge").arg(&out_dir).arg("-o").arg(&merged_jsonl).env_remove("GITHUB_STEP_SUMMARY"),
        None,
        HANG_LIMIT,
    );
    assert_eq!(merged_out.status.code(), Some(1), "merge: {}", describe(&merged_out));
    let single = records(&single_jsonl);
    assert_same_results(&single, &records(&merged_jsonl), "Slurm array, merged");
    assert_same_summary(&text(&single_out.stdout), &text(&merged_out.stdout), &single, "Slurm array, merged");
    drop(cluster);
}

/// `path` on `PATH` (or in the sbin directories, where Debian puts the daemons).
fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// `path` as one word for `sh`.
fn shell(path: &Path) -> String {
    format!("'{}'", path.to_str().expect("UTF-8 test paths").replace('\'', r"'\''"))
}

/// A free TCP port on localhost (free when asked: nothing else here binds ports at random).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A single-node Slurm of this test: munged, slurmctld and slurmd in the foreground, configured in
/// `dir`. Dropping it stops them and kills every process left below the test.
struct Cluster {
    dir: PathBuf,
    conf: PathBuf,
    daemons: Vec<(String, Child)>,
    /// What the daemons said, for messages.
    said: Arc<Mutex<Vec<String>>>,
}

impl Cluster {
    fn start(dir: &Path) -> Cluster {
        // Job steps daemonize away from slurmd; as a subreaper the test stays their ancestor, so the
        // guard finds and ends them.
        // SAFETY: prctl with an integer argument.
        let subreaper = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        assert_eq!(subreaper, 0, "prctl(PR_SET_CHILD_SUBREAPER)");
        let munge = dir.join("munge");
        let key_dir = dir.join("munge-key");
        for d in [&munge, &key_dir, &dir.join("state"), &dir.join("spool")] {
            std::fs::create_dir_all(d).unwrap();
        }
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::set_permissions(&munge, std::fs::Permissions::from_mode(0o755)).unwrap();
        let key = key_dir.join("munge.key");
        let random: Vec<u8> = (0..1024).map(|_| rand::random::<u8>()).collect();
        std::fs::write(&key, random).unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        let socket = munge.join("munge.socket");

        let host = hostname();
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let conf = dir.join("slurm.conf");
        std::fs::write(
            &conf,
            format!(
                "ClusterName=runnertest\n\
                 SlurmctldHost={host}(127.0.0.1)\n\
                 SlurmctldPort={ctld}\n\
                 SlurmdPort={slurmd}\n\
                 SlurmUser=root\n\
                 SlurmdUser=root\n\
                 AuthType=auth/munge\n\
                 CredType=cred/munge\n\
                 AuthInfo=socket={socket}\n\
                 StateSaveLocation={dir}/state\n\
                 SlurmdSpoolDir={dir}/spool\n\
                 SlurmctldPidFile={dir}/slurmctld.pid\n\
                 SlurmdPidFile={dir}/slurmd.pid\n\
                 ProctrackType=proctrack/linuxproc\n\
                 TaskPlugin=task/none\n\
                 SelectType=select/cons_tres\n\
                 SelectTypeParameters=CR_CPU\n\
                 SchedulerType=sched/builtin\n\
                 JobAcctGatherType=jobacct_gather/none\n\
                 AccountingStorageType=accounting_storage/none\n\
                 MpiDefault=none\n\
                 MailProg=/bin/true\n\
                 ReturnToService=2\n\
                 KillWait=5\n\
                 MinJobAge=600\n\
                 NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory=100 State=UNKNOWN\n\
                 PartitionName=runner Nodes={host} Default=YES MaxTime=INFINITE State=UP\n",
                ctld = free_port(),
                slurmd = free_port(),
                socket = socket.display(),
                dir = dir.display(),
            ),
        )
        .unwrap();
        let mut cluster = Cluster {
            dir: dir.to_path_buf(),
            conf,
            daemons: Vec::new(),
            said: Arc::new(Mutex::new(Vec::new())),
        };
        let mut munged = Command::new(which("munged").unwrap());
        munged
            .args(["--foreground", "--force", "--num-threads=2"])
            .arg(format!("--key-file={}", key.display()))
            .arg(format!("--socket={}", socket.display()))
            .arg(format!("--pid-file={}", munge.join("munged.pid").display()))
            .arg(format!("--seed-file={}", munge.join("munged.seed").display()))
            .arg(format!("--log-file={}", munge.join("munged.log").display()));
        cluster.daemon("munged", munged, "work threads");
        let mut ctld = Command::new(which("slurmctld").unwrap());
        ctld.args(["-D", "-i"]);
        cluster.daemon("slurmctld", ctld, "Running as primary controller");
        let mut slurmd = Command::new(which("slurmd").unwrap());
        slurmd.arg("-D");
        cluster.daemon("slurmd", slurmd, "slurmd started on");
        cluster
    }

    /// Starts a daemon in the foreground and waits until a line of its stderr contains `ready`;
    /// its output goes on being read (into `said`) so that it never blocks on a full pipe.
    fn daemon(&mut self, name: &str, mut cmd: Command, ready: &str) {
        let mut child = cmd
            .env("SLURM_CONF", &self.conf)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        let (tx, rx) = mpsc::channel::<()>();
        for stream in [
            Box::new(child.stderr.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stdout.take().unwrap()),
        ] {
            let (tx, said, ready, name) =
                (tx.clone(), Arc::clone(&self.said), ready.to_string(), name.to_string());
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    if line.contains(&ready) {
                        let _ = tx.send(());
                    }
                    said.lock().unwrap().push(format!("{name}: {line}"));
                }
            });
        }
        self.daemons.push((name.to_string(), child));
        if rx.recv_timeout(LIMIT).is_err() {
            panic!(
                "{name} did not say {ready:?} within {LIMIT:?}:\n{}",
                self.said.lock().unwrap().join("\n")
            );
        }
    }

    /// A Slurm client command of this cluster.
    fn command(&self, cmd: &mut Command) -> Output {
        cmd.env("SLURM_CONF", &self.conf)
            .env("CUDA_VISIBLE_DEVICES", GRANTED)
            .env("RUNNER_PYTHON", test_python());
        cmd.env_remove("VIRTUAL_ENV").current_dir(&self.dir);
        finish_within(cmd, None, LIMIT)
    }

    /// Runs a client command that must succeed.
    fn ok(&self, cmd: &mut Command) {
        let out = self.command(cmd);
        assert!(out.status.success(), "{cmd:?}: {}\n{}", describe(&out), self.said());
    }

    /// A client command's stdout (it must succeed).
    fn output(&self, cmd: &mut Command) -> String {
        let out = self.command(cmd);
        assert!(out.status.success(), "{cmd:?}: {}", describe(&out));
        text(&out.stdout)
    }

    /// Submits a batch job; returns its id.
    fn submit(&self, args: &[&str]) -> String {
        self.output(Command::new("sbatch").arg("--parsable").args(args)).trim().to_string()
    }

    /// Waits until `job` (a job, an array or one of its tasks) has ended: a job step that depends on
    /// it ending, run with `srun` (which the controller tells when it may start), returns then.
    fn wait_for(&self, job: &str) {
        let started = Instant::now();
        self.ok(Command::new("srun").args([
            "--quiet",
            "--ntasks=1",
            &format!("--dependency=afterany:{job}"),
            "true",
        ]));
        assert!(started.elapsed() < LIMIT, "{job} did not end within {LIMIT:?}");
    }

    fn said(&self) -> String {
        self.said.lock().unwrap().join("\n")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Jobs first (their steps outlive slurmd otherwise), then the daemons, then whatever is left
        // below the test; every process of the cluster is reaped here.
        let _ = Command::new("scancel")
            .args(["--full", "--signal=KILL", "--user=root"])
            .env("SLURM_CONF", &self.conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let (tx, exited) = mpsc::channel();
        let mut left = Vec::new();
        for (name, mut child) in std::mem::take(&mut self.daemons).into_iter().rev() {
            left.push(child.id());
            // SAFETY: signals a child of this test.
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
            let tx = tx.clone();
            std::thread::spawn(move || {
                let _ = child.wait();
                let _ = tx.send((name, child.id()));
            });
        }
        // The daemons get a while to stop (slurmctld saves its state); then they are killed.
        let deadline = Instant::now() + Duration::from_secs(30);
        while !left.is_empty() {
            match exited.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok((_, pid)) => left.retain(|p| *p != pid),
                Err(_) => {
                    for pid in left.drain(..) {
                        // SAFETY: kills a child of this test, not yet reaped (its waiter still waits).
                        unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
                    }
                }
            }
        }
        let stray = campaign::descendants(std::process::id());
        for pid in &stray {
            // SAFETY: kills a process left below this test (a job step, which the test adopted as
            // a subreaper).
            unsafe { libc::kill(*pid as libc::pid_t, libc::SIGKILL) };
        }
        for pid in stray {
            // SAFETY: reaps it when it is the test's child (else this returns ECHILD at once).
            unsafe { libc::waitpid(pid as libc::pid_t, std::ptr::null_mut(), 0) };
        }
    }
}

/// This machine's host name (Slurm's node and controller name).
fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer and its length.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    assert_eq!(rc, 0, "gethostname");
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).split('.').next().unwrap_or("localhost").to_string()
}
