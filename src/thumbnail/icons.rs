//! Built-in icons, one per kind of item, drawn at any width from shapes.
//!
//! Drawn rather than shipped as pictures so that every width from 16 to
//! 2048 pixels is sharp and the binary carries no image files. Each shape is
//! a signed distance (pixels from its edge, negative inside), which gives an
//! anti-aliased edge at any size; the label's letters are boxes covered
//! exactly, snapped to whole pixels while small so they stay crisp.

use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ExtendedColorType, ImageEncoder};

use super::render::{Format, MAX_WIDTH, MIN_WIDTH, Thumb};

/// What an item is, as far as its icon goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IconKind {
    Folder,
    Document,
    Spreadsheet,
    Presentation,
    Pdf,
    Archive,
    Audio,
    Video,
    Image,
    Other,
}

/// Extensions that decide the kind before the MIME type does: mime_guess
/// calls many office and archive formats `application/…` like any other.
const BY_EXTENSION: &[(&[&str], IconKind)] = &[
    (&["pdf"], IconKind::Pdf),
    (
        &["doc", "docx", "docm", "dot", "dotx", "odt", "ott", "rtf", "txt", "md", "markdown", "pages"],
        IconKind::Document,
    ),
    (&["xls", "xlsx", "xlsm", "xlt", "xltx", "ods", "ots", "csv", "tsv", "numbers"], IconKind::Spreadsheet),
    (&["ppt", "pptx", "pptm", "pps", "ppsx", "pot", "potx", "odp", "otp", "key"], IconKind::Presentation),
    (&["zip", "tar", "gz", "tgz", "bz2", "tbz2", "xz", "txz", "zst", "7z", "rar", "lz", "lzma"], IconKind::Archive),
];

impl IconKind {
    /// Every kind, in a fixed order.
    pub const ALL: &[IconKind] = &[
        IconKind::Folder,
        IconKind::Document,
        IconKind::Spreadsheet,
        IconKind::Presentation,
        IconKind::Pdf,
        IconKind::Archive,
        IconKind::Audio,
        IconKind::Video,
        IconKind::Image,
        IconKind::Other,
    ];

    /// From the item's kind (folder or file), its name and its guessed MIME
    /// type: a known extension first, then the MIME type's family.
    pub fn of(is_folder: bool, name: &str, mime: Option<&str>) -> IconKind {
        if is_folder {
            return IconKind::Folder;
        }
        if let Some((_, ext)) = name.rsplit_once('.')
            && let Some(&(_, kind)) =
                BY_EXTENSION.iter().find(|(exts, _)| exts.iter().any(|e| e.eq_ignore_ascii_case(ext)))
        {
            return kind;
        }
        let Some(mime) = mime else { return IconKind::Other };
        let mime = mime.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        let (family, sub) = mime.split_once('/').unwrap_or((&mime, ""));
        match family {
            "audio" => IconKind::Audio,
            "video" => IconKind::Video,
            "image" => IconKind::Image,
            "text" if sub == "csv" || sub == "tab-separated-values" => IconKind::Spreadsheet,
            "text" => IconKind::Document,
            _ if sub == "pdf" => IconKind::Pdf,
            _ if sub.contains("wordprocessing") || sub.contains("msword") || sub.contains("opendocument.text") => {
                IconKind::Document
            }
            _ if sub.contains("spreadsheet") || sub.contains("ms-excel") => IconKind::Spreadsheet,
            _ if sub.contains("presentation") || sub.contains("ms-powerpoint") => IconKind::Presentation,
            _ if ["zip", "x-tar", "gzip", "x-7z-compressed", "vnd.rar", "x-rar-compressed", "x-bzip2", "x-xz"]
                .contains(&sub) =>
            {
                IconKind::Archive
            }
            _ => IconKind::Other,
        }
    }

