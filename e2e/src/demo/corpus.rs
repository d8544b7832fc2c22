//! Reads the dialog corpus of the PyPI package `chatterbot-corpus` (version 1.3.3): one folder per
//! language under `chatterbot_corpus/data/`, each with YAML files of the form
//! `{categories: [...], conversations: [[line, line, ...], ...]}`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;
use serde_norway::Value;

/// One conversation of the corpus, replayed in a single chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    /// Name of the language folder, such as `english` or `hebrew`.
    pub language: String,
    /// Lines in speaking order, none of them blank.
    pub lines: Vec<String>,
}

#[derive(Deserialize)]
struct CorpusFile {
    #[serde(default)]
    conversations: Vec<Value>,
}

/// Loads the conversations under `dir`, one subfolder per language.
///
/// `languages` selects folders by name (`None` takes all). `max_conversations` caps the total,
/// taking the conversations of the languages in turn, so every selected language is represented.
/// The result is in that interleaved order: the first conversation of each language, then the
/// second of each, and so on. Languages and files are read in name order, so a run is repeatable.
pub fn load_corpus(
    dir: &Path,
    languages: Option<&[String]>,
    max_conversations: Option<usize>,
) -> anyhow::Result<Vec<Conversation>> {
    let folders = language_folders(dir)?;
    let selected: Vec<(String, PathBuf)> = match languages {
        None => folders.into_iter().collect(),
        Some(names) => {
            let mut selected = Vec::new();
            for name in names {
                let Some(path) = folders.get(name) else {
                    let known: Vec<&str> = folders.keys().map(String::as_str).collect();
                    bail!(
                        "language {name:?} not found in {}; available: {}",
                        dir.display(),
                        known.join(", ")
                    );
                };
                if !selected.iter().any(|(known, _)| known == name) {
                    selected.push((name.clone(), path.clone()));
                }
            }
            selected
        }
    };

    let mut per_language = Vec::new();
    for (language, folder) in selected {
        let conversations = load_language(&language, &folder)?;
        per_language.push(conversations.into_iter());
    }

    let limit = max_conversations.unwrap_or(usize::MAX);
    let mut result = Vec::new();
    while result.len() < limit {
        let before = result.len();
        for conversations in &mut per_language {
            if result.len() == limit {
                break;
            }
            if let Some(conversation) = conversations.next() {
                result.push(conversation);
            }
        }
        if result.len() == before {
            break;
        }
    }
    Ok(result)
}

/// Language folder names under `dir`, mapped to their paths.
fn language_folders(dir: &Path) -> anyhow::Result<BTreeMap<String, PathBuf>> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("failed to read corpus folder {}", dir.display()))?;
    let mut folders = BTreeMap::new();
    for entry in entries {
        let entry =
            entry.with_context(|| format!("failed to read corpus folder {}", dir.display()))?;
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        if let Some(name) = path.file_name().and_then(|name| name.to_str()) {
            folders.insert(name.to_owned(), path);
        }
    }
    if folders.is_empty() {
        bail!(
            "no language folders in {}; pass the data folder of chatterbot-corpus (scripts/corpus-dir.sh prints it)",
            dir.display()
        );
    }
    Ok(folders)
}

/// Conversations of every `*.yml` file in `folder`, in file name order.
fn load_language(language: &str, folder: &Path) -> anyhow::Result<Vec<Conversation>> {
    let mut files = Vec::new();
    let entries = std::fs::read_dir(folder)
        .with_context(|| format!("failed to read {}", folder.display()))?;
    for entry in entries {
        let path = entry
            .with_context(|| format!("failed to read {}", folder.display()))?
            .path();
        if path
            .extension()
            .is_some_and(|ext| ext == "yml" || ext == "yaml")
        {
            files.push(path);
        }
    }
    files.sort();

    let mut conversations = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("failed to read {}", path.display()))?;
        let file = parse_file(&text)
            .with_context(|| format!("failed to parse {} as a corpus file", path.display()))?;
        for entry in &file.conversations {
            let lines = conversation_lines(entry);
            if !lines.is_empty() {
                conversations.push(Conversation {
                    language: language.to_owned(),
                    lines,
                });
            }
        }
    }
    Ok(conversations)
}

