//! The keys: one table per context, and the dispatch that looks a key up in
//! the table of the context it arrives in.
//!
//! [`KEYMAP`] is the dashboard's command list (gitui's idea): [`Model::on_key`]
//! runs the command a key is bound to there, the help overlay prints each
//! row (its description wrapped where the terminal is narrow), the footer
//! shows the rows that have a [`Hint`], in table order, and `--help`, the man
//! page and the README are written from it. So a key is added, changed or
//! described in one place only.
//!
//! The contexts, the first that applies wins:
//!
//! - the quit question (`serve --tui`): [`CONFIRM_KEYS`], nothing else;
//! - the help and detail overlays: [`HELP_KEYS`] or [`DETAIL_KEYS`], then the
//!   quit keys of [`KEYMAP`]; every other key is swallowed, so that nothing
//!   changes unseen under an overlay;
//! - the filter prompt: [`FILTER_KEYS`], then the Ctrl keys of [`KEYMAP`]
//!   (Ctrl-C); any other printable key is text, `q` included;
//! - otherwise [`KEYMAP`].
//!
//! Key releases are ignored: terminals that report them would act twice.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use ratatui::layout::Rect;

use super::model::{Cursor, MAX_FILTER, Model, Outcome, Overlay, Panel};
use super::{Mode, layout};

/// One row of a key table: what documentation writes, and what the keys do.
#[derive(Debug)]
pub struct KeyRow {
    /// The keys as documentation writes them, plain ASCII, e.g.
    /// "Tab, Shift-Tab", "Up, Down, j, k", "q, Ctrl-C".
    pub keys: &'static str,
    /// What they do, ASCII, one short line without a final period, the same
    /// for serve --tui and top.
    pub does: &'static str,
    /// Each key of the row and the command it runs; every key here is named
    /// in `keys` (see [`Key::name`]).
    pub bindings: &'static [(Key, Command)],
    /// The short form shown on screen, if the row has one: in the footer for
    /// [`KEYMAP`], in the prompt's or popup's hint for the others.
    pub hint: Option<Hint>,
}

/// A row's short form on screen, e.g. the footer's `q quit` or the filter
/// prompt's `Enter keep`.
#[derive(Clone, Copy, Debug)]
pub struct Hint {
    /// The key as the screen shows it (may be a symbol, e.g. `↑↓`).
    pub key: &'static str,
    pub label: &'static str,
    /// The label while the lists are paused, for the row that resumes them.
    pub paused: Option<&'static str>,
}

impl Hint {
    const fn new(key: &'static str, label: &'static str) -> Option<Hint> {
        Some(Hint { key, label, paused: None })
    }

    /// The label as it reads now.
    pub fn label(&self, paused: bool) -> &'static str {
        match self.paused {
            Some(label) if paused => label,
            _ => self.label,
        }
    }
}

/// A key as a binding names it. Only Ctrl tells two keys with the same
/// code apart: terminals report Shift inconsistently (`G`, `?`, Shift-Tab
/// arrive with or without it), and Alt is not used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
}

impl Key {
    const fn plain(code: KeyCode) -> Key {
        Key { code, ctrl: false }
    }

    const fn char(c: char) -> Key {
        Key::plain(KeyCode::Char(c))
    }

    const fn ctrl(c: char) -> Key {
        Key { code: KeyCode::Char(c), ctrl: true }
    }

    fn of(event: &KeyEvent) -> Key {
        Key { code: event.code, ctrl: event.modifiers.contains(KeyModifiers::CONTROL) }
    }

    /// The name documentation uses for the key, as in [`KeyRow::keys`].
    pub fn name(&self) -> String {
        let base = match self.code {
            KeyCode::Char(c) if self.ctrl => c.to_ascii_uppercase().to_string(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::Tab => "Tab".into(),
            KeyCode::BackTab => "Shift-Tab".into(),
            KeyCode::Up => "Up".into(),
            KeyCode::Down => "Down".into(),
            KeyCode::PageUp => "PgUp".into(),
            KeyCode::PageDown => "PgDn".into(),
            KeyCode::Home => "Home".into(),
            KeyCode::End => "End".into(),
            KeyCode::Enter => "Enter".into(),
            KeyCode::Esc => "Esc".into(),
            KeyCode::Backspace => "Backspace".into(),
            other => format!("{other:?}"),
        };
        if self.ctrl { format!("Ctrl-{base}") } else { base }
    }
}

/// What a key does; [`Model::on_key`] runs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// `top` quits; `serve --tui` asks first.
    Quit,
    Help,
    FocusNext,
    FocusPrevious,
    Up,
    Down,
    PageUp,
    PageDown,
    First,
    Last,
    /// The selected request's details, or an action's requests.
    Open,
    /// Clears a kept filter; never quits.
    Back,
    /// Opens the filter prompt.
    Filter,
    FailuresOnly,
    Pause,
    Sort,
    /// The prompt: leave it, keep the text.
    KeepFilter,
    /// The prompt: leave it, clear the text.
    ClearFilter,
    DeleteChar,
    ClearText,
    /// The quit question: yes.
    Stop,
    /// The quit question: no.
    Stay,
    /// Closes the help or the detail overlay.
    Close,
    /// The help, where it does not fit: one line up.
    HelpUp,
    /// The help, where it does not fit: one line down.
    HelpDown,
}

