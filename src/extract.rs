//! The searchable text of a document, for the full-text index.
//!
//! This module owns turning one open file into plain text: which names are
//! text-like ([`kind_of`]), how each kind is read ([`extract`]), and the
//! bounds that keep a hostile file from costing more than [`Limits`] allows
//! (text out, bytes in or decompressed, wall time). It never opens a path:
//! the caller hands over a file it has already opened safely, and a PDF goes
//! to `pdftotext` as that very file on its standard input.
//!
//! Parsing choices:
//! - docx, xlsx and pptx are zips of XML parts, read with the `zip` crate and
//!   parsed with `quick-xml`: those parts are XML by specification, with
//!   namespace prefixes, CDATA, character references and attribute values
//!   that may hold `>`, which a well-kept streaming parser gets right and a
//!   hand-written stripper would only approximate; it also never expands a
//!   DTD's entities, so there is no entity bomb.
//! - html, htm and xml files go through `Stripper`, a small hand-written
//!   byte-level state machine, because HTML is not XML (`<br>`, unquoted
//!   attributes, `a < b` in text, script bodies) and a loose `.xml` file may
//!   be malformed: a strict parser would fail where a stripper still finds
//!   the words, and a real HTML parser would be a large dependency for the
//!   few rules needed here (tags, comments, CDATA, script/style bodies,
//!   entities).

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::time::{Duration, Instant};

use quick_xml::events::Event;

use crate::external::{self, ExternalError, Program};

/// Bounds for one file.
#[derive(Debug, Clone)]
pub struct Limits {
    /// The most text returned, in bytes (cut on a char boundary): an index
    /// entry needs the words, not a whole log file.
    pub max_text_bytes: usize,
    /// The most bytes parsed: a PDF, docx, xlsx or pptx file bigger than this
    /// is refused, html and xml are read at most this far, and at most this
    /// many bytes are decompressed from one zip in all (zip bombs). Memory
    /// for one file stays within about twice this: quick-xml holds one text
    /// node whole, and a node bigger than the budget is an error.
    pub max_input_bytes: u64,
    /// The most wall time for one file; `pdftotext` is killed past it.
    pub timeout: Duration,
}

impl Default for Limits {
    /// Bounds for an indexer that runs beside the server: enough text for
    /// search, inputs as big as ordinary office files, a stuck PDF abandoned
    /// after ten seconds.
    fn default() -> Self {
        Limits { max_text_bytes: 256 * 1024, max_input_bytes: 64 * 1024 * 1024, timeout: Duration::from_secs(10) }
    }
}

/// The kinds of document whose text is extracted, one per extension
/// (`Html` for both html and htm); the caller may store it beside the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Txt,
    Md,
    Csv,
    Json,
    Xml,
    Html,
    Docx,
    Xlsx,
    Pptx,
    Pdf,
}

/// Why a file's text could not be had; `Display` gives a short human message.
#[derive(Debug)]
pub enum ExtractError {
    /// Reading the file (or running `pdftotext`) failed.
    Io(io::Error),
    /// The file is not what its name says or is damaged: a zip that does not
    /// open, a missing part, an XML part that does not parse, a PDF that
    /// `pdftotext` refused.
    Damaged(String),
    /// A bound of [`Limits::max_input_bytes`] (or the zip entry count) would
    /// have been passed; says which.
    TooLarge(&'static str),
    /// [`Limits::timeout`] passed.
    Timeout,
}

impl std::fmt::Display for ExtractError {
    /// Short and human, for a log line or an index's error column.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExtractError::Io(e) => write!(f, "could not read the file: {e}"),
            ExtractError::Damaged(why) => write!(f, "damaged or unreadable: {why}"),
            ExtractError::TooLarge(what) => write!(f, "over the input bound: {what}"),
            ExtractError::Timeout => f.write_str("took longer than the time bound"),
        }
    }
}

impl std::error::Error for ExtractError {
    /// The I/O error underneath, for callers that walk error chains.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ExtractError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for ExtractError {
    /// Lets `?` carry plain I/O failures.
    fn from(e: io::Error) -> Self {
        ExtractError::Io(e)
    }
}

impl From<ExternalError> for ExtractError {
    /// Lets `?` carry a helper's failure to start or to finish in time.
    fn from(e: ExternalError) -> Self {
        match e {
            ExternalError::Io(e) => ExtractError::Io(e),
            ExternalError::Timeout => ExtractError::Timeout,
        }
    }
}

/// The kind of a document by its file name's extension (case-insensitive);
/// `None`: not text-like. By name because the caller indexes what users
/// named, and sniffing content would let a file choose its own parser.
pub fn kind_of(name: &str) -> Option<Kind> {
    let (_, ext) = name.rsplit_once('.')?;
    if ext.contains(['/', '\\']) {
        return None;
    }
    const KINDS: [(&str, Kind); 11] = [
        ("txt", Kind::Txt),
        ("md", Kind::Md),
        ("csv", Kind::Csv),
        ("json", Kind::Json),
        ("xml", Kind::Xml),
        ("html", Kind::Html),
        ("htm", Kind::Html),
        ("docx", Kind::Docx),
        ("xlsx", Kind::Xlsx),
        ("pptx", Kind::Pptx),
        ("pdf", Kind::Pdf),
    ];
    KINDS.iter().find(|(e, _)| ext.eq_ignore_ascii_case(e)).map(|&(_, k)| k)
}

/// The text of the file, at most `max_text_bytes` bytes (cut on a char
/// boundary), words separated by white space; what the index stores.
///
/// `Ok(None)` when the kind is not text-like or nothing could be extracted
/// (a PDF without `pdftotext`); an empty document gives `Ok(Some(""))`.
/// The file is read from its start whatever its offset. Errors (a corrupt
/// zip, the timeout, the input bound) are `Err(ExtractError)`, never a panic.
pub fn extract(mut file: File, name: &str, limits: &Limits) -> Result<Option<String>, ExtractError> {
    let Some(kind) = kind_of(name) else { return Ok(None) };
    let start = Instant::now();
    // A timeout too big to add means no deadline worth the name.
    let deadline = start.checked_add(limits.timeout).unwrap_or(start + Duration::from_secs(365 * 24 * 3600));
    let meta = file.metadata()?;
    if !meta.is_file() {
        // A FIFO or a device could block or never end.
        return Err(ExtractError::Io(io::Error::new(io::ErrorKind::InvalidInput, "not a regular file")));
    }
    // Nothing to read: no need to start a parser, let alone a process.
    if meta.len() == 0 {
        return Ok(Some(String::new()));
    }
    file.seek(SeekFrom::Start(0))?;
    match kind {
        Kind::Txt | Kind::Md | Kind::Csv | Kind::Json => plain(file, limits).map(Some),
        Kind::Html => markup(file, false, limits, deadline).map(Some),
        Kind::Xml => markup(file, true, limits, deadline).map(Some),
        Kind::Docx | Kind::Xlsx | Kind::Pptx => {
            if meta.len() > limits.max_input_bytes {
                return Err(ExtractError::TooLarge("the file is bigger than the input bound"));
            }
            office(file, kind, limits, deadline).map(Some)
        }
        Kind::Pdf => {
            if !pdftotext_available() {
                return Ok(None);
            }
            if meta.len() > limits.max_input_bytes {
                return Err(ExtractError::TooLarge("the file is bigger than the input bound"));
            }
            pdf(file, limits, deadline).map(Some)
        }
    }
}

