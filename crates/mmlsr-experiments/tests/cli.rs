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
