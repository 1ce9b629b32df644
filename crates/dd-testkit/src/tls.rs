//! A real TLS-terminating reverse proxy for tests: a throwaway CA and
//! server certificates made with the `openssl` command, and an `nginx`
//! (Debian's package; `.ci/install.d/14-nginx.sh`) in front of an agent on
//! loopback. Everything lives in a temporary directory and the nginx
//! process is stopped on drop.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The nginx binary, when installed.
pub fn nginx_bin() -> Option<PathBuf> {
    ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// True when `openssl` runs.
pub fn have_openssl() -> bool {
    Command::new("openssl")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A free loopback TCP port (bound, then released).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr").port()
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A throwaway certificate authority in `dir`.
pub struct TestCa {
    dir: PathBuf,
    name: String,
}

impl TestCa {
    /// Makes a new CA called `name` (files `name.pem`, `name.key` in `dir`).
    pub fn new(dir: &Path, name: &str) -> TestCa {
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-days",
                "2",
                "-subj",
                &format!("/CN={name}"),
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.pem"),
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
        TestCa {
            dir: dir.to_owned(),
            name: name.to_owned(),
        }
    }

    /// The CA certificate (PEM) path.
    pub fn cert(&self) -> PathBuf {
        self.dir.join(format!("{}.pem", self.name))
    }

    /// Issues a server certificate for the DNS names `dns`; returns the
    /// paths of its certificate and key.
    pub fn issue(&self, leaf: &str, dns: &[&str]) -> (PathBuf, PathBuf) {
        let san = dns
            .iter()
            .map(|d| format!("DNS:{d}"))
            .collect::<Vec<_>>()
            .join(",");
        let ext = self.dir.join(format!("{leaf}.ext"));
        std::fs::write(
            &ext,
            format!(
                "subjectAltName={san}\nbasicConstraints=CA:FALSE\n\
                 keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
            ),
        )
        .expect("write ext");
        openssl(
            &self.dir,
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-subj",
                &format!("/CN={}", dns[0]),
                "-keyout",
                &format!("{leaf}.key"),
                "-out",
                &format!("{leaf}.csr"),
            ],
        );
        openssl(
            &self.dir,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{leaf}.csr"),
                "-CA",
                &format!("{}.pem", self.name),
                "-CAkey",
                &format!("{}.key", self.name),
                "-CAcreateserial",
                "-days",
                "2",
                "-out",
                &format!("{leaf}.pem"),
                "-extfile",
                &format!("{leaf}.ext"),
            ],
        );
        (
            self.dir.join(format!("{leaf}.pem")),
            self.dir.join(format!("{leaf}.key")),
        )
    }
}

/// One TLS `server` block of a [`Nginx`].
pub struct Site {
    /// The loopback port nginx listens on.
    pub port: u16,
    /// Certificate and key.
    pub cert: (PathBuf, PathBuf),
    /// Forward the WebSocket upgrade (the right config); `false` makes a
    /// proxy that does not, as a misconfigured one would.
    pub upgrade: bool,
}

/// The nginx `server` block that fronts an agent: what docs/operations.md
/// shows, with the test's ports and files.
pub fn server_block(site: &Site, upstream: &str) -> String {
    let upgrade = if site.upgrade {
        "        proxy_set_header Upgrade $http_upgrade;\n\
         \x20       proxy_set_header Connection $connection_upgrade;\n"
    } else {
        ""
    };
    format!(
        "    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        location / {{
            proxy_pass http://{upstream};
            proxy_http_version 1.1;
{upgrade}            proxy_set_header Host $host;
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
            proxy_buffering off;
        }}
    }}
",
        port = site.port,
        cert = site.cert.0.display(),
        key = site.cert.1.display(),
    )
}

/// A running nginx, stopped (and its files removed) on drop.
pub struct Nginx {
    child: Child,
    dir: PathBuf,
}

impl Nginx {
    /// Starts nginx in `dir` with `sites`, all proxying to `upstream`
    /// (`host:port`), and waits until every site accepts connections.
    pub fn start(dir: &Path, upstream: &str, sites: &[Site]) -> Nginx {
        let bin = nginx_bin().expect("nginx is installed");
        for d in ["body", "proxy", "fastcgi", "uwsgi", "scgi"] {
            std::fs::create_dir_all(dir.join(d)).expect("nginx temp dir");
        }
        let d = dir.display();
        let mut conf = format!(
            "worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
"
        );
        for s in sites {
            conf.push_str(&server_block(s, upstream));
        }
        conf.push_str("}\n");
        let path = dir.join("nginx.conf");
        std::fs::File::create(&path)
            .and_then(|mut f| f.write_all(conf.as_bytes()))
            .expect("write nginx.conf");
        let child = Command::new(bin)
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn nginx");
        let mut n = Nginx {
            child,
            dir: dir.to_owned(),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        for s in sites {
            while std::net::TcpStream::connect(("127.0.0.1", s.port)).is_err() {
                if let Ok(Some(st)) = n.child.try_wait() {
                    panic!("nginx exited ({st}): {}", n.error_log());
                }
                assert!(
                    Instant::now() < deadline,
                    "nginx did not listen on {}",
                    s.port
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        n
    }

    /// nginx's error log so far.
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM is nginx's fast stop (SIGQUIT would wait for open
        // WebSockets); its workers follow the master.
        crate::terminate(&mut self.child, Duration::from_secs(3));
    }
}