use Command::*;
use KeyCode::{BackTab, Backspace, Down as DownKey, End, Enter, Esc, Home, PageDown as PgDn, PageUp as PgUp, Tab};

/// The dashboard's keys outside the prompt and the overlays, in the order
/// help and docs list them. The footer shows the rows with a hint, in this
/// order, as many as fit: the most used come first.
pub static KEYMAP: &[KeyRow] = &[
    KeyRow {
        keys: "q, Ctrl-C",
        does: "quit (serve --tui asks first; top never stops the server)",
        bindings: &[(Key::char('q'), Quit), (Key::ctrl('c'), Quit)],
        hint: Hint::new("q", "quit"),
    },
    KeyRow {
        keys: "?",
        does: "show the help; Esc or ? closes it",
        bindings: &[(Key::char('?'), Help)],
        hint: Hint::new("?", "help"),
    },
    KeyRow {
        keys: "Tab, Shift-Tab",
        does: "focus the next or previous panel",
        bindings: &[(Key::plain(Tab), FocusNext), (Key::plain(BackTab), FocusPrevious)],
        hint: Hint::new("Tab", "focus"),
    },
    KeyRow {
        keys: "/",
        does: "filter the live list (Enter keeps the filter, Esc clears it)",
        bindings: &[(Key::char('/'), Filter)],
        hint: Hint::new("/", "filter"),
    },
    KeyRow {
        keys: "f",
        does: "show only failures in the live list, or all again",
        bindings: &[(Key::char('f'), FailuresOnly)],
        hint: Hint::new("f", "failures"),
    },
    KeyRow {
        keys: "p",
        does: "pause the lists, or resume them (counting goes on)",
        bindings: &[(Key::char('p'), Pause)],
        hint: Some(Hint { key: "p", label: "pause", paused: Some("resume") }),
    },
    KeyRow {
        keys: "s",
        does: "sort the actions table by name, calls, failures or p95",
        bindings: &[(Key::char('s'), Sort)],
        hint: Hint::new("s", "sort"),
    },
    KeyRow {
        keys: "Enter",
        does: "open the selected request, or an action's requests",
        bindings: &[(Key::plain(Enter), Open)],
        hint: Hint::new("Enter", "open"),
    },
    KeyRow {
        keys: "Esc",
        does: "go back: clear the filter (never quits)",
        bindings: &[(Key::plain(Esc), Back)],
        hint: None,
    },
    KeyRow {
        keys: "Up, Down, j, k",
        does: "move the selection, or scroll the log",
        bindings: &[
            (Key::plain(KeyCode::Up), Up),
            (Key::plain(DownKey), Down),
            (Key::char('j'), Down),
            (Key::char('k'), Up),
        ],
        hint: Hint::new("↑↓", "scroll"),
    },
    KeyRow {
        keys: "PgUp, PgDn",
        does: "move a page up or down",
        bindings: &[(Key::plain(PgUp), PageUp), (Key::plain(PgDn), PageDown)],
        hint: None,
    },
    KeyRow {
        keys: "Home, End, g, G",
        does: "go to the first or last row (End follows the log again)",
        bindings: &[
            (Key::plain(Home), First),
            (Key::plain(End), Last),
            (Key::char('g'), First),
            (Key::char('G'), Last),
        ],
        hint: None,
    },
];

