//! The man page against the binary it documents: every flag and every
//! `WFHOOK_*` variable that `wfhook --help` shows is in `man/wfhook.1`, each
//! option with its own entry naming its variable and default, and groff
//! renders the page without a single warning.
//!
//! The groff test needs groff (Debian's `groff-base`). Without it the test
//! says "skipped" and passes on a developer's machine, but fails under CI
//! (`CI` set), where `.ci/run` installs it.

mod common;

use std::collections::BTreeSet;

use std::process::Command;

const PAGE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/man/wfhook.1");

fn page() -> String {
    std::fs::read_to_string(PAGE).expect("man/wfhook.1 exists")
}

/// Roff source as a reader sees the words: escapes for dashes, quotes and
/// backslashes undone, font changes, hyphenation marks and macro names
/// dropped, and each macro's quoted arguments unquoted.
fn unroff(src: &str) -> String {
    let mut out = String::new();
    for line in src.lines() {
        if line.starts_with(".\\\"") {
            continue;
        }
        let line = match line.strip_prefix('.') {
            Some(macro_line) => macro_line.split_once(' ').map_or("", |(_, args)| args).replace('"', ""),
            None => line.to_string(),
        };
        let mut s = line;
        for font in ["\\fB", "\\fI", "\\fR", "\\fP", "\\f(CW"] {
            s = s.replace(font, "");
        }
        for (from, to) in
            [("\\-", "-"), ("\\%", ""), ("\\&", ""), ("\\(aq", "'"), ("\\(lq", "\""), ("\\(rq", "\""), ("\\e", "\\")]
        {
            s = s.replace(from, to);
        }
        out.push_str(&s);
        out.push('\n');
    }
    out
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-'
}

/// Every `--name` token in `text`.
fn flag_tokens(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("--") {
        let before = rest[..at].chars().next_back();
        let name: String = rest[at + 2..].chars().take_while(|&c| is_name_char(c)).collect();
        if !before.is_some_and(is_name_char) && name.starts_with(|c: char| c.is_ascii_lowercase()) {
            found.insert(name.clone());
        }
        rest = &rest[at + 2 + name.len()..];
    }
    found
}

/// True when `text` holds `--name` as a whole token.
fn mentions_flag(text: &str, name: &str) -> bool {
    flag_tokens(text).contains(name)
}

/// Every `WFHOOK_*` variable named in `text`.
fn env_vars(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (at, _) in text.match_indices("WFHOOK_") {
        let name: String =
            text[at..].chars().take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_').collect();
        found.insert(name);
    }
    found
}

/// One option as `--help` describes it.
#[derive(Debug)]
struct HelpOption {
    name: String,
    env: String,
    default: Option<String>,
}

/// The options of the `... OPTIONS` blocks of `--help`: a `    --name` line,
/// then its help, then `[env: VAR] [default: VALUE]`.
fn help_options(help: &str) -> Vec<HelpOption> {
    let mut options = Vec::new();
    let mut current: Option<String> = None;
    for line in help.lines() {
        if let Some(head) = line.strip_prefix("    --")
            && !head.starts_with(' ')
        {
            current = Some(head.split_whitespace().next().unwrap_or_default().to_string());
        } else if let Some(tail) = line.trim().strip_prefix("[env: ") {
            let name = current.take().unwrap_or_else(|| panic!("an [env: …] line without its option: {line}"));
            let (env, rest) = tail.split_once(']').expect("[env: VAR]");
            let default = rest.trim().strip_prefix("[default: ").and_then(|d| d.strip_suffix(']')).map(str::to_string);
            options.push(HelpOption { name, env: env.trim().to_string(), default });
        }
    }
    options
}