    /// A short name for alt text and logs.
    pub fn label(self) -> &'static str {
        match self {
            IconKind::Folder => "folder",
            IconKind::Document => "document",
            IconKind::Spreadsheet => "spreadsheet",
            IconKind::Presentation => "presentation",
            IconKind::Pdf => "PDF",
            IconKind::Archive => "archive",
            IconKind::Audio => "audio",
            IconKind::Video => "video",
            IconKind::Image => "image",
            IconKind::Other => "file",
        }
    }

    /// The letters on the icon's band, if it has one.
    fn badge(self) -> Option<&'static str> {
        match self {
            IconKind::Document => Some("DOC"),
            IconKind::Spreadsheet => Some("XLS"),
            IconKind::Presentation => Some("PPT"),
            IconKind::Pdf => Some("PDF"),
            IconKind::Archive => Some("ZIP"),
            _ => None,
        }
    }

    /// The kind's colour, as familiar from office suites where there is one.
    fn colour(self) -> Rgb {
        match self {
            IconKind::Folder => rgb(0xF2B233),
            IconKind::Document => rgb(0x2B579A),
            IconKind::Spreadsheet => rgb(0x217346),
            IconKind::Presentation => rgb(0xD24726),
            IconKind::Pdf => rgb(0xD93025),
            IconKind::Archive => rgb(0x7B5E4B),
            IconKind::Audio => rgb(0x8E44AD),
            IconKind::Video => rgb(0xC2185B),
            IconKind::Image => rgb(0x00897B),
            IconKind::Other => rgb(0x5F6368),
        }
    }
}

/// A clear built-in icon for the kind, drawn at `width` pixels wide and as
/// many high (clamped to 16..=2048), PNG with transparency.
pub fn icon(kind: IconKind, width: u32) -> Thumb {
    let w = width.clamp(MIN_WIDTH, MAX_WIDTH);
    let canvas = draw(kind, w);
    let mut bytes = Vec::new();
    // Flat colours: rows mostly repeat the row above, so the Up filter and
    // a balanced deflate make a 2048-pixel icon about 35 KB, a third of
    // what the defaults give, for about the same time. Encoding into memory
    // fails only on a size mismatch, which a canvas made for this size
    // cannot have.
    let encoder = PngEncoder::new_with_quality(&mut bytes, CompressionType::Default, FilterType::Up);
    let _ = encoder.write_image(&canvas.straight(), w, w, ExtendedColorType::Rgba8);
    Thumb { bytes, format: Format::Png, width: w, height: w }
}

/// A colour without alpha; shapes are drawn opaque, their edges by coverage.
type Rgb = [u8; 3];

/// A colour from its `0xRRGGBB` number.
const fn rgb(hex: u32) -> Rgb {
    [(hex >> 16) as u8, (hex >> 8) as u8, hex as u8]
}

const WHITE: Rgb = rgb(0xFFFFFF);
const OUTLINE: Rgb = rgb(0x9AA0A6);
const FOLD: Rgb = rgb(0xDADCE0);
const LINES: Rgb = rgb(0xC4C8CE);

/// A point in pixels.
type P = (f32, f32);

/// A square of premultiplied RGBA pixels, drawn on by coverage.
struct Canvas {
    size: u32,
    px: Vec<u8>,
}

impl Canvas {
    /// A transparent canvas `size` pixels square.
    fn new(size: u32) -> Self {
        Canvas { size, px: vec![0; size as usize * size as usize * 4] }
    }

    /// A length in pixels from one in icon units (the width is 1).
    fn u(&self, v: f32) -> f32 {
        v * self.size as f32
    }

    /// Lays `colour` over one pixel with `coverage` (0..=1).
    fn blend(&mut self, x: u32, y: u32, colour: Rgb, coverage: f32) {
        if coverage <= 0.0 {
            return;
        }
        let i = (y as usize * self.size as usize + x as usize) * 4;
        let px = &mut self.px[i..i + 4];
        if coverage >= 1.0 {
            px.copy_from_slice(&[colour[0], colour[1], colour[2], 255]);
            return;
        }
        let c = coverage;
        for (k, &channel) in colour.iter().enumerate() {
            px[k] = (f32::from(channel) * c + f32::from(px[k]) * (1.0 - c)).round() as u8;
        }
        px[3] = (255.0 * c + f32::from(px[3]) * (1.0 - c)).round() as u8;
    }

