//! A small picture of one open file's content: the pure part of thumbnails.
//!
//! This module owns turning a file the caller has already opened into a
//! thumbnail [`Thumb`] of a given width, or saying why not
//! ([`RenderError`]): which content is decoded how, the bounds that keep a
//! hostile file cheap ([`Limits`], the deadline), and the output format. It
//! never opens a path, keeps no cache and starts no thread of its own beyond
//! a helper's output reader.
//!
//! - Images (JPEG, PNG, GIF's first frame, WebP, BMP, TIFF) are recognised
//!   by their magic bytes, never by name, and decoded in process under
//!   `image::Limits`. JPEGs go through `jpeg-decoder`, whose IDCT scaling
//!   decodes a big photo straight at 1/2, 1/4 or 1/8 of its size (what
//!   ImageMagick's `-define jpeg:size` does); the other formats through the
//!   `image` crate.
//! - A PDF's first page is rendered by `pdftoppm`, a video frame by `ffmpeg`,
//!   both optional, each run on the open file through [`crate::external`],
//!   and their PNG output goes through the same path as an uploaded image,
//!   so the size and format rules hold for all.
//! - The picture is scaled by `fast_image_resize` (Lanczos3) to the width
//!   asked for, never enlarged, its height at most four times its width; the
//!   EXIF orientation is applied; it is sent as JPEG (quality 85) unless it
//!   has transparency, as PNG then.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Cursor, Read, Seek, SeekFrom};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use fast_image_resize as fir;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageEncoder, ImageError, ImageFormat, ImageReader};

use super::icons::IconKind;
use crate::external::{self, ExternalError, Program};

/// The narrowest thumbnail made; a narrower request gets this.
pub const MIN_WIDTH: u32 = 16;
/// The widest thumbnail made; a wider request gets this.
pub const MAX_WIDTH: u32 = 2048;
/// How much taller than wide a thumbnail may be: a taller picture is fitted
/// in that box (a PDF page is cut there instead, see [`preview`]).
pub const MAX_ASPECT: u32 = 4;
/// The JPEG quality of thumbnails: small files without visible blocks.
const JPEG_QUALITY: u8 = 85;

/// The encoding of a thumbnail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Jpeg,
    Png,
}

impl Format {
    /// The `Content-Type` of a thumbnail in this format.
    pub fn mime(self) -> &'static str {
        match self {
            Format::Jpeg => "image/jpeg",
            Format::Png => "image/png",
        }
    }

    /// The same, as the `image` crate names it.
    pub fn image_format(self) -> ImageFormat {
        match self {
            Format::Jpeg => ImageFormat::Jpeg,
            Format::Png => ImageFormat::Png,
        }
    }
}

/// An encoded thumbnail and its size in pixels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Thumb {
    pub bytes: Vec<u8>,
    pub format: Format,
    pub width: u32,
    pub height: u32,
}

/// Bounds for one preview.
#[derive(Clone, Debug)]
pub struct Limits {
    /// The most bytes one decoded picture may take (full size, or the JPEG
    /// decoder's scaled output and coefficients): a picture that would need
    /// more is refused before decoding (`TooLarge`). Converting and scaling
    /// may briefly hold about as much again.
    pub max_alloc: u64,
    /// The most pixels on either side of a picture, checked from its header.
    pub max_side: u32,
    /// The address space `pdftoppm` and `ffmpeg` may have under `prlimit`.
    pub helper_address_space: u64,
    /// The most bytes read from a helper's output (its PNG); more is `TooLarge`.
    pub max_helper_output: usize,
}

impl Default for Limits {
    /// Bounds for a server that renders a few thumbnails at once: a 64
    /// megapixel RGB photo decodes (IDCT scaling makes most JPEGs far
    /// cheaper), a decompression bomb does not; helpers get 1 GiB of address
    /// space, which `ffmpeg` needs for 4K video with its libraries mapped.
    fn default() -> Self {
        Limits {
            max_alloc: 256 * 1024 * 1024,
            max_side: 65_535,
            helper_address_space: 1024 * 1024 * 1024,
            max_helper_output: 64 * 1024 * 1024,
        }
    }
}

/// Why a file has no preview; the caller shows the kind's icon instead.
#[derive(Debug)]
pub enum RenderError {
    /// Not a kind of content previewed here (or its helper is not installed).
    Unsupported,
    /// Bigger than [`Limits`] allow: a decompression bomb, or just huge.
    TooLarge,
    /// Cut short, corrupt, or refused by its decoder or helper; says why.
    Damaged(String),
    /// The deadline passed.
    Timeout,
    /// Reading the file (or starting a helper) failed.
    Io(io::Error),
}

impl std::fmt::Display for RenderError {
    /// Short and human, for a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RenderError::Unsupported => f.write_str("no preview for this kind of content"),
            RenderError::TooLarge => f.write_str("too large to preview within the bounds"),
            RenderError::Damaged(why) => write!(f, "damaged or unreadable: {why}"),
            RenderError::Timeout => f.write_str("took longer than the time bound"),
            RenderError::Io(e) => write!(f, "could not read the file: {e}"),
        }
    }
}

impl std::error::Error for RenderError {
    /// The I/O error underneath, for callers that walk error chains.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RenderError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for RenderError {
    /// Lets `?` carry plain I/O failures; a file that ends early is damaged.
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            RenderError::Damaged("cut short".into())
        } else {
            RenderError::Io(e)
        }
    }
}

impl From<ExternalError> for RenderError {
    /// Lets `?` carry a helper's failure to start or to finish in time.
    fn from(e: ExternalError) -> Self {
        match e {
            ExternalError::Io(e) => RenderError::Io(e),
            ExternalError::Timeout => RenderError::Timeout,
        }
    }
}

impl From<ImageError> for RenderError {
    /// The `image` crate's errors in our terms.
    fn from(e: ImageError) -> Self {
        match e {
            ImageError::Limits(_) => RenderError::TooLarge,
            ImageError::Unsupported(_) => RenderError::Unsupported,
            ImageError::IoError(e) => e.into(),
            e => RenderError::Damaged(e.to_string()),
        }
    }
}

