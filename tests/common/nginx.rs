//! nginx in front of test servers, as an operator runs it, but from a
//! temporary prefix of its own: its own main file, logs and temp folders,
//! one process (no master, not a daemon) so that nothing outlives the test,
//! killed when dropped. [`Nginx::start`] runs any site (tests/deploy.rs
//! runs the shipped one); [`Nginx::round_robin`] spreads plain HTTP over
//! several instances and logs which one answered each request.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::tools::free_port;
use super::wait::poll;

/// The log of [`Nginx::round_robin`]: one line per request, `UPSTREAM
/// STATUS METHOD TARGET`.
const PASSED_LOG: &str = "upstreams.log";

/// nginx running from a temporary prefix; killed on drop.
pub struct Nginx {
    child: Child,
    dir: PathBuf,
    /// Where it listens (the port [`Nginx::start`] waited for).
    pub addr: SocketAddr,
}

/// One request as [`Nginx::round_robin`] logged it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Passed {
    /// The instance that answered (`-` for none, `A, B` when nginx tried several).
    pub upstream: String,
    pub status: u16,
    pub method: String,
    pub target: String,
}

impl Nginx {
    /// nginx serving `site` (the `upstream` and `server` blocks of an
    /// `http {}`) from the prefix `dir`, once it listens on `port` of
    /// 127.0.0.1. The site must pass `nginx -t` without a single warning.
    pub fn start(nginx: &Path, dir: &Path, site: &str, port: u16) -> Nginx {
        Nginx::try_start(nginx, dir, site, port)
            .unwrap_or_else(|log| panic!("nginx exited before it listened on {port}:\n{log}"))
    }

