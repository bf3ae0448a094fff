//! Parsers for command-line values that must be in range, so that a degenerate setting is
//! refused by name before any work starts (`--k 0` gave an empty run, `--threshold nan` empty
//! vectors).

/// A count of at least 1 (`--k`, `--top-k`, `--ks`, batch sizes).
pub fn positive(s: &str) -> Result<usize, String> {
    let n: usize = s
        .parse()
        .map_err(|_| format!("{s:?} is not a whole number"))?;
    if n == 0 {
        return Err("must be at least 1 (0 would return nothing)".into());
    }
    Ok(n)
}

/// A finite number (`--threshold`).
pub fn finite(s: &str) -> Result<f32, String> {
    let x: f32 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    if !x.is_finite() {
        return Err(format!("{s} is not a finite number"));
    }
    Ok(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn degenerate_values_are_refused() {
        assert_eq!(positive("3"), Ok(3));
        assert!(positive("0").unwrap_err().contains("at least 1"));
        assert!(positive("-1").unwrap_err().contains("whole number"));
        assert_eq!(finite("0.5"), Ok(0.5));
        for bad in ["nan", "inf", "-inf", "x"] {
            assert!(finite(bad).is_err(), "{bad}");
        }
    }
}
