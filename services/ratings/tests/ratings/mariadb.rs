//! A throw-away MariaDB server (Debian's package) for one test: its own data
//! directory, socket and a free TCP port on 127.0.0.1; killed when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

pub(crate) struct MariaDb {
    pub port: u16,
    /// Removed when dropped, after `Drop` has killed the server; also when
    /// start-up panics.
    dir: TempDir,
    child: Child,
}

fn program(name: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin"] {
        let path = Path::new(dir).join(name);
        if path.exists() {
            return path;
        }
    }
    panic!("{name} not found: install Debian's mariadb-server (.ci/run does)");
}

/// A port free right now, for mariadbd to listen on: the same
/// bind-then-release as `closed_port()` (nothing listens there yet), so that
/// is used. Should another process take it before mariadbd binds, mariadbd
/// exits and `wait_ready` panics at its deadline.
fn free_port() -> u16 {
    bookinfo_support::testing::closed_port().port()
}

impl MariaDb {
    pub(crate) fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("bookinfo-mariadb-")
            .tempdir()
            .unwrap();
        let data = dir.path().join("data");
        let status = Command::new(program("mariadb-install-db"))
            .args(["--no-defaults", "--user=root", "--skip-test-db"])
            .arg("--auth-root-authentication-method=normal")
            .arg(format!("--datadir={}", data.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "mariadb-install-db failed");
        let port = free_port();
        let child = Command::new(program("mariadbd"))
            .args(["--no-defaults", "--user=root", "--bind-address=127.0.0.1"])
            .args([
                "--skip-log-bin",
                "--innodb-buffer-pool-size=16M",
                "--skip-name-resolve",
            ])
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--socket={}", dir.path().join("sock").display()))
            .arg(format!("--pid-file={}", dir.path().join("pid").display()))
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let server = Self { port, dir, child };
        server.wait_ready();
        server
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if self.sql("SELECT 1").is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("MariaDB did not start within 60 s");
    }

    /// Runs SQL as root over the socket.
    pub(crate) fn sql(&self, statements: &str) -> Result<(), String> {
        let output = Command::new(program("mariadb"))
            .args(["--no-defaults", "-uroot"])
            .arg(format!(
                "--socket={}",
                self.dir.path().join("sock").display()
            ))
            .args(["-e", statements])
            .output()
            .map_err(|e| e.to_string())?;
        if output.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).into_owned())
        }
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // `dir` is removed when the fields drop, after this.
    }
}