    /// [`Nginx::start`], or nginx's log when it exited before it listened
    /// (such as when another test took the port meanwhile).
    fn try_start(nginx: &Path, dir: &Path, site: &str, port: u16) -> Result<Nginx, String> {
        std::fs::create_dir_all(dir).expect("nginx's prefix");
        for log in ["error.log", "stderr.log"] {
            let _ = std::fs::remove_file(dir.join(log));
        }
        std::fs::write(dir.join("wfhook.conf"), site).expect("write the site");
        // The main file a distribution would have, with every path in `dir`.
        let d = dir.display();
        let main = format!(
            "master_process off;\n\
             pid \"{d}/nginx.pid\";\n\
             error_log \"{d}/error.log\" warn;\n\
             events {{ worker_connections 512; }}\n\
             http {{\n\
             \x20   access_log \"{d}/access.log\";\n\
             \x20   client_body_temp_path \"{d}/client_body\";\n\
             \x20   proxy_temp_path \"{d}/proxy\";\n\
             \x20   fastcgi_temp_path \"{d}/fastcgi\";\n\
             \x20   uwsgi_temp_path \"{d}/uwsgi\";\n\
             \x20   scgi_temp_path \"{d}/scgi\";\n\
             \x20   include \"{d}/wfhook.conf\";\n\
             }}\n"
        );
        std::fs::write(dir.join("nginx.conf"), main).expect("write nginx.conf");
        let command = |test: bool| {
            let mut cmd = Command::new(nginx);
            cmd.arg("-p").arg(dir).arg("-e").arg(dir.join("error.log")).arg("-c").arg(dir.join("nginx.conf"));
            if test {
                cmd.arg("-t");
            } else {
                cmd.args(["-g", "daemon off;"]);
            }
            cmd.stdin(Stdio::null());
            cmd
        };

        // The site must load without a single warning.
        let checked = command(true).output().expect("run nginx -t");
        let said = String::from_utf8_lossy(&checked.stderr).into_owned();
        assert!(checked.status.success(), "nginx -t refused the site:\n{said}");
        assert!(!["[warn]", "[emerg]", "[alert]", "[crit]"].iter().any(|l| said.contains(l)), "nginx -t:\n{said}");

        let child = command(false)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("stderr.log")).expect("nginx's stderr file"))
            .spawn()
            .expect("start nginx");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut proxy = Nginx { child, dir: dir.to_path_buf(), addr };
        let listening = poll(|| {
            if let Ok(Some(status)) = proxy.child.try_wait() {
                return Some(Err(format!("nginx exited ({status}):\n{}", proxy.log())));
            }
            TcpStream::connect(addr).ok().map(|_| Ok(()))
        });
        match listening {
            Some(Ok(())) => Ok(proxy),
            Some(Err(log)) => Err(log),
            None => panic!("nginx did not listen on {port}:\n{}", proxy.log()),
        }
    }

    /// Plain HTTP on a free port of 127.0.0.1, spread round robin over
    /// `upstreams` with the shipped site's proxy settings (keep-alive to
    /// the instances, closed before wfhook's `--io-timeout`; bodies
    /// streamed both ways). An instance that fails is neither retried nor
    /// set aside: every error reaches the client, and requests alternate
    /// strictly. Each request is logged with the instance that answered
    /// it ([`Nginx::passed`]), and answers carry it in `X-Upstream`.
    pub fn round_robin(nginx: &Path, dir: &Path, upstreams: &[SocketAddr]) -> Nginx {
        let servers: String = upstreams.iter().map(|u| format!("    server {u} max_fails=0;\n")).collect();
        let log = dir.join(PASSED_LOG);
        let mut refused = String::new();
        // The free port may be taken by another test before nginx binds it.
        for _ in 0..5 {
            let port = free_port();
            let site = format!(
                "log_format wfhook_passed '$upstream_addr $status $request_method $request_uri';\n\
                 upstream wfhook_instances {{\n\
                 {servers}\
                 \x20   keepalive 32;\n\
                 \x20   keepalive_timeout 20s;\n\
                 }}\n\
                 server {{\n\
                 \x20   listen 127.0.0.1:{port};\n\
                 \x20   server_tokens off;\n\
                 \x20   access_log \"{log}\" wfhook_passed;\n\
                 \x20   client_max_body_size 64m;\n\
                 \x20   keepalive_requests 1000000;\n\
                 \x20   location / {{\n\
                 \x20       proxy_pass http://wfhook_instances;\n\
                 \x20       proxy_http_version 1.1;\n\
                 \x20       proxy_set_header Connection \"\";\n\
                 \x20       proxy_set_header Host $host;\n\
                 \x20       proxy_request_buffering off;\n\
                 \x20       proxy_buffering off;\n\
                 \x20       proxy_next_upstream off;\n\
                 \x20       proxy_read_timeout 300s;\n\
                 \x20       add_header X-Upstream $upstream_addr always;\n\
                 \x20   }}\n\
                 }}\n",
                log = log.display()
            );
            match Nginx::try_start(nginx, dir, &site, port) {
                Ok(proxy) => return proxy,
                Err(log) if log.contains("Address already in use") => refused = log,
                Err(log) => panic!("nginx exited before it listened on {port}:\n{log}"),
            }
        }
        panic!("nginx found no free port in 5 tries:\n{refused}")
    }

    /// nginx's error log and stderr.
    pub fn log(&self) -> String {
        ["error.log", "stderr.log"].map(|f| std::fs::read_to_string(self.dir.join(f)).unwrap_or_default()).concat()
    }

    /// The lines of [`Nginx::log`] that say something went wrong (a
    /// warning or worse).
    pub fn trouble(&self) -> Vec<String> {
        let levels = ["[warn]", "[error]", "[crit]", "[alert]", "[emerg]"];
        self.log().lines().filter(|l| levels.iter().any(|level| l.contains(level))).map(str::to_string).collect()
    }

    /// Every request [`Nginx::round_robin`] has logged so far (nginx logs
    /// one just after its answer's last byte, which the client may read
    /// first).
    pub fn passed(&self) -> Vec<Passed> {
        let text = std::fs::read_to_string(self.dir.join(PASSED_LOG)).unwrap_or_default();
        text.lines()
            .map(|line| {
                let mut words = line.rsplitn(4, ' ');
                let mut next = || words.next().unwrap_or_else(|| panic!("not a line of {PASSED_LOG}: {line:?}"));
                let (target, method, status, upstream) = (next(), next(), next(), next());
                let status = status.parse().unwrap_or_else(|_| panic!("no status in {line:?}"));
                Passed {
                    upstream: upstream.to_string(),
                    status,
                    method: method.to_string(),
                    target: target.to_string(),
                }
            })
            .collect()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