/// The optional helpers, as found on this machine, for one start-up log
/// line; each with whether it runs under `prlimit`'s limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Helpers {
    /// PDF first pages.
    pub pdftoppm: Found,
    /// Video frames.
    pub ffmpeg: Found,
}

/// Whether a helper was found, and how it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Found {
    Absent,
    /// Found, but `prlimit` is not: only the deadline and output cap bound it.
    Unlimited,
    Limited,
}

impl Found {
    /// What the probe found for `program`.
    fn of(program: Program) -> Found {
        if external::limited(program) {
            Found::Limited
        } else if external::available(program) {
            Found::Unlimited
        } else {
            Found::Absent
        }
    }
}

impl std::fmt::Display for Helpers {
    /// E.g. `pdftoppm: yes, ffmpeg: no`, for the start-up log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let word = |found| match found {
            Found::Absent => "no",
            Found::Unlimited => "yes (without prlimit)",
            Found::Limited => "yes",
        };
        write!(f, "pdftoppm: {}, ffmpeg: {}", word(self.pdftoppm), word(self.ffmpeg))
    }
}

/// Which optional helpers were found (pdftoppm, ffmpeg), for one start-up
/// log line; probing them here also spares the first request the cost.
pub fn helpers() -> Helpers {
    Helpers { pdftoppm: Found::of(Program::Pdftoppm), ffmpeg: Found::of(Program::Ffmpeg) }
}

/// A preview of the file's content, `width` wide (clamped to
/// [`MIN_WIDTH`]`..=`[`MAX_WIDTH`], never enlarged), or why not.
///
/// `hint` is the icon kind from the name/MIME (decides PDF/video helpers);
/// the content's magic bytes decide image decoding, never the name, and a
/// PDF is rendered only when the content starts `%PDF-`. The file is read
/// from its start whatever its offset. The deadline is checked between
/// stages (decode, resize, encode) and kills a helper; a single in-process
/// decode is bounded by [`Limits`] rather than by the clock, so the caller
/// keeps a timeout of its own too. Never panics on hostile content: a
/// decoder's panic is caught and reported as `Damaged`.
pub fn preview(
    mut file: File,
    hint: IconKind,
    width: u32,
    limits: &Limits,
    deadline: Instant,
) -> Result<Thumb, RenderError> {
    let width = width.clamp(MIN_WIDTH, MAX_WIDTH);
    let meta = file.metadata()?;
    if !meta.is_file() {
        // A FIFO or a device could block or never end.
        return Err(RenderError::Io(io::Error::new(io::ErrorKind::InvalidInput, "not a regular file")));
    }
    file.seek(SeekFrom::Start(0))?;
    let mut magic = [0u8; 16];
    let n = read_up_to(&mut file, &mut magic)?;
    file.seek(SeekFrom::Start(0))?;
    let magic = &magic[..n];
    if let Some(format) = image_format(magic) {
        return picture(BufReader::new(file), format, width, limits, deadline);
    }
    match hint {
        IconKind::Pdf if magic.starts_with(b"%PDF-") => pdf(file, width, limits, deadline),
        IconKind::Video => video(file, width, limits, deadline),
        _ => Err(RenderError::Unsupported),
    }
}

/// Whether a file starting with `magic` (its first 16 bytes, or all of a
/// shorter one) of the kind `hint` may have a preview: a picture by its
/// bytes, a PDF or a video whose helper is installed. What [`preview`]
/// would try, judged without reading further.
pub fn previewable(magic: &[u8], hint: IconKind) -> bool {
    image_format(magic).is_some()
        || match hint {
            IconKind::Pdf => magic.starts_with(b"%PDF-") && external::available(Program::Pdftoppm),
            IconKind::Video => external::available(Program::Ffmpeg),
            _ => false,
        }
}

/// Reads until `buf` is full or the file ends; how many bytes were read.
fn read_up_to(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The image format the content's first bytes announce, among those decoded
/// here.
fn image_format(magic: &[u8]) -> Option<ImageFormat> {
    use ImageFormat::*;
    image::guess_format(magic).ok().filter(|f| matches!(f, Jpeg | Png | Gif | WebP | Bmp | Tiff))
}

/// Whether the deadline has passed, as an error to return.
fn check(deadline: Instant) -> Result<(), RenderError> {
    if Instant::now() >= deadline { Err(RenderError::Timeout) } else { Ok(()) }
}

/// An image file (or a helper's PNG): decoded, scaled, oriented, encoded.
fn picture<R: BufRead + Seek>(
    mut reader: R,
    format: ImageFormat,
    width: u32,
    limits: &Limits,
    deadline: Instant,
) -> Result<Thumb, RenderError> {
    check(deadline)?;
    // Decoders of hostile input have panicked before; a panic here would
    // take the caller's worker thread with it.
    let decoded = catch_unwind(AssertUnwindSafe(|| decode(&mut reader, format, width, limits)))
        .map_err(|_| RenderError::Damaged("the decoder gave up on it".into()))??;
    check(deadline)?;
    let (image, orientation) = decoded;
    let image = flatten(image);
    let swaps = swaps_axes(orientation);
    let (w, h) = if swaps { (image.height(), image.width()) } else { (image.width(), image.height()) };
    let (tw, th) = fit(w, h, width);
    let image = if swaps { resize(image, th, tw)? } else { resize(image, tw, th)? };
    check(deadline)?;
    let mut image = image;
    image.apply_orientation(orientation);
    encode(&image)
}

/// Whether an EXIF orientation turns the picture a quarter (width and height trade places).
fn swaps_axes(orientation: Orientation) -> bool {
    matches!(
        orientation,
        Orientation::Rotate90 | Orientation::Rotate270 | Orientation::Rotate90FlipH | Orientation::Rotate270FlipH
    )
}

/// The size of a `w`×`h` picture fitted to `width` wide and at most
/// [`MAX_ASPECT`] times that high, aspect kept, never enlarged.
fn fit(w: u32, h: u32, width: u32) -> (u32, u32) {
    let (w, h) = (w.max(1), h.max(1));
    let scale = (f64::from(width) / f64::from(w)).min(f64::from(width * MAX_ASPECT) / f64::from(h)).min(1.0);
    let side = |v: u32| ((f64::from(v) * scale).round() as u32).clamp(1, v);
    (side(w), side(h))
}

/// The picture decoded (JPEG at a reduced scale where that suffices), with
/// the orientation its metadata asks for.
fn decode<R: BufRead + Seek>(
    reader: &mut R,
    format: ImageFormat,
    width: u32,
    limits: &Limits,
) -> Result<(DynamicImage, Orientation), RenderError> {
    if format == ImageFormat::Jpeg {
        match jpeg_scaled(&mut *reader, width, limits)? {
            Some(decoded) => return Ok(decoded),
            None => {
                reader.seek(SeekFrom::Start(0))?;
            }
        }
    }
    let mut image_limits = image::Limits::default();
    image_limits.max_image_width = Some(limits.max_side);
    image_limits.max_image_height = Some(limits.max_side);
    image_limits.max_alloc = Some(limits.max_alloc);
    let mut reader = ImageReader::with_format(reader, format);
    reader.limits(image_limits);
    let mut decoder = reader.into_decoder()?;
    // A broken EXIF block costs the rotation, not the picture.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    if decoder.total_bytes() > limits.max_alloc {
        return Err(RenderError::TooLarge);
    }
    Ok((DynamicImage::from_decoder(decoder)?, orientation))
}

