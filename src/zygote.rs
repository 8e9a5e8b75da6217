//! Cell children forked from a zygote instead of exec'd. Exec'ing this binary for every cell
//! costs 0.35–0.4 s of libtorch loading and static initialisation before `main` (most of a
//! tiny cell's wall time; docs/comparison.md). The zygote is a copy of this process forked at
//! the start of a sweep, while it is single-threaded and has done nothing but load libtorch
//! and parse the command line (no thread pool, no CUDA): each child forked from it starts in
//! the state an exec'd child reaches at `main`, minus the wait. The zygote relays each child's
//! pid and wait status to the parent over a socket, since the child is the zygote's, not
//! ours. When the zygote cannot start, children are exec'd as before.
//!
//! Memory cells are still measured in exec'd children: a forked child shares the zygote's
//! pages of libtorch's code without mapping them, so its resident memory leaves out what an
//! exec'd child (and the original's figure) counts: a tiny model's peak read 40% lower.
//!
//! The zygote can die (the OOM killer, a user's `kill`) or stop (SIGSTOP, a frozen cgroup).
//! Every wait on it is bounded; once it fails to answer it is killed, reaped and marked lost
//! ([`lose`]), and the remaining cells run in exec'd children.

use std::fs::File;
use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitCode, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// The running zygote: its pid, our end of the socket (one request at a time), and whether
/// it was lost (dead, or killed for not answering).
struct Zygote {
    pid: u32,
    socket: Mutex<OwnedFd>,
    lost: AtomicBool,
}

static ZYGOTE: OnceLock<Zygote> = OnceLock::new();

/// How long a zygote may take to relay the status of a child we killed: it only has to
/// reap it. Longer means it is stopped or frozen.
const RELAY_GRACE: Duration = Duration::from_secs(5);

/// The zygote's pid, while it runs.
pub fn pid() -> Option<u32> {
    ZYGOTE
        .get()
        .filter(|z| !z.lost.load(Ordering::SeqCst))
        .map(|z| z.pid)
}

/// Marks the zygote lost, kills and reaps it, and returns the one line saying so, the first
/// time only (`None` after, or without a zygote). `why` is what went wrong with it when it
/// is still alive ("stopped answering ..."); a dead one is described by its wait status.
pub fn lose(why: &str) -> Option<String> {
    let zygote = ZYGOTE.get()?;
    if zygote.lost.swap(true, Ordering::SeqCst) {
        return None;
    }
    let pid = zygote.pid as libc::pid_t;
    let mut status = 0;
    // Its socket closes a moment before it can be reaped: give a dying zygote that moment.
    let start = Instant::now();
    let dead = loop {
        // SAFETY: waitpid on our own child, writing into a local.
        if unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } == pid {
            break true;
        }
        if is_stopped(pid as u32) || start.elapsed() >= Duration::from_millis(500) {
            break false;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let what = if dead {
        format!("died ({})", describe(ExitStatus::from_raw(status)))
    } else {
        // SAFETY: kill and waitpid on our own child. A frozen child may not die at once; the
        // wait is bounded, and an unreaped one is reaped by init when we exit.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(1)
            && unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } == 0
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        format!("{why}; killed it")
    };
    Some(format!(
        "The zygote (pid {pid}) {what}; the remaining cells run in exec'd children."
    ))
}

/// Whether the zygote is stopped (SIGSTOP, a debugger): 'T' or 't' in /proc/PID/stat.
pub fn stopped() -> bool {
    pid().is_some_and(is_stopped)
}

fn is_stopped(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start());
        state.is_some_and(|s| s.starts_with('T') || s.starts_with('t'))
    })
}

/// How a process ended, in words: "killed by SIGKILL", "exited with status 1".
pub fn describe(status: ExitStatus) -> String {
    match status.signal() {
        Some(signal) => format!("killed by {}", signal_name(signal)),
        None => format!("exited with status {}", status.code().unwrap_or(-1)),
    }
}

fn signal_name(signal: i32) -> String {
    let names = [
        (libc::SIGKILL, "SIGKILL"),
        (libc::SIGTERM, "SIGTERM"),
        (libc::SIGSEGV, "SIGSEGV"),
        (libc::SIGABRT, "SIGABRT"),
        (libc::SIGINT, "SIGINT"),
        (libc::SIGHUP, "SIGHUP"),
        (libc::SIGBUS, "SIGBUS"),
    ];
    match names.iter().find(|(s, _)| *s == signal) {
        Some((_, name)) => name.to_string(),
        None => format!("signal {signal}"),
    }
}

