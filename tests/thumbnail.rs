//! `/thumbnail` through the real binary: a preview of every image format
//! (made here, an EXIF-rotated JPEG and a transparent PNG among them), of
//! PDFs through pdftoppm and of videos through ffmpeg when present; icons
//! for everything else, for hostile files (a 60 000 × 60 000 PNG bomb, a
//! truncated JPEG) and for folders; the cache (kept per version of the
//! bytes, bounded in bytes); browser caching; and who may ask.

mod common;

use std::io::Cursor;
use std::path::Path;

use common::*;
use image::{DynamicImage, GenericImageView, ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};

/// A picture `w` × `h`: red on the left half, blue on the right.
fn halves(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, _| if x < w / 2 { Rgb([255, 0, 0]) } else { Rgb([0, 0, 255]) })
}

fn encode(img: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

/// `/thumbnail` of `id` at `size` (none: the default).
fn thumb(s: &TestServer, id: &str, size: Option<&str>) -> Response {
    let size = size.map(|n| format!("&size={n}")).unwrap_or_default();
    s.get(&format!("/thumbnail?id={}{size}", enc(id)))
}

/// The answer as a picture, checked to be the image type it says it is.
fn picture(r: &Response) -> DynamicImage {
    assert_eq!(r.status, 200, "{}", r.text());
    let format = match r.header("Content-Type") {
        Some("image/jpeg") => ImageFormat::Jpeg,
        Some("image/png") => ImageFormat::Png,
        other => panic!("not a thumbnail type: {other:?}"),
    };
    image::load_from_memory_with_format(&r.body, format).expect("the thumbnail decodes as its type")
}

/// True when the pixel is close to `want`: JPEG moves colours a little.
fn near(p: Rgba<u8>, want: [u8; 3]) -> bool {
    p.0[..3].iter().zip(want).all(|(a, b)| a.abs_diff(b) < 60)
}

#[test]
fn every_image_format_is_previewed_at_the_width_asked() {
    let s = TestServer::start(&[]);
    let img = DynamicImage::ImageRgb8(halves(400, 200));
    let formats = [
        ("photo.jpg", ImageFormat::Jpeg),
        ("drawing.png", ImageFormat::Png),
        ("anim.gif", ImageFormat::Gif),
        ("web.webp", ImageFormat::WebP),
        ("old.bmp", ImageFormat::Bmp),
        ("scan.tiff", ImageFormat::Tiff),
    ];
    for (name, format) in formats {
        let id = s.put_file("/", name, &encode(&img, format), None);
        let small = picture(&thumb(&s, &id, Some("64")));
        assert_eq!(small.dimensions(), (64, 32), "{name}");
        assert!(near(small.get_pixel(8, 16), [255, 0, 0]) && near(small.get_pixel(56, 16), [0, 0, 255]), "{name}");
        // Adobe's default width.
        assert_eq!(picture(&thumb(&s, &id, None)).dimensions(), (200, 100), "{name}");
    }
    // A picture narrower than asked keeps its size; widths are clamped.
    let tiny = s.put_file("/", "tiny.png", &encode(&DynamicImage::ImageRgb8(halves(20, 10)), ImageFormat::Png), None);
    assert_eq!(picture(&thumb(&s, &tiny, Some("200"))).dimensions(), (20, 10));
    let big = s.put_file("/", "big.png", &encode(&img, ImageFormat::Png), None);
    assert_eq!(picture(&thumb(&s, &big, Some("1"))).width(), 16);
    // Only the first frame of an animation, and a name does not decide:
    // a PNG named .jpg is read as the PNG it is.
    let misnamed = s.put_file("/", "really-a-png.jpg", &encode(&img, ImageFormat::Png), None);
    assert_eq!(picture(&thumb(&s, &misnamed, Some("64"))).dimensions(), (64, 32));
}

/// A JPEG of `img` carrying EXIF orientation `orientation`.
fn jpeg_with_orientation(img: &RgbImage, orientation: u16) -> Vec<u8> {
    let plain = encode(&DynamicImage::ImageRgb8(img.clone()), ImageFormat::Jpeg);
    // TIFF header (little-endian), one IFD entry: Orientation, SHORT, 1.
    let mut tiff = b"II*\0\x08\0\0\0\x01\0".to_vec();
    tiff.extend_from_slice(&0x0112u16.to_le_bytes());
    tiff.extend_from_slice(&3u16.to_le_bytes());
    tiff.extend_from_slice(&1u32.to_le_bytes());
    tiff.extend_from_slice(&orientation.to_le_bytes());
    tiff.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = plain[..2].to_vec();
    out.extend_from_slice(&[0xff, 0xe1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&plain[2..]);
    out
}

#[test]
fn exif_orientation_turns_the_picture_upright() {
    let s = TestServer::start(&[]);
    // Taken sideways: the camera says "turn 90° clockwise to view" (6).
    let id = s.put_file("/", "sideways.jpg", &jpeg_with_orientation(&halves(80, 40), 6), None);
    let t = picture(&thumb(&s, &id, Some("40")));
    assert_eq!(t.dimensions(), (40, 80), "portrait once turned");
    // The left half (red) is now on top.
    assert!(near(t.get_pixel(20, 10), [255, 0, 0]), "{:?}", t.get_pixel(20, 10));
    assert!(near(t.get_pixel(20, 70), [0, 0, 255]), "{:?}", t.get_pixel(20, 70));
    // The same picture without the tag stays as it is.
    let plain = s.put_file("/", "plain.jpg", &jpeg_with_orientation(&halves(80, 40), 1), None);
    assert_eq!(picture(&thumb(&s, &plain, Some("40"))).dimensions(), (40, 20));
}

#[test]
fn transparency_gives_a_png_and_opaque_pictures_a_jpeg() {
    let s = TestServer::start(&[]);
    let see_through = RgbaImage::from_fn(100, 100, |x, _| Rgba([0, 128, 0, if x < 50 { 0 } else { 255 }]));
    let id = s.put_file("/", "logo.png", &encode(&DynamicImage::ImageRgba8(see_through), ImageFormat::Png), None);
    let r = thumb(&s, &id, Some("50"));
    assert_eq!(r.header("Content-Type"), Some("image/png"));
    let t = picture(&r);
    assert_eq!(t.get_pixel(5, 25).0[3], 0, "the transparent half stays transparent");
    assert_eq!(t.get_pixel(45, 25).0[3], 255);
    // An alpha channel that is opaque everywhere is a photo: JPEG.
    let opaque = RgbaImage::from_pixel(100, 100, Rgba([0, 128, 0, 255]));
    let id = s.put_file("/", "opaque.png", &encode(&DynamicImage::ImageRgba8(opaque), ImageFormat::Png), None);
    assert_eq!(thumb(&s, &id, Some("50")).header("Content-Type"), Some("image/jpeg"));
}

/// A one-page PDF whose page content is `content`, with a right xref.
fn pdf(content: &str) -> Vec<u8> {
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Contents 4 0 R >>".to_string(),
        format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()),
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    let trailer = format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1);
    out.extend_from_slice(trailer.as_bytes());
    out
}

