//! The manual and the README list what the binary's registries hold: the
//! flags (`cli::SERVE_FLAGS`, `cli::TOP_FLAGS`), the variables no flag sets
//! (`cli::ENVIRONMENT`), the custom actions (`actions::ACTIONS`), the
//! dashboard's keys (`dashboard::keys::KEYMAP`) and the state folder
//! (`state_dir::LAYOUT`). Each list sits between two marker lines,
//! `BEGIN GENERATED name` and `END GENERATED name`, and is written here from
//! its registry, so that a new flag, action, key or file is one entry in
//! its table and the documents follow.
//!
//! A developer's `cargo test` rewrites a stale list in place and says so
//! on stderr (commit the result); with `CI` set, a stale list fails the
//! test instead, since CI's clone is thrown away.

mod common;

use std::io::Write;
use std::path::Path;

use wfhook::actions::ACTIONS;
use wfhook::cli::{ENVIRONMENT, Fallback, Flag, SERVE_FLAGS, TOP_FLAGS};
use wfhook::dashboard::keys::KEYMAP;
use wfhook::state_dir::{self, LAYOUT};

const MAN: &str = "man/wfhook.1";
const README: &str = "README.md";

// ------------------------------------------------------------------ roff

/// Documentation text as roff: one sentence per line (so that roff spaces
/// sentences right), literal text in bold and never hyphenated, dashes and
/// backslashes escaped, no line that roff would take for a request.
fn roff(text: &str) -> String {
    let mut out = String::new();
    for (i, part) in text.split('`').enumerate() {
        let escaped = part.replace('\\', "\\e").replace('-', "\\-");
        if i % 2 == 1 {
            out.push_str(&format!("\\fB\\%{escaped}\\fR"));
        } else {
            out.push_str(&escaped.replace(". ", ".\n"));
        }
    }
    out.lines()
        .map(|l| l.trim())
        .map(|l| if l.starts_with(['.', '\'']) { format!("\\&{l}") } else { l.to_string() })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A word for a macro argument: escaped and never hyphenated.
fn roff_word(word: &str) -> String {
    format!("\\%{}", word.replace('\\', "\\e").replace('-', "\\-"))
}

fn man_options(flags: &[Flag]) -> String {
    let mut s = String::new();
    for f in flags {
        s.push_str(".TP\n");
        match f.value {
            Some(v) => s.push_str(&format!(".BI {} \" {v}\"\n", roff_word(&format!("--{}", f.name)))),
            None => s.push_str(&format!(".B {}\n", roff_word(&format!("--{}", f.name)))),
        }
        s.push_str(&roff(f.help));
        s.push('\n');
        if !f.details.is_empty() {
            s.push_str(&roff(f.details));
            s.push('\n');
        }
        s.push_str(&format!(".br\nEnvironment:\n.BR {} .\n", roff_word(&f.env())));
        match f.default {
            Fallback::Value(v) => s.push_str(&format!("Default:\n.BR {} .\n", roff_word(v))),
            Fallback::Unset(what) => s.push_str(&format!("Default: {}.\n", roff(what))),
        }
    }
    s
}

/// Every flag's variable, then the variables no flag sets.
fn man_environment() -> String {
    let mut vars: Vec<String> = Vec::new();
    for f in SERVE_FLAGS.iter().chain(TOP_FLAGS) {
        if !vars.contains(&f.env()) {
            vars.push(f.env());
        }
    }
    let mut s = String::new();
    for (i, v) in vars.iter().enumerate() {
        let tail = match vars.len() - i {
            1 => " .",
            2 => "",
            _ => " ,",
        };
        let request = if tail.is_empty() { ".B" } else { ".BR" };
        s.push_str(&format!("{request} {}{tail}\n", roff_word(v)));
        if vars.len() - i == 2 {
            s.push_str("and\n");
        }
    }
    s.push_str("These have no option:\n");
    for v in ENVIRONMENT {
        s.push_str(&format!(".TP\n.B {}\n{}\n", roff_word(v.name), roff(v.help)));
    }
    s
}

fn man_actions() -> String {
    let mut s = String::new();
    for a in ACTIONS {
        s.push_str(&format!(
            ".TP\n.B {}\nShown as \\(lq{}\\(rq.\n{}\n",
            roff_word(a.name()),
            roff(a.display_name()),
            roff(a.description())
        ));
    }
    s
}

fn man_keys() -> String {
    let mut s = String::new();
    for k in KEYMAP {
        s.push_str(&format!(".TP\n.B {}\n{}.\n", roff(k.keys), roff(&capitalized(k.does))));
    }
    s
}

fn man_files() -> String {
    let mut s = String::new();
    for e in LAYOUT {
        let path = format!("ROOT/{}/{}{}", state_dir::NAME, e.name, e.below);
        s.push_str(&format!(".TP\n.I {}\n{}\n", roff_word(&path), roff(e.what)));
    }
    s
}

fn man_section(name: &str) -> String {
    match name {
        "serve-options" => man_options(SERVE_FLAGS),
        "top-options" => man_options(TOP_FLAGS),
        "environment" => man_environment(),
        "actions" => man_actions(),
        "keys" => man_keys(),
        "files" => man_files(),
        other => panic!("{MAN} has a generated section `{other}` that tests/docs.rs does not know"),
    }
}

// -------------------------------------------------------------- markdown

/// Text for a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

fn readme_flags(flags: &[Flag]) -> String {
    let mut s = String::from("| option | environment | default | meaning |\n|---|---|---|---|\n");
    for f in flags {
        let option = match f.value {
            Some(v) => format!("`--{} {v}`", f.name),
            None => format!("`--{}`", f.name),
        };
        let default = match f.default {
            Fallback::Value(v) => format!("`{v}`"),
            Fallback::Unset(what) => what.to_string(),
        };
        s.push_str(&format!("| {option} | `{}` | {} | {} |\n", f.env(), cell(&default), cell(f.help)));
    }
    s
}

fn readme_environment() -> String {
    ENVIRONMENT.iter().map(|v| format!("- `{}`: {}\n", v.name, v.help)).collect()
}

fn readme_actions() -> String {
    let mut s = String::from("| name | shown in Workfront as | what it does |\n|---|---|---|\n");
    for a in ACTIONS {
        s.push_str(&format!("| `{}` | {} | {} |\n", a.name(), cell(a.display_name()), cell(a.description())));
    }
    s
}

fn readme_keys() -> String {
    let mut s = String::from("| key | does |\n|---|---|\n");
    for k in KEYMAP {
        s.push_str(&format!("| {} | {} |\n", cell(k.keys), cell(k.does)));
    }
    s
}

fn readme_files() -> String {
    let mut s = String::from("| path | what |\n|---|---|\n");
    s.push_str(&format!("| everything but `{}/` | your documents, under their own names |\n", state_dir::NAME));
    for e in LAYOUT {
        s.push_str(&format!("| `{}/{}{}` | {} |\n", state_dir::NAME, e.name, e.below, cell(e.what)));
    }
    s
}

fn readme_section(name: &str) -> String {
    match name {
        "serve-flags" => readme_flags(SERVE_FLAGS),
        "top-flags" => readme_flags(TOP_FLAGS),
        "environment" => readme_environment(),
        "actions" => readme_actions(),
        "keys" => readme_keys(),
        "files" => readme_files(),
        other => panic!("{README} has a generated section `{other}` that tests/docs.rs does not know"),
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
}

// ------------------------------------------------------------- regions

/// A marker line: a comment (`<!-- ` in Markdown, `.\" ` in roff) that
/// opens with `BEGIN GENERATED name` or `END GENERATED name`, then ends or
/// goes on with `:` or ` -->`. Prose that mentions the words is no marker.
fn marker(line: &str) -> Option<(bool, String)> {
    let body = line.trim_end().strip_prefix("<!-- ").or_else(|| line.trim_end().strip_prefix(".\\\" "))?;
    let (begin, rest) = match (body.strip_prefix("BEGIN GENERATED "), body.strip_prefix("END GENERATED ")) {
        (Some(rest), _) => (true, rest),
        (_, Some(rest)) => (false, rest),
        _ => return None,
    };
    let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
    let tail = &rest[name.len()..];
    (!name.is_empty() && (tail.is_empty() || tail == " -->" || tail.starts_with(':'))).then_some((begin, name))
}

/// `text` with the lines between each `BEGIN GENERATED name` line and its
/// `END GENERATED name` line replaced by `generate(name)`; also the names
/// found, in order. A section opened twice, nested, left open or closed
/// without being opened is an error that names the line.
fn regenerate(path: &str, text: &str, generate: impl Fn(&str) -> String) -> (String, Vec<String>) {
    let mut out = String::new();
    let mut names: Vec<String> = Vec::new();
    let mut open: Option<String> = None;
    for (n, line) in text.split_inclusive('\n').enumerate() {
        match (marker(line), &open) {
            (Some((true, name)), None) => {
                assert!(!names.contains(&name), "{path}:{}: a second `BEGIN GENERATED {name}`", n + 1);
                out.push_str(line);
                out.push_str(&generate(&name));
                open = Some(name);
            }
            (Some((true, name)), Some(inside)) => {
                panic!("{path}:{}: `BEGIN GENERATED {name}` inside `{inside}`", n + 1)
            }
            (Some((false, name)), Some(inside)) if name == *inside => {
                out.push_str(line);
                names.push(name);
                open = None;
            }
            (Some((false, name)), _) => panic!("{path}:{}: `END GENERATED {name}` closes nothing open", n + 1),
            // The old lines of an open section are replaced.
            (None, Some(_)) => {}
            (None, None) => out.push_str(line),
        }
    }
    if let Some(name) = open {
        panic!("{path}: `BEGIN GENERATED {name}` has no `END GENERATED {name}` line");
    }
    (out, names)
}

/// Brings the generated sections of `path` up to date, or fails under CI.
fn check(path: &str, expected: &[&str], generate: impl Fn(&str) -> String) {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    let old = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{path}: {e}"));
    let (new, names) = regenerate(path, &old, generate);
    assert_eq!(names, expected, "{path}: the generated sections, in order");
    if new == old {
        return;
    }
    let first = old.lines().zip(new.lines()).position(|(a, b)| a != b).unwrap_or(0);
    let diff: Vec<String> = new.lines().skip(first).take(6).map(|l| format!("    {l}")).collect();
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!(
            "{path} does not list what the registries hold (line {}): run `cargo test --test docs` and commit \
             the file it rewrites. It should read:\n{}",
            first + 1,
            diff.join("\n")
        );
    }
    // Written whole and renamed into place: copies of the suite running at
    // once never see half a file.
    let mut tmp = tempfile::NamedTempFile::new_in(file.parent().unwrap()).unwrap();
    tmp.write_all(new.as_bytes()).unwrap();
    tmp.persist(&file).unwrap();
    let note = format!("updated {path} from the registries (from line {}): review and commit it\n", first + 1);
    // Straight to the file descriptor: the test harness captures eprintln!.
    let _ = std::io::stderr().write_all(note.as_bytes());
}

#[test]
fn the_manual_lists_every_flag_variable_action_key_and_file() {
    check(MAN, &["serve-options", "top-options", "actions", "keys", "files", "environment"], man_section);
}

#[test]
fn the_readme_lists_every_flag_variable_action_key_and_file() {
    check(README, &["serve-flags", "top-flags", "environment", "actions", "keys", "files"], readme_section);
}

#[test]
fn regions_are_replaced_between_their_markers_only() {
    let text = "a\n<!-- BEGIN GENERATED x -->\nold\nold\n<!-- END GENERATED x -->\nb\n.\\\" BEGIN GENERATED y\n.\\\" END GENERATED y\n";
    let (new, names) = regenerate("t", text, |n| format!("new {n}\n"));
    assert_eq!(names, ["x", "y"]);
    assert_eq!(
        new,
        "a\n<!-- BEGIN GENERATED x -->\nnew x\n<!-- END GENERATED x -->\nb\n.\\\" BEGIN GENERATED y\nnew y\n.\\\" END GENERATED y\n"
    );
}

#[test]
fn markers_are_whole_comment_lines_and_must_pair() {
    let generate = |n: &str| format!("new {n}\n");
    // Prose that mentions the words is no marker; a longer name is another.
    let prose = "The lists between BEGIN GENERATED markers are written by tests/docs.rs.\n";
    assert_eq!(regenerate("t", prose, generate).0, prose);
    let text = "<!-- BEGIN GENERATED keys -->\nold\n<!-- END GENERATED keys -->\n";
    assert_eq!(regenerate("t", text, generate).1, ["keys"]);
    for bad in [
        "<!-- BEGIN GENERATED a -->\n<!-- END GENERATED a-extra -->\n",
        "<!-- BEGIN GENERATED a -->\n<!-- BEGIN GENERATED b -->\n",
        "<!-- END GENERATED a -->\n",
        "<!-- BEGIN GENERATED a -->\nold\n",
        "<!-- BEGIN GENERATED a -->\n<!-- END GENERATED a -->\n<!-- BEGIN GENERATED a -->\n<!-- END GENERATED a -->\n",
    ] {
        let caught = std::panic::catch_unwind(|| regenerate("t", bad, generate));
        assert!(caught.is_err(), "accepted: {bad:?}");
    }
}

/// Every text that the lists are made of renders as its table expects:
/// plain ASCII on one line, literal text opened and closed by backticks,
/// no `|` to break a Markdown table, and no abbreviation whose period the
/// roff writer would take for the end of a sentence.
#[test]
fn every_documented_text_renders() {
    let mut texts: Vec<(String, &str)> = Vec::new();
    for f in SERVE_FLAGS.iter().chain(TOP_FLAGS) {
        texts.push((format!("--{}", f.name), f.help));
        texts.push((format!("--{}", f.name), f.details));
        if let Fallback::Unset(what) = f.default {
            texts.push((format!("--{} default", f.name), what));
        }
    }
    texts.extend(ENVIRONMENT.iter().map(|v| (v.name.to_string(), v.help)));
    texts.extend(
        ACTIONS
            .iter()
            .flat_map(|a| [(a.name().to_string(), a.display_name()), (a.name().to_string(), a.description())]),
    );
    texts.extend(KEYMAP.iter().flat_map(|k| [(k.keys.to_string(), k.keys), (k.keys.to_string(), k.does)]));
    texts.extend(LAYOUT.iter().map(|e| (e.name.to_string(), e.what)));
    for (whose, text) in texts {
        assert!(text.is_ascii() && !text.contains(['\n', '|']), "{whose}: {text:?}");
        assert_eq!(text.matches('`').count() % 2, 0, "{whose}: a backtick left open in {text:?}");
        for abbreviation in ["e.g.", "i.e.", "etc.", "vs."] {
            assert!(!text.contains(abbreviation), "{whose}: {abbreviation} in {text:?}");
        }
    }
}

#[test]
fn roff_escapes_and_bolds_literal_text() {
    assert_eq!(roff("Use `--root`. Then go-on; done."), "Use \\fB\\%\\-\\-root\\fR.\nThen go\\-on; done.");
    assert_eq!(roff("`.wfhook` holds it"), "\\fB\\%.wfhook\\fR holds it");
    assert_eq!(roff("a. .b"), "a.\n\\&.b");
    assert_eq!(roff("a \\ b"), "a \\e b");
    assert_eq!(roff_word("--io-timeout"), "\\%\\-\\-io\\-timeout");
}
