//! Smoke test of the real binary in a real pseudo-terminal: `hasim tui` runs inside a
//! detached tmux session (120×40), keys are sent with `tmux send-keys` and the screen
//! is read with `tmux capture-pane -p`. It checks that playback moves the cursor,
//! stepping works, the help opens and closes, `q` quits, the process exits with 0 and
//! leaves the terminal in cooked mode with the alternate screen gone.
//!
//! Skipped (with a message) when tmux is not installed, unless `HASIM_REQUIRE_TMUX` is
//! set (as `.ci/run` does after installing it). Each run uses its own tmux server
//! socket, so it never touches the user's tmux sessions.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The workspace root: scenarios are named relative to it.
fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A tmux server of our own, killed when dropped (also when an assertion fails).
struct Tmux {
    socket: String,
    session: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux").arg("-L").arg(&self.socket).args(args).output().expect("tmux runs")
    }

    fn send(&self, key: &str) {
        let out = self.run(&["send-keys", "-t", &self.session, key]);
        assert!(out.status.success(), "send-keys {key}: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", &self.session]).stdout).into_owned()
    }

    fn alive(&self) -> bool {
        self.run(&["has-session", "-t", &self.session]).status.success()
    }

    /// The screen once `pred` holds for it, or a failure showing the last screen.
    fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let screen = self.screen();
            if pred(&screen) {
                return screen;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}; screen:\n{screen}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

/// The simulated time the header shows (`t = 12.345s / 2m` in a wide terminal).
fn shown_time(screen: &str) -> Option<f64> {
    let rest = &screen[screen.find("t = ")? + 4..];
    rest[..rest.find('s')?].parse().ok()
}

#[test]
fn tui_runs_in_a_real_terminal() {
    if Command::new("tmux").arg("-V").output().map(|o| !o.status.success()).unwrap_or(true) {
        // `.ci/run` installs tmux and sets HASIM_REQUIRE_TMUX, so CI never skips this.
        assert!(std::env::var_os("HASIM_REQUIRE_TMUX").is_none(), "tmux is required but not installed");
        println!("skipped: tmux is not installed");
        return;
    }
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_hasim"));
    let tmux = Tmux { socket: format!("hasim-smoke-{}", std::process::id()), session: "smoke".to_string() };
    // After the UI exits the shell reports its exit code and whether the terminal is
    // back in canonical (cooked) mode, then lingers so the pane can be read.
    let script = format!(
        "'{}' tui scenarios/stacked-3-lose-one.yaml; echo \"hasim exited with $?\"; \
         if stty -a | tr ' ;' '\\n\\n' | grep -qx icanon; then echo terminal-cooked; else echo terminal-raw; fi; sleep 3",
        bin.display()
    );
    let root = workspace();
    let root = root.to_str().expect("a UTF-8 path");
    let out = tmux.run(&["new-session", "-d", "-s", &tmux.session, "-x", "120", "-y", "40", "-c", root, &script]);
    assert!(out.status.success(), "tmux new-session: {}", String::from_utf8_lossy(&out.stderr));

    let start = tmux.wait_for("the UI", |s| s.contains("stacked-3-lose-one") && s.contains("Timeline"));
    assert_eq!(shown_time(&start), Some(0.0), "starts paused at 0:\n{start}");

    tmux.send("Space");
    tmux.wait_for("playback", |s| s.contains("playing"));
    std::thread::sleep(Duration::from_millis(1000));
    tmux.send("Space");
    let paused = tmux.wait_for("pause", |s| s.contains("paused"));
    let t_paused = shown_time(&paused).expect("the header shows the time");
    assert!(t_paused > 1.0, "about 10 simulated seconds played:\n{paused}");

    tmux.send("n");
    let stepped = tmux.wait_for("a step", |s| shown_time(s).is_some_and(|t| t != t_paused));
    assert!(shown_time(&stepped).is_some_and(|t| t > t_paused), "n moves forward:\n{stepped}");
    assert!(stepped.contains('▶'), "an event is selected:\n{stepped}");

    tmux.send("?");
    tmux.wait_for("the help", |s| s.contains("Help: keys") && s.contains("next / previous fault"));
    tmux.send("q");
    tmux.wait_for("the help to close", |s| !s.contains("Help: keys") && s.contains("Timeline"));
    tmux.send("q");

    let after = tmux.wait_for("the exit", |s| s.contains("terminal-cooked") || s.contains("terminal-raw"));
    assert!(after.contains("hasim exited with 0"), "{after}");
    assert!(after.contains("terminal-cooked"), "raw mode was left on:\n{after}");
    assert!(!after.contains("Timeline"), "the alternate screen was left:\n{after}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while tmux.alive() {
        assert!(Instant::now() < deadline, "the session did not end");
        std::thread::sleep(Duration::from_millis(100));
    }
}
