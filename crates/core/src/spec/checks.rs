//! The config checks every family shares: a clear error naming the key, before any tensor.

use anyhow::{bail, Result};

/// Fails on the first (key, value) that is not positive.
pub fn check_positive(values: &[(&str, i64)]) -> Result<()> {
    for &(name, v) in values {
        if v <= 0 {
            bail!("{name} must be positive, got {v}");
        }
    }
    Ok(())
}

/// Fails unless `whole` splits evenly into `parts` (hidden size into heads, query heads into
/// key-value groups); both are (key, value).
pub fn check_heads((whole_key, whole): (&str, i64), (parts_key, parts): (&str, i64)) -> Result<()> {
    if parts <= 0 || whole % parts != 0 {
        bail!("{whole_key} {whole} is not a multiple of {parts_key} {parts}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_key() {
        let err = check_positive(&[("a", 1), ("n_layer", 0)]).unwrap_err();
        assert_eq!(err.to_string(), "n_layer must be positive, got 0");
        let err = check_heads(("hidden_size", 30), ("num_attention_heads", 4)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "hidden_size 30 is not a multiple of num_attention_heads 4"
        );
        assert!(check_heads(("hidden_size", 32), ("num_attention_heads", 0)).is_err());
        assert!(check_heads(("hidden_size", 32), ("num_attention_heads", 4)).is_ok());
    }
}