/// Starts the zygote, which runs `child_main` (the child side of the runner's protocol, given
/// its parent's pid) in each process it forks. Does nothing unless this process is
/// single-threaded, as forking needs; `RUN_BENCHMARK_EXEC_CHILDREN=1` turns it off.
pub fn start(child_main: fn(u32) -> ExitCode) {
    if ZYGOTE.get().is_some()
        || std::env::var_os("RUN_BENCHMARK_EXEC_CHILDREN").is_some_and(|v| v == "1")
        || threads() != Some(1)
    {
        return;
    }
    let Ok((ours, theirs)) = socket_pair() else {
        return;
    };
    // Nothing buffered may be written twice, by the zygote's children too.
    let _ = io::Write::flush(&mut io::stdout());
    let parent = std::process::id();
    // SAFETY: this process is single-threaded (checked above), so the copy is consistent.
    match unsafe { libc::fork() } {
        0 => {
            drop(ours);
            serve(theirs, parent, child_main)
        }
        pid if pid > 0 => {
            drop(theirs);
            let _ = ZYGOTE.set(Zygote {
                pid: pid as u32,
                socket: Mutex::new(ours),
                lost: AtomicBool::new(false),
            });
        }
        _ => {}
    }
}

/// A child forked by the zygote: its pipes, and its wait status once the zygote relays it.
pub struct Forked {
    pid: u32,
    pub stdin: Option<File>,
    pub stdout: Option<File>,
    pub stderr: Option<File>,
    status: Option<ExitStatus>,
    // One child at a time: the zygote answers requests in order.
    zygote: MutexGuard<'static, OwnedFd>,
}