    /// The pixel range covering `lo..hi` (pixels), widened by one for the
    /// anti-aliased edge and kept on the canvas.
    fn span(&self, lo: f32, hi: f32) -> std::ops::Range<u32> {
        let lo = (lo - 1.0).floor().max(0.0) as u32;
        let hi = ((hi + 1.0).ceil().max(0.0) as u32).min(self.size);
        lo..hi
    }

    /// Fills the shape whose signed distance (pixels; negative inside) is
    /// `sdf`, within the bounding box `min..max` in pixels.
    fn shape(&mut self, min: P, max: P, colour: Rgb, sdf: impl Fn(P) -> f32) {
        let xs = self.span(min.0, max.0);
        for y in self.span(min.1, max.1) {
            let mut x = xs.start;
            while x < xs.end {
                let d = sdf((x as f32 + 0.5, y as f32 + 0.5));
                if d.abs() < 0.5 {
                    self.blend(x, y, colour, 0.5 - d);
                    x += 1;
                    continue;
                }
                // A distance changes by at most a pixel a pixel: the next
                // |d| - 0.5 pixels are as wholly inside or outside as this
                // one, so only edges cost a distance each.
                let end = (x + (d.abs() - 0.5) as u32 + 1).min(xs.end);
                if d < 0.0 {
                    (x..end).for_each(|x| self.blend(x, y, colour, 1.0));
                }
                x = end;
            }
        }
    }

    /// A rectangle in icon units with rounded corners of radius `r`, grown
    /// by `grow` pixels (negative: shrunk, for an outline's inside).
    fn rounded(&mut self, (x0, y0, x1, y1): (f32, f32, f32, f32), r: f32, grow: f32, colour: Rgb) {
        let (x0, y0, x1, y1, r) = (self.u(x0), self.u(y0), self.u(x1), self.u(y1), self.u(r));
        let (cx, cy, hx, hy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0, (x1 - x0) / 2.0, (y1 - y0) / 2.0);
        let r = r.min(hx).min(hy);
        self.shape((x0 - grow, y0 - grow), (x1 + grow, y1 + grow), colour, |(x, y)| {
            let (qx, qy) = ((x - cx).abs() - hx + r, (y - cy).abs() - hy + r);
            let outside = qx.max(0.0).hypot(qy.max(0.0));
            outside + qx.max(qy).min(0.0) - r - grow
        });
    }

    /// A convex or concave polygon in icon units, grown by `grow` pixels.
    fn polygon(&mut self, points: &[P], grow: f32, colour: Rgb) {
        let v: Vec<P> = points.iter().map(|&(x, y)| (self.u(x), self.u(y))).collect();
        let min = v.iter().fold((f32::MAX, f32::MAX), |m, p| (m.0.min(p.0), m.1.min(p.1)));
        let max = v.iter().fold((f32::MIN, f32::MIN), |m, p| (m.0.max(p.0), m.1.max(p.1)));
        self.shape((min.0 - grow, min.1 - grow), (max.0 + grow, max.1 + grow), colour, |p| polygon_sdf(p, &v) - grow);
    }

    /// A disc in icon units.
    fn circle(&mut self, (cx, cy): P, r: f32, colour: Rgb) {
        let (cx, cy, r) = (self.u(cx), self.u(cy), self.u(r));
        self.shape((cx - r, cy - r), (cx + r, cy + r), colour, |(x, y)| (x - cx).hypot(y - cy) - r);
    }

    /// A line from `a` to `b` in icon units, `thick` wide, round-ended.
    fn line(&mut self, a: P, b: P, thick: f32, colour: Rgb) {
        let (a, b, r) = ((self.u(a.0), self.u(a.1)), (self.u(b.0), self.u(b.1)), self.u(thick) / 2.0);
        let min = (a.0.min(b.0) - r, a.1.min(b.1) - r);
        let max = (a.0.max(b.0) + r, a.1.max(b.1) + r);
        self.shape(min, max, colour, |p| segment_distance2(p, a, b).sqrt() - r);
    }

