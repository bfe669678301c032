//! The load balancer in front of the kube-apiservers: HAProxy with active health
//! checks, or nginx's stream module with passive checks.
//!
//! HAProxy (doc/configuration.txt): each backend is checked every `inter` (2 s), or
//! `fastinter` while its state is in transition, or `downinter` while it is DOWN (both
//! default to `inter`). `fall` (3) consecutive failures mark it DOWN, `rise` (2)
//! consecutive successes mark it UP. The check is a TCP connect by default, or an HTTP
//! GET of /readyz with `option httpchk`. With no `timeout check`, `inter` bounds the
//! whole check, connect and answer. With `timeout check` set (kubeadm's HA guide sets
//! 10 s), the connect may take min(`inter`, `timeout connect`) and, once the request is
//! sent, the answer may take `timeout check` more (check.c/tcpcheck.c re-arm the
//! check's expiry when the request goes out), so an apiserver that accepts connections
//! but never answers (a frozen process) costs `timeout check` per check. The next
//! check is due `inter` after the previous one *ended* (check.c reschedules from the
//! time the result came in), so a backend that refuses at once is
//! marked DOWN (fall−1)·inter to fall·inter after it died (4–6 s), while one that is
//! silent (host powered off, packets dropped) costs a timeout plus `inter` per check:
//! about (2·fall−1)·inter to 2·fall·inter (10–12 s). New connections go to UP backends
//! (roundrobin or leastconn); established connections stay on a backend marked DOWN
//! unless `on-marked-down shutdown-sessions`. A freshly started HAProxy counts every
//! server UP but at the lowest UP health (`health = rise` in server.c): the first
//! failed check marks it DOWN, the first good one brings it to full health; checks in
//! that state run at `fastinter`.
//!
//! nginx stream (ngx_stream_upstream_round_robin.c): no checks; a failed connect counts
//! against the server, and after `max_fails` (1) failures it is skipped for
//! `fail_timeout` (10 s). If every server is marked failed, all are forgiven at once.

