//! libtorch's failure messages as one clean line, where they arise (in the child, or for a
//! child that died, its last words).

/// A reason as one clean line: libtorch's allocation failures say how much was asked for,
/// and the `unwrap()` / `Torch(...)` wrapping of a panic is no part of the message.
pub fn readable(reason: &str) -> String {
    let cpu = reason.split("you tried to allocate ").nth(1);
    if let Some(bytes) = cpu.and_then(|r| r.split(' ').next()?.parse::<f64>().ok()) {
        return format!("out of memory: tried to allocate {}", human_bytes(bytes));
    }
    if let Some(rest) = reason
        .split("CUDA out of memory. Tried to allocate ")
        .nth(1)
    {
        let size: String = rest.chars().take_while(|&c| c != ' ').collect();
        let unit: String = rest
            .chars()
            .skip(size.len() + 1)
            .take_while(|c| c.is_alphabetic())
            .collect();
        return format!("out of memory on the GPU: tried to allocate {size} {unit}");
    }
    let reason = reason
        .strip_prefix("called `Result::unwrap()` on an `Err` value: ")
        .unwrap_or(reason);
    match reason.strip_prefix("Torch(\"") {
        Some(inner) => inner.trim_end_matches("\")").to_string(),
        None => reason.to_string(),
    }
}

/// Bytes in binary units: "59.6 GiB".
fn human_bytes(bytes: f64) -> String {
    let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut value = bytes;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < units.len() {
        value /= 1024.0;
        unit += 1;
    }
    match unit {
        0 => format!("{bytes} bytes"),
        _ => format!("{value:.1} {}", units[unit]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_one_clean_line() {
        let oom = "called `Result::unwrap()` on an `Err` value: Torch(\"[enforce fail at \
                   alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: you \
                   tried to allocate 64000000000 bytes. Error code 12 (Cannot allocate memory)";
        assert_eq!(readable(oom), "out of memory: tried to allocate 59.6 GiB");
        let gpu = "Torch(\"CUDA out of memory. Tried to allocate 20.00 MiB (GPU 0; 7.79 GiB total)";
        assert_eq!(
            readable(gpu),
            "out of memory on the GPU: tried to allocate 20.00 MiB"
        );
        let other = "called `Result::unwrap()` on an `Err` value: Torch(\"shape mismatch\")";
        assert_eq!(readable(other), "shape mismatch");
        assert_eq!(
            readable("sequence length 9 exceeds 8"),
            "sequence length 9 exceeds 8"
        );
    }
}