    /// An axis-aligned box in pixels, each pixel covered by its exact
    /// overlap (whole pixels for the font's dots).
    fn cover(&mut self, x0: f32, y0: f32, x1: f32, y1: f32, colour: Rgb) {
        for y in self.span(y0, y1) {
            let oy = ((y + 1) as f32).min(y1) - (y as f32).max(y0);
            if oy <= 0.0 {
                continue;
            }
            for x in self.span(x0, x1) {
                let ox = ((x + 1) as f32).min(x1) - (x as f32).max(x0);
                if ox > 0.0 {
                    self.blend(x, y, colour, ox * oy);
                }
            }
        }
    }

    /// `text` in the bigger built-in font that fits, centred in the box
    /// (icon units), on whole pixels (crisp, and no seams where two dots
    /// would share a pixel); bold once plain strokes would look thin;
    /// nothing when no font fits.
    fn text(&mut self, text: &str, (x0, y0, x1, y1): (f32, f32, f32, f32), colour: Rgb) {
        let (bw, bh) = (self.u(x1 - x0), self.u(y1 - y0));
        for font in [FONT_5X7, FONT_3X5] {
            let Some(glyphs) = text.chars().map(font.glyph).collect::<Option<Vec<_>>>() else { continue };
            let (n, height) = (glyphs.len() as f32, font.height as f32);
            let fit = |bold: u32| (bw / (n * (font.width + bold + 1) as f32 - 1.0)).min(bh / height).floor();
            let (bold, dot) = if fit(1) >= 3.0 { (1, fit(1)) } else { (0, fit(0)) };
            if glyphs.is_empty() || dot < 1.0 {
                continue;
            }
            let width = font.width + bold;
            let cols = n * (width + 1) as f32 - 1.0;
            let left = (self.u(x0) + (bw - cols * dot) / 2.0).round();
            let top = (self.u(y0) + (bh - height * dot) / 2.0).round();
            for (i, rows) in glyphs.iter().enumerate() {
                let gx = left + (i as u32 * (width + 1)) as f32 * dot;
                for (row, &bits) in rows.iter().enumerate() {
                    let bits = if bold == 1 { u32::from(bits) << 1 | u32::from(bits) } else { u32::from(bits) };
                    for col in 0..width {
                        if bits & (1 << (width - 1 - col)) != 0 {
                            let (x, y) = (gx + col as f32 * dot, top + row as f32 * dot);
                            self.cover(x, y, x + dot, y + dot, colour);
                        }
                    }
                }
            }
            return;
        }
    }

    /// The pixels as straight (not premultiplied) RGBA, as PNG wants them.
    fn straight(mut self) -> Vec<u8> {
        for px in self.px.chunks_exact_mut(4) {
            let a = px[3];
            if a != 0 && a != 255 {
                for c in &mut px[..3] {
                    *c = ((u32::from(*c) * 255 + u32::from(a) / 2) / u32::from(a)).min(255) as u8;
                }
            }
        }
        self.px
    }
}

/// The squared distance from `p` to the segment `a`–`b`.
fn segment_distance2(p: P, a: P, b: P) -> f32 {
    let (px, py, ex, ey) = (p.0 - a.0, p.1 - a.1, b.0 - a.0, b.1 - a.1);
    let len2 = ex * ex + ey * ey;
    let t = if len2 > 0.0 { ((px * ex + py * ey) / len2).clamp(0.0, 1.0) } else { 0.0 };
    let (dx, dy) = (px - ex * t, py - ey * t);
    dx * dx + dy * dy
}

/// Signed distance from `p` to the polygon `v` (negative inside): the
/// nearest edge's distance, its sign by the crossing-number rule.
fn polygon_sdf(p: P, v: &[P]) -> f32 {
    let mut d2 = f32::MAX;
    let mut inside = false;
    for i in 0..v.len() {
        let (a, b) = (v[i], v[(i + 1) % v.len()]);
        d2 = d2.min(segment_distance2(p, a, b));
        if (a.1 > p.1) != (b.1 > p.1) && p.0 < a.0 + (p.1 - a.1) * (b.0 - a.0) / (b.1 - a.1) {
            inside = !inside;
        }
    }
    if inside { -d2.sqrt() } else { d2.sqrt() }
}

/// A bitmap font: each glyph `width` dots wide, one byte a row from the
/// top, the leftmost dot the highest of `width` bits.
#[derive(Clone, Copy)]
struct Font {
    width: u32,
    height: u32,
    glyph: fn(char) -> Option<&'static [u8]>,
}

