//! Checked input types. Each is parsed once at the edge and carries its guarantee from there on:
//! a `MessageContent` is trimmed, NFC-normalised, non-blank and at most 4000 characters.

use unicode_normalization::UnicodeNormalization;

pub const MESSAGE_MAX_CHARS: usize = 4000;
pub const PASSWORD_MIN_CHARS: usize = 10;
pub const PASSWORD_MAX_CHARS: usize = 256;

/// Characters that render as nothing: whitespace, controls, format characters such as zero-width
/// spaces and direction marks, and fillers. Text made only of these is blank.
fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{061C}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{17B4}'
                | '\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0000}'..='\u{E007F}'
        )
}

/// Control characters other than tab and line breaks, which no stored text may contain
/// (PostgreSQL rejects NUL outright).
fn has_forbidden_control(text: &str) -> bool {
    text.chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
}

fn normalize(text: &str) -> String {
    text.trim().nfc().collect()
}

/// Message text as stored: trimmed, NFC, 1–4000 Unicode scalar values, not blank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageContent(String);

impl MessageContent {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let text = normalize(raw);
        if text.chars().all(is_invisible) {
            return Err("must not be blank".into());
        }
        if has_forbidden_control(&text) {
            return Err("must not contain control characters".into());
        }
        let count = text.chars().count();
        if count > MESSAGE_MAX_CHARS {
            return Err(format!(
                "must be at most {MESSAGE_MAX_CHARS} characters, got {count}"
            ));
        }
        Ok(Self(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Bidirectional embedding, override and isolate controls, which can make a name display as
/// something else.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Single-line display text such as a full name or chat name: trimmed, NFC, no control or
/// bidirectional override characters, not blank, at most `max` characters.
pub fn parse_line(raw: &str, max: usize) -> Result<String, String> {
    let text = normalize(raw);
    if text.chars().all(is_invisible) {
        return Err("must not be blank".into());
    }
    if text.chars().any(char::is_control) {
        return Err("must not contain control characters or line breaks".into());
    }
    if text.chars().any(is_bidi_control) {
        return Err("must not contain bidirectional override characters".into());
    }
    let count = text.chars().count();
    if count > max {
        return Err(format!("must be at most {max} characters, got {count}"));
    }
    Ok(text)
}

/// Multi-line optional text such as a chat description; empty becomes `None`.
pub fn parse_optional_text(raw: Option<&str>, max: usize) -> Result<Option<String>, String> {
    let Some(raw) = raw else { return Ok(None) };
    let text = normalize(raw);
    if text.is_empty() {
        return Ok(None);
    }
    if has_forbidden_control(&text) {
        return Err("must not contain control characters".into());
    }
    let count = text.chars().count();
    if count > max {
        return Err(format!("must be at most {max} characters, got {count}"));
    }
    Ok(Some(text))
}

/// Email address, lower-cased so comparisons are case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let email = raw.trim().to_lowercase();
        let valid_shape = email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
        if !valid_shape
            || email.len() > 254
            || email.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err("must be an email address such as alice@example.com".into());
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Returns the part before `@`, from which a default username is derived.
    pub fn local_part(&self) -> &str {
        self.0.split('@').next().unwrap_or_default()
    }
}

/// Names that mean something else in a mention, such as `@all`.
const RESERVED_USERNAMES: [&str; 3] = ["all", "here", "channel"];

/// Username: 1–32 of letters, digits, `.`, `_` and `-` with at least one letter or digit; unique
/// per workspace, case-insensitively; not a reserved mention word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let name = raw.trim();
        let valid = (1..=32).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !valid || !name.chars().any(|c| c.is_ascii_alphanumeric()) {
            return Err(
                "must be 1-32 letters, digits, '.', '_' or '-', with a letter or digit".into(),
            );
        }
        if RESERVED_USERNAMES.contains(&name.to_ascii_lowercase().as_str()) {
            return Err(format!(
                "{name:?} is reserved for mentions; choose another username"
            ));
        }
        Ok(Self(name.to_owned()))
    }

    /// Derives a username from an email's local part, dropping characters usernames cannot hold.
    pub fn from_local_part(local: &str) -> Self {
        let mut name: String = local
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            .take(24)
            .collect();
        let lower = name.to_ascii_lowercase();
        if !name.chars().any(|c| c.is_ascii_alphanumeric())
            || RESERVED_USERNAMES.contains(&lower.as_str())
        {
            name.insert_str(0, "user");
        }
        Self(name)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub fn check_password(raw: &str) -> Result<(), String> {
    let count = raw.chars().count();
    if count < PASSWORD_MIN_CHARS {
        return Err(format!("must be at least {PASSWORD_MIN_CHARS} characters"));
    }
    if count > PASSWORD_MAX_CHARS {
        return Err(format!("must be at most {PASSWORD_MAX_CHARS} characters"));
    }
    if raw.contains('\0') {
        return Err("must not contain NUL characters".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_trims_and_normalizes() {
        let content = MessageContent::parse("  e\u{301}  ").expect("valid");
        assert_eq!(content.as_str(), "\u{e9}");
    }

    #[test]
    fn content_rejects_invisible_only() {
        assert!(MessageContent::parse(" \u{200B}\u{FEFF}\n ").is_err());
    }

    #[test]
    fn content_rejects_nul() {
        assert!(MessageContent::parse("a\0b").is_err());
    }

    #[test]
    fn content_counts_scalar_values() {
        assert!(MessageContent::parse(&"語".repeat(4000)).is_ok());
        assert!(MessageContent::parse(&"語".repeat(4001)).is_err());
    }

    #[test]
    fn email_lowercases() {
        assert_eq!(
            Email::parse(" Alice@Example.COM ").expect("valid").as_str(),
            "alice@example.com"
        );
    }

    #[test]
    fn email_rejects_missing_domain() {
        assert!(Email::parse("alice@").is_err());
        assert!(Email::parse("alice").is_err());
    }

    #[test]
    fn username_from_local_part_drops_symbols() {
        assert_eq!(Username::from_local_part("a+b").as_str(), "ab");
        assert_eq!(Username::from_local_part("+++").as_str(), "user");
        assert_eq!(Username::from_local_part("...").as_str(), "user...");
    }

    #[test]
    fn username_rejects_reserved_and_symbols_only() {
        assert!(Username::parse("all").is_err());
        assert!(Username::parse("ALL").is_err());
        assert!(Username::parse(".").is_err());
        assert!(Username::parse("-_-").is_err());
        assert!(Username::parse("a.b").is_ok());
        assert_eq!(Username::from_local_part("all").as_str(), "userall");
    }

    #[test]
    fn line_rejects_bidi_override() {
        assert!(parse_line("abc\u{202E}def", 64).is_err());
    }

    #[test]
    fn line_rejects_newline() {
        assert!(parse_line("a\nb", 64).is_err());
    }
}
