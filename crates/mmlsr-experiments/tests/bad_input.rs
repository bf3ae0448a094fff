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

    // --- Integrity: every folder mmlsr writes carries a SHA-256 manifest -------------------
    for dir in ["data/synth-flickr-weak", "run/model", "enc", "idx"] {
        assert!(
            f.p(dir).join("MANIFEST.sha256").is_file(),
            "{dir} has no manifest"
        );
    }
    let copy = |from: &str, to: &str| {
        ok(Command::new("cp").arg("-r").arg(f.p(from)).arg(f.p(to)));
        f.p(to)
    };
    // One bit of the file's middle byte (inside a data page for the Parquet files).
    let flip_middle_bit = |path: &Path| {
        let mut bytes = std::fs::read(path).unwrap();
        let at = bytes.len() / 2;
        bytes[at] ^= 0x10;
        std::fs::write(path, bytes).unwrap();
    };
    let model = copy("run/model", "model-flipped");
    flip_middle_bit(&model.join("head.safetensors"));
    case(
        "encode with a bit flipped in head.safetensors",
        mmlsr()
            .arg("encode")
            .arg(&model)
            .arg(&data)
            .arg("--out")
            .arg(f.p("enc-flipped")),
        Refused("head.safetensors: SHA-256"),
    );
    // A checkpoint whose optimiser state was truncated: the manifest names the file, and
    // without a manifest the loader does.
    let run3 = copy("run", "run3");
    let epoch = std::fs::read_dir(run3.join("epochs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .max()
        .unwrap();
    let optim = epoch.join("optim_proj.mpk");
    let bytes = std::fs::read(&optim).unwrap();
    std::fs::write(&optim, &bytes[..bytes.len() / 2]).unwrap();
    let resume3 = || {
        let mut c = mmlsr();
        c.arg("train")
            .arg(&data)
            .arg("--out")
            .arg(&run3)
            .args(["--epochs", "3", "--quiet", "--resume"]);
        c
    };
    case(
        "resume from a truncated optimiser state",
        &mut resume3(),
        Refused("optim_proj.mpk: SHA-256"),
    );
    std::fs::remove_file(epoch.join("MANIFEST.sha256")).unwrap();
    case(
        "resume from a truncated optimiser state without a manifest",
        &mut resume3(),
        Refused("optim_proj.mpk: unreadable optimiser state"),
    );
    let flipped_data = copy("data/synth-flickr-weak", "data-flipped");
    flip_middle_bit(&flipped_data.join("img_embs.parquet"));
    case(
        "inspect a data folder with a flipped bit in a Parquet data page",
        mmlsr().arg("inspect").arg(&flipped_data),
        Refused("img_embs.parquet: SHA-256"),
    );
    let search_idx = |idx: &Path, enc: &Path| {
        let mut c = mmlsr();
        c.arg("search")
            .arg(idx)
            .arg(enc)
            .arg("--out")
            .arg(f.p("integrity.trec"))
            .args(["--k", "10"]);
        c
    };
    let idx = copy("idx", "idx-swapped");
    let ids = std::fs::read_to_string(idx.join("doc_ids.txt")).unwrap();
    let mut lines: Vec<&str> = ids.lines().collect();
    lines.swap(0, 1);
    std::fs::write(idx.join("doc_ids.txt"), lines.join("\n") + "\n").unwrap();
    case(
        "search an index whose doc_ids.txt has two lines swapped",
        &mut search_idx(&idx, &f.p("enc")),
        Refused("doc_ids.txt: SHA-256"),
    );
    std::fs::remove_file(idx.join("MANIFEST.sha256")).unwrap();
    lines.swap(0, 1);
    lines[1] = lines[0];
    std::fs::write(idx.join("doc_ids.txt"), lines.join("\n") + "\n").unwrap();
    case(
        "search an unsealed index whose doc_ids.txt repeats an id",
        &mut search_idx(&idx, &f.p("enc")),
        Refused("doc_ids.txt:2: image id"),
    );
    let enc = copy("enc", "enc-flipped-queries");
    flip_middle_bit(&enc.join("text_sparse.parquet"));
    case(
        "search with flipped caption vectors",
        &mut search_idx(&f.p("idx"), &enc),
        Refused("text_sparse.parquet: SHA-256"),
    );

    // --- inspect runs what train checks --------------------------------------------------
    // Each folder is a copy without its manifest: the edits are the user's own.
    let unsealed = |to: &str| {
        let dir = copy("data/synth-flickr-weak", to);
        std::fs::remove_file(dir.join("MANIFEST.sha256")).unwrap();
        dir
    };
    let inspect = |dir: &Path| {
        let mut c = mmlsr();
        c.arg("inspect").arg(dir);
        c
    };
    let wide = unsealed("data-wv-shape");
    let wv = mmlsr_store::WordVectors::read(&wide.join("word_vectors.safetensors")).unwrap();
    mmlsr_store::WordVectors {
        vocab_size: wv.vocab_size,
        dim: 384,
        data: vec![0.01; wv.vocab_size * 384],
    }
    .write(&wide.join("word_vectors.safetensors"))
    .unwrap();
    // Word vectors narrower than BERT's: train takes d_hidden from them (inspect says so); a
    // configuration that sets another d_hidden is refused.
    case(
        "inspect word vectors 384 wide",
        &mut inspect(&wide),
        Warned("uses d_hidden = 384"),
    );
    std::fs::write(f.p("d_hidden.toml"), "d_hidden = 768\n").unwrap();
    case(
        "train on word vectors narrower than the configured d_hidden",
        mmlsr()
            .arg("train")
            .arg(&wide)
            .arg("--out")
            .arg(f.p("run-wv-shape"))
            .arg("--config")
            .arg(f.p("d_hidden.toml"))
            .args(["--epochs", "1", "--quiet"]),
        Refused("word vector dimension vs d_hidden: expected 768, found 384"),
    );
    let short = unsealed("data-vocab-short");
    let tokens = std::fs::read_to_string(short.join("vocab.txt")).unwrap();
    let kept: Vec<&str> = tokens.lines().take(tokens.lines().count() - 5).collect();
    std::fs::write(short.join("vocab.txt"), kept.join("\n") + "\n").unwrap();
    std::fs::remove_file(short.join("tokenizer.json")).unwrap();
    case(
        "inspect a vocabulary shorter than the word vectors",
        &mut inspect(&short),
        Refused("word vectors' vocabulary size vs the tokenizer's"),
    );
    let oov = unsealed("data-vocab-oov");
    let renamed: Vec<String> = tokens
        .lines()
        .enumerate()
        .map(|(i, t)| {
            if i >= 5 && i % 3 == 0 && !t.starts_with("##") {
                format!("zzunused{i}")
            } else {
                t.to_string()
            }
        })
        .collect();
    std::fs::write(oov.join("vocab.txt"), renamed.join("\n") + "\n").unwrap();
    std::fs::remove_file(oov.join("tokenizer.json")).unwrap();
    let stderr = case(
        "inspect a vocabulary missing many caption words",
        &mut inspect(&oov),
        Warned("of the caption tokens"),
    );
    assert!(stderr.contains("are [UNK] in this vocabulary"), "{stderr}");
    let noimg = unsealed("data-no-test");
    let meta = std::fs::read_to_string(noimg.join("dataset_meta.json")).unwrap();
    std::fs::write(
        noimg.join("dataset_meta.json"),
        meta.replace("\"split\":\"test\"", "\"split\":\"train\""),
    )
    .unwrap();
    case(
        "inspect a folder without a test split",
        &mut inspect(&noimg),
        Refused("the test split is empty"),
    );
    let empty = unsealed("data-no-images");
    mmlsr_store::EmbeddingWriter::create(
        &empty.join("img_embs.parquet"),
        256,
        mmlsr_store::WriteOptions::default(),
    )
    .unwrap()
    .finish()
    .unwrap();
    case(
        "inspect an empty image table",
        &mut inspect(&empty),
        Refused("img_embs.parquet: the table has no embeddings"),
    );
    let badid = unsealed("data-bad-imgid");
    let meta = std::fs::read_to_string(badid.join("dataset_meta.json")).unwrap();
    let at = meta.find("\"imgid\":").unwrap() + "\"imgid\":".len();
    let end = at + meta[at..].find(',').unwrap();
    std::fs::write(
        badid.join("dataset_meta.json"),
        format!("{}1.5{}", &meta[..at], &meta[end..]),
    )
    .unwrap();
    case(
        "inspect metadata with a fractional imgid",
        &mut inspect(&badid),
        Refused("invalid type: floating point `1.5`, expected an id"),
    );

    // A batch far larger than the data (it once asked for 102 GB and aborted) trains as one
    // batch per epoch.
    ok(mmlsr()
        .arg("train")
        .arg(&data)
        .arg("--out")
        .arg(f.p("run-huge-batch"))
        .args(["--epochs", "1", "--quiet", "--batch-size", "100000000"]));
    assert!(f.p("run-huge-batch/model/head.safetensors").is_file());

    // --- Concurrency and interrupted writes -------------------------------------------------
    let runs = f.p("locked-runs");
    std::fs::create_dir_all(&runs).unwrap();
    let lock = std::fs::File::create(runs.join(".reproduce.lock")).unwrap();
    lock.try_lock().unwrap();
    std::fs::write(runs.join(".reproduce.lock"), "process 1 (the test)").unwrap();
    let table2 = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/table2.toml");
    case(
        "a second reproduce on a runs folder in use",
        mmlsr()
            .args(["reproduce", "table2", "--config"])
            .arg(&table2)
            .arg("--runs")
            .arg(&runs)
            .arg("--data")
            .arg(f.p("no-data-needed"))
            .arg("--results")
            .arg(f.p("locked-results")),
        Refused("another `mmlsr reproduce` is using this runs folder (process 1 (the test))"),
    );
    assert!(
        !f.p("no-data-needed").exists(),
        "the refused reproduce generated data before taking the lock"
    );
    drop(lock);
    // A search killed mid-write left a temporary beside its run; the next write removes it.
    std::fs::create_dir_all(f.p("killed")).unwrap();
    let orphan = f.p("killed/.mmlsr-99999999-abc123.tmp");
    std::fs::write(&orphan, "q1 Q0 d1 1 1.0 half").unwrap();
    ok(mmlsr()
        .arg("search")
        .arg(f.p("idx"))
        .arg(f.p("enc"))
        .arg("--out")
        .arg(f.p("killed/run.trec"))
        .args(["--k", "5"]));
    assert!(!orphan.exists(), "a dead process's temporary was kept");

    let [refused, warned] = counts;
    eprintln!(
        "bad-input catalogue: {refused} refused with the expected message, {warned} accepted \
         with the expected warning"
    );
}