#[test]
fn pdfs_show_their_first_page() {
    if tools_or_skip(&["pdftoppm"]).is_none() {
        return;
    }
    let s = TestServer::start(&[]);
    let black = s.put_file("/", "black.pdf", &pdf("0 0 0 rg 0 0 100 100 re f"), None);
    let red = s.put_file("/", "red.pdf", &pdf("1 0 0 rg 100 0 100 100 re f"), None);
    let b = picture(&thumb(&s, &black, Some("100")));
    let r = picture(&thumb(&s, &red, Some("100")));
    assert_eq!((b.dimensions(), r.dimensions()), ((100, 50), (100, 50)), "the page's shape");
    assert!(near(b.get_pixel(20, 25), [0, 0, 0]) && near(b.get_pixel(80, 25), [255, 255, 255]));
    assert!(near(r.get_pixel(20, 25), [255, 255, 255]) && near(r.get_pixel(80, 25), [255, 0, 0]));
    // Not a PDF inside: its icon, never pdftoppm's error.
    let fake = s.put_file("/", "fake.pdf", b"hello", None);
    assert_eq!(picture(&thumb(&s, &fake, Some("100"))).width(), 100);
    assert_eq!(thumb(&s, &fake, Some("100")).header("Content-Type"), Some("image/png"));
}