/// The filter prompt's keys; any other printable key is text, `q` too.
pub static FILTER_KEYS: &[KeyRow] = &[
    KeyRow {
        keys: "Enter",
        does: "keep the filter and leave the prompt",
        bindings: &[(Key::plain(Enter), KeepFilter)],
        hint: Hint::new("Enter", "keep"),
    },
    KeyRow {
        keys: "Esc",
        does: "clear the filter and leave the prompt (never quits)",
        bindings: &[(Key::plain(Esc), ClearFilter)],
        hint: Hint::new("Esc", "clear"),
    },
    KeyRow {
        keys: "Backspace",
        does: "delete the last character",
        bindings: &[(Key::plain(Backspace), DeleteChar)],
        hint: None,
    },
    KeyRow { keys: "Ctrl-U", does: "delete the whole text", bindings: &[(Key::ctrl('u'), ClearText)], hint: None },
];

/// The keys of `serve --tui`'s "Stop the server?" question.
pub static CONFIRM_KEYS: &[KeyRow] = &[
    KeyRow {
        keys: "y, Y, Ctrl-C",
        does: "stop the server gracefully",
        bindings: &[(Key::char('y'), Stop), (Key::char('Y'), Stop), (Key::ctrl('c'), Stop)],
        hint: Hint::new("y", "stops it gracefully"),
    },
    KeyRow {
        keys: "n, N, Esc",
        does: "keep serving",
        bindings: &[(Key::char('n'), Stay), (Key::char('N'), Stay), (Key::plain(Esc), Stay)],
        hint: Hint::new("n or Esc", "stays"),
    },
];

/// The help overlay's own keys; the quit keys work under it too. Its hint
/// line shows the scrolling row only where the help scrolls.
pub static HELP_KEYS: &[KeyRow] = &[
    KeyRow {
        keys: "Esc, ?, Enter",
        does: "close the help",
        bindings: &[(Key::plain(Esc), Close), (Key::char('?'), Close), (Key::plain(Enter), Close)],
        hint: Hint::new("Esc or ?", "closes"),
    },
    KeyRow {
        keys: "Up, Down, j, k",
        does: "scroll the help where the terminal is too small for all of it",
        bindings: &[
            (Key::plain(KeyCode::Up), HelpUp),
            (Key::plain(DownKey), HelpDown),
            (Key::char('j'), HelpDown),
            (Key::char('k'), HelpUp),
        ],
        hint: Hint::new("↑↓", "scroll"),
    },
];

/// What the help says under the keys, where it has the room; one paragraph.
pub static HELP_NOTES: &str =
    "Times are UTC. Dropped: requests counted in the totals whose events did not reach this dashboard.";

/// The detail overlay's own keys; the quit keys work under it too.
pub static DETAIL_KEYS: &[KeyRow] = &[KeyRow {
    keys: "Esc, Enter, Backspace",
    does: "close the details",
    bindings: &[(Key::plain(Esc), Close), (Key::plain(Enter), Close), (Key::plain(Backspace), Close)],
    hint: Hint::new("Esc", "back"),
}];

/// The command `key` is bound to in `table`.
pub fn lookup(table: &[KeyRow], key: Key) -> Option<Command> {
    table.iter().flat_map(|row| row.bindings).find(|(k, _)| *k == key).map(|(_, command)| *command)
}

/// The hints of a table's rows as one line, e.g. " Enter keep · Esc clear ".
pub fn hints<'a>(rows: impl IntoIterator<Item = &'a KeyRow>) -> String {
    let parts: Vec<String> =
        rows.into_iter().filter_map(|r| r.hint).map(|h| format!("{} {}", h.key, h.label)).collect();
    format!(" {} ", parts.join(" · "))
}

impl KeyRow {
    /// Whether the row scrolls the help: its hint shows only where the help
    /// scrolls.
    pub fn scrolls_help(&self) -> bool {
        self.bindings.iter().any(|(_, c)| matches!(c, HelpUp | HelpDown))
    }
}

impl Model {
    /// Takes one key; never does I/O.
    pub fn on_key(&mut self, event: KeyEvent) -> Outcome {
        if event.kind == KeyEventKind::Release {
            return Outcome::Continue;
        }
        let key = Key::of(&event);
        let quit = || lookup(KEYMAP, key).filter(|c| *c == Quit);
        let command = match &self.overlay {
            Some(Overlay::ConfirmQuit) => lookup(CONFIRM_KEYS, key),
            Some(Overlay::Help) => lookup(HELP_KEYS, key).or_else(quit),
            Some(Overlay::Detail(_)) => lookup(DETAIL_KEYS, key).or_else(quit),
            None if self.editing => match lookup(FILTER_KEYS, key).or_else(|| quit().filter(|_| key.ctrl)) {
                Some(command) => Some(command),
                None => {
                    self.type_char(key);
                    None
                }
            },
            None => lookup(KEYMAP, key),
        };
        command.map_or(Outcome::Continue, |c| self.run(c))
    }