/// A JPEG through `jpeg-decoder`, at the smallest IDCT scale (an eighth, a
/// quarter, a half or whole) that still covers the thumbnail: most of a big
/// photo's decoding cost is skipped. `None` when the file is one `jpeg-decoder` cannot decode
/// here (12- or 16-bit samples, arithmetic coding, …): the `image` crate's
/// decoder then has a go.
fn jpeg_scaled<R: BufRead>(
    reader: R,
    width: u32,
    limits: &Limits,
) -> Result<Option<(DynamicImage, Orientation)>, RenderError> {
    use jpeg_decoder::{CodingProcess, Decoder, PixelFormat};
    let mut decoder = Decoder::new(reader);
    match decoder.read_info() {
        Ok(()) => {}
        Err(jpeg_decoder::Error::Unsupported(_)) => return Ok(None),
        Err(e) => return Err(jpeg_error(e)),
    }
    let Some(info) = decoder.info() else { return Err(RenderError::Damaged("no frame header".into())) };
    let (w, h) = (u32::from(info.width), u32::from(info.height));
    if w > limits.max_side || h > limits.max_side {
        return Err(RenderError::TooLarge);
    }
    let components: u64 = match info.pixel_format {
        PixelFormat::L8 => 1,
        PixelFormat::RGB24 => 3,
        PixelFormat::CMYK32 => 4,
        PixelFormat::L16 => return Ok(None),
    };
    // A progressive JPEG keeps every coefficient at full size (two bytes
    // each, at most one per sample per component) whatever the scale.
    if info.coding_process == CodingProcess::DctProgressive
        && u64::from(w) * u64::from(h) * components * 2 > limits.max_alloc
    {
        return Err(RenderError::TooLarge);
    }
    let orientation = decoder.exif_data().and_then(Orientation::from_exif_chunk).unwrap_or(Orientation::NoTransforms);
    let (ow, oh) = if swaps_axes(orientation) { (h, w) } else { (w, h) };
    let (tw, th) = fit(ow, oh, width);
    let (rw, rh) = if swaps_axes(orientation) { (th, tw) } else { (tw, th) };
    let (sw, sh) = match decoder.scale(rw.min(65_535) as u16, rh.min(65_535) as u16) {
        Ok(size) => (u32::from(size.0), u32::from(size.1)),
        Err(jpeg_decoder::Error::Unsupported(_)) => return Ok(None),
        Err(e) => return Err(jpeg_error(e)),
    };
    let out_bytes = u64::from(sw) * u64::from(sh) * components;
    if out_bytes > limits.max_alloc {
        return Err(RenderError::TooLarge);
    }
    decoder.set_max_decoding_buffer_size(usize::try_from(limits.max_alloc).unwrap_or(usize::MAX));
    let pixels = match decoder.decode() {
        Ok(pixels) => pixels,
        Err(jpeg_decoder::Error::Unsupported(_)) => return Ok(None),
        Err(e) => return Err(jpeg_error(e)),
    };
    let short = || RenderError::Damaged("fewer pixels than its size".into());
    let image = match info.pixel_format {
        PixelFormat::L8 => DynamicImage::ImageLuma8(image::GrayImage::from_raw(sw, sh, pixels).ok_or_else(short)?),
        PixelFormat::RGB24 => DynamicImage::ImageRgb8(image::RgbImage::from_raw(sw, sh, pixels).ok_or_else(short)?),
        PixelFormat::CMYK32 => {
            DynamicImage::ImageRgb8(image::RgbImage::from_raw(sw, sh, cmyk_to_rgb(&pixels)).ok_or_else(short)?)
        }
        PixelFormat::L16 => return Ok(None),
    };
    Ok(Some((image, orientation)))
}

/// `jpeg-decoder`'s errors in our terms.
fn jpeg_error(e: jpeg_decoder::Error) -> RenderError {
    match e {
        jpeg_decoder::Error::Io(e) => e.into(),
        jpeg_decoder::Error::Unsupported(_) => RenderError::Unsupported,
        e => RenderError::Damaged(e.to_string()),
    }
}

/// `jpeg-decoder`'s CMYK (0 = no ink, Adobe's inversion already undone)
/// as RGB by the naive formula: a thumbnail needs no colour management.
fn cmyk_to_rgb(cmyk: &[u8]) -> Vec<u8> {
    let mut rgb = Vec::with_capacity(cmyk.len() / 4 * 3);
    for px in cmyk.chunks_exact(4) {
        let k = 255 - u32::from(px[3]);
        for &ink in &px[..3] {
            rgb.push(((255 - u32::from(ink)) * k / 255) as u8);
        }
    }
    rgb
}