/// An MP4 of one second, a red then a blue half, made by ffmpeg itself.
fn video(ffmpeg: &Path, dir: &Path) -> Vec<u8> {
    let out = dir.join("clip.mp4");
    let status = std::process::Command::new(ffmpeg)
        .args(["-loglevel", "error", "-y", "-f", "lavfi", "-i", "color=c=red:s=160x90:d=1", "-pix_fmt", "yuv420p"])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::read(out).unwrap()
}

#[test]
fn videos_show_a_frame_when_ffmpeg_is_there_and_their_icon_otherwise() {
    let s = TestServer::start(&[]);
    let ffmpeg = which("ffmpeg");
    let Some(ffmpeg) = ffmpeg else {
        // Optional: without it a video is its icon, not an error.
        let id = s.put_file("/", "clip.mp4", b"\0\0\0\x18ftypmp42", None);
        let t = picture(&thumb(&s, &id, Some("64")));
        assert_eq!(t.width(), 64);
        say("ffmpeg absent: checked the video icon only");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let id = s.put_file("/", "clip.mp4", &video(&ffmpeg, dir.path()), None);
    let t = picture(&thumb(&s, &id, Some("80")));
    assert_eq!(t.dimensions(), (80, 45));
    assert!(near(t.get_pixel(40, 22), [255, 0, 0]), "{:?}", t.get_pixel(40, 22));
}

fn which(tool: &str) -> Option<std::path::PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join(tool)).find(|p| p.is_file())
}

#[test]
fn text_files_and_folders_get_their_icons() {
    let s = TestServer::start(&[]);
    let text = s.put_file("/", "notes.txt", b"plain words", None);
    let folder = s.mkdir("/", "Projects");
    let sheet = s.put_file("/", "budget.xlsx", b"not really a workbook", None);
    let mut seen = Vec::new();
    for id in [text.as_str(), folder.as_str(), "/", sheet.as_str()] {
        let r = thumb(&s, id, Some("48"));
        assert_eq!(r.header("Content-Type"), Some("image/png"), "{id}");
        assert_eq!(picture(&r).width(), 48, "{id}");
        seen.push(r.body);
    }
    assert_ne!(seen[0], seen[1], "a document and a folder look different");
    assert_eq!(seen[1], seen[2], "every folder has the folder icon");
    assert_ne!(seen[0], seen[3], "a spreadsheet is not a document");
    // Drawn at the size asked, not scaled from a small one.
    assert_eq!(picture(&thumb(&s, &folder, Some("2048"))).width(), 2048);
}

/// A PNG of 60 000 × 60 000 one-bit pixels, all black: some 450 MB of
/// pixel rows that deflate to a few hundred KB (3.6 GB once decoded to
/// 8 bits). Built from one compressed block of 1 000 zero rows, repeated:
/// each ends on a byte boundary (a full flush) and refers only to itself.
fn png_bomb() -> Vec<u8> {
    use flate2::{Compress, Compression, FlushCompress};
    const SIDE: u32 = 60_000;
    let row = 1 + SIDE as usize / 8;
    let rows_per_block = 1000;
    let mut block = Vec::with_capacity(64 * 1024);
    let mut z = Compress::new(Compression::best(), false);
    z.compress_vec(&vec![0u8; row * rows_per_block], &mut block, FlushCompress::Full).unwrap();
    assert_eq!(z.total_in() as usize, row * rows_per_block, "one call took the whole block");
    let mut zlib = vec![0x78, 0xda];
    for _ in 0..SIDE as usize / rows_per_block {
        zlib.extend_from_slice(&block);
    }
    // The last block: fixed Huffman, final, only its end.
    zlib.extend_from_slice(&[0x03, 0x00]);
    // Adler-32 of n zero bytes: a = 1, b = n mod 65521.
    let n = (row as u64) * u64::from(SIDE);
    zlib.extend_from_slice(&(((n % 65521) << 16 | 1) as u32).to_be_bytes());
    let chunk = |kind: &[u8], data: &[u8], out: &mut Vec<u8>| {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        out.extend_from_slice(&crc.sum().to_be_bytes());
    };
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = SIDE.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&SIDE.to_be_bytes());
    ihdr.extend_from_slice(&[1, 0, 0, 0, 0]);
    chunk(b"IHDR", &ihdr, &mut png);
    for part in zlib.chunks(1 << 20) {
        chunk(b"IDAT", part, &mut png);
    }
    chunk(b"IEND", &[], &mut png);
    png
}