    fn run(&mut self, command: Command) -> Outcome {
        let page = self.rows(self.focus).max(1) as isize;
        match command {
            Quit => return self.quit(),
            Stop => return Outcome::Quit,
            Help => {
                self.overlay = Some(Overlay::Help);
                self.help = 0;
            }
            Close | Stay => self.overlay = None,
            HelpUp => self.scroll_help(-1),
            HelpDown => self.scroll_help(1),
            FocusNext => self.cycle_focus(1),
            FocusPrevious => self.cycle_focus(-1),
            Up => self.scroll(-1),
            Down => self.scroll(1),
            PageUp => self.scroll(-page),
            PageDown => self.scroll(page),
            First => self.scroll(isize::MIN),
            Last => self.scroll(isize::MAX),
            Open => self.open(),
            Back => self.set_filter(String::new()),
            Filter => self.editing = true,
            FailuresOnly => {
                self.failures_only = !self.failures_only;
                self.live = Cursor::default();
            }
            Pause => self.toggle_pause(),
            Sort => self.sort = self.sort.next(),
            KeepFilter => self.editing = false,
            ClearFilter => {
                self.editing = false;
                self.set_filter(String::new());
            }
            DeleteChar => {
                let mut text = self.filter.clone();
                text.pop();
                self.set_filter(text);
            }
            ClearText => self.set_filter(String::new()),
        }
        Outcome::Continue
    }

    fn quit(&mut self) -> Outcome {
        match self.mode {
            Mode::Top => Outcome::Quit,
            Mode::Serve => {
                self.editing = false;
                self.overlay = Some(Overlay::ConfirmQuit);
                Outcome::Continue
            }
        }
    }

    /// A printable key typed into the filter prompt; longer text is ignored.
    fn type_char(&mut self, key: Key) {
        if let KeyCode::Char(c) = key.code
            && !key.ctrl
            && !c.is_control()
            && self.filter.chars().count() < MAX_FILTER
        {
            let mut text = self.filter.clone();
            text.push(c);
            self.set_filter(text);
        }
    }

    fn cycle_focus(&mut self, step: isize) {
        let panels = self.panels();
        let at = panels.iter().position(|p| *p == self.focus).unwrap_or(0) as isize;
        self.focus = panels[(at + step).rem_euclid(panels.len() as isize) as usize];
        if self.focus != Panel::Live {
            self.lower = self.focus;
        }
    }

    /// Scrolls the help by lines, no further than its last page.
    fn scroll_help(&mut self, by: isize) {
        let help = layout::help(Rect::new(0, 0, self.size.0, self.size.1));
        self.help = help.first(help.first(self.help).saturating_add_signed(by));
    }

    fn scroll(&mut self, by: isize) {
        let panel = self.focus;
        let len = self.len(panel);
        let rows = self.rows(panel);
        if panel == Panel::Log {
            // Up goes back in time, away from the tail.
            let most = len.saturating_sub(rows);
            self.log.selected = self.log.selected.min(most).saturating_add_signed(by.saturating_neg()).min(most);
            return;
        }
        let cursor = self.cursor_mut(panel);
        cursor.selected = cursor.selected.saturating_add_signed(by).min(len.saturating_sub(1));
        super::model::keep_visible(cursor, rows);
    }

