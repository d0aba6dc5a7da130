//! The real binary in a real pseudo-terminal (tmux, 80x24): start, switch
//! screens, resize, search a user's sessions, revoke one with confirmation,
//! see the result, quit, and find the terminal as it was (normal screen,
//! cooked mode, cursor shown).

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::server::{TestServer, unique};

/// A tmux server of its own (its own socket), killed on drop.
pub(crate) struct Tmux {
    pub(crate) socket: String,
}

impl Tmux {
    pub(crate) fn command(&self) -> Command {
        let mut command = Command::new("tmux");
        command.args(["-L", &self.socket, "-f", "/dev/null"]);
        command
    }

    pub(crate) fn run(&self, args: &[&str]) -> Output {
        let output = self.command().args(args).output().unwrap_or_else(|e| {
            panic!("tmux is needed for this test (apt-get install -y tmux): {e}")
        });
        assert!(
            output.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    pub(crate) fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "tui"];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    pub(crate) fn text(&self, text: &str) {
        self.run(&["send-keys", "-t", "tui", "-l", text]);
    }

    pub(crate) fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "tui"]).stdout).into_owned()
    }

    pub(crate) fn display(&self, format: &str) -> String {
        String::from_utf8_lossy(
            &self
                .run(&["display-message", "-p", "-t", "tui", format])
                .stdout,
        )
        .trim()
        .to_string()
    }

    /// Waits (up to 20 s: the machine may be busy) until `ready` holds for the screen.
    pub(crate) fn wait_for(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        loop {
            let screen = self.screen();
            if ready(&screen) {
                return screen;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "waited for {what}; the screen is:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub(crate) fn wait_text(&self, needle: &str) -> String {
        self.wait_for(needle, |screen| screen.contains(needle))
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let socket = self
            .command()
            .args(["display-message", "-p", "#{socket_path}"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        let _ = self.command().arg("kill-server").output();
        // tmux leaves its socket file behind.
        if !socket.is_empty() {
            let _ = std::fs::remove_file(socket);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_binary_switches_screens_revokes_with_confirmation_and_leaves_the_terminal_clean()
{
    // Arrange: a server, a user with one session, an admin token.
    let server = TestServer::start();
    let http = reqwest::Client::new();
    let admin_email = server.create_admin();
    let (user_email, _) = server.register_user(&http).await;
    let user = server.login(&http, &user_email, "e2e-browser/1.0").await;
    let admin = server.login(&http, &admin_email, "e2e-admin").await;
    let log = std::env::temp_dir().join(format!("{}.log", unique("tenk-tui-e2e-")));
    let script = format!(
        "{} --target {} --interval 1s --log-file {}; echo EXITED:$?; stty -a | tr ' ;' '\\n\\n' | grep -x -e '-*icanon' -e '-*echo'; echo MODES-SHOWN; sleep 60",
        env!("CARGO_BIN_EXE_tenk-tui"),
        server.url,
        log.display()
    );
    let tmux = Tmux {
        socket: unique("tenk-tui-e2e-"),
    };
    // The secrets reach the TUI through the environment of the tmux server
    // this command starts, never through an argument.
    let started = tmux
        .command()
        .args([
            "new-session",
            "-d",
            "-s",
            "tui",
            "-x",
            "80",
            "-y",
            "24",
            &script,
        ])
        .env("TENK_OPS_TOKEN", &server.ops_token)
        .env("TENK_ADMIN_TOKEN", &admin.access_token)
        .env("TERM", "xterm-256color")
        .status()
        .expect("tmux is needed for this test (apt-get install -y tmux)");
    assert!(started.success());

    // Act and assert, screen by screen.
    tmux.wait_for("the instance UP with numbers", |s| {
        s.contains(" UP ") && s.contains("total 1/1 up")
    });
    assert_eq!(
        tmux.display("#{alternate_on}"),
        "1",
        "the TUI runs on the alternate screen"
    );
    tmux.keys(&["2"]);
    tmux.wait_text("Prepare for scaling");
    tmux.run(&["resize-window", "-t", "tui", "-x", "120", "-y", "30"]);
    tmux.wait_for("a redraw at 120 columns", |s| {
        s.lines().any(|l| l.trim_end().chars().count() > 100)
    });
    tmux.run(&["resize-window", "-t", "tui", "-x", "80", "-y", "24"]);
    tmux.keys(&["Tab"]);
    tmux.wait_text("Search (email or user id)");
    tmux.keys(&["/"]);
    tmux.text(&user_email);
    tmux.keys(&["Enter"]);
    tmux.wait_text("1 live");
    tmux.wait_text("e2e-browser/1.0");
    tmux.keys(&["r"]);
    let confirm = tmux.wait_text("Confirm");
    assert!(confirm.contains("Revoke session"), "{confirm}");
    assert_eq!(
        server.me_status(&http, &user.access_token).await,
        200,
        "nothing is revoked before y"
    );
    tmux.keys(&["y"]);
    tmux.wait_text("revoked session");
    tmux.wait_text("0 live");
    assert_eq!(
        server.me_status(&http, &user.access_token).await,
        401,
        "the user's next request is refused"
    );
    tmux.keys(&["4"]);
    tmux.wait_text("session.revoke");
    tmux.keys(&["q"]);
    let after = tmux.wait_text("MODES-SHOWN");

    // The terminal is as it was: normal screen, cooked mode, echo, cursor.
    assert!(after.contains("EXITED:0"), "{after}");
    assert!(
        !after.contains("Audit log") && !after.contains("tenk  1 Overview"),
        "nothing of the TUI is left:\n{after}"
    );
    let modes: Vec<&str> = after.lines().map(str::trim).collect();
    assert!(
        modes.contains(&"icanon") && modes.contains(&"echo"),
        "cooked mode restored:\n{after}"
    );
    assert_eq!(tmux.display("#{alternate_on}"), "0");
    assert_eq!(tmux.display("#{cursor_flag}"), "1");
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    assert!(
        !log_text.contains(&admin.access_token) && !log_text.contains(&server.ops_token),
        "no secret in the log"
    );
    assert!(log_text.contains("cockpit stopped"), "{log_text}");
}

#[test]
fn sigterm_restores_the_terminal_and_exits_0_even_with_every_target_down() {
    // No server: the one target is a port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = std::env::temp_dir().join(format!("{}.log", unique("tenk-tui-term-")));
    let script = format!(
        "{} --target http://127.0.0.1:{port} --interval 200ms --log-file {}; echo EXITED:$?; sleep 60",
        env!("CARGO_BIN_EXE_tenk-tui"),
        log.display()
    );
    let tmux = Tmux {
        socket: unique("tenk-tui-term-"),
    };
    tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "tui",
        "-x",
        "80",
        "-y",
        "24",
        &script,
    ]);
    let down = tmux.wait_for("the target DOWN", |s| {
        s.contains("DOWN") && s.contains("retry in")
    });
    assert!(down.contains("Connection refused"), "{down}");
    assert_eq!(tmux.display("#{alternate_on}"), "1");

    // The TUI is the one child of the pane's shell.
    let shell = tmux.display("#{pane_pid}");
    let children = Command::new("ps")
        .args(["-o", "pid=", "--ppid", &shell])
        .output()
        .unwrap();
    let tui = String::from_utf8_lossy(&children.stdout).trim().to_string();
    assert!(
        !tui.is_empty() && !tui.contains(char::is_whitespace),
        "one child: {tui:?}"
    );
    let killed = Command::new("kill").args(["-TERM", &tui]).status().unwrap();
    assert!(killed.success());

    let after = tmux.wait_text("EXITED:");
    assert!(after.contains("EXITED:0"), "{after}");
    assert!(
        !after.contains("Instances"),
        "nothing of the TUI is left:\n{after}"
    );
    assert_eq!(
        tmux.display("#{alternate_on}"),
        "0",
        "the alternate screen was left"
    );
    assert_eq!(tmux.display("#{cursor_flag}"), "1", "the cursor is shown");
    let _ = std::fs::remove_file(log);
}

#[test]
fn a_restarted_instance_is_seen_within_the_capped_backoff_and_its_outage_alerts() {
    // Arrange: one live server, the cockpit polling it every second with a
    // backoff capped at 2 s.
    let mut server = TestServer::start();
    let log = std::env::temp_dir().join(format!("{}.log", unique("tenk-tui-back-")));
    let script = format!(
        "{} --target {} --interval 1s --max-backoff 2s --log-file {}; echo EXITED:$?; sleep 60",
        env!("CARGO_BIN_EXE_tenk-tui"),
        server.url.trim_start_matches("http://"),
        log.display()
    );
    let tmux = Tmux {
        socket: unique("tenk-tui-back-"),
    };
    let started = tmux
        .command()
        .args([
            "new-session",
            "-d",
            "-s",
            "tui",
            "-x",
            "100",
            "-y",
            "30",
            &script,
        ])
        .env("TENK_OPS_TOKEN", &server.ops_token)
        .env_remove("TENK_ADMIN_TOKEN")
        .env("TERM", "xterm-256color")
        .status()
        .expect("tmux is needed for this test (apt-get install -y tmux)");
    assert!(started.success());
    tmux.wait_for("the instance UP (host:port accepted)", |s| {
        s.contains(" UP ") && s.contains("total 1/1 up") && s.contains("alerts ok")
    });

    // Act: it stops, long enough for the backoff to reach its cap.
    server.stop();
    let down = tmux.wait_for("DOWN in the header, the outage an alert", |s| {
        s.contains("1/1 DOWN") && s.contains("1 pending") && s.contains("(4 tries)")
    });
    assert!(!down.contains("alerts ok"), "{down}");
    tmux.keys(&["2"]);
    tmux.wait_for("InstanceDown pending on the Alerts screen", |s| {
        s.lines()
            .any(|l| l.contains("InstanceDown") && l.contains("DOWN") && l.contains("PENDING"))
    });
    tmux.keys(&["1"]);
    server.restart();
    let restarted = Instant::now();

    // Assert: seen within the cap (2 s) plus the time to poll and draw.
    let back = tmux.wait_for("UP again", |s| {
        s.contains(" UP ") && s.contains("total 1/1 up") && !s.contains("DOWN")
    });
    let seen_after = restarted.elapsed();
    assert!(
        seen_after < Duration::from_millis(3500),
        "seen {seen_after:?} after the restart, the cap is 2 s:\n{back}"
    );
    tmux.wait_text("alerts ok");
    tmux.keys(&["q"]);
    let after = tmux.wait_text("EXITED:");
    assert!(after.contains("EXITED:0"), "{after}");
    let _ = std::fs::remove_file(log);
}

#[test]
fn usage_errors_exit_1_never_the_alert_code_2() {
    for args in [
        &["--target", "htp://127.0.0.1:8080", "--once"][..],
        &["--interval", "0s", "--once"],
        &["--no-such-flag"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_tenk-tui"))
            .args(args)
            .env(
                "TENK_TUI_LOG",
                std::env::temp_dir().join(unique("tenk-tui-usage-")),
            )
            .output()
            .expect("run tenk-tui");
        assert_eq!(output.status.code(), Some(1), "{args:?}: {output:?}");
        assert!(!output.stderr.is_empty(), "{args:?} says why");
    }
    let help = Command::new(env!("CARGO_BIN_EXE_tenk-tui"))
        .arg("--help")
        .output()
        .expect("run tenk-tui");
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).contains("--max-backoff"));
}

#[test]
fn p_polls_at_once_instead_of_waiting_out_a_long_backoff() {
    // Arrange: a backoff allowed to grow to 30 s.
    let mut server = TestServer::start();
    let log = std::env::temp_dir().join(format!("{}.log", unique("tenk-tui-poll-")));
    let script = format!(
        "{} --target {} --interval 500ms --max-backoff 30s --log-file {}; echo EXITED:$?; sleep 60",
        env!("CARGO_BIN_EXE_tenk-tui"),
        server.url,
        log.display()
    );
    let tmux = Tmux {
        socket: unique("tenk-tui-poll-"),
    };
    let started = tmux
        .command()
        .args([
            "new-session",
            "-d",
            "-s",
            "tui",
            "-x",
            "100",
            "-y",
            "30",
            &script,
        ])
        .env("TENK_OPS_TOKEN", &server.ops_token)
        .env_remove("TENK_ADMIN_TOKEN")
        .status()
        .expect("tmux is needed for this test (apt-get install -y tmux)");
    assert!(started.success());
    tmux.wait_for("the instance UP", |s| s.contains("total 1/1 up"));
    server.stop();
    // 0.5 + 1 + 2 + 4 s of backoff: the next try is 8 s away.
    tmux.wait_for("five failed polls", |s| s.contains("(5 tries)"));
    server.restart();
    let restarted = Instant::now();

    // Act
    tmux.keys(&["p"]);

    // Assert: seen long before the backoff would have retried.
    let back = tmux.wait_for("UP again", |s| {
        s.contains("total 1/1 up") && !s.contains("DOWN")
    });
    assert!(
        restarted.elapsed() < Duration::from_secs(3),
        "p did not poll at once ({:?}):\n{back}",
        restarted.elapsed()
    );
    tmux.keys(&["q"]);
    tmux.wait_text("EXITED:0");
    let _ = std::fs::remove_file(log);
}