/// A lossless (SOF3) JPEG of 59 bytes declaring `side` × `side` × 3: its
/// decoder allocates the whole frame before reading a bit of it (found by
/// review: 65 535² aborted the server on a failed 8 GB allocation).
fn lossless_jpeg(side: u16) -> Vec<u8> {
    let mut j = vec![0xFF, 0xD8];
    // A Huffman table with one code: every difference is 0.
    j.extend_from_slice(&[0xFF, 0xC4, 0x00, 20, 0x00, 1]);
    j.extend_from_slice(&[0; 15]);
    j.push(0);
    j.extend_from_slice(&[0xFF, 0xC3, 0, 17, 8]);
    j.extend_from_slice(&side.to_be_bytes());
    j.extend_from_slice(&side.to_be_bytes());
    j.push(3);
    for c in 1..=3 {
        j.extend_from_slice(&[c, 0x11, 0]);
    }
    j.extend_from_slice(&[0xFF, 0xDA, 0, 12, 3, 1, 0, 2, 0, 3, 0, 1, 0, 0]);
    j.extend_from_slice(&[0xFF, 0xD9]);
    j
}

/// A TIFF declaring 16 × 16 whose one strip is a JPEG declaring `side` ×
/// `side` (found by review: the strip's frame, not the TIFF's, is decoded).
fn tiff_with_a_large_jpeg_strip(side: u16) -> Vec<u8> {
    let grey = DynamicImage::ImageLuma8(image::GrayImage::from_pixel(16, 16, image::Luma([128])));
    let mut jpeg = encode(&grey, ImageFormat::Jpeg);
    let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    jpeg[sof + 5..sof + 7].copy_from_slice(&side.to_be_bytes());
    jpeg[sof + 7..sof + 9].copy_from_slice(&side.to_be_bytes());
    // Width, height, bits, compression 7 (JPEG), grey, strip offset,
    // samples, rows per strip, strip length.
    let entries: [(u16, u16, u32); 9] = [
        (256, 3, 16),
        (257, 3, 16),
        (258, 3, 8),
        (259, 3, 7),
        (262, 3, 1),
        (273, 4, 0),
        (277, 3, 1),
        (278, 3, 16),
        (279, 4, jpeg.len() as u32),
    ];
    let data_at = 8 + 2 + entries.len() as u32 * 12 + 4;
    let mut t = b"II*\0\x08\0\0\0".to_vec();
    t.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    for (tag, kind, value) in entries {
        let value = if tag == 273 { data_at } else { value };
        t.extend_from_slice(&tag.to_le_bytes());
        t.extend_from_slice(&kind.to_le_bytes());
        t.extend_from_slice(&1u32.to_le_bytes());
        t.extend_from_slice(&value.to_le_bytes());
    }
    t.extend_from_slice(&[0; 4]);
    t.extend_from_slice(&jpeg);
    t
}

/// The highest RSS the server process has had, in KiB.
fn peak_kib(s: &TestServer) -> u64 {
    proc_status(s.pid(), "VmHWM:").expect("the server's VmHWM")
}

