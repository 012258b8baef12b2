//! The backup password on the PC: asked for without echo on a terminal, read as one line
//! from standard input otherwise (scripts: `printf '%s\n' "$PW" | mtpbur-host ...`).
//! It is held in memory only, zeroed when dropped (`SecretString`), and never written to
//! disk by this program. It travels to the device inside the request file over USB; the
//! device never stores it (docs/security.md).

use std::io::{BufRead, IsTerminal};

use engine::crypto::SecretString;

/// Asks for a password with `prompt`; on a terminal with `confirm`, asks twice.
///
/// # Errors
/// No terminal and no line on standard input, an empty password, or two that differ.
pub fn ask(prompt: &str, confirm: bool) -> Result<SecretString, String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("{prompt}: ")).map_err(|e| e.to_string())?;
        if first.is_empty() {
            return Err("the password is empty".into());
        }
        if confirm {
            let again = rpassword::prompt_password(format!("{prompt} (again): "))
                .map_err(|e| e.to_string())?;
            if again != first {
                return Err("the two passwords differ".into());
            }
        }
        return Ok(SecretString::from(first));
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("reading the password from standard input: {e}"))?;
    let pw = line.trim_end_matches(['\n', '\r']).to_owned();
    if pw.is_empty() {
        return Err(format!("{prompt}: no password on standard input"));
    }
    Ok(SecretString::from(pw))
}

/// A TOML basic string holding `s` (for request files).
pub fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}
