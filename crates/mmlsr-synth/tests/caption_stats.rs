//! Real against generated caption statistics (`mmlsr_synth::CaptionStats`): the recorded
//! real values are recomputed from the captions in `../shared/data`, and the generated
//! captions of both data sets, on the default seed and seeds 1 and 7, must stay inside the
//! calibration bands that the real values define.

use std::path::PathBuf;

use mmlsr_synth::{
    CalibrationBands, CaptionStats, DatasetKind, REAL_FLICKR8K_TEST, REAL_FLICKR30K_TEST,
    SynthConfig, read_caption_lines, read_flickr8k, test_captions,
};

/// `../shared/data` from the workspace root, or `None` (with a message) outside CI when it is
/// missing. In CI (`CI` set) a missing folder fails the test.
fn shared_data() -> Option<PathBuf> {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let dir = PathBuf::from(manifest).join("../../../shared/data");
    if dir.join("flickr8k/Flickr8k.token.txt").is_file() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must provide the research captions at {}",
        dir.display()
    );
    eprintln!(
        "SKIPPED: the research-only captions are not at {} (they are in CI)",
        dir.display()
    );
    None
}

/// Recorded and recomputed statistics agree to the printed precision.
fn assert_close(what: &str, got: &CaptionStats, recorded: &CaptionStats) {
    let close = |a: f64, b: f64, tol: f64| (a - b).abs() <= tol;
    assert_eq!(got.images, recorded.images, "{what}");
    assert_eq!(got.quartiles, recorded.quartiles, "{what}");
    assert_eq!(got.vocabulary, recorded.vocabulary, "{what}");
    assert!(
        close(got.mean_words, recorded.mean_words, 1e-3),
        "{what}: {got:?}"
    );
    for (a, b) in got.df_profile.iter().zip(recorded.df_profile) {
        assert!(close(*a, b, 1e-4), "{what}: {got:?}");
    }
    assert!(
        close(got.agreement, recorded.agreement, 1e-4),
        "{what}: {got:?}"
    );
    assert!(
        close(got.bm25_r1, recorded.bm25_r1, 1e-4),
        "{what}: {got:?}"
    );
}

#[test]
fn real_statistics_are_as_recorded() {
    let Some(data) = shared_data() else { return };
    let f8k = read_flickr8k(
        &data.join("flickr8k/Flickr8k.token.txt"),
        &data.join("flickr8k/Flickr_8k.testImages.txt"),
    )
    .unwrap();
    let s8k = CaptionStats::measure(&f8k).unwrap();
    eprintln!("Flickr8k test: {s8k:?}");
    assert_close("Flickr8k test", &s8k, &REAL_FLICKR8K_TEST);

    let path = data.join("flickr30k-test/test_caps.txt");
    let s30k = CaptionStats::measure(&read_caption_lines(&path).unwrap()).unwrap();
    eprintln!("Flickr30k test: {s30k:?}");
    assert_close("Flickr30k test", &s30k, &REAL_FLICKR30K_TEST);
}

#[test]
fn malformed_caption_files_are_refused_with_their_name() {
    let tmp = tempfile::tempdir().unwrap();
    let seven = tmp.path().join("seven_caps.txt");
    std::fs::write(&seven, "a dog\n".repeat(7)).unwrap();
    let e = read_caption_lines(&seven).unwrap_err().to_string();
    assert!(
        e.contains("seven_caps.txt") && e.contains("multiple of 5"),
        "{e}"
    );
    let tokens = tmp.path().join("tokens.txt");
    std::fs::write(&tokens, "img1.jpg#0\ta dog\nno tab here\n").unwrap();
    let split = tmp.path().join("split.txt");
    std::fs::write(&split, "img1.jpg\n").unwrap();
    let e = read_flickr8k(&tokens, &split).unwrap_err().to_string();
    assert!(e.contains("tokens.txt line 2"), "{e}");
    std::fs::write(&tokens, "img1.jpg#0\ta dog\n").unwrap();
    let e = read_flickr8k(&tokens, &split).unwrap_err().to_string();
    assert!(e.contains("img1.jpg has 1 captions"), "{e}");
}

#[test]
fn generated_captions_stay_in_the_calibration_bands() {
    let bands = CalibrationBands::default();
    let mut failures = Vec::new();
    for seed in [42, 1, 7] {
        for kind in [DatasetKind::Coco, DatasetKind::Flickr] {
            let config = SynthConfig {
                seed,
                ..SynthConfig::default()
            };
            let stats = CaptionStats::measure(&test_captions(&config, kind, 1000)).unwrap();
            eprintln!("{} seed {seed}: {stats:?}", kind.name());
            for v in bands.violations(&stats) {
                failures.push(format!("{} seed {seed}: {v}", kind.name()));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "outside the bands:\n{}",
        failures.join("\n")
    );
}