/// The picture as 8-bit grey, grey and alpha, RGB or RGBA; alpha only where
/// some pixel is not opaque, since that alone decides PNG over JPEG.
fn flatten(image: DynamicImage) -> DynamicImage {
    let grey = matches!(image.color(), image::ColorType::L8 | image::ColorType::L16);
    if !image.color().has_alpha() {
        return match image {
            DynamicImage::ImageLuma8(_) | DynamicImage::ImageRgb8(_) => image,
            _ if grey => DynamicImage::ImageLuma8(image.into_luma8()),
            _ => DynamicImage::ImageRgb8(image.into_rgb8()),
        };
    }
    match image {
        DynamicImage::ImageLumaA8(la) => {
            if la.pixels().all(|p| p.0[1] == u8::MAX) {
                DynamicImage::ImageLuma8(DynamicImage::ImageLumaA8(la).into_luma8())
            } else {
                DynamicImage::ImageLumaA8(la)
            }
        }
        image => {
            let rgba = image.into_rgba8();
            if rgba.pixels().all(|p| p.0[3] == u8::MAX) {
                DynamicImage::ImageRgb8(DynamicImage::ImageRgba8(rgba).into_rgb8())
            } else {
                DynamicImage::ImageRgba8(rgba)
            }
        }
    }
}

/// A flattened picture scaled to `w`×`h` by `fast_image_resize`'s
/// Lanczos3 (alpha premultiplied while scaling, so edges do not darken).
fn resize(image: DynamicImage, w: u32, h: u32) -> Result<DynamicImage, RenderError> {
    if (image.width(), image.height()) == (w, h) {
        return Ok(image);
    }
    type Rebuild = fn(u32, u32, Vec<u8>) -> Option<DynamicImage>;
    let (pixel, make): (fir::PixelType, Rebuild) = match &image {
        DynamicImage::ImageLuma8(_) => {
            (fir::PixelType::U8, |w, h, v| image::GrayImage::from_raw(w, h, v).map(DynamicImage::ImageLuma8))
        }
        DynamicImage::ImageLumaA8(_) => {
            (fir::PixelType::U8x2, |w, h, v| image::GrayAlphaImage::from_raw(w, h, v).map(DynamicImage::ImageLumaA8))
        }
        DynamicImage::ImageRgb8(_) => {
            (fir::PixelType::U8x3, |w, h, v| image::RgbImage::from_raw(w, h, v).map(DynamicImage::ImageRgb8))
        }
        _ => (fir::PixelType::U8x4, |w, h, v| image::RgbaImage::from_raw(w, h, v).map(DynamicImage::ImageRgba8)),
    };
    let failed = |e: &dyn std::fmt::Display| RenderError::Damaged(format!("could not be scaled: {e}"));
    let src =
        fir::images::ImageRef::new(image.width(), image.height(), image.as_bytes(), pixel).map_err(|e| failed(&e))?;
    let mut dst = fir::images::Image::new(w, h, pixel);
    let options = fir::ResizeOptions::new().resize_alg(fir::ResizeAlg::Convolution(fir::FilterType::Lanczos3));
    fir::Resizer::new().resize(&src, &mut dst, &options).map_err(|e| failed(&e))?;
    make(w, h, dst.into_vec()).ok_or_else(|| failed(&"the scaled picture has the wrong size"))
}

/// The flattened, scaled picture encoded: PNG when it has alpha, JPEG
/// otherwise.
fn encode(image: &DynamicImage) -> Result<Thumb, RenderError> {
    let (width, height) = (image.width(), image.height());
    let mut bytes = Vec::new();
    let format = if image.color().has_alpha() {
        PngEncoder::new(&mut bytes).write_image(image.as_bytes(), width, height, image.color().into())?;
        Format::Png
    } else {
        JpegEncoder::new_with_quality(&mut bytes, JPEG_QUALITY).write_image(
            image.as_bytes(),
            width,
            height,
            image.color().into(),
        )?;
        Format::Jpeg
    };
    Ok(Thumb { bytes, format, width, height })
}

