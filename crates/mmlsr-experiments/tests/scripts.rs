//! The Python helpers under `scripts/` that users run once on real data, on fixtures.

use std::{path::Path, process::Command};

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Whether `python3` can import every module; outside CI a missing one skips the test (with a
/// message), in CI it fails it (`.ci/run` installs them).
fn has_modules(modules: &str) -> bool {
    let ok = Command::new(python())
        .args(["-c", &format!("import {modules}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "python3 cannot import {modules} in CI (.ci/run must install them)"
        );
        eprintln!("SKIPPED: python3 cannot import {modules}");
    }
    ok
}

fn repo_root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// Run `scripts/export_projections.py CHECKPOINT --out OUT`; returns (success, stdout+stderr).
fn export(checkpoint: &Path, out: &Path) -> (bool, String) {
    let o = Command::new(python())
        .arg(repo_root().join("scripts/export_projections.py"))
        .arg(checkpoint)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    (
        o.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

/// The projections of the fake checkpoint, as `make_fake_checkpoint.py` defines them.
fn check_fake_projections(path: &Path) {
    let p = mmlsr_store::Projections::read(path).unwrap();
    for l in [&p.text, &p.vision] {
        assert_eq!((l.out_dim, l.in_dim), (4, 6));
    }
    for i in 0..4 {
        for j in 0..6 {
            let text = (4 * j + i) as f32 / 10.0;
            let vision = -((6 * i + j) as f32) / 4.0;
            assert_eq!(p.text.weight[i * 6 + j], text, "text_proj.weight[{i}][{j}]");
            assert_eq!(
                p.vision.weight[i * 6 + j],
                vision,
                "vision_proj.weight[{i}][{j}]"
            );
        }
    }
    assert_eq!(p.text.bias, [3.0, 4.0, 5.0, 6.0]);
    assert_eq!(p.vision.bias, [1.0, 2.0, 3.0, 4.0]);
}

/// The committed fixture was written by
/// `python3 scripts/make_fake_checkpoint.py crates/mmlsr-experiments/tests/data/fake_blip_checkpoint.pth`
/// (torch 2.15): a BLIP-style `{"model": state dict, "optimizer", "config", "epoch"}` with a
/// transposed view, a storage offset, bfloat16, a float16 Parameter and momentum copies. The
/// exporter reads it without torch; where torch is installed the fixture is also regenerated
/// with it and read again.
#[test]
fn export_projections_reads_a_fake_blip_checkpoint() {
    if !has_modules("numpy, safetensors") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fake_blip_checkpoint.pth");
    let out = tmp.path().join("projections.safetensors");
    let (ok, log) = export(&fixture, &out);
    assert!(ok, "{log}");
    assert!(log.contains("text_proj and vision_proj, 6 -> 4"), "{log}");
    check_fake_projections(&out);

    // Not a checkpoint: a clear error, a failing status, nothing written.
    let bad = tmp.path().join("bad.safetensors");
    let (ok, log) = export(&repo_root().join("README.md"), &bad);
    assert!(
        !ok && log.contains("not a zip-format torch checkpoint"),
        "{log}"
    );
    assert!(!bad.exists());

    let has_torch = Command::new(python())
        .args(["-c", "import torch"])
        .output()
        .is_ok_and(|o| o.status.success());
    if has_torch {
        let fresh = tmp.path().join("fresh.pth");
        let o = Command::new(python())
            .arg(repo_root().join("scripts/make_fake_checkpoint.py"))
            .arg(&fresh)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let out2 = tmp.path().join("fresh.safetensors");
        let (ok, log) = export(&fresh, &out2);
        assert!(ok, "{log}");
        check_fake_projections(&out2);
    } else {
        eprintln!(
            "torch not installed: the fixture was not regenerated (the committed one was read)"
        );
    }
}