/// Whether `pdftotext` (poppler-utils) runs; looked up once, since it is
/// asked for every PDF and the answer does not change while we run.
pub fn pdftotext_available() -> bool {
    external::available(Program::Pdftotext)
}

/// The address space `pdftotext` may have under `prlimit`: poppler needs a
/// few tens of MiB for ordinary files, and a hostile one must not take the
/// machine's memory.
const PDF_ADDRESS_SPACE: u64 = 512 * 1024 * 1024;

/// Plain text kinds: the first `max_text_bytes` bytes as UTF-8 (lossy),
/// because reading further would be wasted on an index that keeps no more.
fn plain(file: File, limits: &Limits) -> Result<String, ExtractError> {
    let mut bytes = Vec::new();
    file.take(limits.max_text_bytes as u64).read_to_end(&mut bytes)?;
    // SQLite's C API and many tools stop at a NUL; a space keeps the words apart.
    for b in &mut bytes {
        if *b == 0 {
            *b = b' ';
        }
    }
    Ok(finish(bytes, limits.max_text_bytes))
}

/// Text as bytes, collapsed as it comes, so that a bound on the bytes kept
/// is a bound on the memory used whatever the input's size.
struct Sink {
    out: Vec<u8>,
    max: usize,
    gap: Gap,
}

/// The separator owed before the next word: none, a space, or a line break
/// (which a space does not downgrade).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Gap {
    None,
    Space,
    Line,
}

impl Sink {
    /// An empty sink that keeps at most `max` bytes.
    fn new(max: usize) -> Self {
        Sink { out: Vec::new(), max, gap: Gap::None }
    }

    /// Whether the text bound is reached, so that callers stop reading.
    fn full(&self) -> bool {
        self.out.len() >= self.max
    }

    /// Owes a separator before the next word (none at the very start).
    fn gap(&mut self, gap: Gap) {
        if !self.out.is_empty() {
            self.gap = self.gap.max(gap);
        }
    }

    /// Appends text, white space runs (and NULs) collapsed to one separator;
    /// with `lines`, a line or page break in them is kept as a line break.
    fn text(&mut self, bytes: &[u8], lines: bool) {
        for &b in bytes {
            if self.full() {
                return;
            }
            match b {
                b'\n' | 0x0c if lines => self.gap(Gap::Line),
                b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c | 0 => self.gap(Gap::Space),
                _ => {
                    match std::mem::replace(&mut self.gap, Gap::None) {
                        Gap::None => {}
                        Gap::Space => self.out.push(b' '),
                        Gap::Line => self.out.push(b'\n'),
                    }
                    self.out.push(b);
                }
            }
        }
    }

    /// Appends one decoded character, white space as a separator.
    fn char(&mut self, c: char) {
        if c.is_whitespace() {
            self.gap(Gap::Space);
        } else {
            self.text(c.encode_utf8(&mut [0; 4]).as_bytes(), false);
        }
    }

    /// The text kept, as a string within the bound.
    fn finish(self) -> String {
        finish(self.out, self.max)
    }
}

/// Bytes to a string of at most `max` bytes: a character cut by the bound
/// is dropped whole (not turned into U+FFFD), invalid UTF-8 elsewhere is
/// replaced, and the result is cut again on a char boundary since
/// replacement can lengthen it.
fn finish(mut bytes: Vec<u8>, max: usize) -> String {
    bytes.truncate(max);
    // Drop a multi-byte character left incomplete by the cut.
    let tail = bytes.len().saturating_sub(3);
    if let Some(lead) = (tail..bytes.len()).rev().find(|&i| bytes[i] & 0xC0 != 0x80) {
        let need = match bytes[lead] {
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF7 => 4,
            _ => 1,
        };
        if lead + need > bytes.len() {
            bytes.truncate(lead);
        }
    }
    let mut text = match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    };
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.truncate(text.trim_end().len());
    text
}

/// Whether the deadline has passed, as an error to return.
fn check(deadline: Instant) -> Result<(), ExtractError> {
    if Instant::now() >= deadline { Err(ExtractError::Timeout) } else { Ok(()) }
}

/// html, htm and xml: read in chunks through the [`Stripper`] until the text
/// bound is reached; the input bound and the deadline are checked between
/// chunks, so a huge or slow file ends in an error rather than a long read.
fn markup(mut file: File, xml: bool, limits: &Limits, deadline: Instant) -> Result<String, ExtractError> {
    let mut sink = Sink::new(limits.max_text_bytes);
    let mut stripper = Stripper::new(xml);
    let mut buf = vec![0u8; 64 * 1024];
    let mut read: u64 = 0;
    loop {
        check(deadline)?;
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        read += n as u64;
        if read > limits.max_input_bytes {
            return Err(ExtractError::TooLarge("more text to strip than the input bound"));
        }
        stripper.feed(&buf[..n], &mut sink);
        if sink.full() {
            return Ok(sink.finish());
        }
    }
    stripper.end(&mut sink);
    Ok(sink.finish())
}

/// HTML elements that do not separate words (`<b>Wo</b>rd` is one word);
/// every other tag does.
const INLINE: [&[u8]; 27] = [
    b"a", b"abbr", b"b", b"bdi", b"bdo", b"cite", b"code", b"data", b"dfn", b"em", b"font", b"i", b"kbd", b"mark",
    b"q", b"s", b"samp", b"small", b"span", b"strong", b"sub", b"sup", b"time", b"tt", b"u", b"var", b"wbr",
];

/// Where the [`Stripper`] is in its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Text, kept.
    Text,
    /// Just after `<`.
    Lt,
    /// In a tag's name.
    TagName,
    /// In a tag, after its name.
    Attrs,
    /// In a quoted attribute value (the quote byte is kept aside).
    Quoted,
    /// After `<!`, telling a comment or CDATA from a declaration.
    Bang,
    /// In `<!-- … -->`.
    Comment,
    /// In `<![CDATA[ … ]]>`, kept as text.
    CData,
    /// In a declaration or processing instruction, up to its `>`.
    Bogus,
    /// In a `<script>` or `<style>` body, up to its end tag.
    Raw,
    /// After `&`, in a character reference.
    Entity,
}