#[test]
fn hostile_pictures_get_an_icon_and_leave_the_server_well() {
    let s = TestServer::start(&[]);
    wait_for("the thumbnail line of the start-up log", || s.stderr().contains("thumbnails: "));
    assert!(s.stderr().contains("rendered each in a process of its own"), "{}", s.stderr());
    let bomb = png_bomb();
    assert!(bomb.len() < 4 << 20, "{} bytes", bomb.len());
    let before = peak_kib(&s);
    // Each refused for what it is, not for want of time: its icon is kept
    // (a tag), so the file costs one attempt.
    for (name, bytes) in
        [("bomb.png", bomb), ("lossless.jpg", lossless_jpeg(65_535)), ("lossless-small.jpg", lossless_jpeg(10_000))]
    {
        let id = s.put_file("/", name, &bytes, None);
        let r = thumb(&s, &id, Some("200"));
        assert_eq!(r.header("Content-Type"), Some("image/png"), "{name}: the image icon");
        assert_eq!(picture(&r).width(), 200, "{name}");
        assert!(r.header("ETag").is_some(), "{name}: refused, not left for later: {:?}", r.headers);
    }
    let after = peak_kib(&s);
    assert!(after < before + 300 * 1024, "the server's peak RSS went from {before} KiB to {after} KiB");
    // A JPEG cut in the middle: an icon, not a half-drawn picture or a 500.
    let whole = encode(&DynamicImage::ImageRgb8(halves(400, 300)), ImageFormat::Jpeg);
    let cut = s.put_file("/", "cut.jpg", &whole[..whole.len() / 2], None);
    let r = thumb(&s, &cut, Some("100"));
    assert_eq!((r.status, r.header("Content-Type")), (200, Some("image/png")));
    // Random bytes under a picture's name, and an empty file.
    let noise: Vec<u8> = (0..5000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    for (name, bytes) in [("noise.png", noise.as_slice()), ("empty.jpg", &[][..])] {
        let id = s.put_file("/", name, bytes, None);
        assert_eq!(thumb(&s, &id, Some("64")).header("Content-Type"), Some("image/png"), "{name}");
    }
    // …and the server still answers everything else.
    assert_eq!(s.get("/serviceInfo").status, 200);
    let fine = s.put_file("/", "fine.png", &encode(&DynamicImage::ImageRgb8(halves(40, 20)), ImageFormat::Png), None);
    assert_eq!(picture(&thumb(&s, &fine, Some("40"))).dimensions(), (40, 20));
}

/// Whether a child of the server is rendering a thumbnail now.
fn rendering(server: u32) -> bool {
    let Ok(procs) = std::fs::read_dir("/proc") else { return false };
    procs.flatten().any(|p| {
        let cmdline = std::fs::read(p.path().join("cmdline")).unwrap_or_default();
        let stat = std::fs::read_to_string(p.path().join("stat")).unwrap_or_default();
        // The parent is the fourth field, after the name in parentheses.
        let parent = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok());
        parent == Some(server) && cmdline.split(|&b| b == 0).any(|a| a == b"render-thumbnail")
    })
}

#[test]
fn slow_previews_never_hold_every_worker() {
    // Two workers: one may wait for a preview, the other stays free.
    let s = TestServer::start(&["--workers", "2"]);
    let slow: Vec<String> = (0..3)
        .map(|i| s.put_file("/", &format!("slow-{i}.tiff"), &tiff_with_a_large_jpeg_strip(16_384), None))
        .collect();
    let started = std::time::Instant::now();
    let looks: Vec<_> = slow
        .iter()
        .map(|id| {
            let (api, target) = ((*s).clone(), format!("/thumbnail?id={}&size=64", enc(id)));
            std::thread::spawn(move || (api.get(&target), started.elapsed()))
        })
        .collect();
    // While they run, the API answers: before any slow preview is done.
    wait_for("a preview under way", || rendering(s.pid()));
    let info = s.get("/serviceInfo");
    let answered = started.elapsed();
    assert_eq!(info.status, 200);
    let looks: Vec<_> = looks.into_iter().map(|t| t.join().unwrap()).collect();
    for (r, _) in &looks {
        assert_eq!((r.status, r.header("Content-Type")), (200, Some("image/png")), "an icon, whatever happened");
    }
    // Those that found the waiting place taken got the icon at once, not kept.
    assert!(looks.iter().any(|(r, _)| r.header("Cache-Control") == Some("no-store")), "someone was turned away");
    let slowest = looks.iter().map(|(_, t)| *t).max().unwrap();
    assert!(answered < slowest, "serviceInfo ({answered:?}) waited for the previews ({slowest:?})");
}