/// The badges' letters, 5×7: readable from about 100 pixels up.
const FONT_5X7: Font = Font { width: 5, height: 7, glyph: glyph_5x7 };
/// The badges' letters, 3×5: a label still at 32 pixels.
const FONT_3X5: Font = Font { width: 3, height: 5, glyph: glyph_3x5 };

/// The 5×7 dots of an upper-case letter of the badges.
fn glyph_5x7(c: char) -> Option<&'static [u8]> {
    Some(match c {
        'C' => &[0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E],
        'D' => &[0x1E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1E],
        'F' => &[0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        'I' => &[0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
        'L' => &[0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        'O' => &[0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'P' => &[0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        'S' => &[0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E],
        'T' => &[0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        'X' => &[0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
        'Z' => &[0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
        _ => return None,
    })
}

/// The 3×5 dots of an upper-case letter of the badges.
fn glyph_3x5(c: char) -> Option<&'static [u8]> {
    Some(match c {
        'C' => &[0b011, 0b100, 0b100, 0b100, 0b011],
        'D' => &[0b110, 0b101, 0b101, 0b101, 0b110],
        'F' => &[0b111, 0b100, 0b110, 0b100, 0b100],
        'I' => &[0b111, 0b010, 0b010, 0b010, 0b111],
        'L' => &[0b100, 0b100, 0b100, 0b100, 0b111],
        'O' => &[0b010, 0b101, 0b101, 0b101, 0b010],
        'P' => &[0b110, 0b101, 0b110, 0b100, 0b100],
        'S' => &[0b011, 0b100, 0b010, 0b001, 0b110],
        'T' => &[0b111, 0b010, 0b010, 0b010, 0b010],
        'X' => &[0b101, 0b101, 0b010, 0b101, 0b101],
        'Z' => &[0b111, 0b001, 0b010, 0b100, 0b111],
        _ => return None,
    })
}

/// The page's edges in icon units: left, top, right, bottom, and the fold.
const PAGE: (f32, f32, f32, f32, f32) = (0.17, 0.04, 0.83, 0.96, 0.20);

/// Draws the icon for `kind` on a new canvas `size` pixels square.
fn draw(kind: IconKind, size: u32) -> Canvas {
    let mut c = Canvas::new(size);
    if kind == IconKind::Folder {
        folder(&mut c, kind.colour());
        return c;
    }
    page(&mut c);
    let colour = kind.colour();
    match kind {
        IconKind::Document | IconKind::Pdf | IconKind::Other => text_lines(&mut c, kind == IconKind::Other),
        IconKind::Spreadsheet => grid(&mut c, colour),
        IconKind::Presentation => slide(&mut c, colour),
        IconKind::Archive => zipper(&mut c, colour),
        IconKind::Audio => note(&mut c, colour),
        IconKind::Video => play(&mut c, colour),
        IconKind::Image => picture(&mut c, colour),
        IconKind::Folder => {}
    }
    if let Some(badge) = kind.badge() {
        let band = (0.07, 0.58, 0.75, 0.84);
        c.rounded(band, 0.035, 0.0, colour);
        c.text(badge, (band.0 + 0.06, band.1 + 0.04, band.2 - 0.06, band.3 - 0.04), WHITE);
    }
    c
}

/// A white sheet with a folded top-right corner and a grey outline.
fn page(c: &mut Canvas) {
    let (l, t, r, b, f) = PAGE;
    let outline = [(l, t), (r - f, t), (r, t + f), (r, b), (l, b)];
    let stroke = c.u(0.022).max(1.0);
    c.polygon(&outline, 0.0, OUTLINE);
    c.polygon(&outline, -stroke, WHITE);
    let fold = [(r - f, t), (r - f, t + f), (r, t + f)];
    c.polygon(&fold, 0.0, OUTLINE);
    c.polygon(&fold, -stroke, FOLD);
}

/// Grey lines of text on the page; fewer and shorter for an unknown file.
fn text_lines(c: &mut Canvas, few: bool) {
    let thick = 0.04;
    let rows: &[(f32, f32)] = if few {
        &[(0.26, 0.52), (0.36, 0.70), (0.46, 0.62)]
    } else {
        &[(0.26, 0.56), (0.35, 0.72), (0.44, 0.72), (0.53, 0.64)]
    };
    for &(y, end) in rows {
        c.line((0.28, y), (end, y), thick, LINES);
    }
    if few {
        c.line((0.28, 0.56), (0.72, 0.56), thick, LINES);
        c.line((0.28, 0.66), (0.58, 0.66), thick, LINES);
    }
}

/// A small table on the page.
fn grid(c: &mut Canvas, colour: Rgb) {
    let (x0, y0, x1, y1) = (0.27, 0.27, 0.73, 0.53);
    c.rounded((x0, y0, x1, y0 + 0.065), 0.01, 0.0, colour);
    let thick = 0.022;
    for i in 0..4 {
        let y = y0 + (y1 - y0) * i as f32 / 3.0;
        c.line((x0, y), (x1, y), thick, LINES);
    }
    for i in 0..4 {
        let x = x0 + (x1 - x0) * i as f32 / 3.0;
        c.line((x, y0), (x, y1), thick, LINES);
    }
}

/// A slide with a bar chart on the page.
fn slide(c: &mut Canvas, colour: Rgb) {
    c.rounded((0.26, 0.27, 0.74, 0.54), 0.02, 0.0, LINES);
    c.rounded((0.28, 0.29, 0.72, 0.52), 0.01, 0.0, WHITE);
    for (i, h) in [0.08, 0.14, 0.18].into_iter().enumerate() {
        let x = 0.35 + i as f32 * 0.11;
        c.rounded((x, 0.49 - h, x + 0.07, 0.49), 0.008, 0.0, colour);
    }
}

/// A zipper down the top of the page.
fn zipper(c: &mut Canvas, colour: Rgb) {
    let (cx, step) = (0.44, 0.05);
    for i in 0..9 {
        let y = PAGE.1 + 0.01 + i as f32 * step;
        let x = if i % 2 == 0 { cx - 0.06 } else { cx };
        c.rounded((x, y, x + 0.06, y + step * 0.8), 0.006, 0.0, colour);
    }
}

/// A pair of beamed notes.
fn note(c: &mut Canvas, colour: Rgb) {
    let (lx, rx, top, thick) = (0.405, 0.645, 0.30, 0.045);
    c.circle((lx - 0.055, 0.67), 0.075, colour);
    c.circle((rx - 0.055, 0.61), 0.075, colour);
    c.line((lx, 0.67), (lx, top + 0.06), thick, colour);
    c.line((rx, 0.61), (rx, top), thick, colour);
    c.polygon(
        &[
            (lx - thick / 2.0, top + 0.06),
            (rx + thick / 2.0, top),
            (rx + thick / 2.0, top + 0.09),
            (lx - thick / 2.0, top + 0.15),
        ],
        0.0,
        colour,
    );
}

/// A screen with a play triangle.
fn play(c: &mut Canvas, colour: Rgb) {
    c.rounded((0.25, 0.34, 0.75, 0.72), 0.05, 0.0, colour);
    c.polygon(&[(0.44, 0.43), (0.44, 0.63), (0.60, 0.53)], 0.0, WHITE);
}

/// A framed landscape: hills under a sun.
fn picture(c: &mut Canvas, colour: Rgb) {
    let frame = (0.25, 0.34, 0.75, 0.74);
    c.rounded(frame, 0.03, 0.0, colour);
    c.rounded((0.28, 0.37, 0.72, 0.71), 0.015, 0.0, rgb(0xDFF3F1));
    c.circle((0.61, 0.46), 0.045, rgb(0xF6BF26));
    c.polygon(&[(0.28, 0.71), (0.42, 0.50), (0.56, 0.71)], 0.0, colour);
    c.polygon(&[(0.46, 0.71), (0.58, 0.57), (0.72, 0.71)], 0.0, rgb(0x4DB6AC));
}

/// A folder: the back with its tab, and the front, a shade lighter.
fn folder(c: &mut Canvas, colour: Rgb) {
    let back = [colour[0].saturating_sub(24), colour[1].saturating_sub(40), colour[2].saturating_sub(20)];
    c.rounded((0.06, 0.16, 0.44, 0.32), 0.04, 0.0, back);
    c.rounded((0.06, 0.22, 0.94, 0.84), 0.05, 0.0, back);
    c.rounded((0.06, 0.32, 0.94, 0.84), 0.05, 0.0, colour);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names and MIME types map to the kinds the issue lists.
    #[test]
    fn kinds_from_names_and_mime_types() {
        let of = |name: &str| IconKind::of(false, name, mime_guess::from_path(name).first_raw());
        assert_eq!(IconKind::of(true, "photos.jpg", None), IconKind::Folder);
        for n in ["a.docx", "a.ODT", "a.rtf", "notes.txt", "README.md"] {
            assert_eq!(of(n), IconKind::Document, "{n}");
        }
        for n in ["a.xlsx", "a.ods", "a.csv"] {
            assert_eq!(of(n), IconKind::Spreadsheet, "{n}");
        }
        for n in ["a.pptx", "a.odp", "a.key"] {
            assert_eq!(of(n), IconKind::Presentation, "{n}");
        }
        for n in ["a.zip", "a.tar", "a.tar.gz", "a.7z", "a.rar"] {
            assert_eq!(of(n), IconKind::Archive, "{n}");
        }
        assert_eq!(of("report.PDF"), IconKind::Pdf);
        assert_eq!(of("song.mp3"), IconKind::Audio);
        assert_eq!(of("clip.mp4"), IconKind::Video);
        assert_eq!(of("clip.mov"), IconKind::Video);
        assert_eq!(of("photo.jpeg"), IconKind::Image);
        assert_eq!(of("logo.svg"), IconKind::Image);
        assert_eq!(of("tool.exe"), IconKind::Other);
        assert_eq!(of("no-extension"), IconKind::Other);
        assert_eq!(IconKind::of(false, "x", Some("application/pdf")), IconKind::Pdf);
        assert_eq!(IconKind::of(false, "x", Some("Audio/Ogg; codecs=opus")), IconKind::Audio);
        assert_eq!(IconKind::of(false, "x", Some("text/csv")), IconKind::Spreadsheet);
    }

    /// Labels are short and distinct.
    #[test]
    fn labels_are_distinct() {
        let labels: std::collections::HashSet<_> = IconKind::ALL.iter().map(|k| k.label()).collect();
        assert_eq!(labels.len(), IconKind::ALL.len());
    }

    /// Every kind at 16, 200 and 2048 pixels: a PNG of that width, with
    /// transparency around the shape, different from every other kind.
    #[test]
    fn icons_decode_at_their_width_and_differ() {
        for width in [16, 200, 2048] {
            let mut seen: Vec<(IconKind, Vec<u8>)> = Vec::new();
            for &kind in IconKind::ALL {
                let thumb = icon(kind, width);
                assert_eq!((thumb.format, thumb.width, thumb.height), (Format::Png, width, width));
                let img = image::load_from_memory_with_format(&thumb.bytes, image::ImageFormat::Png).unwrap();
                assert_eq!((img.width(), img.height()), (width, width), "{kind:?}");
                let px = img.into_rgba8().into_raw();
                assert_eq!(px[3], 0, "{kind:?} at {width}: the corner is transparent");
                assert!(px.chunks_exact(4).any(|p| p[3] == 255), "{kind:?} at {width}: something is drawn");
                for (other, theirs) in &seen {
                    assert_ne!(&px, theirs, "{kind:?} and {other:?} at {width}");
                }
                seen.push((kind, px));
            }
        }
    }

    /// Widths outside 16..=2048 are clamped, never a panic or a huge picture.
    #[test]
    fn widths_are_clamped() {
        assert_eq!(icon(IconKind::Pdf, 0).width, 16);
        assert_eq!(icon(IconKind::Pdf, 100_000).width, 2048);
    }

    /// Every badge letter is in the font.
    #[test]
    fn badges_have_glyphs() {
        for &kind in IconKind::ALL {
            for ch in kind.badge().unwrap_or("").chars() {
                assert!(glyph_5x7(ch).is_some() && glyph_3x5(ch).is_some(), "{ch}");
            }
        }
    }
}