/// A streaming tag stripper for HTML and loose XML: keeps text, drops tags,
/// comments, declarations and script/style bodies, decodes the common
/// entities. Hand-written (see the module doc) and byte by byte, so chunk
/// boundaries fall anywhere and memory stays a few dozen bytes.
struct Stripper {
    xml: bool,
    state: State,
    /// The tag's name, lowercased, at most 16 bytes.
    name: Vec<u8>,
    end_tag: bool,
    /// The tag so far ends in `/` (self-closing: no script body follows).
    slash: bool,
    quote: u8,
    /// Bytes after `&` or `<!`, at most 10.
    pending: Vec<u8>,
    /// Bytes of a closing pattern seen so far: `-` of `-->`, `]` of `]]>`,
    /// bytes of `</script` / `</style`.
    matched: usize,
    /// `[` nesting in a `<!DOCTYPE … [ … ]>` internal subset.
    depth: usize,
}

impl Stripper {
    /// A stripper at the start of a document; `xml` makes every tag a word
    /// separator (no HTML inline elements).
    fn new(xml: bool) -> Self {
        Stripper {
            xml,
            state: State::Text,
            name: Vec::new(),
            end_tag: false,
            slash: false,
            quote: 0,
            pending: Vec::new(),
            matched: 0,
            depth: 0,
        }
    }

    /// Feeds the next chunk of the document.
    fn feed(&mut self, bytes: &[u8], sink: &mut Sink) {
        for &b in bytes {
            if sink.full() {
                return;
            }
            // A byte that ends a construct without belonging to it is looked at again.
            while !self.step(b, sink) {}
        }
    }

    /// Flushes what an unfinished construct at the end of input held as text.
    fn end(&mut self, sink: &mut Sink) {
        match self.state {
            State::Lt => sink.text(b"<", false),
            State::Entity => {
                sink.text(b"&", false);
                sink.text(&self.pending, false);
            }
            _ => {}
        }
        self.state = State::Text;
    }

    /// One byte; `false` when the byte must be stepped again in the new state.
    fn step(&mut self, b: u8, sink: &mut Sink) -> bool {
        match self.state {
            State::Text => match b {
                b'<' => self.state = State::Lt,
                b'&' => {
                    self.pending.clear();
                    self.state = State::Entity;
                }
                _ => sink.text(&[b], false),
            },
            State::Lt => match b {
                b'/' => self.open_tag(true, None),
                b'!' => {
                    self.pending.clear();
                    self.state = State::Bang;
                }
                b'?' => {
                    self.depth = 0;
                    self.state = State::Bogus;
                }
                _ if b.is_ascii_alphabetic() => self.open_tag(false, Some(b)),
                _ => {
                    sink.text(b"<", false);
                    self.state = State::Text;
                    return false;
                }
            },
            State::TagName => match b {
                b'>' => self.close_tag(sink),
                b'/' => {
                    self.slash = true;
                    self.state = State::Attrs;
                }
                _ if b.is_ascii_whitespace() => self.state = State::Attrs,
                _ => {
                    if self.name.len() < 16 {
                        self.name.push(b.to_ascii_lowercase());
                    }
                }
            },
            State::Attrs => match b {
                b'>' => self.close_tag(sink),
                b'"' | b'\'' => {
                    self.quote = b;
                    self.slash = false;
                    self.state = State::Quoted;
                }
                b'/' => self.slash = true,
                _ if b.is_ascii_whitespace() => {}
                _ => self.slash = false,
            },
            State::Quoted => {
                if b == self.quote {
                    self.state = State::Attrs;
                }
            }
            State::Bang => {
                self.pending.push(b);
                if self.pending == b"--" {
                    self.matched = 0;
                    self.state = State::Comment;
                } else if self.pending == b"[CDATA[" {
                    self.matched = 0;
                    self.state = State::CData;
                } else if !b"--".starts_with(&self.pending) && !b"[CDATA[".starts_with(&self.pending) {
                    self.depth = 0;
                    self.state = State::Bogus;
                    return false;
                }
            }
            State::Comment => match b {
                b'-' => self.matched += 1,
                b'>' if self.matched >= 2 => {
                    sink.gap(Gap::Space);
                    self.state = State::Text;
                }
                _ => self.matched = 0,
            },
            State::CData => match b {
                b']' => self.matched += 1,
                b'>' if self.matched >= 2 => {
                    for _ in 2..self.matched {
                        sink.text(b"]", false);
                    }
                    sink.gap(Gap::Space);
                    self.state = State::Text;
                }
                _ => {
                    for _ in 0..self.matched {
                        sink.text(b"]", false);
                    }
                    self.matched = 0;
                    sink.text(&[b], false);
                }
            },
            State::Bogus => match b {
                b'[' => self.depth += 1,
                b']' => self.depth = self.depth.saturating_sub(1),
                b'>' if self.depth == 0 => {
                    sink.gap(Gap::Space);
                    self.state = State::Text;
                }
                _ => {}
            },
            State::Raw => {
                let pattern: &[u8] = if self.name == b"script" { b"</script" } else { b"</style" };
                if b.to_ascii_lowercase() == pattern[self.matched] {
                    self.matched += 1;
                    if self.matched == pattern.len() {
                        // The rest of the end tag, up to its `>`.
                        self.end_tag = true;
                        self.slash = false;
                        self.state = State::Attrs;
                    }
                } else {
                    self.matched = usize::from(b == b'<');
                }
            }
            State::Entity => {
                if b == b';' {
                    match entity(&self.pending) {
                        Some(c) => sink.char(c),
                        None => {
                            sink.text(b"&", false);
                            sink.text(&self.pending, false);
                            sink.text(b";", false);
                        }
                    }
                    self.state = State::Text;
                } else if (b.is_ascii_alphanumeric() || (b == b'#' && self.pending.is_empty()))
                    && self.pending.len() < 10
                {
                    self.pending.push(b);
                } else {
                    sink.text(b"&", false);
                    sink.text(&self.pending, false);
                    self.state = State::Text;
                    return false;
                }
            }
        }
        true
    }

    /// Starts a start or end tag, with the first byte of its name if any.
    fn open_tag(&mut self, end_tag: bool, first: Option<u8>) {
        self.end_tag = end_tag;
        self.slash = false;
        self.name.clear();
        self.name.extend(first.map(|b| b.to_ascii_lowercase()));
        self.state = State::TagName;
    }

    /// At a tag's `>`: a separator unless the element is inline, and a
    /// script or style body to skip after a start tag that is not `/>`.
    fn close_tag(&mut self, sink: &mut Sink) {
        if self.xml || !INLINE.contains(&self.name.as_slice()) {
            sink.gap(Gap::Space);
        }
        let raw = !self.end_tag && !self.slash && (self.name == b"script" || self.name == b"style");
        self.matched = 0;
        self.state = if raw { State::Raw } else { State::Text };
    }
}

