//! Copying to the operator's clipboard with OSC 52: the terminal (local, or
//! the one at the far end of an ssh session, or tmux with `set-clipboard`)
//! puts the text on its clipboard. Nothing to install, nothing that needs a
//! display server on the machine the cockpit runs on.

use std::io::Write;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// The escape sequence that sets the clipboard (`c`) to `text`.
pub fn osc52(text: &str) -> String {
    format!("\x1b]52;c;{}\x07", STANDARD.encode(text))
}

/// Writes the sequence to the terminal.
///
/// # Errors
/// When the terminal cannot be written to.
pub fn copy(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(osc52(text).as_bytes())?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_is_base64_inside_osc_52() {
        assert_eq!(osc52("s1"), "\x1b]52;c;czE=\x07");
        assert_eq!(
            osc52("7c1d2f3a-0000-4000-8000-000000000001"),
            "\x1b]52;c;N2MxZDJmM2EtMDAwMC00MDAwLTgwMDAtMDAwMDAwMDAwMDAx\x07"
        );
    }
}
