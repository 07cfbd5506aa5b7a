//! Rendering in a process of its own: the server runs `wfhook
//! render-thumbnail WIDTH KIND MILLIS` with the already opened file as its
//! standard input, under `prlimit` bounds on memory and CPU time, and
//! kills it at the deadline. A decoder that a hostile file drives into a
//! huge allocation (which aborts a process: no `catch_unwind` can catch
//! it) or a long loop then costs that process, never the server, and a
//! timeout really stops the work.
//!
//! This module owns both sides of that exchange: [`preview`] for the
//! server, [`run`] for the child, and the one-byte answer tags between
//! them. Where wfhook cannot run itself (a test harness, a binary deleted
//! by an upgrade), [`preview`] renders in process, bounded as before.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use super::icons::IconKind;
use super::render::{self, Format, Limits, RenderError, Thumb};
use crate::external::{self, ExternalError, Program};

/// The subcommand the child is started with; not in `--help`.
pub const COMMAND: &str = "render-thumbnail";

/// The first byte of the child's answer: what follows.
const JPEG: u8 = b'J';
const PNG: u8 = b'P';
const UNSUPPORTED: u8 = b'U';
const TOO_LARGE: u8 = b'L';
/// Followed by why, in UTF-8.
const DAMAGED: u8 = b'D';

/// The child's arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Args {
    pub width: u32,
    pub kind: IconKind,
    /// How long it has: the helpers it runs get no longer.
    pub millis: u64,
}

impl Args {
    /// From `WIDTH KIND MILLIS`, as [`preview`] writes them.
    pub fn parse(values: &[String]) -> Option<Args> {
        let [width, kind, millis] = values else { return None };
        let kind = *IconKind::ALL.iter().find(|k| k.label() == kind)?;
        Some(Args { width: width.parse().ok()?, kind, millis: millis.parse().ok()? })
    }
}

/// A preview of `file`, made in a child process when wfhook can start
/// one, else here.
pub fn preview(
    file: File,
    hint: IconKind,
    width: u32,
    limits: &Limits,
    deadline: Instant,
) -> Result<Thumb, RenderError> {
    if !external::available(Program::Wfhook) {
        return render::preview(file, hint, width, limits, deadline);
    }
    let millis = deadline.saturating_duration_since(Instant::now()).as_millis().to_string();
    let args = [COMMAND.to_string(), width.to_string(), hint.label().to_string(), millis];
    // Room for the largest thumbnail (2048 × 8192 RGBA as PNG, at worst).
    let cap = 2048 * 8192 * 4 + 4096;
    match external::run(Program::Wfhook, &args, file, limits.helper_address_space, cap, deadline) {
        Ok((out, Some(status))) if status.success() => answer(out),
        Ok((_, None)) => Err(RenderError::TooLarge),
        // Killed by its memory or CPU bound, or aborted by a decoder.
        Ok((_, Some(status))) => Err(RenderError::Damaged(format!("its renderer stopped ({status})"))),
        Err(ExternalError::Timeout) => Err(RenderError::Timeout),
        Err(ExternalError::Io(e)) => Err(RenderError::Io(e)),
    }
}

/// The child's answer read back.
fn answer(mut out: Vec<u8>) -> Result<Thumb, RenderError> {
    let Some(&tag) = out.first() else { return Err(RenderError::Damaged("its renderer said nothing".into())) };
    let format = match tag {
        JPEG => Format::Jpeg,
        PNG => Format::Png,
        UNSUPPORTED => return Err(RenderError::Unsupported),
        TOO_LARGE => return Err(RenderError::TooLarge),
        _ => return Err(RenderError::Damaged(String::from_utf8_lossy(&out[1..]).into_owned())),
    };
    out.remove(0);
    let size = image::ImageReader::with_format(io::Cursor::new(&out), format.image_format())
        .into_dimensions()
        .map_err(|e| RenderError::Damaged(format!("its renderer's picture does not decode: {e}")))?;
    Ok(Thumb { bytes: out, format, width: size.0, height: size.1 })
}

/// The child: renders its standard input and writes the tagged answer to
/// its standard output.
pub fn run(args: &Args) -> io::Result<()> {
    let file = File::from(io::stdin().as_fd().try_clone_to_owned()?);
    let deadline = Instant::now() + Duration::from_millis(args.millis);
    let result = render::preview(file, args.kind, args.width, &Limits::default(), deadline);
    let mut out = io::stdout().lock();
    match result {
        Ok(thumb) => {
            out.write_all(&[if thumb.format == Format::Png { PNG } else { JPEG }])?;
            out.write_all(&thumb.bytes)?;
        }
        Err(RenderError::Unsupported) => out.write_all(&[UNSUPPORTED])?,
        Err(RenderError::TooLarge) => out.write_all(&[TOO_LARGE])?,
        Err(e) => {
            out.write_all(&[DAMAGED])?;
            out.write_all(e.to_string().as_bytes())?;
        }
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_read_as_written() {
        let args = |v: &[&str]| Args::parse(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        for &kind in IconKind::ALL {
            assert_eq!(args(&["200", kind.label(), "9000"]), Some(Args { width: 200, kind, millis: 9000 }));
        }
        assert_eq!(args(&["200", "nope", "1"]), None);
        assert_eq!(args(&["-1", "image", "1"]), None);
        assert_eq!(args(&["200", "image"]), None);
    }

    #[test]
    fn answers_are_read_back_by_their_tag() {
        let png = super::super::icons::icon(IconKind::Pdf, 32);
        let mut out = vec![PNG];
        out.extend_from_slice(&png.bytes);
        let thumb = answer(out).unwrap();
        assert_eq!((thumb.format, thumb.width, thumb.bytes), (Format::Png, 32, png.bytes));
        assert!(matches!(answer(vec![UNSUPPORTED]), Err(RenderError::Unsupported)));
        assert!(matches!(answer(vec![TOO_LARGE]), Err(RenderError::TooLarge)));
        assert!(matches!(answer(b"Dcut short".to_vec()), Err(RenderError::Damaged(w)) if w == "cut short"));
        assert!(matches!(answer(vec![]), Err(RenderError::Damaged(_))));
        // A picture that is not what its tag says is refused.
        assert!(matches!(answer(b"Jnot a jpeg".to_vec()), Err(RenderError::Damaged(_))));
    }
}