/// The path by which a helper re-opens its standard input: through `/proc`
/// the very file we opened (the link names the open file, not a path, so
/// it cannot be swapped), with its own offset and so seekable, where a pipe
/// name would make the helper read everything in order (`pdftoppm -` copies
/// the whole file into memory; `ffmpeg pipe:0` fails on an MP4 whose index
/// comes last). Without `/proc`, the pipe name.
fn stdin_name(pipe: &'static str) -> &'static str {
    static PROC: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *PROC.get_or_init(|| std::path::Path::new("/proc/self/fd/0").exists()) { "/proc/self/fd/0" } else { pipe }
}

/// A helper's exit and output as a PNG to decode, or why not.
fn helper_png(program: Program, ran: (Vec<u8>, Option<std::process::ExitStatus>)) -> Result<Vec<u8>, RenderError> {
    match ran {
        (_, None) => Err(RenderError::TooLarge),
        (_, Some(status)) if !status.success() => {
            Err(RenderError::Damaged(format!("{} could not read it ({status})", program.name())))
        }
        (out, _) if !out.starts_with(b"\x89PNG") => {
            Err(RenderError::Damaged(format!("{} gave no picture", program.name())))
        }
        (out, _) => Ok(out),
    }
}

/// A PDF's first page through `pdftoppm`, `width` wide (a page is vector, so
/// any width is sharp) and cut at [`MAX_ASPECT`] times that high: the top
/// of a very long page reads better than a sliver, and only that much is
/// rasterised.
fn pdf(file: File, width: u32, limits: &Limits, deadline: Instant) -> Result<Thumb, RenderError> {
    if !external::available(Program::Pdftoppm) {
        return Err(RenderError::Unsupported);
    }
    let (w, h) = (width.to_string(), (width * MAX_ASPECT).to_string());
    let args = [
        "-q",
        "-f",
        "1",
        "-l",
        "1",
        "-scale-to-x",
        &w,
        "-scale-to-y",
        "-1",
        "-W",
        &w,
        "-H",
        &h,
        "-png",
        stdin_name("-"),
    ];
    let ran =
        external::run(Program::Pdftoppm, &args, file, limits.helper_address_space, limits.max_helper_output, deadline)?;
    let png = helper_png(Program::Pdftoppm, ran)?;
    picture(Cursor::new(png), ImageFormat::Png, width, limits, deadline)
}

/// The demuxers `ffmpeg` may use: video containers only, so that a file
/// named like a video cannot be read as a playlist (HLS, concat) that names
/// other files, or as text rendered into the picture (tty, ansi).
const VIDEO_DEMUXERS: &str = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,mpeg,mpegts,flv,asf,ogg";

/// A video frame through `ffmpeg`: a second in (past a fade from black),
/// or the first frame of a video shorter than that.
fn video(file: File, width: u32, limits: &Limits, deadline: Instant) -> Result<Thumb, RenderError> {
    if !external::available(Program::Ffmpeg) {
        return Err(RenderError::Unsupported);
    }
    // Display aspect (sample aspect applied), never wider than the video.
    let filter = format!("scale=w='min({width}\\,iw*sar)':h='max(1\\,round(ow/dar))',setsar=1");
    let frame = |seek: bool, file: File| {
        let mut args: Vec<&str> = vec![
            // Standard input is the video, not keyboard commands.
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            "-protocol_whitelist",
            "file,pipe",
            "-format_whitelist",
            VIDEO_DEMUXERS,
            // One core per thumbnail: the caller's pool decides how many at once.
            "-threads",
            "1",
            "-filter_threads",
            "1",
        ];
        if seek {
            args.extend(["-ss", "1"]);
        }
        args.extend(["-i", stdin_name("pipe:0"), "-an", "-sn", "-dn", "-frames:v", "1", "-vf", &filter]);
        args.extend(["-f", "image2pipe", "-c:v", "png", "pipe:1"]);
        external::run(Program::Ffmpeg, &args, file, limits.helper_address_space, limits.max_helper_output, deadline)
    };
    let again = file.try_clone()?;
    let png = match frame(true, file)? {
        // No frame a second in, and no complaint: a shorter video.
        (out, Some(status)) if status.success() && out.is_empty() => {
            check(deadline)?;
            let mut again = again;
            again.seek(SeekFrom::Start(0))?;
            helper_png(Program::Ffmpeg, frame(false, again)?)?
        }
        ran => helper_png(Program::Ffmpeg, ran)?,
    };
    picture(Cursor::new(png), ImageFormat::Png, width, limits, deadline)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage, Rgba, RgbaImage};
    use std::io::Write;
    use std::time::Duration;

    /// Every format decoded in process.
    const FORMATS: [ImageFormat; 6] =
        [ImageFormat::Jpeg, ImageFormat::Png, ImageFormat::Gif, ImageFormat::WebP, ImageFormat::Bmp, ImageFormat::Tiff];

    /// A file holding `bytes`, open at its start.
    fn file_with(bytes: &[u8]) -> File {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(bytes).unwrap();
        f.seek(SeekFrom::Start(0)).unwrap();
        f
    }

    /// A deadline no loaded test machine reaches.
    fn later() -> Instant {
        Instant::now() + Duration::from_secs(120)
    }

    /// The preview of `bytes` as a picture, `width` wide.
    fn preview_of(bytes: &[u8], hint: IconKind, width: u32) -> Result<Thumb, RenderError> {
        preview(file_with(bytes), hint, width, &Limits::default(), later())
    }

    /// A thumbnail decoded again, to look at its pixels.
    fn pixels(thumb: &Thumb) -> DynamicImage {
        let format = match thumb.format {
            Format::Jpeg => ImageFormat::Jpeg,
            Format::Png => ImageFormat::Png,
        };
        let img = image::load_from_memory_with_format(&thumb.bytes, format).unwrap();
        assert_eq!((img.width(), img.height()), (thumb.width, thumb.height));
        img
    }

    /// A colourful opaque picture: red left half, blue right half.
    fn halves(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, _| if x < w / 2 { Rgb([220, 30, 30]) } else { Rgb([30, 30, 220]) })
    }

    /// `img` encoded in `format`.
    fn encoded(img: &DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    /// Whether two colours are within `tolerance` on every channel.
    fn near(a: [u8; 3], b: [u8; 3], tolerance: u8) -> bool {
        a.iter().zip(b).all(|(&x, y)| x.abs_diff(y) <= tolerance)
    }

    /// Every image format decodes and comes out the width asked for, aspect kept.
    #[test]
    fn each_format_decodes_to_the_width_asked_for() {
        let img = DynamicImage::ImageRgb8(halves(400, 300));
        for format in FORMATS {
            let thumb = preview_of(&encoded(&img, format), IconKind::Other, 200).unwrap();
            assert_eq!((thumb.width, thumb.height, thumb.format), (200, 150, Format::Jpeg), "{format:?}");
            let px = pixels(&thumb).into_rgb8();
            assert!(near(px.get_pixel(20, 75).0, [220, 30, 30], 40), "{format:?}: {:?}", px.get_pixel(20, 75));
            assert!(near(px.get_pixel(180, 75).0, [30, 30, 220], 40), "{format:?}: {:?}", px.get_pixel(180, 75));
        }
    }

    /// A picture narrower than asked keeps its size; a very tall one fits a box four widths high.
    #[test]
    fn never_enlarged_and_height_capped() {
        let small = encoded(&DynamicImage::ImageRgb8(halves(50, 30)), ImageFormat::Png);
        let thumb = preview_of(&small, IconKind::Image, 200).unwrap();
        assert_eq!((thumb.width, thumb.height), (50, 30));
        let tall = encoded(&DynamicImage::ImageRgb8(halves(100, 2000)), ImageFormat::Png);
        let thumb = preview_of(&tall, IconKind::Image, 64).unwrap();
        assert_eq!((thumb.width, thumb.height), (13, 256));
        assert_eq!(fit(4000, 3000, 200), (200, 150));
        assert_eq!(fit(1, 100_000, 16), (1, 64));
        assert_eq!(fit(0, 0, 16), (1, 1));
    }

    /// Name and MIME type never decide image decoding: a PNG named `.pdf` is a picture.
    #[test]
    fn magic_bytes_decide_not_the_name() {
        let png = encoded(&DynamicImage::ImageRgb8(halves(40, 40)), ImageFormat::Png);
        assert_eq!(preview_of(&png, IconKind::Pdf, 100).unwrap().width, 40);
    }

    /// The bytes of a JPEG of `img` with an APP1 Exif segment (big-endian
    /// TIFF, one IFD entry: Orientation) right after its SOI marker.
    fn jpeg_with_orientation(img: &RgbImage, orientation: u16) -> Vec<u8> {
        let plain = encoded(&DynamicImage::ImageRgb8(img.clone()), ImageFormat::Jpeg);
        let mut tiff = b"MM\x00\x2a\x00\x00\x00\x08".to_vec();
        tiff.extend_from_slice(&1u16.to_be_bytes()); // one entry
        tiff.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
        tiff.extend_from_slice(&3u16.to_be_bytes()); // SHORT
        tiff.extend_from_slice(&1u32.to_be_bytes()); // one value
        tiff.extend_from_slice(&orientation.to_be_bytes());
        tiff.extend_from_slice(&[0, 0]); // value padding
        tiff.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
        let payload = [b"Exif\0\0".as_slice(), &tiff].concat();
        let mut jpeg = plain[..2].to_vec();
        jpeg.extend_from_slice(&[0xFF, 0xE1]);
        jpeg.extend_from_slice(&(payload.len() as u16 + 2).to_be_bytes());
        jpeg.extend_from_slice(&payload);
        jpeg.extend_from_slice(&plain[2..]);
        jpeg
    }

    /// Orientation 6 (turn a quarter clockwise): a 40×20 landscape whose left
    /// half is red comes out 20×40 portrait with red on top.
    #[test]
    fn exif_orientation_is_applied() {
        let jpeg = jpeg_with_orientation(&halves(40, 20), 6);
        let thumb = preview_of(&jpeg, IconKind::Image, 200).unwrap();
        assert_eq!((thumb.width, thumb.height), (20, 40));
        let px = pixels(&thumb).into_rgb8();
        assert!(near(px.get_pixel(10, 5).0, [220, 30, 30], 40), "{:?}", px.get_pixel(10, 5));
        assert!(near(px.get_pixel(10, 35).0, [30, 30, 220], 40), "{:?}", px.get_pixel(10, 35));
        // Scaled too: width applies after the turn (a 400×200 becomes 100×200, then 50×100).
        let jpeg = jpeg_with_orientation(&halves(400, 200), 6);
        let thumb = preview_of(&jpeg, IconKind::Image, 50).unwrap();
        assert_eq!((thumb.width, thumb.height), (50, 100));
        let px = pixels(&thumb).into_rgb8();
        assert!(near(px.get_pixel(25, 10).0, [220, 30, 30], 40), "{:?}", px.get_pixel(25, 10));
        assert!(near(px.get_pixel(25, 90).0, [30, 30, 220], 40), "{:?}", px.get_pixel(25, 90));
        // And for a PNG, through the image crate's path (an eXIf chunk).
        let png = encoded(&DynamicImage::ImageRgb8(halves(40, 20)), ImageFormat::Png);
        let exif = &jpeg_with_orientation(&halves(2, 2), 6)[12..38];
        let chunk = [b"eXIf".as_slice(), exif].concat();
        let mut with_exif = png[..33].to_vec();
        with_exif.extend_from_slice(&(exif.len() as u32).to_be_bytes());
        with_exif.extend_from_slice(&chunk);
        with_exif.extend_from_slice(&crc32(&chunk).to_be_bytes());
        with_exif.extend_from_slice(&png[33..]);
        let thumb = preview_of(&with_exif, IconKind::Image, 200).unwrap();
        assert_eq!((thumb.width, thumb.height), (20, 40));
    }

    /// A JPEG decoded at a reduced IDCT scale still has its colours where they were.
    #[test]
    fn a_big_jpeg_is_decoded_scaled() {
        let jpeg = encoded(&DynamicImage::ImageRgb8(halves(1600, 1200)), ImageFormat::Jpeg);
        let thumb = preview_of(&jpeg, IconKind::Image, 100).unwrap();
        assert_eq!((thumb.width, thumb.height), (100, 75));
        let px = pixels(&thumb).into_rgb8();
        assert!(near(px.get_pixel(10, 40).0, [220, 30, 30], 40));
        assert!(near(px.get_pixel(90, 40).0, [30, 30, 220], 40));
        // Grey JPEGs too.
        let grey = DynamicImage::ImageLuma8(image::GrayImage::from_fn(800, 400, |x, _| {
            image::Luma([if x < 400 { 20 } else { 230 }])
        }));
        let thumb = preview_of(&encoded(&grey, ImageFormat::Jpeg), IconKind::Image, 80).unwrap();
        assert_eq!((thumb.width, thumb.height, thumb.format), (80, 40, Format::Jpeg));
        let px = pixels(&thumb).into_luma8();
        assert!(px.get_pixel(5, 20).0[0] < 60 && px.get_pixel(75, 20).0[0] > 190);
    }

    /// Transparency gives a PNG that keeps it; an opaque alpha channel gives a JPEG.
    #[test]
    fn transparency_is_png_opacity_is_jpeg() {
        let see_through = RgbaImage::from_fn(100, 100, |x, _| Rgba([0, 128, 0, if x < 50 { 0 } else { 255 }]));
        let thumb = preview_of(&encoded(&DynamicImage::ImageRgba8(see_through), ImageFormat::Png), IconKind::Image, 50)
            .unwrap();
        assert_eq!((thumb.format, thumb.width, thumb.height), (Format::Png, 50, 50));
        let px = pixels(&thumb).into_rgba8();
        assert_eq!(px.get_pixel(5, 25).0[3], 0);
        assert_eq!(px.get_pixel(45, 25).0, [0, 128, 0, 255]);
        let opaque = RgbaImage::from_pixel(100, 100, Rgba([0, 128, 0, 255]));
        let thumb =
            preview_of(&encoded(&DynamicImage::ImageRgba8(opaque), ImageFormat::Png), IconKind::Image, 50).unwrap();
        assert_eq!(thumb.format, Format::Jpeg);
        assert_eq!(Format::Jpeg.mime(), "image/jpeg");
        assert_eq!(Format::Png.mime(), "image/png");
    }

    /// The CRC-32 of a PNG chunk's type and data.
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }

    /// A PNG declaring `w`×`h` one-bit grey pixels, all black: its data is
    /// zeros (filter byte and pixels), deflated by a chunk of zeros
    /// compressed once with a full flush and repeated (a full flush starts
    /// afresh, so each chunk compresses alike): the test never holds the
    /// inflated image, and compressing gigabytes would take it long.
    fn png_bomb(w: u32, h: u32) -> Vec<u8> {
        use flate2::{Compress, Compression, FlushCompress};
        let chunk = |out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]| {
            out.extend_from_slice(&(data.len() as u32).to_be_bytes());
            let body = [kind.as_slice(), data].concat();
            out.extend_from_slice(&body);
            out.extend_from_slice(&crc32(&body).to_be_bytes());
        };
        let deflated = |zeros: usize, flush| {
            let mut out = Vec::with_capacity(zeros / 100 + 1024);
            Compress::new(Compression::best(), false).compress_vec(&vec![0; zeros], &mut out, flush).unwrap();
            out
        };
        let total = (u64::from(w).div_ceil(8) + 1) * u64::from(h);
        const PART: usize = 1 << 20;
        let part = deflated(PART, FlushCompress::Full);
        let mut zlib = vec![0x78, 0xDA];
        for _ in 0..total / PART as u64 {
            zlib.extend_from_slice(&part);
        }
        zlib.extend_from_slice(&deflated((total % PART as u64) as usize, FlushCompress::Finish));
        // Adler-32 of zeros: the byte sum stays 0 (plus 1), the running sum counts them.
        let adler = ((total % 65_521) as u32) << 16 | 1;
        zlib.extend_from_slice(&adler.to_be_bytes());
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&w.to_be_bytes());
        ihdr.extend_from_slice(&h.to_be_bytes());
        ihdr.extend_from_slice(&[1, 0, 0, 0, 0]); // 1-bit grey
        chunk(&mut png, b"IHDR", &ihdr);
        chunk(&mut png, b"IDAT", &zlib);
        chunk(&mut png, b"IEND", &[]);
        png
    }

    /// The bomb maker makes a valid PNG: a small one decodes, all black.
    #[test]
    fn the_bomb_maker_makes_a_valid_png() {
        let img = image::load_from_memory_with_format(&png_bomb(3000, 2000), ImageFormat::Png).unwrap();
        assert_eq!((img.width(), img.height()), (3000, 2000));
        assert!(img.into_luma8().pixels().all(|p| p.0[0] == 0));
    }

    /// A 60 000 × 60 000 PNG, a few hundred KB (3.6 GB once decoded), is
    /// refused from its header (decoding it would not be `TooLarge`).
    #[test]
    fn a_decompression_bomb_is_refused_from_its_header() {
        let bomb = png_bomb(60_000, 60_000);
        assert!(bomb.len() < 1024 * 1024, "{}", bomb.len());
        let r = preview_of(&bomb, IconKind::Image, 200);
        assert!(matches!(r, Err(RenderError::TooLarge)), "{r:?}");
        // A JPEG header declaring a huge progressive frame is refused too (SOF2, 3 components).
        let jpeg = encoded(&DynamicImage::ImageRgb8(halves(16, 16)), ImageFormat::Jpeg);
        let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        let mut huge = jpeg.clone();
        huge[sof + 1] = 0xC2;
        huge[sof + 5..sof + 9].copy_from_slice(&[0xEA, 0x60, 0xEA, 0x60]); // 60 000 × 60 000
        let r = preview_of(&huge, IconKind::Image, 200);
        assert!(matches!(r, Err(RenderError::TooLarge)), "{r:?}");
    }

    /// Smaller bounds refuse smaller pictures: the limits are the caller's.
    #[test]
    fn limits_are_honoured() {
        let png = encoded(&DynamicImage::ImageRgb8(halves(300, 300)), ImageFormat::Png);
        let tight = Limits { max_side: 200, ..Limits::default() };
        let r = preview(file_with(&png), IconKind::Image, 100, &tight, later());
        assert!(matches!(r, Err(RenderError::TooLarge)), "{r:?}");
        let jpeg = encoded(&DynamicImage::ImageRgb8(halves(300, 300)), ImageFormat::Jpeg);
        let r = preview(file_with(&jpeg), IconKind::Image, 100, &tight, later());
        assert!(matches!(r, Err(RenderError::TooLarge)), "{r:?}");
        let r = preview(file_with(&png), IconKind::Image, 100, &Limits::default(), Instant::now());
        assert!(matches!(r, Err(RenderError::Timeout)), "{r:?}");
    }

    /// Cut-short and corrupt pictures are `Damaged`, never a panic or a half picture.
    #[test]
    fn truncated_and_corrupt_pictures_are_damaged() {
        let img = DynamicImage::ImageRgb8(halves(256, 256));
        for format in FORMATS {
            let bytes = encoded(&img, format);
            for cut in [bytes.len() / 2, 40] {
                let r = preview_of(&bytes[..cut], IconKind::Image, 100);
                assert!(matches!(r, Err(RenderError::Damaged(_))), "{format:?} cut at {cut}: {r:?}");
            }
        }
        // Garbage after a good JPEG start.
        let mut jpeg = encoded(&img, ImageFormat::Jpeg);
        let len = jpeg.len();
        jpeg[len / 3..].iter_mut().for_each(|b| *b = 0xFF);
        let r = preview_of(&jpeg, IconKind::Image, 100);
        assert!(matches!(r, Err(RenderError::Damaged(_))), "{r:?}");
    }

    /// Text, empty files and unknown content have no preview.
    #[test]
    fn text_is_unsupported() {
        for (bytes, hint) in [
            (b"just some words\n".as_slice(), IconKind::Document),
            (b"", IconKind::Image),
            (b"%PDF-1.4 but named like a text", IconKind::Document),
            (b"not a PDF at all", IconKind::Pdf),
        ] {
            let r = preview_of(bytes, hint, 100);
            assert!(matches!(r, Err(RenderError::Unsupported)), "{bytes:?}: {r:?}");
        }
    }

    /// A one-page PDF of 200×100 points whose page draws `content`.
    fn pdf_of(content: &[u8]) -> Vec<u8> {
        let objects = [
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Contents 4 0 R >>".to_vec(),
            [format!("<< /Length {} >>\nstream\n", content.len()).as_bytes(), content, b"\nendstream"].concat(),
        ];
        crate::extract::pdf_of_objects(&objects)
    }

    /// Whether the helper's tests can run; says so when they cannot.
    fn have(program: Program) -> bool {
        let have = external::available(program);
        if !have {
            eprintln!("{} is not installed: its test is skipped", program.name());
        }
        have
    }

    /// Two different PDFs give two different thumbnails, the width asked for,
    /// with the black rectangle where the page has it.
    #[test]
    fn pdf_first_page() {
        let black = pdf_of(b"0 0 0 rg 0 0 100 100 re f");
        let blank = pdf_of(b"");
        if !have(Program::Pdftoppm) {
            assert!(matches!(preview_of(&black, IconKind::Pdf, 100), Err(RenderError::Unsupported)));
            return;
        }
        let a = preview_of(&black, IconKind::Pdf, 100).unwrap();
        let b = preview_of(&blank, IconKind::Pdf, 100).unwrap();
        assert_eq!((a.width, a.height, a.format), (100, 50, Format::Jpeg));
        assert_eq!((b.width, b.height), (100, 50));
        assert_ne!(a.bytes, b.bytes);
        let (pa, pb) = (pixels(&a).into_rgb8(), pixels(&b).into_rgb8());
        assert!(near(pa.get_pixel(20, 25).0, [0, 0, 0], 30), "{:?}", pa.get_pixel(20, 25));
        assert!(near(pa.get_pixel(80, 25).0, [255, 255, 255], 30));
        assert!(near(pb.get_pixel(20, 25).0, [255, 255, 255], 30));
        // Damaged PDFs are reported, not rendered blank.
        let r = preview_of(b"%PDF-1.4 garbage, no objects", IconKind::Pdf, 100);
        assert!(matches!(r, Err(RenderError::Damaged(_))), "{r:?}");
        // The deadline kills pdftoppm.
        let r = preview(
            file_with(&black),
            IconKind::Pdf,
            100,
            &Limits::default(),
            Instant::now() + Duration::from_millis(1),
        );
        assert!(matches!(r, Err(RenderError::Timeout)), "{r:?}");
    }

    /// A very tall page is cut at four widths high.
    #[test]
    fn pdf_tall_page_is_cut() {
        if !have(Program::Pdftoppm) {
            return;
        }
        let mut pdf = pdf_of(b"0 0 0 rg 0 0 10 10 re f");
        let at = pdf.windows(19).position(|w| w == b"/MediaBox [0 0 200 ").unwrap();
        // Same length, so the xref offsets hold: a page 10 points wide and 900 high.
        pdf[at..at + 23].copy_from_slice(b"/MediaBox [0 0 010 900]");
        let thumb = preview_of(&pdf, IconKind::Pdf, 50).unwrap();
        assert_eq!((thumb.width, thumb.height), (50, 200));
    }

    /// A video with its index at the end (seeking needed), a second in, and
    /// a video shorter than a second (its first frame).
    #[test]
    fn video_frame() {
        if !have(Program::Ffmpeg) {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        for (seconds, name) in [("3", "long.mp4"), ("0.3", "short.mp4")] {
            let path = dir.path().join(name);
            let made = std::process::Command::new("ffmpeg")
                .args(["-nostdin", "-loglevel", "error", "-f", "lavfi", "-i"])
                .arg(format!("color=c=red:size=320x240:rate=10:duration={seconds}"))
                .args(["-c:v", "mpeg4", "-f", "mp4", "-y"])
                .arg(&path)
                .status()
                .unwrap();
            assert!(made.success());
            let file = File::open(&path).unwrap();
            let thumb = preview(file, IconKind::Video, 100, &Limits::default(), later()).unwrap();
            assert_eq!((thumb.width, thumb.height, thumb.format), (100, 75, Format::Jpeg), "{name}");
            let px = pixels(&thumb).into_rgb8();
            assert!(near(px.get_pixel(50, 37).0, [255, 0, 0], 50), "{name}: {:?}", px.get_pixel(50, 37));
        }
        // Not a video: ffmpeg refuses it.
        let r = preview_of(b"this is not a video at all, only words", IconKind::Video, 100);
        assert!(matches!(r, Err(RenderError::Damaged(_))), "{r:?}");
    }

    /// The start-up line names both helpers.
    #[test]
    fn helpers_line() {
        let line = helpers().to_string();
        assert!(line.starts_with("pdftoppm: ") && line.contains(", ffmpeg: "), "{line}");
    }

    /// Errors read as short sentences.
    #[test]
    fn errors_read_as_short_sentences() {
        assert_eq!(RenderError::TooLarge.to_string(), "too large to preview within the bounds");
        assert!(RenderError::Damaged("cut short".into()).to_string().ends_with("cut short"));
    }

    /// CMYK becomes RGB: no ink is white, full black ink is black.
    #[test]
    fn cmyk_conversion() {
        assert_eq!(cmyk_to_rgb(&[0, 0, 0, 0, 255, 0, 0, 0, 0, 0, 0, 255]), vec![255, 255, 255, 0, 255, 255, 0, 0, 0]);
    }
}