/// The character a reference names (the bytes between `&` and `;`): the
/// XML five, `nbsp` as a space, decimal and hexadecimal numbers. Others
/// (HTML has two thousand) stay as written, which still indexes their word.
fn entity(name: &[u8]) -> Option<char> {
    let code = match name {
        b"amp" => return Some('&'),
        b"lt" => return Some('<'),
        b"gt" => return Some('>'),
        b"quot" => return Some('"'),
        b"apos" => return Some('\''),
        b"nbsp" => return Some(' '),
        [b'#', b'x' | b'X', hex @ ..] => u32::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?,
        [b'#', dec @ ..] => std::str::from_utf8(dec).ok()?.parse::<u32>().ok()?,
        _ => return None,
    };
    match code {
        0 => Some('\u{FFFD}'),
        _ => Some(char::from_u32(code).unwrap_or('\u{FFFD}')),
    }
}

/// The most entries a docx, xlsx or pptx may have: real ones have dozens to
/// a few thousand; more is a crafted file, refused before any is looked at.
const MAX_ZIP_ENTRIES: usize = 20_000;

/// The most slides or worksheets read from one file (in order); the text
/// bound usually ends the reading long before.
const MAX_PARTS: usize = 2_000;

/// Which XML part is being read: what counts as text differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// word/document.xml: `w:t` (and DrawingML `a:t`, math `m:t`), not
    /// field codes or deleted text; paragraphs on lines of their own.
    Word,
    /// ppt/slides/slideN.xml: `a:t`, paragraphs on lines.
    Slide,
    /// xl/sharedStrings.xml: `t` in each `si` (not phonetic runs), one
    /// string a line.
    SharedStrings,
    /// xl/worksheets/*.xml: inline strings (`<is><t>`) and the values of
    /// cells that are numbers or formula strings (a shared string's `<v>`
    /// is an index, not text); rows on lines.
    Sheet,
}

/// docx, xlsx, pptx: the text of their XML parts, decompressed through one
/// budget of `max_input_bytes` for the whole file (zip bombs) and parsed as
/// a stream, stopping at the text bound.
/// The most bytes a zip's central directory may take: its entries are all
/// read into memory before any part is.
const MAX_CENTRAL_DIRECTORY: u64 = 4 * 1024 * 1024;

/// Refuses a zip whose end record declares more entries, or a bigger
/// central directory, than wanted, before the zip crate reads that
/// directory whole (a hostile docx could declare a million entries). A
/// zip64 archive declares its counts elsewhere: it is refused too, since
/// no office document needs one.
fn check_central_directory(file: &mut File) -> Result<(), ExtractError> {
    let len = file.metadata()?.len();
    // The end record is 22 bytes, after a comment of at most 65 535.
    let tail_len = len.min(22 + 65_535);
    let mut tail = vec![0u8; tail_len as usize];
    file.seek(SeekFrom::Start(len - tail_len))?;
    file.read_exact(&mut tail)?;
    file.seek(SeekFrom::Start(0))?;
    let at = tail
        .windows(4)
        .rposition(|w| w == [0x50, 0x4b, 0x05, 0x06])
        .ok_or_else(|| ExtractError::Damaged("not a zip: no end record".into()))?;
    let field = |from: usize, n: usize| -> Option<u64> {
        let bytes = tail.get(at + from..at + from + n)?;
        Some(bytes.iter().rev().fold(0u64, |acc, b| acc << 8 | u64::from(*b)))
    };
    let (Some(entries), Some(size)) = (field(10, 2), field(12, 4)) else {
        return Err(ExtractError::Damaged("not a zip: a short end record".into()));
    };
    if entries == 0xFFFF || size == 0xFFFF_FFFF {
        return Err(ExtractError::TooLarge("a zip64 archive"));
    }
    if entries as usize > MAX_ZIP_ENTRIES || size > MAX_CENTRAL_DIRECTORY {
        return Err(ExtractError::TooLarge("too many entries in the zip"));
    }
    Ok(())
}

fn office(mut file: File, kind: Kind, limits: &Limits, deadline: Instant) -> Result<String, ExtractError> {
    check_central_directory(&mut file)?;
    let damaged = |e: zip::result::ZipError| ExtractError::Damaged(format!("not a readable zip: {e}"));
    let mut archive = zip::ZipArchive::new(BufReader::new(file)).map_err(damaged)?;
    if archive.len() > MAX_ZIP_ENTRIES {
        return Err(ExtractError::TooLarge("too many entries in the zip"));
    }
    check(deadline)?;
    let mut sink = Sink::new(limits.max_text_bytes);
    let mut budget = limits.max_input_bytes;
    let mut parts: Vec<(String, Part)> = Vec::new();
    match kind {
        Kind::Docx => parts.push(("word/document.xml".to_owned(), Part::Word)),
        Kind::Pptx => {
            let slides = numbered(&archive, "ppt/slides/slide");
            parts.extend(slides.into_iter().map(|n| (n, Part::Slide)));
        }
        _ => {
            if archive.index_for_name("xl/sharedStrings.xml").is_some() {
                parts.push(("xl/sharedStrings.xml".to_owned(), Part::SharedStrings));
            }
            let sheets = numbered(&archive, "xl/worksheets/");
            parts.extend(sheets.into_iter().map(|n| (n, Part::Sheet)));
        }
    }
    for (name, part) in parts {
        if sink.full() {
            break;
        }
        let entry = archive.by_name(&name).map_err(|e| match e {
            zip::result::ZipError::FileNotFound => ExtractError::Damaged(format!("no {name} in the zip")),
            e => damaged(e),
        })?;
        let mut reader =
            quick_xml::Reader::from_reader(BufReader::new(Budget { inner: entry, left: budget, spent: false }));
        xml_part(&mut reader, part, &mut sink, deadline)
            .map_err(|e| if reader.get_ref().get_ref().spent { over_budget() } else { e })?;
        budget = reader.get_ref().get_ref().left;
    }
    Ok(sink.finish())
}

/// The error for a zip that decompresses to more than the budget.
fn over_budget() -> ExtractError {
    ExtractError::TooLarge("the zip decompresses to more than the input bound")
}

/// The XML entries directly under `prefix` (`prefix` + name + `.xml`), at
/// most [`MAX_PARTS`], in the order of the number in their name (slide2
/// before slide10), then by name.
fn numbered<R: Read + Seek>(archive: &zip::ZipArchive<R>, prefix: &str) -> Vec<String> {
    let mut names: Vec<(u64, String)> = archive
        .file_names()
        .filter_map(|name| {
            let name = name.ok()?;
            let stem = name.strip_prefix(prefix)?.strip_suffix(".xml")?;
            if stem.contains('/') {
                return None;
            }
            let digits: String = stem.chars().filter(char::is_ascii_digit).take(18).collect();
            Some((digits.parse().unwrap_or(u64::MAX), name.into_owned()))
        })
        .collect();
    names.sort_unstable();
    names.dedup();
    names.into_iter().take(MAX_PARTS).map(|(_, name)| name).collect()
}