/// The page's tagged paragraphs (`.TP`), as (tag, body) in reader's text.
fn tagged_paragraphs(src: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let lines: Vec<&str> = src.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        if lines[i] == ".TP" && i + 1 < lines.len() {
            let tag = unroff(lines[i + 1]).trim().to_string();
            let mut j = i + 2;
            while j < lines.len()
                && ![".TP", ".SH", ".SS", ".PP", ".RS", ".RE"].contains(&lines[j].split(' ').next().unwrap_or(""))
            {
                j += 1;
            }
            out.push((tag, unroff(&lines[i + 2..j].join("\n"))));
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

#[test]
fn every_flag_and_variable_of_the_help_is_in_the_man_page() {
    let help = common::help();
    let text = unroff(&page());
    let flags = flag_tokens(&help);
    for expected in ["listen", "root", "api-keys-file", "admin-allow-remote", "connect", "help", "version"] {
        assert!(flags.contains(expected), "--{expected} not found in --help: the parser here is wrong\n{help}");
    }
    let missing: Vec<_> = flags.iter().filter(|f| !mentions_flag(&text, f)).collect();
    assert!(missing.is_empty(), "flags of `wfhook --help` missing from man/wfhook.1: {missing:?}");

    let vars = env_vars(&help);
    assert!(vars.contains("WFHOOK_API_KEY") && vars.contains("WFHOOK_ADMIN_TOKEN"), "{vars:?}");
    let missing: Vec<_> = vars.iter().filter(|v| !env_vars(&text).contains(*v)).collect();
    assert!(missing.is_empty(), "variables of `wfhook --help` missing from man/wfhook.1: {missing:?}");
}

#[test]
fn every_option_has_an_entry_with_its_variable_and_default() {
    let help = common::help();
    let options = help_options(&help);
    assert!(options.len() >= 16, "the --help option blocks did not parse: {options:?}");
    let paragraphs = tagged_paragraphs(&page());
    for o in &options {
        let entries: Vec<&(String, String)> = paragraphs
            .iter()
            .filter(|(tag, _)| {
                tag.strip_prefix(&format!("--{}", o.name)).is_some_and(|rest| !rest.starts_with(is_name_char))
            })
            .collect();
        assert!(!entries.is_empty(), "man/wfhook.1 has no .TP entry for --{}", o.name);
        for (tag, body) in entries {
            assert!(body.contains(&o.env), "the entry `{tag}` does not name {}:\n{body}", o.env);
            assert!(body.contains("Default:"), "the entry `{tag}` does not give its default:\n{body}");
            if let Some(d) = &o.default {
                let said = body.split("Default:").nth(1).unwrap_or_default();
                assert!(said.contains(d.as_str()), "the entry `{tag}` does not give the default {d}:\n{body}");
            }
        }
    }
    // And no entry documents an option that the binary does not have.
    let known: BTreeSet<&str> = options.iter().map(|o| o.name.as_str()).chain(["help", "version"]).collect();
    for (tag, _) in &paragraphs {
        if let Some(rest) = tag.strip_prefix("--") {
            let name: String = rest.chars().take_while(|&c| is_name_char(c)).collect();
            assert!(known.contains(name.as_str()), "man/wfhook.1 documents --{name}, which --help does not know");
        }
    }
}

#[test]
fn the_page_names_the_binary_version_and_is_plain_ascii() {
    let src = page();
    let version = format!("\"wfhook {}\"", env!("CARGO_PKG_VERSION"));
    let th = src.lines().find(|l| l.starts_with(".TH ")).expect("a .TH line");
    assert!(th.contains(&version), "update the .TH line of man/wfhook.1 to {version}: {th}");
    if let Some((n, line)) = src.lines().enumerate().find(|(_, l)| !l.is_ascii()) {
        panic!("man/wfhook.1:{}: write non-ASCII characters as roff escapes: {line}", n + 1);
    }
    for section in
        ["NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "OPTIONS", "ENDPOINTS", "ACTIONS", "FILES", "ENVIRONMENT"]
            .into_iter()
            .chain(["\"EXIT STATUS\"", "EXAMPLES", "\"SEE ALSO\"", "DASHBOARD", "\"ADMIN LISTENER\""])
    {
        assert!(src.lines().any(|l| l == format!(".SH {section}")), "man/wfhook.1 has no .SH {section}");
    }
}

#[test]
fn groff_renders_the_page_without_warnings() {
    let Some(groff) = common::tools_or_skip(&["groff"]).and_then(|t| t.into_iter().next()) else {
        return;
    };
    // The default width, and the 80 columns `man` uses in most terminals.
    for width in [None, Some("-rLL=80n")] {
        let mut cmd = Command::new(&groff);
        cmd.args(["-man", "-ww", "-z", "-Tutf8"]).args(width).arg(PAGE);
        let out = cmd.output().expect("run groff");
        let warnings = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && warnings.trim().is_empty(),
            "groff -man -ww -z -Tutf8 {}man/wfhook.1 warned ({}):\n{warnings}",
            width.map(|w| format!("{w} ")).unwrap_or_default(),
            out.status
        );
    }
}
