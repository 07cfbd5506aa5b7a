//! The real terminal and the loop around the model.
//!
//! [`Guard`] holds raw mode and the alternate screen for as long as the
//! dashboard runs and gives them back on return and on error; a panic hook
//! gives them back before the panic message is printed, so that the message
//! is readable and the shell usable.
//!
//! The loop is single-threaded: it waits for a key with a timeout, then
//! drains the feed without blocking, and draws only when something changed
//! and at most every [`FRAME`]. Idle, it wakes every [`IDLE`] and does
//! nothing else; under load it wakes often enough that the feed's bounded
//! queue does not fill while it waits for keys.

use std::io::{self, Write, stdout};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::{Mutex, Once, PoisonError};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use crossterm::cursor::Show;
use crossterm::event::{self, Event as Input};
use crossterm::execute;
use crossterm::terminal::{EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode};
use ratatui::Terminal;
use ratatui::backend::{Backend, CrosstermBackend};

use super::model::{Model, Outcome};
use super::{Feed, Options, view};

/// At most 20 frames a second.
const FRAME: Duration = Duration::from_millis(50);
/// Longest wait for a key when nothing is pending; the feed is checked at
/// least this often.
const IDLE: Duration = Duration::from_millis(100);
/// Longest wait for a key while the feed is busy.
const BUSY: Duration = Duration::from_millis(10);

pub fn run(feed: Receiver<Feed>, opts: Options) -> io::Result<()> {
    let mut model = Model::new(opts);
    let _guard = Guard::enter()?;
    let mut terminal = Terminal::new(CrosstermBackend::new(Screen))?;
    let size = terminal.size()?;
    model.resize(size.width, size.height);
    let result = drive(&mut terminal, &mut Crossterm, &feed, &mut model);
    match result {
        Ok(_frames) => Ok(()),
        Err(e) => {
            // ratatui's drop shows the cursor and prints its failure with
            // `eprintln!`, which panics when standard error is that same
            // dead terminal; the guard restores the terminal anyway.
            std::mem::forget(terminal);
            // Drawing on a terminal that hung up fails too: say what happened.
            Err(match wait_for_input(Duration::ZERO) {
                Stdin::HungUp => io::Error::new(io::ErrorKind::BrokenPipe, TERMINAL_GONE),
                _ => e,
            })
        }
    }
}

/// Standard output while the dashboard owns the terminal, and nowhere once
/// it was given back: when another thread's panic restored the terminal,
/// the frames still being drawn must not land on the shell's screen.
struct Screen;

impl Write for Screen {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if ACTIVE.load(Ordering::SeqCst) { stdout().write(buf) } else { Ok(buf.len()) }
    }

    fn flush(&mut self) -> io::Result<()> {
        if ACTIVE.load(Ordering::SeqCst) { stdout().flush() } else { Ok(()) }
    }
}

/// Where keys and resizes come from; scripted in tests.
pub(super) trait Keys {
    /// The next terminal event, waiting at most `timeout`.
    fn next(&mut self, timeout: Duration) -> io::Result<Option<Input>>;
}

struct Crossterm;

impl Keys for Crossterm {
    fn next(&mut self, timeout: Duration) -> io::Result<Option<Input>> {
        // The wait is on standard input itself, and crossterm is asked only
        // without waiting: on a terminal that hung up (the operator's SSH
        // session or tmux window closed) crossterm reads end of file in a
        // busy loop and never returns. SIGHUP no longer ends the process
        // (it reloads the keys), so the dashboard ends here instead.
        if event::poll(Duration::ZERO)? {
            return event::read().map(Some);
        }
        match wait_for_input(timeout) {
            Stdin::HungUp => Err(io::Error::new(io::ErrorKind::BrokenPipe, TERMINAL_GONE)),
            Stdin::Ready if event::poll(Duration::ZERO)? => event::read().map(Some),
            Stdin::Ready | Stdin::Quiet => Ok(None),
        }
    }
}

/// The error with which the dashboard ends when its terminal is gone.
pub const TERMINAL_GONE: &str = "the terminal went away";