#[test]
fn a_new_version_gets_a_new_thumbnail() {
    let s = TestServer::start(&[]);
    let red = encode(&DynamicImage::ImageRgb8(RgbImage::from_pixel(64, 64, Rgb([255, 0, 0]))), ImageFormat::Png);
    // Sizes differ too, so that no coarse clock can leave two versions alike.
    let blue = encode(&DynamicImage::ImageRgb8(RgbImage::from_pixel(64, 72, Rgb([0, 0, 255]))), ImageFormat::Png);
    let green = encode(&DynamicImage::ImageRgb8(RgbImage::from_pixel(64, 80, Rgb([0, 255, 0]))), ImageFormat::Png);
    let id = s.put_file("/", "swatch.png", &red, None);
    let first = thumb(&s, &id, Some("32"));
    assert!(near(picture(&first).get_pixel(16, 16), [255, 0, 0]));
    // Answered again from the cache: the same bytes.
    assert_eq!(thumb(&s, &id, Some("32")).body, first.body);
    // An upload through Workfront…
    assert_eq!(s.upload(&id, &blue).status, 200);
    assert!(near(picture(&thumb(&s, &id, Some("32"))).get_pixel(16, 16), [0, 0, 255]));
    // …and a change made beside wfhook, without any notification.
    std::fs::write(s.root.join("swatch.png"), &green).unwrap();
    assert!(near(picture(&thumb(&s, &id, Some("32"))).get_pixel(16, 16), [0, 255, 0]));
}

/// The bytes and number of the entries in a root's thumbnail cache.
fn cache_use(root: &Path) -> (u64, usize) {
    let dir = root.join(".wfhook/thumbnails");
    let sizes: Vec<u64> = std::fs::read_dir(dir)
        .map(|d| d.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).collect())
        .unwrap_or_default();
    (sizes.iter().sum(), sizes.len())
}

#[test]
fn the_cache_holds_its_byte_bound() {
    const BOUND: u64 = 40_000;
    let s = TestServer::start(&["--thumbnail-cache-bytes", &BOUND.to_string()]);
    let mut largest = 0;
    for i in 0..30u32 {
        // Noisy pictures, so that each thumbnail is a few KB.
        let img = RgbImage::from_fn(300, 200, |x, y| {
            let v = (x * 31 + y * 17 + i * 101).wrapping_mul(2_654_435_761) >> 24;
            Rgb([v as u8, (v >> 3) as u8, i as u8 * 8])
        });
        let id =
            s.put_file("/", &format!("noise-{i}.png"), &encode(&DynamicImage::ImageRgb8(img), ImageFormat::Png), None);
        let r = thumb(&s, &id, Some("200"));
        assert_eq!(r.status, 200);
        largest = largest.max(r.body.len() as u64);
        let (bytes, _) = cache_use(&s.root);
        assert!(bytes <= BOUND, "{bytes} bytes cached after {i} thumbnails");
    }
    let (bytes, entries) = cache_use(&s.root);
    assert!(30 * largest > BOUND, "the thumbnails ({largest} bytes at most) would overflow the bound");
    assert!(entries < 30 && bytes > BOUND / 2, "{entries} entries, {bytes} bytes: evicted, and still in use");
    // With no cache, nothing is kept, and thumbnails still work.
    let none = TestServer::start(&["--thumbnail-cache-bytes", "0"]);
    let id = none.put_file("/", "a.png", &encode(&DynamicImage::ImageRgb8(halves(40, 20)), ImageFormat::Png), None);
    assert_eq!(picture(&thumb(&none, &id, Some("20"))).dimensions(), (20, 10));
    assert_eq!(cache_use(&none.root), (0, 0));
}

