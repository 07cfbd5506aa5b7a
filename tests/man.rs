//! The man page as a whole: it names the binary's version, is plain ASCII
//! with every section a reader expects, and groff renders it without a
//! single warning. (Its lists of options, variables, actions, keys and files
//! are written from the binary's own tables by `tests/docs.rs`.)
//!
//! The groff test needs groff (Debian's `groff-base`). Without it the test
//! says "skipped" and passes on a developer's machine, but fails under CI
//! (`CI` set), where `.ci/run` installs it.

mod common;

use std::process::Command;

const PAGE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/man/wfhook.1");

fn page() -> String {
    std::fs::read_to_string(PAGE).expect("man/wfhook.1 exists")
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
