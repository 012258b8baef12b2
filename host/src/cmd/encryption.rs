//! `mtpbur-host encryption on|off|change`: the device's backup password. While it is set,
//! every set the device writes is encrypted (age) and sealed, and a restore needs it.

use engine::crypto::{ExposeSecret, SecretString};

use crate::link::Link;
use crate::output::{Exit, Failure, Outcome, fail};
use crate::password::{ask, toml_string};
use crate::remote::Remote;

/// What to do with the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Action {
    /// Set a password: every new set is encrypted.
    On,
    /// Remove it (needs the current one): new sets are plain.
    Off,
    /// Change it (needs the current one); earlier sets open with the password they were
    /// made under.
    Change,
}

/// The request text for `action` with its passwords.
pub fn request(
    action: Action,
    current: Option<&SecretString>,
    new: Option<&SecretString>,
) -> String {
    let mut t = format!(
        "action = \"{}\"\n",
        match action {
            Action::On => "on",
            Action::Off => "off",
            Action::Change => "change",
        }
    );
    let first = if action == Action::On { new } else { current };
    if let Some(p) = first {
        t.push_str(&format!("password = {}\n", toml_string(p.expose_secret())));
    }
    if action == Action::Change
        && let Some(p) = new
    {
        t.push_str(&format!(
            "new_password = {}\n",
            toml_string(p.expose_secret())
        ));
    }
    t
}

/// Asks for the passwords `action` needs and sends the request; returns the device's
/// encryption state afterwards.
///
/// # Errors
/// No password, the device refused (wrong password, already on), or the link failed.
pub fn run<L: Link>(remote: &mut Remote<L>, action: Action) -> Outcome<String> {
    remote.ready()?;
    let current = match action {
        Action::On => None,
        Action::Off | Action::Change => {
            Some(ask("current backup password", false).map_err(fail(Exit::Failed))?)
        }
    };
    let new = match action {
        Action::Off => None,
        Action::On | Action::Change => {
            Some(ask("new backup password", true).map_err(fail(Exit::Failed))?)
        }
    };
    let text = request(action, current.as_ref(), new.as_ref());
    let status = remote.send_request("encryption.request", &text)?;
    status.encryption.ok_or_else(|| {
        Failure::new(
            Exit::Failed,
            "the device does not say whether encryption is on",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pw(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    #[test]
    fn requests_carry_the_passwords_each_action_needs() {
        let on = request(Action::On, None, Some(&pw("n\"e'w\\")));
        let parsed: toml::Table = toml::from_str(&on).unwrap();
        assert_eq!(parsed["password"].as_str(), Some("n\"e'w\\"), "{on}");
        assert_eq!(parsed["action"].as_str(), Some("on"));
        assert_eq!(
            request(Action::Off, Some(&pw("old")), None),
            "action = \"off\"\npassword = \"old\"\n"
        );
        assert_eq!(
            request(Action::Change, Some(&pw("old")), Some(&pw("new"))),
            "action = \"change\"\npassword = \"old\"\nnew_password = \"new\"\n"
        );
    }
}