#[test]
fn browsers_keep_thumbnails_privately_and_revalidate_them() {
    let s = TestServer::start(&[]);
    let id = s.put_file("/", "a.png", &encode(&DynamicImage::ImageRgb8(halves(40, 20)), ImageFormat::Png), None);
    let target = format!("/thumbnail?id={}&size=20", enc(&id));
    let first = s.call_with("GET", &target, &[], b"");
    assert_eq!(first.header("Cache-Control"), Some("private, no-cache"));
    let etag = first.header("ETag").expect("an ETag").to_string();
    let again = s.call_with("GET", &target, &[("If-None-Match", &etag)], b"");
    assert_eq!((again.status, again.body.len()), (304, 0));
    assert_eq!(again.header("ETag"), Some(etag.as_str()));
    assert_eq!(again.header("Cache-Control"), Some("private, no-cache"));
    // Another width is another thumbnail.
    let wider = s.call_with("GET", &format!("/thumbnail?id={}&size=30", enc(&id)), &[("If-None-Match", &etag)], b"");
    assert_eq!(wider.status, 200);
    // HEAD: the head only.
    let head = s.call_with("HEAD", &target, &[], b"");
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(head.header("Content-Length").map(str::to_string), Some(first.body.len().to_string()));
    // One range of a kept thumbnail, as of a file; past its end, 416.
    let len = first.body.len();
    let part = s.call_with("GET", &target, &[("Range", "bytes=0-7")], b"");
    assert_eq!((part.status, part.body.as_slice()), (206, &first.body[..8]));
    assert_eq!(part.header("Content-Range").map(str::to_string), Some(format!("bytes 0-7/{len}")));
    assert_eq!(first.header("Accept-Ranges"), Some("bytes"));
    let tail = s.call_with("GET", &target, &[("Range", "bytes=-4"), ("If-Range", &etag)], b"");
    assert_eq!((tail.status, tail.body.as_slice()), (206, &first.body[len - 4..]));
    let other = s.call_with("GET", &target, &[("Range", "bytes=0-7"), ("If-Range", "\"old\"")], b"");
    assert_eq!((other.status, other.body.len()), (200, len));
    let past = s.call_with("GET", &target, &[("Range", &format!("bytes={len}-"))], b"");
    assert_eq!(past.status, 416);
    assert_eq!(past.header("Content-Range").map(str::to_string), Some(format!("bytes */{len}")));
    // A new version: the old tag is not current.
    assert_eq!(s.upload(&id, &encode(&DynamicImage::ImageRgb8(halves(60, 20)), ImageFormat::Png)).status, 200);
    assert_eq!(s.call_with("GET", &target, &[("If-None-Match", &etag)], b"").status, 200);
}

#[test]
fn thumbnails_need_a_key_or_a_signed_link_and_a_real_width() {
    let s = TestServer::start(&[]);
    let id = s.put_file("/", "a.png", &encode(&DynamicImage::ImageRgb8(halves(40, 20)), ImageFormat::Png), None);
    let target = format!("/thumbnail?id={}", enc(&id));
    request(s.addr, "GET", &target, &[], b"").assert_error(403, "error");
    request(s.addr, "GET", &target, &[("apiKey", "wrong"), ("username", "x")], b"").assert_error(403, "error");
    // A link signed for another endpoint does not open this one.
    let view = s.view_link(&id);
    let forged = view.replacen("/view?", "/thumbnail?", 1);
    s.fetch_link(&forged).assert_error(403, "error");
    // One signed for it does, whatever width it asks.
    let signer = s.signer();
    let expires = (std::time::SystemTime::now() + std::time::Duration::from_secs(600))
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let sig = signer.sign(&["thumbnail", &id, &expires]);
    let link = format!("http://{}/thumbnail?id={}&expires={expires}&sig={sig}&size=30", s.addr, enc(&id));
    assert_eq!(picture(&s.fetch_link(&link)).width(), 30);
    // Bad input: a clear 4xx.
    for size in ["abc", "-5", "1.5"] {
        let r = thumb(&s, &id, Some(size));
        r.assert_error(400, "error");
        assert!(r.error().contains("size"), "{}", r.error());
    }
    thumb(&s, "../../etc/passwd", None).assert_error(404, "error");
    thumb(&s, "0123456789abcdef0123456789abcdef", None).assert_error(404, "error");
    s.get("/thumbnail").assert_error(400, "error");
    // And Workfront is told it exists.
    let info = s.get_json("/serviceInfo");
    assert!(info["availableEndpoints"].as_array().unwrap().iter().any(|e| e == "thumbnail"), "{info}");
}