use crate::time::{SimDuration, SimTime};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HealthCheck {
    /// Plain TCP connect to :6443 (HAProxy's default).
    Tcp,
    /// `option httpchk GET /readyz`: 200 means healthy.
    HttpReadyz,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Balance {
    RoundRobin,
    LeastConn,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HaproxyConfig {
    pub check: HealthCheck,
    pub inter: SimDuration,
    pub fastinter: Option<SimDuration>,
    pub downinter: Option<SimDuration>,
    pub fall: u32,
    pub rise: u32,
    pub balance: Balance,
    pub shutdown_sessions: bool,
    /// Connection attempts to the chosen server after a refusal or connect timeout.
    pub retries: u32,
    /// `option redispatch`: the last retry goes to another server (kubeadm's HA guide
    /// sets it, with `retries 1`; HAProxy's default is off).
    pub redispatch: bool,
    pub timeout_connect: SimDuration,
    /// `timeout server`: a session whose backend has sent nothing for this long is
    /// closed. kubeadm's documented haproxy.cfg sets 20 s (HAProxy has no default).
    pub timeout_server: SimDuration,
    /// `timeout check`: how long a check waits for its answer once connected. Unset by
    /// default (HAProxy's default), in which case `inter` bounds the whole check.
    pub timeout_check: Option<SimDuration>,
}

impl Default for HaproxyConfig {
    fn default() -> Self {
        HaproxyConfig {
            check: HealthCheck::Tcp,
            inter: SimDuration::from_secs(2),
            fastinter: None,
            downinter: None,
            fall: 3,
            rise: 2,
            balance: Balance::RoundRobin,
            shutdown_sessions: false,
            retries: 3,
            redispatch: false,
            timeout_connect: SimDuration::from_secs(5),
            timeout_server: SimDuration::from_secs(20),
            timeout_check: None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerState {
    Up,
    Down,
}

#[derive(Clone, Debug)]
struct Server {
    state: ServerState,
    /// Consecutive results against the current state (failures while UP, successes
    /// while DOWN).
    streak: u32,
    /// UP since HAProxy started, with no check passed yet: one failure marks it DOWN.
    fresh: bool,
    conns: u32,
}

/// How one health check ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckResult {
    /// Connected (TCP check), or /readyz answered 200.
    Passed,
    /// The host answered the connect with a reset: nothing listens on the port.
    Refused,
    /// No answer to the connect in time: the host is down, frozen or cut off.
    ConnectTimeout,
    /// Connected, but the GET got no answer in time: the process is frozen.
    AnswerTimeout,
    /// /readyz answered, but not 200: the apiserver's etcd check fails.
    NotReady,
}

impl CheckResult {
    pub fn passed(self) -> bool {
        self == CheckResult::Passed
    }
}

/// A backend changed state after a check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    pub server: usize,
    pub now: ServerState,
    /// A server still fresh from HAProxy's start went DOWN on its first failed check.
    pub while_fresh: bool,
}

/// HAProxy's view of its backends.
#[derive(Clone, Debug)]
pub struct Haproxy {
    pub cfg: HaproxyConfig,
    servers: Vec<Server>,
    rr_next: usize,
}

impl Haproxy {
    /// Servers start UP, as HAProxy assumes until checks say otherwise, but fresh.
    pub fn new(cfg: HaproxyConfig, servers: usize) -> Self {
        let server = Server { state: ServerState::Up, streak: 0, fresh: true, conns: 0 };
        Haproxy { cfg, servers: vec![server; servers], rr_next: 0 }
    }

    /// The run starts with a control plane that has been up for a while: its servers
    /// are at full health, as after their first good checks.
    pub fn assume_long_running(&mut self) {
        self.servers.iter_mut().for_each(|s| s.fresh = false);
    }

    pub fn state(&self, server: usize) -> ServerState {
        self.servers[server].state
    }

    pub fn server_count(&self) -> usize {
        self.servers.len()
    }

    /// Delay before the next check of `server`.
    pub fn next_check_in(&self, server: usize) -> SimDuration {
        let s = &self.servers[server];
        match (s.state, s.streak) {
            (ServerState::Down, 0) => self.cfg.downinter.unwrap_or(self.cfg.inter),
            (_, 0) if !s.fresh => self.cfg.inter,
            _ => self.cfg.fastinter.unwrap_or(self.cfg.inter),
        }
    }

    /// How long a check's TCP connect may take before the check fails: `inter`, or
    /// min(`inter`, `timeout connect`) when `timeout check` is set.
    pub fn check_connect_timeout(&self) -> SimDuration {
        match self.cfg.timeout_check {
            Some(_) => self.cfg.inter.min(self.cfg.timeout_connect),
            None => self.cfg.inter,
        }
    }

    /// When a check that started at `started` and sent its request at `sent` fails for
    /// want of an answer: `timeout check` after the request, or else `inter` after the
    /// start.
    pub fn check_answer_deadline(&self, started: SimTime, sent: SimTime) -> SimTime {
        match self.cfg.timeout_check {
            Some(t) => sent + t,
            None => started + self.cfg.inter,
        }
    }

    /// Records one check result; returns the transition it caused, if any.
    pub fn on_check(&mut self, server: usize, healthy: bool) -> Option<Transition> {
        let (fall, rise) = (self.cfg.fall.max(1), self.cfg.rise.max(1));
        let s = &mut self.servers[server];
        match (s.state, healthy) {
            (ServerState::Up, true) | (ServerState::Down, false) => {
                s.streak = 0;
                s.fresh = false;
                None
            }
            (ServerState::Up, false) => {
                s.streak += 1;
                (s.streak >= fall || s.fresh).then(|| {
                    let while_fresh = s.fresh && s.streak < fall;
                    s.state = ServerState::Down;
                    s.streak = 0;
                    s.fresh = false;
                    Transition { server, now: ServerState::Down, while_fresh }
                })
            }
            (ServerState::Down, true) => {
                s.streak += 1;
                (s.streak >= rise).then(|| {
                    s.state = ServerState::Up;
                    s.streak = 0;
                    Transition { server, now: ServerState::Up, while_fresh: false }
                })
            }
        }
    }

    /// Chooses the backend for a new connection; None when every backend is DOWN
    /// (in TCP mode HAProxy closes the client connection at once).
    pub fn pick(&mut self) -> Option<usize> {
        self.pick_avoiding(None)
    }

    /// Like `pick`, but passing over `avoid` (the server a redispatched connection
    /// failed on) unless it is the only one UP: HAProxy's balance algorithms take the
    /// previous server as `srvtoavoid` and fall back to it only when nothing else is
    /// available (fwrr_get_next_server, fwlc_get_next_server).
    #[inline(always)]
    pub fn pick_avoiding(&mut self, avoid: Option<usize>) -> Option<usize> {
        let chosen = self.choose(avoid).or_else(|| self.choose(None))?;
        self.rr_next = if chosen + 1 == self.servers.len() { 0 } else { chosen + 1 };
        self.servers[chosen].conns += 1;
        Some(chosen)
    }

    /// The server the balance algorithm would pick, other than `skip`. The servers are
    /// walked once round from `rr_next` (always below their count), wrapping by a
    /// comparison rather than a division per step: every new connection picks.
    fn choose(&self, skip: Option<usize>) -> Option<usize> {
        let n = self.servers.len();
        let mut i = self.rr_next;
        let mut best: Option<(usize, u32)> = None;
        for _ in 0..n {
            let s = &self.servers[i];
            if s.state == ServerState::Up && Some(i) != skip {
                match self.cfg.balance {
                    Balance::RoundRobin => return Some(i),
                    // Lowest connection count; ties go round-robin (the first met).
                    Balance::LeastConn => {
                        if best.is_none_or(|(_, conns)| s.conns < conns) {
                            best = Some((i, s.conns));
                        }
                    }
                }
            }
            i += 1;
            if i == n {
                i = 0;
            }
        }
        best.map(|(i, _)| i)
    }

    /// A connection to `server` ended.
    pub fn closed(&mut self, server: usize) {
        let c = &mut self.servers[server].conns;
        *c = c.saturating_sub(1);
    }

    pub fn connections(&self, server: usize) -> u32 {
        self.servers[server].conns
    }
}

/// nginx stream upstream with passive failure accounting.
#[derive(Clone, Debug)]
pub struct NginxPassive {
    pub max_fails: u32,
    pub fail_timeout: SimDuration,
    fails: Vec<u32>,
    checked: Vec<SimTime>,
    rr_next: usize,
}

impl NginxPassive {
    pub fn new(servers: usize, max_fails: u32, fail_timeout: SimDuration) -> Self {
        NginxPassive {
            max_fails,
            fail_timeout,
            fails: vec![0; servers],
            checked: vec![SimTime::ZERO; servers],
            rr_next: 0,
        }
    }

    /// Whether `pick` would consider `server` now (not failed `max_fails` times within
    /// the last `fail_timeout`).
    pub fn usable(&self, i: usize, now: SimTime) -> bool {
        self.max_fails == 0 || self.fails[i] < self.max_fails || now.since(self.checked[i]) > self.fail_timeout
    }

    /// Chooses a server for a new connection, skipping ones failed recently; if all
    /// are failed, forgives them all (nginx's "quick recovery") and picks again.
    pub fn pick(&mut self, now: SimTime) -> usize {
        let n = self.fails.len();
        let found = (0..n).map(|k| (self.rr_next + k) % n).find(|&i| self.usable(i, now));
        let chosen = match found {
            Some(i) => i,
            None => {
                self.fails.iter_mut().for_each(|f| *f = 0);
                self.rr_next % n
            }
        };
        self.rr_next = (chosen + 1) % n;
        chosen
    }

    /// The connect to `server` failed (error or timeout while connecting).
    pub fn failed(&mut self, server: usize, now: SimTime) {
        if self.fails.len() == 1 {
            return; // a single-server upstream keeps no failure accounting
        }
        self.fails[server] += 1;
        self.checked[server] = now;
    }

    /// A connect succeeded: the server's failures are forgotten once its fail_timeout
    /// window has passed (nginx resets `fails` on success after `checked`).
    pub fn succeeded(&mut self, server: usize, now: SimTime) {
        if now.since(self.checked[server]) > self.fail_timeout {
            self.fails[server] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backend_goes_down_after_fall_failures_and_up_after_rise_successes() {
        let mut h = Haproxy::new(HaproxyConfig::default(), 3);
        assert_eq!(h.on_check(1, true), None, "the first good check brings it to full health");
        assert_eq!(h.on_check(1, false), None);
        assert_eq!(h.next_check_in(1), SimDuration::from_secs(2), "fastinter defaults to inter");
        assert_eq!(h.on_check(1, false), None);
        assert_eq!(h.on_check(1, false), Some(Transition { server: 1, now: ServerState::Down, while_fresh: false }));
        assert_eq!(h.on_check(1, true), None);
        assert_eq!(h.on_check(1, true), Some(Transition { server: 1, now: ServerState::Up, while_fresh: false }));
        // A success in between restarts the count.
        h.on_check(2, true);
        h.on_check(2, false);
        h.on_check(2, true);
        h.on_check(2, false);
        h.on_check(2, false);
        assert_eq!(h.state(2), ServerState::Up);
    }

    #[test]
    fn after_haproxy_starts_one_failed_check_marks_a_server_down() {
        let mut h = Haproxy::new(HaproxyConfig::default(), 2);
        assert_eq!(h.state(0), ServerState::Up);
        assert_eq!(h.on_check(0, false), Some(Transition { server: 0, now: ServerState::Down, while_fresh: true }));
        // Once a check has passed, it takes `fall` failures again.
        h.on_check(1, true);
        assert_eq!(h.on_check(1, false), None);
        assert_eq!(h.on_check(1, false), None);
        assert_eq!(h.on_check(1, false), Some(Transition { server: 1, now: ServerState::Down, while_fresh: false }));
    }

    #[test]
    fn timeout_check_splits_a_check_into_a_short_connect_and_an_answer_wait() {
        let at = |ms: u64| SimTime::ZERO + SimDuration::from_millis(ms);
        // Unset: `inter` bounds connect and answer together, from the check's start.
        let h = Haproxy::new(HaproxyConfig { inter: SimDuration::from_secs(3), ..HaproxyConfig::default() }, 1);
        assert_eq!(h.check_connect_timeout(), SimDuration::from_secs(3));
        assert_eq!(h.check_answer_deadline(at(0), at(1)), at(3_000));
        // Set: the connect gets min(inter, timeout connect), the answer `timeout check`
        // from when the request went out.
        let cfg = HaproxyConfig {
            inter: SimDuration::from_secs(3),
            timeout_connect: SimDuration::from_secs(5),
            timeout_check: Some(SimDuration::from_secs(10)),
            ..HaproxyConfig::default()
        };
        let h = Haproxy::new(cfg, 1);
        assert_eq!(h.check_connect_timeout(), SimDuration::from_secs(3));
        assert_eq!(h.check_answer_deadline(at(0), at(1)), at(10_001));
        let h = Haproxy::new(HaproxyConfig { timeout_connect: SimDuration::from_secs(1), ..cfg }, 1);
        assert_eq!(h.check_connect_timeout(), SimDuration::from_secs(1));
    }

    #[test]
    fn fastinter_and_downinter_apply_in_transition_and_when_down() {
        let cfg = HaproxyConfig {
            fastinter: Some(SimDuration::from_millis(500)),
            downinter: Some(SimDuration::from_secs(5)),
            ..HaproxyConfig::default()
        };
        let mut h = Haproxy::new(cfg, 1);
        assert_eq!(h.next_check_in(0), SimDuration::from_millis(500), "fresh after start: not at full health");
        h.on_check(0, true);
        assert_eq!(h.next_check_in(0), SimDuration::from_secs(2));
        h.on_check(0, false);
        assert_eq!(h.next_check_in(0), SimDuration::from_millis(500));
        h.on_check(0, false);
        h.on_check(0, false);
        assert_eq!(h.state(0), ServerState::Down);
        assert_eq!(h.next_check_in(0), SimDuration::from_secs(5));
        h.on_check(0, true);
        assert_eq!(h.next_check_in(0), SimDuration::from_millis(500));
    }

    #[test]
    fn roundrobin_skips_down_backends_and_leastconn_balances_connections() {
        let mut h = Haproxy::new(HaproxyConfig::default(), 3);
        for _ in 0..3 {
            h.on_check(1, false);
        }
        let picks: Vec<usize> = (0..4).map(|_| h.pick().unwrap()).collect();
        assert_eq!(picks, vec![0, 2, 0, 2]);
        for _ in 0..3 {
            h.on_check(0, false);
            h.on_check(2, false);
        }
        assert_eq!(h.pick(), None, "all DOWN: nowhere to send it");

        let mut lc = Haproxy::new(HaproxyConfig { balance: Balance::LeastConn, ..HaproxyConfig::default() }, 3);
        let a = lc.pick().unwrap();
        let b = lc.pick().unwrap();
        let c = lc.pick().unwrap();
        assert_eq!([a, b, c].iter().collect::<std::collections::BTreeSet<_>>().len(), 3);
        lc.closed(b);
        assert_eq!(lc.pick(), Some(b), "the backend with fewest connections");
    }

    #[test]
    fn a_redispatch_passes_over_the_server_it_failed_on_unless_no_other_is_up() {
        for balance in [Balance::RoundRobin, Balance::LeastConn] {
            let mut h = Haproxy::new(HaproxyConfig { balance, ..HaproxyConfig::default() }, 3);
            h.assume_long_running();
            assert_eq!(h.pick(), Some(0));
            // The next pick would be server 1; avoiding it moves on to server 2.
            assert_eq!(h.pick_avoiding(Some(1)), Some(2));
            for s in [0, 2] {
                for _ in 0..3 {
                    h.on_check(s, false);
                }
            }
            assert_eq!(h.pick_avoiding(Some(1)), Some(1), "the only server UP is taken after all");
        }
    }

    #[test]
    fn nginx_skips_a_failed_server_for_fail_timeout_then_tries_it_again() {
        let mut n = NginxPassive::new(3, 1, SimDuration::from_secs(10));
        let t = |s| SimTime::ZERO + SimDuration::from_secs(s);
        n.failed(1, t(1));
        let picks: Vec<usize> = (0..4).map(|_| n.pick(t(2))).collect();
        assert!(!picks.contains(&1), "{picks:?}");
        let later: Vec<usize> = (0..3).map(|_| n.pick(t(12))).collect();
        assert!(later.contains(&1), "back after fail_timeout: {later:?}");
        n.failed(0, t(20));
        n.failed(1, t(20));
        n.failed(2, t(20));
        let _ = n.pick(t(21));
        assert!(n.fails.iter().all(|&f| f == 0), "all failed: all forgiven");
    }
}
