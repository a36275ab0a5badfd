//! The processes a stack starts: each in a process group of its own, its output in one log
//! file, stopped as a group (TERM, a grace period, KILL), and waited for over HTTP.

use std::fs::File;
use std::net::TcpListener;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::StackError;

/// A free loopback port (bound, then released).
///
/// # Errors
/// When no port can be bound.
pub fn free_port() -> Result<u16, StackError> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| StackError::io("a free port", e))?;
    let port = listener.local_addr().map_err(|e| StackError::io("a free port", e))?.port();
    Ok(port)
}

/// Whether `port` can be bound on loopback now.
pub fn port_is_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// One started process (and the group it leads); stopped when dropped, so that a start cut
/// short (an error, a signal, a test's panic) leaves nothing behind.
pub(crate) struct Service {
    pub(crate) name: String,
    child: Child,
    log: PathBuf,
    /// Set once it has been stopped: its group is never signalled again.
    stopped: bool,
}

impl Service {
    /// Starts `command` as service `name` in a process group of its own, its output appended to
    /// `<logs>/<name>.log` (a restarted service keeps its earlier lines).
    pub(crate) fn spawn(
        logs: &Path,
        name: &str,
        command: &mut Command,
    ) -> Result<Self, StackError> {
        let log = logs.join(format!("{name}.log"));
        let out = File::options()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(|e| StackError::io(&log.display().to_string(), e))?;
        let err = out.try_clone().map_err(|e| StackError::io("a log file", e))?;
        let child =
            command
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .process_group(0)
                .spawn()
                .map_err(|e| StackError::Start { service: name.to_owned(), why: e.to_string() })?;
        Ok(Self { name: name.to_owned(), child, log, stopped: false })
    }

    /// Whether the process has exited (it is reaped if so).
    pub(crate) fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// The last `lines` lines of its log.
    pub(crate) fn tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Sends TERM to its whole group (cargo lambda watch and npm start children of their own).
    pub(crate) fn terminate(&self) {
        if !self.stopped {
            signal_group("TERM", self.child.id());
        }
    }

    /// Stops its process group: TERM, up to 10 s of grace (LemonLDAP::NG's script gives its
    /// portal 5), then KILL. Once.
    pub(crate) fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.terminate();
        let deadline = Instant::now() + Duration::from_secs(10);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        signal_group("KILL", self.child.id());
        let _ = self.child.wait();
        self.stopped = true;
    }

    /// Waits until `url` answers a success; an error with the end of its log when it exits
    /// first or `limit` passes.
    pub(crate) async fn wait_for(
        &mut self,
        http: &reqwest::Client,
        url: &str,
        limit: Duration,
    ) -> Result<(), StackError> {
        self.wait_for_answer(http, url, limit, |resp| resp.status().is_success()).await
    }

    /// [`Service::wait_for`], up when `url` answers a status `accept` takes.
    pub(crate) async fn wait_for_answer(
        &mut self,
        http: &reqwest::Client,
        url: &str,
        limit: Duration,
        accept: fn(&reqwest::Response) -> bool,
    ) -> Result<(), StackError> {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(resp) = http.get(url).send().await
                && accept(&resp)
            {
                return Ok(());
            }
            let exited = self.exited();
            if exited || Instant::now() > deadline {
                return Err(StackError::NotUp {
                    service: self.name.clone(),
                    url: url.to_owned(),
                    exited,
                    log: self.log.clone(),
                    tail: self.tail(40),
                });
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sends `signal` to the process group led by `pid` (each service leads its own group).
fn signal_group(signal: &str, pid: u32) {
    let _ = Command::new("kill")
        .args(["-s", signal, "--", &format!("-{pid}")])
        .stderr(Stdio::null())
        .status();
}

/// Stops every service, all at once: TERM to each group first, so that they wind down
/// together, then each waited for.
pub(crate) fn stop_all(services: &mut Vec<Service>) {
    for service in services.iter() {
        service.terminate();
    }
    for mut service in services.drain(..).rev() {
        service.stop();
    }
}