/// Forks a child from the zygote with fresh pipes as its stdin, stdout and stderr; `None`
/// when there is no zygote (lost, or busy with another child), so the caller exec's one.
/// A zygote that does not answer within `timeout` is lost, and the error says so.
pub fn spawn(timeout: Duration) -> Option<io::Result<Forked>> {
    let zygote = ZYGOTE.get().filter(|z| !z.lost.load(Ordering::SeqCst))?;
    let socket = zygote.socket.try_lock().ok()?;
    // A stopped zygote would not answer; one stopped for a second is not coming back soon.
    let start = Instant::now();
    while stopped() {
        if start.elapsed() >= Duration::from_secs(1) {
            if let Some(line) = lose("was stopped (SIGSTOP?) between cells") {
                crate::console::notice(&line);
            }
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let forked = fork_child(socket, timeout);
    if let Err(e) = &forked {
        // Errors of talking to it are its (raw OS errors are of our pipes and its fork).
        if e.raw_os_error().is_none() {
            let why = format!(
                "did not answer a request within {} s",
                timeout.as_secs_f64()
            );
            if let Some(line) = lose(&why) {
                crate::console::notice(&line);
            }
        }
    }
    Some(forked)
}

fn fork_child(zygote: MutexGuard<'static, OwnedFd>, timeout: Duration) -> io::Result<Forked> {
    let (stdin_read, stdin_write) = pipe()?;
    let (stdout_read, stdout_write) = pipe()?;
    let (stderr_read, stderr_write) = pipe()?;
    send_fds(
        zygote.as_raw_fd(),
        [
            stdin_read.as_raw_fd(),
            stdout_write.as_raw_fd(),
            stderr_write.as_raw_fd(),
        ],
    )
    .map_err(|e| io::Error::new(e.kind(), format!("the zygote is gone: {e}")))?;
    // Our copies of the child's ends close here, so its exit closes the pipes.
    drop((stdin_read, stdout_write, stderr_write));
    let pid = receive_i32(zygote.as_raw_fd(), Some(timeout))?;
    if pid <= 0 {
        return Err(io::Error::from_raw_os_error(-pid));
    }
    Ok(Forked {
        pid: pid as u32,
        stdin: Some(File::from(stdin_write)),
        stdout: Some(File::from(stdout_read)),
        stderr: Some(File::from(stderr_read)),
        status: None,
        zygote,
    })
}

impl Forked {
    /// The socket that becomes readable when the zygote relays the exit status.
    pub fn status_fd(&self) -> RawFd {
        self.zygote.as_raw_fd()
    }

    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.receive_status(None)
    }

    /// Waits for the status the zygote relays; an error when it is gone or silent for
    /// [`RELAY_GRACE`] (a killed child's status takes it no longer than a reap).
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        self.receive_status(Some(RELAY_GRACE))?
            .ok_or_else(|| io::Error::new(io::ErrorKind::TimedOut, "the zygote did not answer"))
    }

    pub fn kill(&mut self) -> io::Result<()> {
        // A child whose end the zygote has reported is reaped, and its pid free for reuse.
        if self.try_wait()?.is_some() {
            return Ok(());
        }
        // SAFETY: kill takes a pid and a signal. Until the zygote reaps the child, the pid is
        // the child's (a zombie at worst); the zygote reports right after reaping it.
        if unsafe { libc::kill(self.pid as libc::pid_t, libc::SIGKILL) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    fn receive_status(&mut self, most: Option<Duration>) -> io::Result<Option<ExitStatus>> {
        if self.status.is_none() {
            match receive_i32(self.zygote.as_raw_fd(), most) {
                Ok(raw) => self.status = Some(ExitStatus::from_raw(raw)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        Ok(self.status)
    }
}

impl Drop for Forked {
    /// The zygote's next answer must be the next child's pid, not this one's status; a
    /// zygote that cannot give it is lost.
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = self.kill();
            if self.wait().is_err() {
                if let Some(line) = lose("did not report the end of its child") {
                    crate::console::notice(&line);
                }
            }
        }
    }
}

/// The zygote's loop: for each request, fork a child on the pipes it carries, report its
/// pid, reap it, report its wait status. It ends when the parent does.
fn serve(socket: OwnedFd, parent: u32, child_main: fn(u32) -> ExitCode) -> ! {
    // SAFETY: prctl, getppid and signal take no pointers.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
        if libc::getppid() as u32 != parent {
            libc::_exit(0);
        }
        // Ctrl-C reaches the whole process group; the zygote outlives it to report how its
        // child ended, and dies with the parent.
        for signal in crate::interrupt::SIGNALS {
            libc::signal(signal, libc::SIG_IGN);
        }
    }
    let fd = socket.as_raw_fd();
    loop {
        let Ok(fds) = receive_fds(fd) else {
            // SAFETY: the parent is gone or closed the socket; nothing is left to do.
            unsafe { libc::_exit(0) }
        };
        // SAFETY: the zygote is single-threaded.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            become_child(socket, fds, child_main);
        }
        drop(fds);
        if pid < 0 {
            let _ = send_i32(fd, -io::Error::last_os_error().raw_os_error().unwrap_or(1));
            continue;
        }
        let _ = send_i32(fd, pid);
        let mut status = 0;
        // SAFETY: waits for our own child, writing its status into a local.
        while unsafe { libc::waitpid(pid, &mut status, 0) } < 0
            && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted
        {}
        let _ = send_i32(fd, status);
    }
}

fn become_child(socket: OwnedFd, fds: [OwnedFd; 3], child_main: fn(u32) -> ExitCode) -> ! {
    for (target, fd) in fds.iter().enumerate() {
        // SAFETY: dup2 onto the standard descriptors; the originals are closed below.
        unsafe { libc::dup2(fd.as_raw_fd(), target as RawFd) };
    }
    drop(fds);
    drop(socket);
    // SAFETY: signal and getppid take no pointers.
    let parent = unsafe {
        for signal in crate::interrupt::SIGNALS {
            libc::signal(signal, libc::SIG_DFL);
        }
        libc::getppid() as u32
    };
    exit_now(child_main(parent))
}

/// Ends the process with `code` once stdout is flushed, skipping `exit`'s handlers: libtorch's
/// static destructors take 0.1–0.2 s to free what the kernel frees at once.
pub fn exit_now(code: ExitCode) -> ! {
    let _ = io::Write::flush(&mut io::stdout());
    // A zygote stopped before it set its parent-death signal would outlive us.
    if let Some(pid) = pid() {
        // SAFETY: kill on our own child.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
    }
    let status = (0..=u8::MAX)
        .find(|&c| ExitCode::from(c) == code)
        .unwrap_or(1);
    // SAFETY: ends the process; no Rust state is used after it.
    unsafe { libc::_exit(i32::from(status)) }
}

/// Threads of this process, from /proc.
fn threads() -> Option<usize> {
    Some(std::fs::read_dir("/proc/self/task").ok()?.count())
}

fn socket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: socketpair writes two descriptors into the array.
    let done = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    if done != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: two new descriptors, ours alone.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// A pipe (read end, write end), closed on exec.
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: two new descriptors, ours alone.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

const FDS: usize = 3;

/// Room for one SCM_RIGHTS message of three descriptors, aligned for `cmsghdr`.
#[repr(C, align(8))]
struct Control([u8; 64]);

fn send_fds(socket: RawFd, fds: [RawFd; FDS]) -> io::Result<()> {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut control = Control([0; 64]);
    let data_len = (FDS * size_of::<RawFd>()) as u32;
    // SAFETY: the message points at live locals; the control buffer has room for the header
    // and three descriptors (CMSG_SPACE(12) = 32 bytes on 64-bit Linux).
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.0.as_mut_ptr().cast();
        msg.msg_controllen = libc::CMSG_SPACE(data_len) as _;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(data_len) as _;
        std::ptr::copy_nonoverlapping(fds.as_ptr(), libc::CMSG_DATA(cmsg).cast(), FDS);
        if libc::sendmsg(socket, &msg, libc::MSG_NOSIGNAL) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

fn receive_fds(socket: RawFd) -> io::Result<[OwnedFd; FDS]> {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut control = Control([0; 64]);
    // SAFETY: as in send_fds; the kernel writes at most msg_controllen bytes of control data.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.0.as_mut_ptr().cast();
        msg.msg_controllen = control.0.len() as _;
        let got = libc::recvmsg(socket, &mut msg, libc::MSG_CMSG_CLOEXEC);
        if got <= 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "no request"));
        }
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        let data_len = (FDS * size_of::<RawFd>()) as u32;
        if cmsg.is_null()
            || (*cmsg).cmsg_type != libc::SCM_RIGHTS
            || (*cmsg).cmsg_len != libc::CMSG_LEN(data_len) as usize
        {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "no descriptors"));
        }
        let mut fds = [0 as RawFd; FDS];
        std::ptr::copy_nonoverlapping(libc::CMSG_DATA(cmsg).cast(), fds.as_mut_ptr(), FDS);
        Ok(fds.map(|fd| OwnedFd::from_raw_fd(fd)))
    }
}