fn parse_file(text: &str) -> Result<CorpusFile, serde_norway::Error> {
    // Two files of chatterbot-corpus 1.3.3 (korean/science.yml, spanish/psicologia.yml) start
    // with a UTF-8 byte order mark, which serde_norway 0.9 reads as the start of a second
    // document and then rejects the file.
    serde_norway::from_str(text.strip_prefix('\u{feff}').unwrap_or(text))
}

/// Extracts the lines of one `conversations:` entry. A few entries of the corpus are a bare string where a
/// list was meant (a line continued with ` - `), and they become a one-line conversation.
fn conversation_lines(entry: &Value) -> Vec<String> {
    let lines: Vec<String> = match entry {
        Value::Sequence(items) => items.iter().filter_map(line_text).collect(),
        other => line_text(other).into_iter().collect(),
    };
    lines
        .into_iter()
        .filter(|line| !line.trim().is_empty())
        .collect()
}

/// Text of one line: strings as they are, numbers and booleans in their YAML spelling. Nulls,
/// nested lists and mappings are not text and return `None`.
fn line_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        // NOTE: a number is re-printed from its parsed value, so `1.50` comes back as `1.5`.
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        Value::Tagged(tagged) => line_text(&tagged.value),
        Value::Null | Value::Sequence(_) | Value::Mapping(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Vec<Vec<String>> {
        let file = parse_file(yaml).expect("valid YAML");
        file.conversations.iter().map(conversation_lines).collect()
    }

    #[test]
    fn scalars_become_text() {
        let conversations = parse("conversations:\n- - 42\n  - true\n  - 2.5\n  - hello\n");
        assert_eq!(conversations, vec![vec!["42", "true", "2.5", "hello"]]);
    }

    #[test]
    fn nested_lists_and_nulls_skipped() {
        let conversations = parse("conversations:\n- - [a, b]\n  - ~\n  - {k: v}\n  - kept\n");
        assert_eq!(conversations, vec![vec!["kept"]]);
    }

    #[test]
    fn bare_string_is_one_line() {
        let conversations = parse("conversations:\n- Who are you? - A bot.\n");
        assert_eq!(conversations, vec![vec!["Who are you? - A bot."]]);
    }

    #[test]
    fn blank_lines_dropped() {
        let conversations = parse("conversations:\n- - '  '\n  - ''\n- - hi\n");
        assert_eq!(conversations, vec![vec![], vec!["hi".to_owned()]]);
    }

    #[test]
    fn byte_order_mark_and_crlf_accepted() {
        let conversations = parse("\u{feff}categories:\r\n- x\r\nconversations:\r\n- - hola\r\n");
        assert_eq!(conversations, vec![vec!["hola"]]);
    }

    #[test]
    fn missing_conversations_is_empty() {
        assert!(parse("categories:\n- x\n").is_empty());
    }

    #[test]
    fn languages_interleave_under_cap() {
        let dir = tempfile::tempdir().expect("temp dir");
        for (language, lines) in [("alpha", ["a1", "a2", "a3"]), ("beta", ["b1", "b2", "b3"])] {
            let folder = dir.path().join(language);
            std::fs::create_dir(&folder).expect("create language folder");
            let body: String = lines.iter().map(|line| format!("- - {line}\n")).collect();
            std::fs::write(folder.join("talk.yml"), format!("conversations:\n{body}"))
                .expect("write corpus file");
        }
        let loaded = load_corpus(dir.path(), None, Some(3)).expect("load corpus");
        let first_lines: Vec<&str> = loaded.iter().map(|c| c.lines[0].as_str()).collect();
        assert_eq!(first_lines, vec!["a1", "b1", "a2"]);

        let only_beta = load_corpus(dir.path(), Some(&["beta".to_owned()]), None).expect("load");
        assert_eq!(only_beta.len(), 3);
        assert!(only_beta.iter().all(|c| c.language == "beta"));

        let unknown = load_corpus(dir.path(), Some(&["gamma".to_owned()]), None);
        let message = format!("{:#}", unknown.expect_err("unknown language"));
        assert!(message.contains("alpha, beta"), "message: {message}");
    }
}