/// What standard input did while the dashboard waited.
enum Stdin {
    Ready,
    Quiet,
    HungUp,
}

/// Waits up to `timeout` for standard input.
fn wait_for_input(timeout: Duration) -> Stdin {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    let stdin = io::stdin();
    let mut fds = [PollFd::new(&stdin, PollFlags::IN)];
    let wait = Timespec { tv_sec: timeout.as_secs() as i64, tv_nsec: timeout.subsec_nanos().into() };
    match poll(&mut fds, Some(&wait)) {
        Ok(_) if fds[0].revents().intersects(PollFlags::HUP | PollFlags::ERR | PollFlags::NVAL) => Stdin::HungUp,
        Ok(n) if n > 0 => Stdin::Ready,
        // Nothing came, or a signal (a resize) came first.
        _ => Stdin::Quiet,
    }
}

/// Runs until a quit or until the feed's senders are gone; returns the
/// number of frames drawn.
pub(super) fn drive<B: Backend>(
    terminal: &mut Terminal<B>,
    keys: &mut impl Keys,
    feed: &Receiver<Feed>,
    model: &mut Model,
) -> io::Result<u64> {
    let mut frames = 0;
    let mut dirty = true;
    let mut busy = false;
    let mut last_draw: Option<Instant> = None;
    loop {
        if dirty && last_draw.is_none_or(|t| t.elapsed() >= FRAME) {
            terminal.draw(|f| view::render(model, f)).map_err(|e| io::Error::other(e.to_string()))?;
            frames += 1;
            dirty = false;
            last_draw = Some(Instant::now());
        }
        let mut timeout = match last_draw {
            Some(t) if dirty => FRAME.saturating_sub(t.elapsed()),
            _ => IDLE,
        };
        if busy {
            timeout = timeout.min(BUSY);
        }
        match keys.next(timeout)? {
            Some(Input::Key(key)) => {
                if model.on_key(key) == Outcome::Quit {
                    return Ok(frames);
                }
                dirty = true;
            }
            Some(Input::Resize(width, height)) => {
                model.resize(width, height);
                dirty = true;
            }
            _ => {}
        }
        // Take what the feed holds, but leave the keys and the screen a turn
        // when it floods.
        busy = false;
        let started = Instant::now();
        loop {
            match feed.try_recv() {
                Ok(message) => {
                    model.apply(message);
                    dirty = true;
                    busy = true;
                    if started.elapsed() >= FRAME {
                        break;
                    }
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return Ok(frames),
            }
        }
    }
}

/// Whether the terminal is ours right now; restoring twice must not happen.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// The thread that draws; a panic there (or on `main`) ends the dashboard.
static OWNER: Mutex<Option<ThreadId>> = Mutex::new(None);
static HOOK: Once = Once::new();

/// Raw mode and the alternate screen, restored on drop.
struct Guard;

impl Guard {
    fn enter() -> io::Result<Guard> {
        install_panic_hook();
        if ACTIVE.compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst).is_err() {
            return Err(io::Error::other("the dashboard is already running"));
        }
        *OWNER.lock().unwrap_or_else(PoisonError::into_inner) = Some(thread::current().id());
        // From here on a failure drops the guard, which undoes what was done.
        let guard = Guard;
        enable_raw_mode()?;
        execute!(stdout(), EnterAlternateScreen)?;
        Ok(guard)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        restore();
    }
}

fn restore() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        // Raw mode first: it matters most to the shell that follows.
        let _ = disable_raw_mode();
        let _ = execute!(stdout(), LeaveAlternateScreen, Show);
    }
}

