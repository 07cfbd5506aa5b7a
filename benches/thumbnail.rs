//! What a thumbnail costs, each against a baseline of the same run:
//!
//! - **cold**: `/thumbnail` of a 12-megapixel JPEG at 200 px, rendered
//!   each time (a server with no cache), over loopback, against
//!   ImageMagick's `convert -thumbnail 200x` of the same file (Debian's
//!   `imagemagick`, installed when missing); calls alternate. Goal: faster
//!   than ImageMagick.
//! - **cached**: `/thumbnail` of 100 pictures already rendered, under wrk,
//!   against `/metadata` of the same items under the same load; runs
//!   alternate. Goal: at least 0.8 of metadata's throughput.
//!
//! `cargo bench --bench thumbnail`; environment: BENCH_ROUNDS (15, cold
//! calls of each), BENCH_SECS (5, seconds per wrk run).

mod common;

use std::io::Cursor;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use common::client::request;
use common::{ensure_tool, env_num, free_port, median, wait_for_listener, wrk};

const KEY: &str = "bench-key";
const USER: &str = "bench@example.com";

struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(root: &Path, cache_bytes: &str) -> Server {
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_wfhook"))
        .args(["serve", "--listen", &addr.to_string(), "--admin-listen", "off", "--index-dir", "off"])
        .args(["--thumbnail-cache-bytes", cache_bytes, "--root"])
        .arg(root)
        .env("WFHOOK_API_KEY", KEY)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_listener(addr);
    Server { child, addr }
}

fn get(addr: SocketAddr, target: &str) -> common::client::Response {
    request(addr, "GET", target, &[("apiKey", KEY), ("username", USER)], b"")
}

/// A photo-like 4000 × 3000 picture: gradients and noise, as a camera's
/// JPEG at quality 90 would hold (some 3–6 MB).
fn photo() -> Vec<u8> {
    let img = image::RgbImage::from_fn(4000, 3000, |x, y| {
        let n = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(2_246_822_519)) >> 27;
        image::Rgb([(x / 16) as u8 ^ n as u8, (y / 12) as u8, ((x + y) / 28) as u8 + n as u8])
    });
    let mut out = Cursor::new(Vec::new());
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90).encode_image(&img).unwrap();
    out.into_inner()
}

/// Round `i` of a subject and its baseline: each goes first every other
/// round, so that neither always runs on a machine the other just warmed.
fn alternately(i: u64, a: &mut dyn FnMut(), b: &mut dyn FnMut()) {
    if i.is_multiple_of(2) {
        a();
        b();
    } else {
        b();
        a();
    }
}

/// Microseconds of one call of `f`.
fn time(f: impl FnOnce()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64() * 1e6
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let rounds = env_num("BENCH_ROUNDS", 15);
    let secs = env_num("BENCH_SECS", 5);
    let have_convert = ensure_tool("convert", "-version", "imagemagick")
        && Command::new("convert")
            .arg("-version")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("ImageMagick"));
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let jpeg = photo();
    std::fs::write(root.join("photo.jpg"), &jpeg).unwrap();

    // Cold: no cache, so every call decodes, scales and encodes.
    let cold = serve(&root, "0");
    let listing = get(cold.addr, "/files?parentId=%2F").ok_json();
    let id = listing[0]["id"].as_str().unwrap().to_string();
    let target = format!("/thumbnail?id={id}&size=200");
    let first = get(cold.addr, &target);
    assert_eq!(first.header("Content-Type"), Some("image/jpeg"), "a preview, not an icon");
    let out = tmp.path().join("convert.jpg");
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for i in 0..rounds {
        let mut wfhook = || ours.push(time(|| assert_eq!(get(cold.addr, &target).status, 200)));
        let mut magick = || {
            if have_convert {
                theirs.push(time(|| {
                    let ok = Command::new("convert")
                        .arg(root.join("photo.jpg"))
                        .args(["-thumbnail", "200x"])
                        .arg(&out)
                        .status()
                        .is_ok_and(|s| s.success());
                    assert!(ok, "convert failed");
                }));
            }
        };
        alternately(i, &mut wfhook, &mut magick);
    }
    drop(cold);
    println!(
        "thumbnail: a {:.1} MB 4000x3000 JPEG at 200 px wide, median of {rounds} calls, calls alternating",
        jpeg.len() as f64 / 1e6
    );
    let ours = median(ours);
    if have_convert {
        let theirs = median(theirs);
        println!("  convert -thumbnail 200x (ImageMagick)      {:>9.1} ms  (baseline)", theirs / 1e3);
        println!("  /thumbnail, cold (no cache), over loopback {:>9.1} ms  ratio {:.2}", ours / 1e3, ours / theirs);
        println!("  goal: faster than ImageMagick (ratio below 1): {}", if ours < theirs { "met" } else { "MISSED" });
    } else {
        println!("  /thumbnail, cold (no cache), over loopback {:>9.1} ms  (ImageMagick not available)", ours / 1e3);
    }

    // Cached against metadata: 100 small pictures, thumbnails made once.
    for i in 0..100u32 {
        let img = image::RgbImage::from_fn(640, 480, |x, y| image::Rgb([(x + i) as u8, (y + i) as u8, i as u8]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
        std::fs::write(root.join(format!("p{i:03}.jpg")), out.into_inner()).unwrap();
    }
    let warm = serve(&root, "268435456");
    let items = get(warm.addr, "/files?parentId=%2F").ok_json();
    let ids: Vec<String> = items.as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_string()).collect();
    for id in &ids {
        assert_eq!(get(warm.addr, &format!("/thumbnail?id={id}&size=200")).status, 200);
    }
    if !ensure_tool("wrk", "--version", "wrk") {
        println!("  wrk is not available: no throughput figures");
        return;
    }
    // wrk asks one URL: the item in the middle of the folder, for both.
    let one = &ids[ids.len() / 2];
    let base = format!("http://{}", warm.addr);
    let headers = [("apiKey", KEY), ("username", USER)];
    let (mut thumbs, mut metas) = (Vec::new(), Vec::new());
    for i in 0..3 {
        let mut t = || thumbs.push(wrk(&format!("{base}/thumbnail?id={one}&size=200"), &headers, 8, 2, secs));
        let mut m = || metas.push(wrk(&format!("{base}/metadata?id={one}"), &headers, 8, 2, secs));
        alternately(i, &mut t, &mut m);
    }
    assert!(thumbs.iter().chain(&metas).all(|w| w.bad == 0), "a run had errors");
    let rps = |w: &[common::Wrk]| median(w.iter().map(|w| w.rps).collect());
    let (t, m) = (rps(&thumbs), rps(&metas));
    println!("  /metadata under wrk (8 connections)        {m:>9.0} req/s  (baseline)");
    println!("  /thumbnail, cached, the same load          {t:>9.0} req/s  ratio {:.2}", t / m);
    println!("  goal: at least 0.8 of metadata's throughput: {}", if t >= 0.8 * m { "met" } else { "MISSED" });
}