fn send_i32(socket: RawFd, value: i32) -> io::Result<()> {
    let bytes = value.to_le_bytes();
    // SAFETY: sends four bytes from a live local.
    if unsafe { libc::send(socket, bytes.as_ptr().cast(), 4, 0) } != 4 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Four bytes from the zygote: at once (`most` None: WouldBlock when none are there), or
/// within `most` (TimedOut after).
fn receive_i32(socket: RawFd, most: Option<Duration>) -> io::Result<i32> {
    let mut bytes = [0u8; 4];
    let start = Instant::now();
    if let Some(most) = most {
        loop {
            let left = most.saturating_sub(start.elapsed());
            let mut poll = libc::pollfd {
                fd: socket,
                events: libc::POLLIN,
                revents: 0,
            };
            let millis = i32::try_from(left.as_millis()).unwrap_or(i32::MAX);
            // SAFETY: one valid pollfd, for the duration of the call.
            match unsafe { libc::poll(&mut poll, 1, millis) } {
                0 => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("the zygote did not answer in {} s", most.as_secs_f64()),
                    ))
                }
                n if n > 0 => break,
                _ if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted => {}
                _ => return Err(io::Error::last_os_error()),
            }
        }
    }
    loop {
        // SAFETY: receives at most four bytes into a live local.
        let got = unsafe { libc::recv(socket, bytes.as_mut_ptr().cast(), 4, libc::MSG_DONTWAIT) };
        match got {
            4 => return Ok(i32::from_le_bytes(bytes)),
            0 => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the zygote is gone",
                ))
            }
            n if n < 0 => {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
            _ => return Err(io::Error::new(io::ErrorKind::InvalidData, "short message")),
        }
    }
}
