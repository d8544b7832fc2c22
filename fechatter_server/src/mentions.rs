//! Finds `@username` mentions in message text.
//!
//! A mention starts with `@` at the start of the text or after a character that cannot be part
//! of a username, so the `@` of `bob@example.com` is not one. The longest member username that
//! prefixes the following run of username characters wins, so `@ann.lee.` mentions `ann.lee`
//! when that member exists, else `ann` when that one does. `@all` stands for every member.

use std::collections::BTreeSet;

fn is_username_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

/// Result of scanning a message for mentions.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Mentions {
    /// Members mentioned by username.
    pub user_ids: BTreeSet<i64>,
    /// Whether `@all` appears.
    pub all: bool,
}

/// Scans `text` against the chat's members, given as `(user_id, username)` pairs.
pub fn find(text: &str, members: &[(i64, String)]) -> Mentions {
    let mut found = Mentions::default();
    let mut previous: Option<char> = None;
    for (index, c) in text.char_indices() {
        let at_boundary = previous.is_none_or(|p| !is_username_char(p) && p != '@');
        previous = Some(c);
        if c != '@' || !at_boundary {
            continue;
        }
        let rest = &text[index + 1..];
        let run_len = rest
            .char_indices()
            .find(|(_, c)| !is_username_char(*c))
            .map_or(rest.len(), |(i, _)| i);
        let run = &rest[..run_len];
        if run.is_empty() {
            continue;
        }
        let best = members
            .iter()
            .filter(|(_, name)| is_mention_prefix(run, name))
            .max_by_key(|(_, name)| name.len());
        match best {
            Some((id, _)) => {
                found.user_ids.insert(*id);
            }
            None if is_mention_prefix(run, "all") => found.all = true,
            None => {}
        }
    }
    found
}

/// Checks whether `name` matches the start of `run` case-insensitively and ends where a username may
/// end: at the end of the run or before punctuation that the run continues with.
fn is_mention_prefix(run: &str, name: &str) -> bool {
    if name.is_empty() || run.len() < name.len() || !run.is_char_boundary(name.len()) {
        return false;
    }
    if !run[..name.len()].eq_ignore_ascii_case(name) {
        return false;
    }
    match run[name.len()..].chars().next() {
        None => true,
        Some(next) => !next.is_ascii_alphanumeric() && next != '_',
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members() -> Vec<(i64, String)> {
        vec![(1, "ann".into()), (2, "ann.lee".into()), (3, "bob".into())]
    }

    fn ids(text: &str) -> Vec<i64> {
        find(text, &members()).user_ids.into_iter().collect()
    }

    #[test]
    fn finds_simple_mention() {
        assert_eq!(ids("hi @bob!"), vec![3]);
    }

    #[test]
    fn longest_username_wins() {
        assert_eq!(ids("@ann.lee. look"), vec![2]);
        assert_eq!(ids("@ann, look"), vec![1]);
    }

    #[test]
    fn email_is_not_mention() {
        assert_eq!(ids("mail bob@example.com"), Vec::<i64>::new());
    }

    #[test]
    fn case_insensitive() {
        assert_eq!(ids("@BOB"), vec![3]);
    }

    #[test]
    fn prefix_of_longer_word_is_not_mention() {
        assert_eq!(ids("@bobby"), Vec::<i64>::new());
    }

    #[test]
    fn non_member_is_plain_text() {
        assert_eq!(ids("@carol"), Vec::<i64>::new());
    }

    #[test]
    fn all_is_flagged() {
        let found = find("hey @all", &members());
        assert!(found.all);
    }

    #[test]
    fn cjk_around_mention() {
        assert_eq!(ids("你好@bob，再见"), vec![3]);
    }
}