    fn open(&mut self) {
        match self.focus {
            Panel::Live => {
                let chosen = self.live_view().nth(self.live.selected).map(|s| s.event.clone());
                self.overlay = chosen.map(Overlay::Detail);
            }
            Panel::Failures => {
                let chosen = self.failures_view().nth(self.fail.selected).map(|s| s.event.clone());
                self.overlay = chosen.map(Overlay::Detail);
            }
            // Drill down: the live list of that action.
            Panel::Actions => {
                let name = self.action_rows().get(self.table.selected).map(|r| r.stats.name);
                if let Some(name) = name {
                    self.set_filter(name.to_string());
                    self.focus = Panel::Live;
                }
            }
            Panel::Log => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::ACTIONS;
    use crate::dashboard::Feed;
    use crate::dashboard::layout::MIN;
    use crate::dashboard::model::SortKey;
    use crate::dashboard::testing::*;

    /// Every table, by name.
    const TABLES: [(&str, &[KeyRow]); 5] = [
        ("KEYMAP", KEYMAP),
        ("FILTER_KEYS", FILTER_KEYS),
        ("CONFIRM_KEYS", CONFIRM_KEYS),
        ("HELP_KEYS", HELP_KEYS),
        ("DETAIL_KEYS", DETAIL_KEYS),
    ];

    /// What a terminal sends for `key`: Shift comes along with capitals and
    /// Shift-Tab, as most terminals send them.
    fn sent(key: Key) -> KeyEvent {
        let mut modifiers = if key.ctrl { KeyModifiers::CONTROL } else { KeyModifiers::NONE };
        if key.code == KeyCode::BackTab || matches!(key.code, KeyCode::Char(c) if c.is_ascii_uppercase()) {
            modifiers |= KeyModifiers::SHIFT;
        }
        KeyEvent::new(key.code, modifiers)
    }

    /// A model in the context `table` is for, where every command of it has
    /// something to change: a kept filter that every row matches, the
    /// selection on the fourth row of the live list, text in the prompt, the
    /// help scrolled a line down.
    fn in_context(table: &str, mode: Mode) -> Model {
        let mut m = busy(mode);
        m.resize(100, 28);
        m.set_filter("ann".into());
        press(&mut m, &[KeyCode::Down, KeyCode::Down, KeyCode::Down]);
        match table {
            "KEYMAP" => {}
            "FILTER_KEYS" => {
                press(&mut m, &[KeyCode::Char('/')]);
                typed(&mut m, "1");
            }
            "CONFIRM_KEYS" => m.overlay = Some(Overlay::ConfirmQuit),
            "HELP_KEYS" => {
                // The smallest terminal, where the help scrolls, a line down.
                m.resize(MIN.0, MIN.1);
                press(&mut m, &[KeyCode::Char('?'), KeyCode::Down]);
            }
            "DETAIL_KEYS" => {
                press(&mut m, &[KeyCode::Enter]);
            }
            other => panic!("no context for {other}"),
        }
        m
    }

    /// What a command may change.
    #[derive(Clone, Debug, PartialEq)]
    struct Seen {
        overlay: Option<Overlay>,
        focus: Panel,
        selected: usize,
        filter: String,
        editing: bool,
        failures_only: bool,
        paused: bool,
        sort: SortKey,
        help: usize,
    }

    fn seen(m: &Model) -> Seen {
        Seen {
            overlay: m.overlay.clone(),
            focus: m.focus,
            selected: m.live.selected,
            filter: m.filter.clone(),
            editing: m.editing,
            failures_only: m.failures_only,
            paused: m.is_paused(),
            sort: m.sort,
            help: m.help,
        }
    }

    /// What the command's row documents, as the state expected after the
    /// key and the outcome; written apart from [`Model::on_key`]'s code.
    fn expected(command: Command, mode: Mode, m: &Model, before: &Seen) -> (Seen, Outcome) {
        let mut after = before.clone();
        let rows = m.rows(Panel::Live);
        let last = m.live_len().saturating_sub(1);
        let mut outcome = Outcome::Continue;
        match command {
            Quit if mode == Mode::Top => outcome = Outcome::Quit,
            Quit => {
                after.overlay = Some(Overlay::ConfirmQuit);
                after.editing = false;
            }
            Stop => outcome = Outcome::Quit,
            Help => (after.overlay, after.help) = (Some(Overlay::Help), 0),
            Close | Stay => after.overlay = None,
            HelpUp => after.help -= 1,
            HelpDown => after.help += 1,
            FocusNext => after.focus = Panel::Failures,
            FocusPrevious => after.focus = *m.panels().last().unwrap(),
            Up => after.selected -= 1,
            Down => after.selected += 1,
            PageUp => after.selected = before.selected.saturating_sub(rows),
            PageDown => after.selected = (before.selected + rows).min(last),
            First => after.selected = 0,
            Last => after.selected = last,
            Open => after.overlay = m.live_view().nth(before.selected).map(|s| Overlay::Detail(s.event.clone())),
            Back => (after.filter, after.selected) = (String::new(), 0),
            Filter => after.editing = true,
            FailuresOnly => (after.failures_only, after.selected) = (!before.failures_only, 0),
            Pause => after.paused = !before.paused,
            Sort => after.sort = before.sort.next(),
            KeepFilter => after.editing = false,
            ClearFilter => (after.editing, after.filter, after.selected) = (false, String::new(), 0),
            DeleteChar => {
                after.filter.pop();
                after.selected = 0;
            }
            ClearText => (after.filter, after.selected) = (String::new(), 0),
        }
        (after, outcome)
    }

    /// Every binding of every table, in its context and in both modes, does
    /// what its row says, and that is a change.
    #[test]
    fn every_binding_does_what_its_row_says() {
        for (name, table) in TABLES {
            // The quit question only exists in serve --tui.
            let modes: &[Mode] = if name == "CONFIRM_KEYS" { &[Mode::Serve] } else { &[Mode::Serve, Mode::Top] };
            for row in table {
                for (key, command) in row.bindings {
                    for &mode in modes {
                        let mut m = in_context(name, mode);
                        let before = seen(&m);
                        let (want, want_outcome) = expected(*command, mode, &m, &before);
                        let why = format!("{name} {:?}: {} in {mode:?}", row.keys, key.name());
                        assert!(want != before || want_outcome == Outcome::Quit, "{why} changes nothing");
                        let outcome = m.on_key(sent(*key));
                        assert_eq!((seen(&m), outcome), (want, want_outcome), "{why}");
                    }
                }
            }
        }
    }

    #[test]
    fn no_key_is_bound_twice_in_one_context() {
        for (name, table) in TABLES {
            let keys: Vec<Key> = table.iter().flat_map(|r| r.bindings).map(|(k, _)| *k).collect();
            for (i, key) in keys.iter().enumerate() {
                assert!(!keys[..i].contains(key), "{name}: {} twice", key.name());
            }
        }
        // Under an overlay the quit keys still work, and in the prompt the
        // Ctrl ones: no table of those contexts may take them.
        let quit = KEYMAP.iter().flat_map(|r| r.bindings).filter(|(_, c)| *c == Quit).map(|(k, _)| *k);
        for key in quit {
            for table in [HELP_KEYS, DETAIL_KEYS] {
                assert_eq!(lookup(table, key), None, "{}", key.name());
            }
            if key.ctrl {
                assert_eq!(lookup(FILTER_KEYS, key), None, "{}", key.name());
            }
        }
    }

    /// What documentation is written from: plain ASCII, one line each, and
    /// every key a row binds is named in its `keys`, and only those.
    #[test]
    fn every_row_is_documented() {
        for (name, table) in TABLES {
            for row in table {
                for text in [row.keys, row.does] {
                    assert!(!text.trim().is_empty(), "{name}: an empty text");
                    assert!(text.is_ascii() && !text.contains('\n'), "{name}: {text:?}");
                    assert_eq!(text, text.trim(), "{name}");
                }
                assert!(!row.does.ends_with('.'), "{name}: {:?}", row.does);
                let named: Vec<&str> = row.keys.split(", ").collect();
                for (key, _) in row.bindings {
                    assert!(named.contains(&key.name().as_str()), "{name}: {} not in {:?}", key.name(), row.keys);
                }
                assert_eq!(named.len(), row.bindings.len(), "{name}: {:?} names a key it does not bind", row.keys);
                if let Some(hint) = row.hint {
                    assert!(!hint.key.is_empty() && !hint.label.is_empty(), "{name}: {:?}", row.keys);
                }
            }
        }
    }

    #[test]
    fn hints_read_as_the_screen_shows_them() {
        assert_eq!(hints(FILTER_KEYS), " Enter keep · Esc clear ");
        assert_eq!(hints(CONFIRM_KEYS), " y stops it gracefully · n or Esc stays ");
        let pause = KEYMAP.iter().find_map(|r| r.hint.filter(|h| h.key == "p")).unwrap();
        assert_eq!((pause.label(false), pause.label(true)), ("pause", "resume"));
    }

    #[test]
    fn filter_narrows_the_live_list_and_esc_clears_without_quitting() {
        let mut m = model(Mode::Serve, 12);
        assert_eq!(press(&mut m, &[KeyCode::Char('/')]), Outcome::Continue);
        assert!(m.is_editing_filter());
        // `q` while typing is text, not quit.
        typed(&mut m, "q");
        assert_eq!(m.filter(), "q");
        assert_eq!(m.overlay(), None);
        press(&mut m, &[KeyCode::Backspace]);
        typed(&mut m, "-1");
        assert_eq!(ids(&m), ["abc123-11", "abc123-10", "abc123-1"]);
        assert_eq!(press(&mut m, &[KeyCode::Esc]), Outcome::Continue);
        assert!(!m.is_editing_filter());
        assert_eq!(m.filter(), "");
        assert_eq!(m.live_view().count(), 12);
        assert_eq!(m.overlay(), None);
    }

    #[test]
    fn enter_keeps_the_filter_and_a_later_esc_clears_it() {
        let mut m = model(Mode::Top, 12);
        press(&mut m, &[KeyCode::Char('/')]);
        typed(&mut m, "CHECKSUM");
        assert_eq!(press(&mut m, &[KeyCode::Enter]), Outcome::Continue);
        assert!(!m.is_editing_filter());
        assert_eq!(m.filter(), "CHECKSUM");
        assert_eq!(m.live_view().count(), 4, "case-insensitive, over the action name");
        // Status and username match too.
        m.set_filter("500".into());
        assert_eq!(m.live_view().count(), 3);
        m.set_filter("ANN".into());
        assert_eq!(m.live_view().count(), 12);
        m.set_filter("doc7".into());
        assert_eq!(ids(&m), ["abc123-7"]);
        assert_eq!(press(&mut m, &[KeyCode::Esc]), Outcome::Continue);
        assert_eq!(m.filter(), "");
        // Esc with nothing to clear still does not quit, even in top.
        assert_eq!(press(&mut m, &[KeyCode::Esc, KeyCode::Esc]), Outcome::Continue);
    }

    #[test]
    fn quitting_serve_asks_and_n_or_esc_cancels() {
        let mut m = model(Mode::Serve, 0);
        assert_eq!(press(&mut m, &[KeyCode::Char('q')]), Outcome::Continue);
        assert_eq!(m.overlay(), Some(&Overlay::ConfirmQuit));
        assert_eq!(press(&mut m, &[KeyCode::Char('n')]), Outcome::Continue);
        assert_eq!(m.overlay(), None);
        press(&mut m, &[KeyCode::Char('q')]);
        // Unrelated keys leave the question open.
        assert_eq!(press(&mut m, &[KeyCode::Char('x'), KeyCode::Tab]), Outcome::Continue);
        assert_eq!(m.overlay(), Some(&Overlay::ConfirmQuit));
        assert_eq!(m.focus(), Panel::Live);
        assert_eq!(press(&mut m, &[KeyCode::Esc]), Outcome::Continue);
        assert_eq!(m.overlay(), None);
        press(&mut m, &[KeyCode::Char('q')]);
        assert_eq!(press(&mut m, &[KeyCode::Char('y')]), Outcome::Quit);
    }

    #[test]
    fn ctrl_c_asks_in_serve_and_a_second_one_quits() {
        let mut m = model(Mode::Serve, 0);
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(m.on_key(ctrl_c), Outcome::Continue);
        assert_eq!(m.overlay(), Some(&Overlay::ConfirmQuit));
        assert_eq!(m.on_key(ctrl_c), Outcome::Quit);
        let mut m = model(Mode::Top, 0);
        assert_eq!(m.on_key(ctrl_c), Outcome::Quit);
    }

    #[test]
    fn q_in_top_quits_at_once() {
        let mut m = model(Mode::Top, 3);
        assert_eq!(press(&mut m, &[KeyCode::Char('q')]), Outcome::Quit);
        // Also from under the help and a detail view.
        let mut m = model(Mode::Top, 3);
        press(&mut m, &[KeyCode::Char('?')]);
        assert_eq!(press(&mut m, &[KeyCode::Char('q')]), Outcome::Quit);
    }

    #[test]
    fn key_releases_are_ignored() {
        let mut m = model(Mode::Top, 0);
        let mut release = key(KeyCode::Char('q'));
        release.kind = KeyEventKind::Release;
        assert_eq!(m.on_key(release), Outcome::Continue);
    }

    #[test]
    fn tab_cycles_focus_both_ways_and_top_has_no_log_pane() {
        let mut m = model(Mode::Serve, 0);
        let mut seen = vec![];
        for _ in 0..4 {
            press(&mut m, &[KeyCode::Tab]);
            seen.push(m.focus());
        }
        assert_eq!(seen, [Panel::Failures, Panel::Actions, Panel::Log, Panel::Live]);
        press(&mut m, &[KeyCode::BackTab]);
        assert_eq!(m.focus(), Panel::Log);
        assert_eq!(m.lower, Panel::Log);
        let mut m = model(Mode::Top, 0);
        press(&mut m, &[KeyCode::BackTab]);
        assert_eq!(m.focus(), Panel::Actions);
        press(&mut m, &[KeyCode::Tab]);
        assert_eq!(m.focus(), Panel::Live);
        assert_eq!(m.lower, Panel::Actions, "the lower pane stays on the last one visited");
    }

    #[test]
    fn enter_on_a_failure_opens_its_detail_and_esc_returns() {
        let mut m = model(Mode::Serve, 8);
        press(&mut m, &[KeyCode::Tab, KeyCode::Down, KeyCode::Enter]);
        match m.overlay() {
            Some(Overlay::Detail(e)) => assert_eq!(e.request_id, "abc123-3"),
            other => panic!("{other:?}"),
        }
        // Keys other than the closing ones do nothing under the detail.
        press(&mut m, &[KeyCode::Tab, KeyCode::Char('p')]);
        assert_eq!(m.focus(), Panel::Failures);
        assert!(!m.is_paused());
        assert_eq!(press(&mut m, &[KeyCode::Esc]), Outcome::Continue);
        assert_eq!(m.overlay(), None);
        assert_eq!(m.focus(), Panel::Failures);
    }

    #[test]
    fn enter_on_an_action_filters_the_live_list() {
        let mut m = model(Mode::Serve, 9);
        // The table starts in name order: checksum's row comes after those of
        // the registered actions whose names sort before it.
        let below = ACTIONS.iter().filter(|a| a.name() < "checksum").count();
        press(&mut m, &[KeyCode::BackTab, KeyCode::BackTab]);
        press(&mut m, &vec![KeyCode::Down; below]);
        press(&mut m, &[KeyCode::Enter]);
        assert_eq!(m.filter(), "checksum");
        assert_eq!(m.focus(), Panel::Live);
        assert_eq!(m.live_view().count(), 3);
    }

    #[test]
    fn help_opens_and_closes() {
        let mut m = model(Mode::Serve, 0);
        press(&mut m, &[KeyCode::Char('?')]);
        assert_eq!(m.overlay(), Some(&Overlay::Help));
        press(&mut m, &[KeyCode::Char('?')]);
        assert_eq!(m.overlay(), None);
        press(&mut m, &[KeyCode::Char('?'), KeyCode::Esc]);
        assert_eq!(m.overlay(), None);
    }

    #[test]
    fn f_shows_failures_only() {
        let mut m = model(Mode::Serve, 8);
        press(&mut m, &[KeyCode::Char('f')]);
        assert!(m.failures_only());
        assert_eq!(ids(&m), ["abc123-7", "abc123-3"]);
        press(&mut m, &[KeyCode::Char('f')]);
        assert_eq!(m.live_view().count(), 8);
    }

    #[test]
    fn scrolling_is_clamped_and_keeps_the_selection_visible() {
        let mut m = model(Mode::Serve, 100);
        m.resize(80, 24);
        let rows = m.rows(Panel::Live);
        assert!(rows >= 5, "{rows}");
        press(&mut m, &[KeyCode::End]);
        assert_eq!(m.live.selected, 99);
        assert_eq!(m.live.offset, 100 - rows);
        press(&mut m, &[KeyCode::PageUp]);
        assert_eq!(m.live.selected, 99 - rows);
        assert_eq!(m.live.offset, 99 - rows);
        press(&mut m, &[KeyCode::Home, KeyCode::Up]);
        assert_eq!(m.live, Cursor::default());
        press(&mut m, &[KeyCode::PageDown]);
        assert_eq!(m.live.selected, rows);
        assert_eq!(m.live.offset, 1);
        // A smaller terminal moves the first row to keep the selection shown.
        m.resize(80, 16);
        let small = m.rows(Panel::Live);
        assert!(m.live.selected < m.live.offset + small);
    }

    #[test]
    fn log_scrolls_back_and_end_follows_again() {
        let mut m = model(Mode::Serve, 0);
        for i in 0..50 {
            m.apply(Feed::Log(format!("line {i}")));
        }
        press(&mut m, &[KeyCode::Tab, KeyCode::Tab, KeyCode::Tab]);
        assert_eq!(m.focus(), Panel::Log);
        press(&mut m, &[KeyCode::Up, KeyCode::Up]);
        assert_eq!(m.log.selected, 2);
        m.apply(Feed::Log("new".into()));
        assert_eq!(m.log.selected, 3, "stays on the same lines");
        press(&mut m, &[KeyCode::End]);
        assert_eq!(m.log.selected, 0);
        press(&mut m, &[KeyCode::Home]);
        assert_eq!(m.log.selected, 51 - m.rows(Panel::Log));
    }
}