/// Installed once per process, in front of whatever hook was there.
fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if ACTIVE.load(Ordering::SeqCst) {
                let me = thread::current();
                let owner = *OWNER.lock().unwrap_or_else(PoisonError::into_inner);
                if owner != Some(me.id()) && me.name() != Some("main") {
                    // Another thread, often one that catches it (an action
                    // runner): the dashboard goes on, so the message goes to
                    // the log pane instead of across the screen.
                    log::error!("thread '{}' {info}", me.name().unwrap_or("<unnamed>"));
                    return;
                }
                restore();
                // The terminal may be gone: the log file keeps it.
                log::error!("thread '{}' {info}", me.name().unwrap_or("<unnamed>"));
            }
            previous(info);
        }));
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dashboard::Mode;
    use crate::dashboard::testing::{event, key, text};
    use crossterm::event::KeyCode;
    use ratatui::backend::TestBackend;
    use std::collections::VecDeque;
    use std::sync::Arc;
    use std::sync::mpsc::channel;

    /// Keys from a script; `None` waits out the timeout like a real poll.
    struct Script(VecDeque<Option<Input>>);

    impl Keys for Script {
        fn next(&mut self, timeout: Duration) -> io::Result<Option<Input>> {
            match self.0.pop_front() {
                Some(None) => {
                    thread::sleep(timeout);
                    Ok(None)
                }
                Some(input) => Ok(input),
                None => Err(io::Error::other("script ran out")),
            }
        }
    }

    fn script(waits: usize, then: &[KeyCode]) -> Script {
        let mut s: VecDeque<_> = (0..waits).map(|_| None).collect();
        s.extend(then.iter().map(|c| Some(Input::Key(key(*c)))));
        Script(s)
    }

    fn top() -> Model {
        Model::new(Options { mode: Mode::Top, no_color: true, history: vec![] })
    }

    fn screen(terminal: &Terminal<TestBackend>) -> String {
        text(terminal.backend().buffer())
    }

    #[test]
    fn idle_draws_once_and_q_quits() {
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
        let (_tx, rx) = channel();
        let mut model = top();
        let frames = drive(&mut terminal, &mut script(3, &[KeyCode::Char('q')]), &rx, &mut model).unwrap();
        assert_eq!(frames, 1, "nothing changed, nothing redrawn");
        assert!(screen(&terminal).contains("No requests yet."));
    }

    #[test]
    fn feed_reaches_the_screen_and_its_end_ends_the_loop() {
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
        let (tx, rx) = channel();
        let mut model = top();
        tx.send(Feed::Event(Arc::new(event(7, 200)))).unwrap();
        let frames = drive(&mut terminal, &mut script(2, &[KeyCode::Char('q')]), &rx, &mut model).unwrap();
        assert_eq!(frames, 2);
        assert!(screen(&terminal).contains("abc123-7"));
        // Serve's q only asks; the feed closing ends the loop.
        let mut model = Model::new(Options { mode: Mode::Serve, no_color: true, history: vec![] });
        let (tx, rx) = channel::<Feed>();
        drop(tx);
        drive(&mut terminal, &mut script(0, &[KeyCode::Char('q')]), &rx, &mut model).unwrap();
    }

    #[test]
    fn a_flood_is_drawn_at_a_capped_rate() {
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
        let (tx, rx) = channel();
        let mut model = top();
        let feeder = thread::spawn(move || {
            for i in 0..400 {
                if tx.send(Feed::Event(Arc::new(event(i, 200)))).is_err() {
                    return;
                }
                thread::sleep(Duration::from_millis(1));
            }
        });
        let started = Instant::now();
        let frames = drive(&mut terminal, &mut script(40, &[KeyCode::Char('q')]), &rx, &mut model).unwrap();
        let elapsed = started.elapsed();
        assert!(frames as u128 <= elapsed.as_millis() / FRAME.as_millis() + 2, "{frames} frames in {elapsed:?}");
        assert!(model.received() > 0);
        drop(rx);
        feeder.join().unwrap();
    }

    #[test]
    fn resizes_reach_the_model() {
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
        let (_tx, rx) = channel();
        let mut model = top();
        let mut keys =
            Script(VecDeque::from([Some(Input::Resize(100, 30)), Some(Input::Key(key(KeyCode::Char('q'))))]));
        drive(&mut terminal, &mut keys, &rx, &mut model).unwrap();
        assert_eq!(model.size, (100, 30));
    }
}