/// A reader that fails once more than `left` bytes have come through it: a
/// zip entry's declared size is the archive's word, not a bound.
struct Budget<R> {
    inner: R,
    left: u64,
    /// The budget ran out: a parse error after this is the budget's doing.
    spent: bool,
}

impl<R: Read> Read for Budget<R> {
    /// Passes bytes on while the budget lasts, then fails (and `left` is 0).
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        match self.left.checked_sub(n as u64) {
            Some(left) => {
                self.left = left;
                Ok(n)
            }
            None => {
                self.left = 0;
                self.spent = true;
                Err(io::Error::other("decompressed more than the input bound"))
            }
        }
    }
}

/// One XML part of an office file into the sink, by the rules of `part`;
/// stops at the text bound, checks the deadline every few hundred events.
fn xml_part<R: io::BufRead>(
    reader: &mut quick_xml::Reader<R>,
    part: Part,
    sink: &mut Sink,
    deadline: Instant,
) -> Result<(), ExtractError> {
    // Office writers emit well-formed XML; leniency about end names costs
    // nothing here and keeps a slightly off file readable.
    reader.config_mut().check_end_names = false;
    reader.config_mut().allow_unmatched_ends = true;
    let bad = |e: quick_xml::Error| ExtractError::Damaged(format!("bad XML: {e}"));
    let mut buf = Vec::new();
    // In a text element (t), a phonetic run (rPh), an inline string (is), a value (v).
    let (mut in_t, mut in_rph, mut in_is, mut in_v) = (false, false, false, false);
    // The cell's type allows its <v> to be text.
    let mut value_is_text = false;
    let mut events: u32 = 0;
    loop {
        events = events.wrapping_add(1);
        if events.is_multiple_of(256) {
            check(deadline)?;
        }
        if sink.full() {
            return Ok(());
        }
        buf.clear();
        let event = reader.read_event_into(&mut buf).map_err(bad)?;
        let taking = in_v || (in_t && !in_rph && (part != Part::Sheet || in_is));
        match event {
            Event::Start(e) => match e.local_name().as_ref() {
                "t" => in_t = true,
                "rPh" => in_rph = true,
                "is" => in_is = true,
                "v" => in_v = part == Part::Sheet && value_is_text,
                "c" if part == Part::Sheet => {
                    let kind = e.try_get_attribute("t").ok().flatten().map(|a| a.value.into_owned());
                    value_is_text = matches!(kind.as_deref(), None | Some("n" | "str" | "d"));
                    sink.gap(Gap::Space);
                }
                "tab" => sink.gap(Gap::Space),
                "br" | "cr" => sink.gap(Gap::Line),
                _ => {}
            },
            Event::Empty(e) => match e.local_name().as_ref() {
                "tab" => sink.gap(Gap::Space),
                "br" | "cr" => sink.gap(Gap::Line),
                _ => {}
            },
            Event::End(e) => match e.local_name().as_ref() {
                "t" => in_t = false,
                "rPh" => in_rph = false,
                "is" => in_is = false,
                "v" => in_v = false,
                "c" if part == Part::Sheet => sink.gap(Gap::Space),
                "p" if matches!(part, Part::Word | Part::Slide) => sink.gap(Gap::Line),
                "si" | "row" => sink.gap(Gap::Line),
                _ => {}
            },
            Event::Text(t) if taking => sink.text(t.as_bytes(), false),
            Event::CData(t) if taking => sink.text(t.as_bytes(), false),
            Event::GeneralRef(r) if taking => {
                let c = match r.resolve_char_ref() {
                    Ok(Some(c)) => Some(c),
                    Ok(None) => entity(r.as_bytes()),
                    Err(_) => Some('\u{FFFD}'),
                };
                // Entities a DTD declares are never expanded (no entity bombs).
                if let Some(c) = c {
                    sink.char(c);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    sink.gap(Gap::Line);
    Ok(())
}

/// pdf: `pdftotext` on the already-open file as its stdin (a path could be
/// swapped between our check and its open), at most 200 pages, its output
/// read up to the text bound, killed at the deadline.
fn pdf(mut file: File, limits: &Limits, deadline: Instant) -> Result<String, ExtractError> {
    // A file that does not start as a PDF does is not worth a process
    // (a share holds many misnamed or empty ones).
    let mut magic = [0u8; 5];
    if file.read_exact(&mut magic).is_err() || &magic != b"%PDF-" {
        return Err(ExtractError::Damaged("not a PDF".into()));
    }
    file.seek(SeekFrom::Start(0))?;
    let args = ["-q", "-enc", "UTF-8", "-l", "200", "-", "-"];
    match external::run(Program::Pdftotext, &args, file, PDF_ADDRESS_SPACE, limits.max_text_bytes, deadline)? {
        (_, Some(status)) if !status.success() => {
            Err(ExtractError::Damaged(format!("pdftotext could not read it ({status})")))
        }
        (out, _) => {
            let mut sink = Sink::new(limits.max_text_bytes);
            sink.text(&out, true);
            Ok(sink.finish())
        }
    }
}

/// A PDF of `objects` (numbered from 1, the first the catalog) with a right
/// cross-reference table: what the PDF tests here and in thumbnails feed
/// to poppler.
#[cfg(test)]
pub(crate) fn pdf_of_objects(objects: &[Vec<u8>]) -> Vec<u8> {
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        pdf.extend_from_slice(object);
        pdf.extend_from_slice(b"\nendobj\n");
    }
    let xref = pdf.len();
    pdf.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for offset in offsets {
        pdf.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    let trailer = format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1);
    pdf.extend_from_slice(trailer.as_bytes());
    pdf
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A file holding `bytes`, open for reading at its start.
    fn file_with(bytes: &[u8]) -> File {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(bytes).unwrap();
        f.seek(SeekFrom::Start(0)).unwrap();
        f
    }

    /// Limits with a generous timeout: a test must not fail because the
    /// machine is loaded.
    fn roomy() -> Limits {
        Limits { timeout: Duration::from_secs(120), ..Limits::default() }
    }

    /// The text of `bytes` named `name`, with `limits`.
    fn text_of(bytes: &[u8], name: &str, limits: &Limits) -> Result<Option<String>, ExtractError> {
        extract(file_with(bytes), name, limits)
    }

    /// The text of `bytes` named `name`, which must extract.
    fn text(bytes: &[u8], name: &str) -> String {
        text_of(bytes, name, &roomy()).unwrap().unwrap()
    }

    /// A zip of the given (name, content) entries, deflated.
    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for (name, content) in entries {
            w.start_file(*name, options).unwrap();
            w.write_all(content).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    /// The index sees names as users typed them: any case, and only the last extension counts.
    #[test]
    fn kinds_by_extension_case_insensitive() {
        assert_eq!(kind_of("a.TXT"), Some(Kind::Txt));
        assert_eq!(kind_of("notes.md"), Some(Kind::Md));
        assert_eq!(kind_of("x.Csv"), Some(Kind::Csv));
        assert_eq!(kind_of("x.json"), Some(Kind::Json));
        assert_eq!(kind_of("x.xml"), Some(Kind::Xml));
        assert_eq!(kind_of("index.HTM"), Some(Kind::Html));
        assert_eq!(kind_of("index.html"), Some(Kind::Html));
        assert_eq!(kind_of("r.docx"), Some(Kind::Docx));
        assert_eq!(kind_of("r.xlsx"), Some(Kind::Xlsx));
        assert_eq!(kind_of("r.pptx"), Some(Kind::Pptx));
        assert_eq!(kind_of("r.Pdf"), Some(Kind::Pdf));
        assert_eq!(kind_of("photo.jpg"), None);
        assert_eq!(kind_of("README"), None);
        assert_eq!(kind_of("dir.txt/file"), None);
        assert_eq!(kind_of("r.doc"), None);
    }

    /// Images and other binaries are skipped, not errors.
    #[test]
    fn not_text_like_is_none() {
        assert!(text_of(b"\xff\xd8\xff", "photo.jpg", &roomy()).unwrap().is_none());
    }

    /// Plain kinds pass through as they are, but never with a NUL or invalid UTF-8.
    #[test]
    fn plain_text_kinds_are_their_bytes() {
        assert_eq!(text(b"hello world\nsecond line", "a.txt"), "hello world\nsecond line");
        assert_eq!(text(b"# Title\n\nbody", "a.md"), "# Title\n\nbody");
        assert_eq!(text(b"a,b\n1,2", "a.csv"), "a,b\n1,2");
        assert_eq!(text(br#"{"k": "v"}"#, "a.json"), r#"{"k": "v"}"#);
        // Invalid UTF-8 is replaced, NUL becomes a space.
        assert_eq!(text(b"caf\xe9 ok\0x", "a.txt"), "caf\u{FFFD} ok x");
        assert_eq!(text(b"", "empty.txt"), "");
    }

    /// A 2 GB log must cost what its first lines cost: the shared file offset shows how far we read.
    #[test]
    fn plain_text_reads_only_what_the_bound_needs() {
        let big = vec![b'a'; 4 * 1024 * 1024];
        let file = file_with(&big);
        let twin = file.try_clone().unwrap(); // shares the file offset
        let limits = Limits { max_text_bytes: 1000, ..roomy() };
        let out = extract(file, "huge.log.txt", &limits).unwrap().unwrap();
        assert_eq!(out.len(), 1000);
        let mut twin = twin;
        assert!(twin.stream_position().unwrap() <= 64 * 1024, "read far past the text bound");
    }

    /// The bound never splits a character, nor turns its remains into U+FFFD.
    #[test]
    fn text_bound_cuts_on_a_char_boundary() {
        let limits = |max| Limits { max_text_bytes: max, ..roomy() };
        // 3-byte characters: 10 bytes hold three of them.
        assert_eq!(text_of("€€€€".as_bytes(), "a.txt", &limits(10)).unwrap().unwrap(), "€€€");
        // A 4-byte character cut after three bytes is dropped, not replaced.
        assert_eq!(text_of("a😀😀".as_bytes(), "a.txt", &limits(8)).unwrap().unwrap(), "a😀");
        // 2-byte characters through the stripper.
        assert_eq!(text_of("<p>ééééé</p>".as_bytes(), "a.html", &limits(5)).unwrap().unwrap(), "éé");
        for max in 0..20 {
            let out = text_of("ab€😀cé€😀".as_bytes(), "a.md", &limits(max)).unwrap().unwrap();
            assert!(out.len() <= max && !out.contains('\u{FFFD}'), "{max}: {out:?}");
            assert!("ab€😀cé€😀".starts_with(&out));
        }
    }

    /// Only what a reader sees is indexed: no markup, script, style or comment, entities decoded.
    #[test]
    fn html_without_tags_comments_scripts_and_styles() {
        let html = br#"<!DOCTYPE html><html><head><title>The  Title</title>
            <style>body { color: red } p > a { x: "</p>" }</style>
            <script type="text/javascript">if (a < b && c > d) { document.write("<p>hidden</p>"); }</script>
            </head><body><!-- a comment with <p>tags</p> -->
            <p class="x>y" title='a > b'>Fish &amp; chips &lt;tag&gt; &quot;q&quot; &#39;s&#39; &#233;t&#xE9;</p>
            <p>He<b>ll</b>o<br>world, 3 < 4 &unknown; &amp</p>
            <SCRIPT>hidden()</SCRIPT ><script src="x.js"/>after</body></html>"#;
        let out = text(html, "page.html");
        assert_eq!(out, r#"The Title Fish & chips <tag> "q" 's' été Hello world, 3 < 4 &unknown; &amp after"#);
    }

    /// Loose XML: declarations and a DTD subset dropped, CDATA kept, every element a word break.
    #[test]
    fn xml_text_with_cdata_and_declarations() {
        let xml = br#"<?xml version="1.0"?><!DOCTYPE r [ <!ENTITY e "boom"> ]>
            <r><a>one</a><b>two</b><c><![CDATA[x < y ]] z]]></c><d attr="no">t&amp;u</d></r>"#;
        assert_eq!(text(xml, "data.xml"), "one two x < y ]] z t&u");
    }

    /// A markup file with little text and much else is not read past the input bound.
    #[test]
    fn markup_over_the_input_bound_is_an_error() {
        let html = format!("<p>{}</p>", " ".repeat(10_000));
        let limits = Limits { max_input_bytes: 1000, ..roomy() };
        assert!(matches!(text_of(html.as_bytes(), "a.htm", &limits), Err(ExtractError::TooLarge(_))));
    }

    /// Runs join into words, paragraphs into lines; field codes and deleted text stay out.
    #[test]
    fn docx_paragraphs_runs_and_no_field_codes() {
        let doc = br#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">
<w:body>
<w:p><w:r><w:t>Hello</w:t></w:r><w:r><w:t xml:space="preserve"> wor</w:t></w:r><w:r><w:t>ld</w:t></w:r></w:p>
<w:p><w:r><w:instrText>HYPERLINK "x"</w:instrText><w:t>Fish&amp;chips</w:t><w:tab/><w:t>caf&#xE9;</w:t></w:r></w:p>
<w:p><w:r><w:delText>deleted</w:delText><w:t><![CDATA[raw <text>]]></w:t></w:r></w:p>
</w:body></w:document>"#;
        let docx = zip_of(&[("[Content_Types].xml", b"<Types/>"), ("word/document.xml", doc)]);
        assert_eq!(text(&docx, "report.docx"), "Hello world\nFish&chips café\nraw <text>");
    }

    /// A zip named docx without a document is reported, not taken for an empty one.
    #[test]
    fn docx_without_its_document_is_damaged() {
        let docx = zip_of(&[("[Content_Types].xml", b"<Types/>")]);
        assert!(matches!(text_of(&docx, "r.docx", &roomy()), Err(ExtractError::Damaged(_))));
    }

    /// Slides come in their numbers' order, not the zip's or the names' order.
    #[test]
    fn pptx_slides_in_number_order() {
        let slide = |s: &str| {
            format!(
                r#"<p:sld xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"><p:cSld><p:spTree><p:sp><p:txBody><a:p><a:r><a:t>{s}</a:t></a:r></a:p><a:p><a:r><a:t>more</a:t></a:r></a:p></p:txBody></p:sp></p:spTree></p:cSld></p:sld>"#
            )
        };
        let (s1, s2, s10) = (slide("first"), slide("second"), slide("tenth"));
        let pptx = zip_of(&[
            ("ppt/slides/slide10.xml", s10.as_bytes()),
            ("ppt/slides/slide2.xml", s2.as_bytes()),
            ("ppt/slides/_rels/slide1.xml.rels", b"<Relationships/>"),
            ("ppt/slides/slide1.xml", s1.as_bytes()),
            ("ppt/presentation.xml", b"<p:presentation/>"),
        ]);
        assert_eq!(text(&pptx, "deck.pptx"), "first\nmore\nsecond\nmore\ntenth\nmore");
    }

    /// Shared and inline strings and numbers, but not shared-string indexes, phonetics or booleans.
    #[test]
    fn xlsx_shared_inline_and_numeric_cells() {
        let shared =
            br#"<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="2" uniqueCount="2">
<si><t>Name</t></si><si><r><t>Ri</t></r><r><t>ch</t></r><rPh><t>phonetic</t></rPh></si></sst>"#;
        let sheet = br#"<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>
<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="inlineStr"><is><t>Inline words</t></is></c></row>
<row r="2"><c r="A2"><v>42.5</v></c><c r="B2" t="str"><f>A1</f><v>formula text</v></c><c r="C2" t="b"><v>1</v></c></row>
</sheetData></worksheet>"#;
        let xlsx = zip_of(&[
            ("xl/workbook.xml", b"<workbook/>"),
            ("xl/sharedStrings.xml", shared),
            ("xl/worksheets/sheet1.xml", sheet),
        ]);
        assert_eq!(text(&xlsx, "book.xlsx"), "Name\nRich\nInline words\n42.5 formula text");
    }

    /// Damaged zips end in an error, never a panic.
    #[test]
    fn corrupt_zips_are_errors() {
        for name in ["a.docx", "a.xlsx", "a.pptx"] {
            let r = text_of(b"PK\x03\x04 this is not really a zip at all", name, &roomy());
            assert!(matches!(r, Err(ExtractError::Damaged(_))), "{name}: {r:?}");
        }
        // A valid zip whose part is not XML.
        let docx = zip_of(&[("word/document.xml", b"<w:t>unclosed <<<< &")]);
        let r = text_of(&docx, "b.docx", &roomy());
        assert!(matches!(r, Err(ExtractError::Damaged(_)) | Ok(Some(_))), "{r:?}");
        // A truncated zip.
        let good = zip_of(&[("word/document.xml", b"<w:t>x</w:t>")]);
        let r = text_of(&good[..good.len() / 2], "c.docx", &roomy());
        assert!(matches!(r, Err(ExtractError::Damaged(_))), "{r:?}");
    }

    /// Bits packed least significant first, as deflate packs them.
    #[derive(Default)]
    struct Bits {
        out: Vec<u8>,
        acc: u64,
        len: u32,
    }

    impl Bits {
        /// A value of `len` bits (header fields, extra bits).
        fn put(&mut self, value: u32, len: u32) {
            self.acc |= u64::from(value) << self.len;
            self.len += len;
            while self.len >= 8 {
                self.out.push(self.acc as u8);
                self.acc >>= 8;
                self.len -= 8;
            }
        }

        /// A Huffman code, which deflate sends most significant bit first.
        fn code(&mut self, code: u32, len: u32) {
            self.put(code.reverse_bits() >> (32 - len), len);
        }

        /// A literal byte in the fixed Huffman code.
        fn literal(&mut self, byte: u8) {
            match byte {
                0..=143 => self.code(0x30 + u32::from(byte), 8),
                _ => self.code(0x190 + u32::from(byte - 144), 9),
            }
        }
    }

    /// A raw deflate stream of `head`, `fill` repeated `count` times, then
    /// `tail`: one fixed-Huffman block where each 258 repeats cost 13 bits
    /// (length 258, distance 1), so 200 MB fit in 1.3 MB and are made in
    /// milliseconds, where compressing them would take the test seconds.
    fn deflate_run(head: &[u8], fill: u8, count: usize, tail: &[u8]) -> Vec<u8> {
        let mut bits = Bits::default();
        bits.put(1, 1); // the last block
        bits.put(1, 2); // fixed Huffman codes
        head.iter().for_each(|&b| bits.literal(b));
        bits.literal(fill);
        let mut left = count - 1;
        while left >= 258 {
            bits.code(0b1100_0101, 8); // length code 285: 258 bytes
            bits.code(0, 5); // distance code 0: 1 byte back
            left -= 258;
        }
        (0..left).for_each(|_| bits.literal(fill));
        tail.iter().for_each(|&b| bits.literal(b));
        bits.code(0, 7); // end of block
        if bits.len > 0 {
            bits.out.push(bits.acc as u8);
        }
        bits.out
    }

    /// A zip of one deflated entry `name` made by hand from `deflated`,
    /// declaring `size` bytes once inflated; its CRC is 0, which nobody
    /// checks since a bounded reader stops long before the entry's end.
    fn zip_by_hand(name: &str, deflated: &[u8], size: u32) -> Vec<u8> {
        let (name, csize) = (name.as_bytes(), u32::try_from(deflated.len()).unwrap());
        let mut zip = Vec::new();
        let put = |zip: &mut Vec<u8>, fields: &[(u32, usize)]| {
            for &(value, width) in fields {
                zip.extend_from_slice(&value.to_le_bytes()[..width]);
            }
        };
        // Local header: signature, version, flags, method 8, time, date, crc, sizes, name and extra lengths.
        let common =
            [(20, 2), (0, 2), (8, 2), (0, 2), (0x21, 2), (0, 4), (csize, 4), (size, 4), (name.len() as u32, 2), (0, 2)];
        put(&mut zip, &[(0x0403_4b50, 4)]);
        put(&mut zip, &common);
        zip.extend_from_slice(name);
        zip.extend_from_slice(deflated);
        let cd = zip.len() as u32;
        // Central header: signature, made by, the common fields, comment, disk, attributes, offset.
        put(&mut zip, &[(0x0201_4b50, 4), (20, 2)]);
        put(&mut zip, &common);
        put(&mut zip, &[(0, 2), (0, 2), (0, 2), (0, 4), (0, 4)]);
        zip.extend_from_slice(name);
        let cd_len = zip.len() as u32 - cd;
        // End of central directory: one entry.
        put(&mut zip, &[(0x0605_4b50, 4), (0, 2), (0, 2), (1, 2), (1, 2), (cd_len, 4), (cd, 4), (0, 2)]);
        zip
    }

    /// A zip declaring 200 MB costs at most the input bound, whether it inflates to zeros or to one word.
    #[test]
    fn zip_bomb_is_bounded() {
        const MB200: usize = 200 * 1024 * 1024;
        let limits = Limits { max_input_bytes: 4 * 1024 * 1024, ..roomy() };
        let bomb = |head: &[u8], fill, count, tail: &[u8]| {
            let deflated = deflate_run(head, fill, count, tail);
            let size = (head.len() + count + tail.len()) as u32;
            zip_by_hand("word/document.xml", &deflated, size)
        };
        // 200 MB of zeros declared and deflated, outside any text: the budget ends it.
        let zeros = bomb(b"<w:document><w:body><w:p>", 0, MB200, b"</w:p></w:body></w:document>");
        assert!(zeros.len() < 2 * 1024 * 1024);
        let r = text_of(&zeros, "bomb.docx", &limits);
        assert!(matches!(r, Err(ExtractError::TooLarge(_))), "{r:?}");
        // 200 MB of one word: quick-xml holds a text node whole, so the budget ends it too.
        let (head, tail) = (b"<w:document><w:body><w:p><w:r><w:t>", b"</w:t></w:r></w:p></w:body></w:document>");
        let r = text_of(&bomb(head, b'a', MB200, tail), "bomb.docx", &limits);
        assert!(matches!(r, Err(ExtractError::TooLarge(_))), "{r:?}");
        // A word within the budget, in a stream of the same make: cut at the text bound.
        let word = bomb(head, b'a', 1024 * 1024, tail);
        let r = text_of(&word, "word.docx", &Limits { max_text_bytes: 1000, ..limits.clone() });
        assert_eq!(r.unwrap().unwrap(), "a".repeat(1000));
    }

    /// An office file bigger than the input bound is refused before it is opened as a zip.
    #[test]
    fn office_file_over_the_input_bound_is_refused() {
        let docx = zip_of(&[("word/document.xml", b"<w:t>x</w:t>")]);
        let limits = Limits { max_input_bytes: 10, ..roomy() };
        assert!(matches!(text_of(&docx, "r.docx", &limits), Err(ExtractError::TooLarge(_))));
    }

    /// A one-page PDF showing `Hello PDF world`, with a correct xref table.
    fn hello_pdf() -> Vec<u8> {
        let content = b"BT /F1 24 Tf 72 700 Td (Hello PDF world) Tj ET";
        let objects = [
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_vec(),
            [format!("<< /Length {} >>\nstream\n", content.len()).as_bytes(), content, b"\nendstream"].concat(),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_vec(),
        ];
        pdf_of_objects(&objects)
    }

    /// Whether the PDF tests can run; says so when they cannot.
    fn have_pdftotext() -> bool {
        let have = pdftotext_available();
        if !have {
            eprintln!("pdftotext is not installed (poppler-utils): PDF test skipped");
        }
        have
    }

    /// The hand-made PDF's words come back, and the text bound ends pdftotext's output early.
    #[test]
    fn pdf_text() {
        if !have_pdftotext() {
            assert!(text_of(&hello_pdf(), "a.pdf", &roomy()).unwrap().is_none());
            return;
        }
        assert_eq!(text(&hello_pdf(), "hello.PDF"), "Hello PDF world");
        // Cut at the text bound: the rest of the output is not waited for.
        let short = Limits { max_text_bytes: 5, ..roomy() };
        assert_eq!(text_of(&hello_pdf(), "a.pdf", &short).unwrap().unwrap(), "Hello");
    }

    /// pdftotext's refusal is an error, and so is a PDF over the input bound.
    #[test]
    fn pdf_damaged_or_too_big() {
        if !have_pdftotext() {
            return;
        }
        let r = text_of(b"%PDF-1.4 garbage, no objects", "bad.pdf", &roomy());
        assert!(matches!(r, Err(ExtractError::Damaged(_))), "{r:?}");
        let tiny = Limits { max_input_bytes: 100, ..roomy() };
        assert!(matches!(text_of(&hello_pdf(), "a.pdf", &tiny), Err(ExtractError::TooLarge(_))));
    }

    /// pdftotext past the deadline is killed and the call reports the timeout.
    #[test]
    fn pdf_past_the_timeout_is_killed() {
        if !have_pdftotext() {
            return;
        }
        // pdftotext cannot start, load poppler and answer within a millisecond.
        let hurried = Limits { timeout: Duration::from_millis(1), ..Limits::default() };
        let r = text_of(&hello_pdf(), "a.pdf", &hurried);
        assert!(matches!(r, Err(ExtractError::Timeout)), "{r:?}");
    }

    /// Error messages are meant for people reading a log.
    #[test]
    fn errors_read_as_short_sentences() {
        assert_eq!(ExtractError::Timeout.to_string(), "took longer than the time bound");
        assert!(over_budget().to_string().starts_with("over the input bound"));
    }

    #[test]
    fn a_zip_that_declares_too_big_a_directory_is_refused_before_it_is_read() {
        // An end record alone, declaring 60 000 entries in a 3 MB directory.
        let mut end = vec![0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0];
        end.extend_from_slice(&60_000u16.to_le_bytes());
        end.extend_from_slice(&60_000u16.to_le_bytes());
        end.extend_from_slice(&3_000_000u32.to_le_bytes());
        end.extend_from_slice(&0u32.to_le_bytes());
        end.extend_from_slice(&0u16.to_le_bytes());
        let mut f = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut f, &end).unwrap();
        let got = extract(f, "bomb.docx", &Limits::default());
        assert!(matches!(got, Err(ExtractError::TooLarge(_))), "{got:?}");
    }
}
