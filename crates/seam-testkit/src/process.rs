//! Running a service binary as a child process, for end-to-end tests.
//!
//! In an integration test of a binary crate, `env!("CARGO_BIN_EXE_<name>")` gives the
//! binary's path:
//!
//! ```no_run
//! # use std::time::Duration;
//! use seam_testkit::process::ServiceProcess;
//!
//! # let binary = "target/debug/seam-api";
//! let api = ServiceProcess::start(
//!     binary, // env!("CARGO_BIN_EXE_seam-api")
//!     [("SEAM_SERVER__PORT", "0")],
//!     "seam-api listening on ",
//! );
//! let health = format!("{}/health", api.url());
//! // ... talk HTTP to it ...
//! let status = api.terminate(Duration::from_secs(30));
//! assert!(status.success());
//! ```

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a service may take to print its ready line.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running service binary, stopped (SIGKILL) when dropped.
#[derive(Debug)]
pub struct ServiceProcess {
    child: Option<Child>,
    url: String,
    stderr: Arc<Mutex<String>>,
}

impl ServiceProcess {
    /// Starts `program` with the extra environment `envs` and waits until it prints a
    /// line starting with `ready_prefix` on standard output; the rest of that line is
    /// its URL.
    ///
    /// # Panics
    ///
    /// When the program cannot start, exits first, or stays silent for
    /// [`START_TIMEOUT`]; the message includes its standard error.
    pub fn start<I, K, V>(program: impl AsRef<Path>, envs: I, ready_prefix: &str) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<std::ffi::OsStr>,
        V: AsRef<std::ffi::OsStr>,
    {
        let program = program.as_ref();
        let mut child = Command::new(program)
            .envs(envs)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", program.display()));

        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err_pipe = child.stderr.take().expect("stderr is piped");
        let err_buffer = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut chunk = [0_u8; 4096];
            while let Ok(read) = err_pipe.read(&mut chunk) {
                if read == 0 {
                    break;
                }
                let text = String::from_utf8_lossy(&chunk[..read]);
                // Test output goes through the harness only when asked for.
                if std::env::var_os("TEST_LOG").is_some() {
                    eprint!("{text}");
                }
                err_buffer
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .push_str(&text);
            }
        });

        let lines = spawn_line_reader(child.stdout.take().expect("stdout is piped"));
        let deadline = Instant::now() + START_TIMEOUT;
        let mut service = Self {
            child: Some(child),
            url: String::new(),
            stderr,
        };
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(url) = line.strip_prefix(ready_prefix) {
                        service.url = url.trim().to_owned();
                        return service;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = service.wait_exit(Duration::from_secs(5));
                    panic!(
                        "{} exited ({status:?}) before printing {ready_prefix:?}; its stderr:\n{}",
                        program.display(),
                        service.stderr()
                    );
                }
                Err(RecvTimeoutError::Timeout) => panic!(
                    "{} printed no {ready_prefix:?} line within {START_TIMEOUT:?}; its stderr:\n{}",
                    program.display(),
                    service.stderr()
                ),
            }
        }
    }

    /// The URL the service printed.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Everything the service wrote to standard error so far.
    pub fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Sends SIGTERM and waits for the exit, at most `within`.
    ///
    /// # Panics
    ///
    /// When the process is still running after `within` (it is then killed).
    pub fn terminate(mut self, within: Duration) -> ExitStatus {
        signal(self.id(), "TERM");
        self.wait_exit(within)
    }

    /// Sends SIGKILL: a crash, as far as the service can tell.
    pub fn kill(mut self) -> ExitStatus {
        signal(self.id(), "KILL");
        self.wait_exit(Duration::from_secs(30))
    }

    fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let mut child = self
            .child
            .take()
            .expect("the process was not waited for yet");
        let deadline = Instant::now() + within;
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return status,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Ok(None) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "process {} did not exit within {within:?}; its stderr:\n{}",
                        child.id(),
                        self.stderr()
                    );
                }
                Err(error) => panic!("cannot wait for process {}: {error}", child.id()),
            }
        }
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn signal(pid: u32, name: &str) {
    // `kill(1)` rather than libc: this workspace forbids unsafe code.
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .unwrap_or_else(|error| panic!("cannot run kill: {error}"));
    assert!(status.success(), "kill -{name} {pid} failed");
}

fn spawn_line_reader(stdout: impl Read + Send + 'static) -> Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if std::env::var_os("TEST_LOG").is_some() {
                eprintln!("{line}");
            }
            if sender.send(line).is_err() {
                // Nobody listens any more; keep draining so the child never blocks.
                continue;
            }
        }
    });
    receiver
}
