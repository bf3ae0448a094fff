//! The `mmlsr` binary end to end: flags, output, and error messages.

use std::process::Command;

fn mmlsr() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mmlsr"))
}

#[test]
fn synth_then_inspect_agree_on_dense_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let out = mmlsr()
        .args([
            "synth",
            "--datasets",
            "flickr",
            "--backbones",
            "strong",
            "--quiet",
            "--seed",
            "3",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find(|l| l.starts_with("synth-flickr-strong"))
        .expect(&stdout);
    let r1: f64 = line.split_whitespace().nth(4).unwrap().parse().unwrap();
    let folder = dir.path().join("synth-flickr-strong");
    for f in [
        "README.md",
        "dataset_meta.json",
        "img_embs.parquet",
        "text_embs.parquet",
        "img_embs_before_proj.parquet",
        "text_embs_before_proj.parquet",
        "projections.safetensors",
        "word_vectors.safetensors",
        "vocab.txt",
        "tokenizer.json",
    ] {
        assert!(folder.join(f).is_file(), "{f} missing");
    }
    let out = mmlsr().arg("inspect").arg(&folder).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("R@1 {r1:.2}")),
        "inspect R@1 differs from synth's {r1}: {stdout}"
    );
    assert!(
        stdout.contains("pre-projection features: 768-d"),
        "{stdout}"
    );
}

#[test]
fn bad_input_gets_a_clear_message_and_a_failing_status() {
    let dir = tempfile::tempdir().unwrap();
    let out = mmlsr()
        .arg("inspect")
        .arg(dir.path().join("nowhere"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("nowhere") && stderr.contains("not found"),
        "{stderr}"
    );

    let out = mmlsr().arg("inspect").arg(dir.path()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("no dataset_meta.json"),
        "{stderr}"
    );

    let out = mmlsr()
        .args(["synth", "--vocab", "/no/such/vocab.txt", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("/no/such/vocab.txt"),
        "{stderr}"
    );

    let out = mmlsr().args(["synth", "--scale", "huge"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("possible values: small, full"));
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn train_encode_and_explain_on_a_tiny_folder() {
    let dir = tempfile::tempdir().unwrap();
    run_ok(
        mmlsr()
            .args([
                "synth",
                "--scale",
                "tiny",
                "--datasets",
                "flickr",
                "--backbones",
                "strong",
                "--quiet",
                "--out",
            ])
            .arg(dir.path()),
    );
    let data = dir.path().join("synth-flickr-strong");
    let out = dir.path().join("run");
    let config = dir.path().join("d2s.toml");
    std::fs::write(
        &config,
        "epochs = 2\nbatch_size = 100\n[loss]\nq_reg = 1e-4\n",
    )
    .unwrap();
    let stdout = run_ok(
        mmlsr()
            .arg("train")
            .arg(&data)
            .arg("--out")
            .arg(&out)
            .arg("--config")
            .arg(&config)
            .args(["--variant", "exp=c", "--quiet"]),
    );
    assert!(stdout.contains("sparse"), "{stdout}");
    let metrics: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("test_metrics.json")).unwrap()).unwrap();
    assert_eq!(metrics["variant"], "exp=c");
    assert_eq!(metrics["q_reg"], 1e-4);
    assert_eq!(metrics["d_reg"], 1e-3);
    let r1 = metrics["sparse"]["r1"].as_f64().unwrap();
    assert!(r1 > 5.0, "tiny sparse R@1 {r1} is at chance (0.5)");
    // The run file holds 10 images for each of the 1,000 test captions.
    let run = std::fs::read_to_string(out.join("test_run.trec")).unwrap();
    assert_eq!(run.lines().count(), 1000 * 10);

    let enc = dir.path().join("enc");
    run_ok(
        mmlsr()
            .arg("encode")
            .arg(out.join("model"))
            .arg(&data)
            .arg("--out")
            .arg(&enc)
            .args(["--top-k", "5"]),
    );
    let texts =
        mmlsr_store::SparseTable::read_parquet(&enc.join("text_sparse.parquet"), None).unwrap();
    assert_eq!(texts.matrix.n_rows(), 1000);
    assert!(texts.matrix.rows().all(|r| r.indices.len() <= 5));

    let caption = texts.ids.id(0).to_string();
    let stdout = run_ok(
        mmlsr()
            .arg("explain")
            .arg(out.join("model"))
            .arg(&data)
            .args(["--caption", &caption, "--k", "4"]),
    );
    assert!(stdout.contains(&format!("caption {caption}")), "{stdout}");

    // Starting again in the same directory without --resume is refused with a reason.
    let again = mmlsr()
        .arg("train")
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    // Unknown configuration keys are errors.
    std::fs::write(&config, "epochz = 2\n").unwrap();
    let bad = mmlsr()
        .arg("train")
        .arg(&data)
        .arg("--out")
        .arg(dir.path().join("run2"))
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success());
    assert!(err.contains("epochz") && err.contains("d2s.toml"), "{err}");
}
