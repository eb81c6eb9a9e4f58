//! Where a repository's password comes from: `JARC_PASSWORD`,
//! `JARC_PASSWORD_FILE` or `JARC_PASSWORD_COMMAND`, as restic reads its
//! `RESTIC_PASSWORD*`. Never a command-line flag: those show in `ps` and
//! shell history. A terminal prompt is the caller's (the CLI's) business.

use crate::error::{Error, Result};
use std::process::{Command, Stdio};
use zeroize::Zeroizing;

pub const PASSWORD: &str = "JARC_PASSWORD";
pub const PASSWORD_FILE: &str = "JARC_PASSWORD_FILE";
pub const PASSWORD_COMMAND: &str = "JARC_PASSWORD_COMMAND";
/// The password of a key being added (`key add`, `key passwd`).
pub const NEW_PASSWORD: [&str; 3] = [
    "JARC_NEW_PASSWORD",
    "JARC_NEW_PASSWORD_FILE",
    "JARC_NEW_PASSWORD_COMMAND",
];

/// The password the environment (`var`) gives, if it gives one. More than
/// one of the three set is refused: which one wins would be a guess.
pub fn password_from(var: impl Fn(&str) -> Option<String>) -> Result<Option<Zeroizing<String>>> {
    password_from_vars([PASSWORD, PASSWORD_FILE, PASSWORD_COMMAND], var)
}

/// The password of the repository `copy` and `init --copy-from` read from.
pub const FROM_PASSWORD: [&str; 3] = [
    "JARC_FROM_PASSWORD",
    "JARC_FROM_PASSWORD_FILE",
    "JARC_FROM_PASSWORD_COMMAND",
];

/// The source repository's password from `JARC_FROM_PASSWORD*`, if set.
pub fn from_password_from(
    var: impl Fn(&str) -> Option<String>,
) -> Result<Option<Zeroizing<String>>> {
    password_from_vars(FROM_PASSWORD, var)
}

/// A new key's password from `JARC_NEW_PASSWORD*`, if set.
pub fn new_password_from(
    var: impl Fn(&str) -> Option<String>,
) -> Result<Option<Zeroizing<String>>> {
    password_from_vars(NEW_PASSWORD, var)
}

/// `names`: the variable, the file variable, the command variable.
fn password_from_vars(
    names: [&str; 3],
    var: impl Fn(&str) -> Option<String>,
) -> Result<Option<Zeroizing<String>>> {
    let [plain, file, command] = names;
    let set: Vec<(&str, String)> = names
        .into_iter()
        .filter_map(|n| var(n).map(|v| (n, v)))
        .collect();
    if set.len() > 1 {
        let names: Vec<&str> = set.iter().map(|(n, _)| *n).collect();
        return Err(Error::Invalid(format!(
            "{} are {} set; set only one of them",
            names.join(" and "),
            if names.len() == 2 { "both" } else { "all" }
        )));
    }
    let Some((name, value)) = set.into_iter().next() else {
        return Ok(None);
    };
    let value = Zeroizing::new(value);
    let pw = if name == plain {
        value
    } else if name == file {
        let text = std::fs::read_to_string(value.as_str())
            .map_err(|e| Error::io(format!("{file} {}", value.as_str()), e))?;
        Zeroizing::new(strip_newline(text))
    } else {
        run_command(command, &value)?
    };
    Ok(Some(pw))
}

/// A file or a command's output ends in one newline that is not part of
/// the password (`echo`, editors); anything else is kept exactly.
fn strip_newline(mut s: String) -> String {
    if s.ends_with('\n') {
        s.pop();
        if s.ends_with('\r') {
            s.pop();
        }
    }
    s
}

/// Run the password command through `sh -c`. Its output is never shown,
/// only its exit status.
fn run_command(var: &str, cmd: &str) -> Result<Zeroizing<String>> {
    let out = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| Error::io(format!("{var} (sh -c)"), e))?;
    let stdout = Zeroizing::new(out.stdout);
    if !out.status.success() {
        return Err(Error::Invalid(format!(
            "{var} failed ({}); no password was read",
            out.status
        )));
    }
    let text = String::from_utf8(stdout.to_vec())
        .map_err(|_| Error::Invalid(format!("{var} printed a password that is not UTF-8")))?;
    Ok(Zeroizing::new(strip_newline(text)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn each_source_and_the_refusal_of_two() {
        assert!(password_from(env(&[])).unwrap().is_none());
        let p = password_from(env(&[(PASSWORD, "s3cret\n")]))
            .unwrap()
            .unwrap();
        assert_eq!(p.as_str(), "s3cret\n", "a variable is taken exactly");
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pw");
        std::fs::write(&f, "from file\r\n").unwrap();
        let fs = f.to_str().unwrap();
        let p = password_from(env(&[(PASSWORD_FILE, fs)])).unwrap().unwrap();
        assert_eq!(p.as_str(), "from file");
        let p = password_from(env(&[(PASSWORD_COMMAND, "echo 'from cmd'")]))
            .unwrap()
            .unwrap();
        assert_eq!(p.as_str(), "from cmd");
        let e = password_from(env(&[(PASSWORD_COMMAND, "echo leaked; exit 3")])).unwrap_err();
        assert!(
            e.to_string().contains("JARC_PASSWORD_COMMAND failed"),
            "{e}"
        );
        assert!(!e.to_string().contains("leaked"), "{e}");
        let e = password_from(env(&[(PASSWORD, "a"), (PASSWORD_FILE, fs)])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "JARC_PASSWORD and JARC_PASSWORD_FILE are both set; set only one of them"
        );
        let e = password_from(env(&[(PASSWORD_FILE, "/nonexistent/pw")])).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("JARC_PASSWORD_FILE /nonexistent/pw: "),
            "{e}"
        );
    }
}
