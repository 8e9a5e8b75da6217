//! A failure's reason, cleaned once where it arises: one short line.

/// The message a panic carried, as one line.
pub fn panic_reason(payload: &Box<dyn std::any::Any + Send>) -> String {
    first_line(
        payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("panic"),
    )
}

/// Framework errors carry C++ backtraces and tensor dumps, sometimes inside a Debug string
/// with escaped newlines; the first line, kept short, says what went wrong.
pub fn first_line(message: &str) -> String {
    const MAX_CHARS: usize = 300;
    let line = message
        .lines()
        .flat_map(|l| l.split("\\n"))
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("unknown error");
    match line.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}...", &line[..cut]),
        None => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_line_cuts_backtraces_and_escaped_dumps() {
        assert_eq!(first_line("\n  boom\nframe #0: x"), "boom");
        assert_eq!(
            first_line("Torch(\"Cannot insert a Tensor\\nTensor:\\n 0.0 1.0\")"),
            "Torch(\"Cannot insert a Tensor"
        );
        let long = "x".repeat(1000);
        assert_eq!(first_line(&long).len(), 303);
    }
}
