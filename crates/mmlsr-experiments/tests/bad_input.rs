//! The bad-input catalogue: settings and files a new user gets wrong, each with the verdict
//! the CLI must give: a refusal naming what is wrong, a warning on a legal but suspicious
//! input, or a quiet success. No case may pass silently with wrong output, panic or abort.
//!
//! One fixture (a tiny generated folder, a 2-epoch D2S run, its encoding, index and search)
//! serves every case; each case runs `mmlsr` and checks its exit status and its stderr.

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use mmlsr_core::CsrMatrix;
use mmlsr_store::{IdIndex, SparseTable};

fn mmlsr() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mmlsr"))
}

/// What a case must give.
#[derive(Debug, Clone, Copy)]
enum Verdict {
    /// Non-zero exit, stderr contains the fragment.
    Refused(&'static str),
    /// Exit 0, stderr contains the fragment.
    Warned(&'static str),
}

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Fixture {
    fn p(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }
    fn data(&self) -> PathBuf {
        self.p("data/synth-flickr-weak")
    }
}

fn ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    let (so, se) = (
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    );
    assert!(out.status.success(), "{cmd:?}\n{so}\n{se}");
    so
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let f = Fixture { _dir: dir, root };
    ok(mmlsr()
        .args([
            "synth",
            "--scale",
            "tiny",
            "--quiet",
            "--datasets",
            "flickr",
        ])
        .args(["--backbones", "weak", "--out"])
        .arg(f.p("data")));
    ok(mmlsr()
        .arg("train")
        .arg(f.data())
        .arg("--out")
        .arg(f.p("run"))
        .args(["--epochs", "2", "--quiet"]));
    ok(mmlsr()
        .arg("encode")
        .arg(f.p("run/model"))
        .arg(f.data())
        .arg("--out")
        .arg(f.p("enc")));
    ok(mmlsr()
        .arg("index")
        .arg(f.p("enc"))
        .arg("--out")
        .arg(f.p("idx")));
    f
}

/// Run one case; returns its stderr.
fn check(name: &str, cmd: &mut Command, verdict: Verdict) -> String {
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let code = out.status.code();
    assert!(
        code.is_some(),
        "{name}: killed by a signal ({:?})\n{stderr}",
        out.status
    );
    assert!(!stderr.contains("panicked"), "{name}: panicked\n{stderr}");
    match verdict {
        Verdict::Refused(fragment) => {
            assert_ne!(code, Some(0), "{name}: accepted\n{stderr}");
            assert!(
                stderr.contains(fragment),
                "{name}: refused without {fragment:?}\n{stderr}"
            );
        }
        Verdict::Warned(fragment) => {
            assert_eq!(code, Some(0), "{name}: refused\n{stderr}");
            assert!(
                stderr.contains(fragment),
                "{name}: no {fragment:?}\n{stderr}"
            );
        }
    }
    stderr
}

fn write_sparse(path: &Path, rows: &[(&[u32], &[f32])], vocab: usize) {
    let mut m = CsrMatrix::empty(vocab);
    for (i, v) in rows {
        m.push_row(i, v).unwrap();
    }
    let ids = IdIndex::from_ids((0..rows.len()).map(|r| format!("img{r}"))).unwrap();
    SparseTable::new(ids, m)
        .unwrap()
        .write_parquet(path)
        .unwrap();
}

#[test]
fn the_catalogue_of_bad_inputs_gets_clear_verdicts() {
    use Verdict::*;
    let f = fixture();
    let data = f.data();
    let mut counts = [0usize; 2];
    let mut case = |name: &str, cmd: &mut Command, v: Verdict| {
        counts[matches!(v, Warned(_)) as usize] += 1;
        check(name, cmd, v)
    };

    // --- Overwriting a run -------------------------------------------------------------
    let train = |out: &str| {
        let mut c = mmlsr();
        c.arg("train")
            .arg(&data)
            .arg("--out")
            .arg(f.p(out))
            .args(["--epochs", "2", "--quiet"]);
        c
    };
    case(
        "train into a finished run",
        &mut train("run"),
        Refused("a training run already exists here"),
    );
    // A copy of the run whose checkpoints were deleted: its model and test results remain.
    ok(Command::new("cp")
        .arg("-r")
        .arg(f.p("run"))
        .arg(f.p("run2")));
    std::fs::remove_dir_all(f.p("run2/epochs")).unwrap();
    case(
        "train over test results without checkpoints",
        &mut train("run2"),
        Refused("test results of an earlier run are here"),
    );
    case(
        "resume over test results without checkpoints",
        train("run2").arg("--resume"),
        Refused("no epoch checkpoint to resume from"),
    );
    std::fs::remove_file(f.p("run2/test_metrics.json")).unwrap();
    std::fs::remove_file(f.p("run2/test_run.trec")).unwrap();
    case(
        "train over a model without checkpoints",
        &mut train("run2"),
        Refused("run2/model: the results of a run are here"),
    );
    ok(train("run2").arg("--force"));
    assert!(f.p("run2/epochs").is_dir() && f.p("run2/test_metrics.json").is_file());
    case(
        "resume with another setting",
        train("run2").args(["--resume", "--eta", "1e-2"]),
        Refused("loss.q_reg: 0.001 in the run, 0.01 now"),
    );
    case(
        "resume with fewer epochs",
        &mut {
            let mut c = mmlsr();
            c.arg("train")
                .arg(&data)
                .arg("--out")
                .arg(f.p("run2"))
                .args(["--epochs", "1", "--quiet", "--resume"]);
            c
        },
        Refused("epochs: 2 in the run, 1 now"),
    );
    // Raising --epochs on resume is allowed and trains the extra epoch.
    ok(mmlsr()
        .arg("train")
        .arg(&data)
        .arg("--out")
        .arg(f.p("run2"))
        .args(["--epochs", "3", "--quiet", "--resume"]));
    let log = std::fs::read_to_string(f.p("run2/train_log.csv")).unwrap();
    assert!(
        log.lines().any(|l| l.split(',').nth(1) == Some("3")),
        "no third epoch in the log:\n{log}"
    );
    case(
        "--resume with --force",
        train("run2").args(["--resume", "--force"]),
        Refused("cannot be used with"),
    );

    // --- Degenerate settings -------------------------------------------------------------
    let search = |k: &str| {
        let mut c = mmlsr();
        c.arg("search")
            .arg(f.p("idx"))
            .arg(f.p("enc"))
            .arg("--out")
            .arg(f.p("s.trec"))
            .args(["--k", k]);
        c
    };
    case(
        "search --k 0",
        &mut search("0"),
        Refused("must be at least 1"),
    );
    let encode = |flags: &[&str]| {
        let mut c = mmlsr();
        c.arg("encode")
            .arg(f.p("run/model"))
            .arg(&data)
            .arg("--out")
            .arg(f.p("enc-bad"))
            .args(flags);
        c
    };
    case(
        "encode --top-k 0",
        &mut encode(&["--top-k", "0"]),
        Refused("must be at least 1"),
    );
    case(
        "encode --threshold nan",
        &mut encode(&["--threshold", "nan"]),
        Refused("not a finite number"),
    );
    case(
        "encode --threshold above every weight",
        &mut encode(&["--threshold", "1e9"]),
        Refused("leaves every image vector empty"),
    );
    assert!(!f.p("enc-bad/img_sparse.parquet").exists());
    case(
        "bench --ks 0",
        mmlsr().args(["bench", "--ks", "0"]),
        Refused("must be at least 1"),
    );
    case(
        "explain --k 0",
        mmlsr()
            .arg("explain")
            .arg(f.p("run/model"))
            .arg(&data)
            .args(["--k", "0"]),
        Refused("must be at least 1"),
    );

    // --- Index inputs ----------------------------------------------------------------------
    std::fs::create_dir_all(f.p("outlier")).unwrap();
    let mut rows: Vec<(Vec<u32>, Vec<f32>)> = (0..50)
        .map(|r| (vec![r % 7, 7 + r % 5], vec![1.0 + r as f32 * 0.01, 0.5]))
        .collect();
    rows[17].1[0] = 1e30;
    let refs: Vec<(&[u32], &[f32])> = rows
        .iter()
        .map(|(i, v)| (i.as_slice(), v.as_slice()))
        .collect();
    write_sparse(&f.p("outlier/img_sparse.parquet"), &refs, 16);
    case(
        "index a 1e30 outlier weight",
        mmlsr()
            .arg("index")
            .arg(f.p("outlier"))
            .arg("--out")
            .arg(f.p("idx-outlier")),
        Refused("the largest weight, 1e30 (image img17)"),
    );
    std::fs::create_dir_all(f.p("negative")).unwrap();
    write_sparse(
        &f.p("negative/img_sparse.parquet"),
        &[(&[1, 2], &[1.0, 2.0]), (&[0, 3], &[0.5, -1.0])],
        4,
    );
    case(
        "index a negative weight",
        mmlsr()
            .arg("index")
            .arg(f.p("negative"))
            .arg("--out")
            .arg(f.p("idx-negative")),
        Refused(
            "img_sparse.parquet: invalid index input: document 1 (row of the indexed matrix), term 3: weight -1",
        ),
    );

    // --- Evaluation ------------------------------------------------------------------------
    let full = std::fs::read_to_string(f.p("run/test_run.trec")).unwrap();
    let first_ten: Vec<&str> = {
        let mut qs: Vec<&str> = full.lines().map(|l| l.split(' ').next().unwrap()).collect();
        qs.dedup();
        qs.truncate(10);
        qs
    };
    let part: String = full
        .lines()
        .filter(|l| first_ten.contains(&l.split(' ').next().unwrap()))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(f.p("part.trec"), part).unwrap();
    let evaluate = |run: &str, flags: &[&str]| {
        let mut c = mmlsr();
        c.arg("evaluate")
            .arg(f.p(run))
            .arg("--data")
            .arg(&data)
            .arg("--out")
            .arg(f.p(&format!("{run}.eval")))
            .args(flags);
        c
    };
    case(
        "evaluate a run missing most judged queries",
        &mut evaluate("part.trec", &[]),
        Warned("990 of the 1000 judged queries have no results: counted as 0"),
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(f.p("part.trec.eval.json")).unwrap()).unwrap();
    assert_eq!(json["queries"], 1000);
    assert_eq!(json["queries_without_results"], 990);
    let complete = json["measures"]["R@1"].as_f64().unwrap();
    case(
        "evaluate --judged-only",
        &mut evaluate("part.trec", &["--judged-only"]),
        Warned("left out (--judged-only)"),
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(f.p("part.trec.eval.json")).unwrap()).unwrap();
    assert_eq!(json["queries"], 10);
    let judged = json["measures"]["R@1"].as_f64().unwrap();
    assert!(
        (complete * 100.0 - judged).abs() < 1e-9,
        "complete {complete} vs judged-only {judged}: the 990 zeros are averaged in"
    );
    let mut alien = full.lines().take(5).collect::<Vec<_>>().join("\n");
    alien.push_str("\nq-from-elsewhere Q0 x 1 1.0 t\n");
    std::fs::write(f.p("mixed.trec"), alien).unwrap();
    case(
        "evaluate a run with queries of another split",
        &mut evaluate("mixed.trec", &[]),
        Warned("1 of its 2 queries are not judged here"),
    );
    std::fs::write(f.p("conflict.qrels"), "q1 0 a 1\nq1 0 a 0\nq2 0 b 0\n").unwrap();
    std::fs::write(f.p("q.trec"), "q1 Q0 a 1 1.0 t\n").unwrap();
    let stderr = case(
        "evaluate against conflicting qrels",
        mmlsr()
            .arg("evaluate")
            .arg(f.p("q.trec"))
            .arg("--qrels")
            .arg(f.p("conflict.qrels")),
        Warned("conflict.qrels:2: query q1 document a has grade 0 here and 1 at line 1"),
    );
    assert!(
        stderr.contains("2 of the 2 judged queries have no relevant document"),
        "{stderr}"
    );
    for alpha in ["5", "nan", "0"] {
        case(
            &format!("compare --alpha {alpha}"),
            mmlsr()
                .arg("compare")
                .arg(f.p("run/test_run.trec"))
                .arg(f.p("part.trec"))
                .arg("--data")
                .arg(&data)
                .args(["--alpha", alpha]),
            Refused("strictly between 0 and 1"),
        );
    }

    // --- A closed stdout (`| head`) ----------------------------------------------------------
    for (name, args) in [
        (
            "evaluate",
            vec![
                "evaluate".to_string(),
                f.p("run/test_run.trec").display().to_string(),
                "--data".into(),
                data.display().to_string(),
                "--out".into(),
                f.p("piped").display().to_string(),
            ],
        ),
        (
            "inspect",
            vec!["inspect".to_string(), data.display().to_string()],
        ),
    ] {
        let mut child = mmlsr()
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && !stderr.contains("panicked"),
            "{name} into a closed pipe: {:?}\n{stderr}",
            out.status
        );
    }
    assert!(f.p("piped.json").is_file() && f.p("piped.md").is_file());

    let [refused, warned] = counts;
    eprintln!(
        "bad-input catalogue: {refused} refused with the expected message, {warned} accepted \
         with the expected warning"
    );
}
