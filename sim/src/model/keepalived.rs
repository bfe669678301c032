//! keepalived's VRRP, which moves the control-plane VIP between two load-balancer hosts.
//!
//! The master advertises every `advert_int` (1 s). A backup that hears nothing for
//! Master_Down_Interval = 3·advert_int + skew becomes master and claims the VIP. The
//! skew is (256 − priority)/256 s: keepalived speaks VRRPv2 unless told otherwise
//! (`vrrp_version`), and VRRPv2 (RFC 3768) does not scale it by the advert interval
//! as VRRPv3 does. About 3.6 s at priority 100 and 1 s adverts. With preemption
//! (keepalived's default) a backup of higher priority ignores a lower-priority
//! master's adverts, so it takes the VIP back once its down timer runs out; a master that hears a higher priority steps back and releases the VIP. Two
//! masters at once (the LBs could not hear each other) sort themselves out when they
//! can again: keepalived's master that hears a lower-priority advert answers at once
//! with its own advert and gratuitous ARPs ("forcing new election" in `vrrp.c`), so the
//! VIP's traffic comes back to it, and the other steps back when that advert arrives.
//! A master stopping cleanly sends priority 0, and the backup takes over after only the
//! skew.
//!
//! VRRP itself only notices a dead LB host. kubeadm's HA guide therefore tracks a
//! script (`vrrp_script check_apiserver`, `track_script`): every `interval` it GETs /
//! through the local HAProxy; `fall` failures in a row mark it failed and
//! `rise` successes in a row good again (keepalived's vrrp_track.c). While it is failed
//! a non-zero `weight` is added to the instance's priority — kubeadm's −2 takes its
//! MASTER from 101 to 99, below the BACKUP's 100, so with preemption the backup takes
//! over — and weight 0 puts the instance in FAULT state: it leaves MASTER with a
//! priority-0 advert and stays out until the script is good again.

use crate::time::SimDuration;

/// keepalived's `vrrp_script` as `track_script` uses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrackScript {
    pub interval: SimDuration,
    /// Added to the priority: if negative while the script is failed, if positive
    /// while it is good; 0 means FAULT while it is failed.
    pub weight: i16,
    pub fall: u32,
    pub rise: u32,
    /// keepalived kills a run still going after this long and counts it failed. None:
    /// keepalived's default when `timeout` is not set, the interval (vrrp_script_thread
    /// passes `timeout ? timeout : interval` to the child it starts).
    pub timeout: Option<SimDuration>,
}

impl TrackScript {
    /// kubeadm's HA guide (docs/ha-considerations.md): `interval 3`, `weight -2`,
    /// `fall 10`, `rise 2`, no `timeout`.
    pub const KUBEADM: TrackScript =
        TrackScript { interval: SimDuration::from_secs(3), weight: -2, fall: 10, rise: 2, timeout: None };

    /// How long a run may take before keepalived kills it.
    pub fn run_limit(&self) -> SimDuration {
        self.timeout.unwrap_or(self.interval)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VrrpConfig {
    pub advert_int: SimDuration,
    pub priority: u8,
    pub preempt: bool,
    pub track_script: Option<TrackScript>,
}

impl Default for VrrpConfig {
    fn default() -> Self {
        VrrpConfig { advert_int: SimDuration::from_secs(1), priority: 100, preempt: true, track_script: None }
    }
}

impl VrrpConfig {
    pub fn skew(&self) -> SimDuration {
        SimDuration((256 - u64::from(self.priority)) * 1_000_000 / 256)
    }

    /// Master_Down_Interval.
    pub fn master_down_interval(&self) -> SimDuration {
        self.advert_int.saturating_mul(3) + self.skew()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VrrpState {
    Backup,
    Master,
    /// A tracked script with weight 0 failed: the instance takes no part until it is
    /// good again.
    Fault,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VrrpOutput {
    /// Send an advertisement with this priority to the peer.
    Advertise {
        priority: u8,
    },
    /// Arm the single timer: fires `on_timer(token)` after this long.
    Timer {
        after: SimDuration,
        token: u64,
    },
    BecameMaster,
    /// A master heard a lower-priority master: it advertised at once and sent
    /// gratuitous ARPs, so the VIP's traffic now reaches it.
    Reasserted,
    BecameBackup,
    /// A master whose tracked script (weight 0) failed went to FAULT, releasing the VIP.
    MasterFaulted,
    /// The tracked script changed status after `streak` results in a row; `first`
    /// when that was its first result, which alone decides. `priority` is the
    /// instance's priority from now on, or None for FAULT (weight 0).
    ScriptChanged {
        good: bool,
        streak: u32,
        first: bool,
        priority: Option<u8>,
    },
}

/// A tracked script's status, as keepalived keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ScriptStatus {
    /// No result yet (keepalived's INIT state): no weight applies, and the first
    /// result decides either way.
    Init,
    Good,
    Failed,
}

/// One keepalived VRRP instance.
#[derive(Clone, Debug)]
pub struct Vrrp {
    pub cfg: VrrpConfig,
    /// Tie-break when priorities are equal (RFC: the higher primary address wins).
    pub address_rank: u32,
    state: VrrpState,
    token: u64,
    /// The tracked script's status, and how many results in a row have disagreed
    /// with it.
    script: ScriptStatus,
    script_streak: u32,
    pub out: Vec<VrrpOutput>,
}

impl Vrrp {
    /// Starts as backup, as keepalived does, and waits a down interval; with a
    /// weight-0 tracked script it waits in FAULT until the script's first result.
    pub fn start(cfg: VrrpConfig, address_rank: u32) -> Vrrp {
        let mut v = Vrrp {
            cfg,
            address_rank,
            state: VrrpState::Backup,
            token: 0,
            script: ScriptStatus::Init,
            script_streak: 0,
            out: Vec::new(),
        };
        if cfg.track_script.is_some_and(|s| s.weight == 0) {
            v.state = VrrpState::Fault;
        } else {
            v.arm(v.down_interval());
        }
        v
    }

    /// Master_Down_Interval at the priority it has now (keepalived skews by the
    /// effective priority).
    fn down_interval(&self) -> SimDuration {
        VrrpConfig { priority: self.priority(), ..self.cfg }.master_down_interval()
    }

    pub fn state(&self) -> VrrpState {
        self.state
    }

    /// The priority it advertises and compares with: the configured one, plus the
    /// tracked script's weight — a negative one while the script is failed, a
    /// positive one while it is good (keepalived's vrrp_track.c) — kept within 1–254.
    pub fn priority(&self) -> u8 {
        let applies = |s: TrackScript| match self.script {
            ScriptStatus::Failed => s.weight < 0,
            ScriptStatus::Good => s.weight > 0,
            ScriptStatus::Init => false,
        };
        match self.cfg.track_script {
            Some(s) if applies(s) => (i16::from(self.cfg.priority) + s.weight).clamp(1, 254) as u8,
            _ => self.cfg.priority,
        }
    }

    /// The run begins with a cluster that has been up for a while: the tracked
    /// script has long been good (and a weight-0 instance has left FAULT).
    pub fn assume_long_running(&mut self) {
        if self.cfg.track_script.is_none() {
            return;
        }
        self.script = ScriptStatus::Good;
        if self.state == VrrpState::Fault {
            self.state = VrrpState::Backup;
            self.arm(self.down_interval());
        }
    }

    /// One run of the tracked script finished.
    pub fn on_script_result(&mut self, good: bool) {
        let Some(script) = self.cfg.track_script else { return };
        let now = if good { ScriptStatus::Good } else { ScriptStatus::Failed };
        if self.script == now {
            self.script_streak = 0;
            return;
        }
        let first = self.script == ScriptStatus::Init;
        self.script_streak += 1;
        let needed = if good { script.rise } else { script.fall };
        if !first && self.script_streak < needed {
            return;
        }
        let streak = std::mem::take(&mut self.script_streak);
        let before = self.priority();
        self.script = now;
        if script.weight != 0 {
            // A first good result with a negative weight changes nothing worth saying.
            if self.priority() != before || !first {
                self.out.push(VrrpOutput::ScriptChanged { good, streak, first, priority: Some(self.priority()) });
            }
            return;
        }
        if good {
            // Out of FAULT: back to BACKUP, waiting a down interval like at start.
            self.out.push(VrrpOutput::ScriptChanged { good, streak, first, priority: None });
            self.state = VrrpState::Backup;
            self.arm(self.down_interval());
        } else if self.state != VrrpState::Fault {
            self.out.push(VrrpOutput::ScriptChanged { good, streak, first, priority: None });
            self.token += 1;
            if self.state == VrrpState::Master {
                self.out.push(VrrpOutput::Advertise { priority: 0 });
                self.out.push(VrrpOutput::MasterFaulted);
            }
            self.state = VrrpState::Fault;
        }
    }

    fn arm(&mut self, after: SimDuration) {
        self.token += 1;
        self.out.push(VrrpOutput::Timer { after, token: self.token });
    }

    pub fn on_timer(&mut self, token: u64) {
        if token != self.token {
            return;
        }
        match self.state {
            VrrpState::Backup => {
                self.state = VrrpState::Master;
                self.out.push(VrrpOutput::BecameMaster);
                self.out.push(VrrpOutput::Advertise { priority: self.priority() });
                self.arm(self.cfg.advert_int);
            }
            VrrpState::Master => {
                self.out.push(VrrpOutput::Advertise { priority: self.priority() });
                self.arm(self.cfg.advert_int);
            }
            VrrpState::Fault => {}
        }
    }

    /// An advertisement from the peer arrived.
    pub fn on_advert(&mut self, priority: u8, peer_rank: u32) {
        let own = self.priority();
        let peer_wins = priority > own || (priority == own && peer_rank > self.address_rank);
        match self.state {
            VrrpState::Backup => {
                if priority == 0 {
                    // The master is leaving: take over after the skew only.
                    self.arm(VrrpConfig { priority: self.priority(), ..self.cfg }.skew());
                } else if !self.cfg.preempt || peer_wins || priority >= own {
                    self.arm(self.down_interval());
                }
                // else: a lower-priority master with preemption on: ignore its adverts
                // and take over when the down timer runs out.
            }
            VrrpState::Master => {
                if priority == 0 {
                    // RFC 5798 6.4.3: a master hearing a goodbye advertises at once.
                    self.out.push(VrrpOutput::Advertise { priority: own });
                    self.arm(self.cfg.advert_int);
                } else if peer_wins {
                    self.state = VrrpState::Backup;
                    self.out.push(VrrpOutput::BecameBackup);
                    self.arm(self.down_interval());
                } else {
                    // Its periodic adverts keep their own schedule.
                    self.out.push(VrrpOutput::Reasserted);
                    self.out.push(VrrpOutput::Advertise { priority: own });
                }
            }
            VrrpState::Fault => {}
        }
    }

    /// Clean shutdown: a master says goodbye with priority 0.
    pub fn shutdown(&mut self) {
        self.token += 1;
        if self.state == VrrpState::Master {
            self.out.push(VrrpOutput::Advertise { priority: 0 });
        }
        self.state = VrrpState::Backup;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timer(v: &Vrrp) -> (SimDuration, u64) {
        v.out
            .iter()
            .rev()
            .find_map(|o| match o {
                VrrpOutput::Timer { after, token } => Some((*after, *token)),
                _ => None,
            })
            .expect("a timer is armed")
    }

    #[test]
    fn the_down_interval_at_priority_100_is_about_3_6_s() {
        let d = VrrpConfig::default().master_down_interval();
        assert_eq!(d, SimDuration::from_micros(3_609_375));
    }

    #[test]
    fn a_backup_takes_over_when_adverts_stop_and_a_higher_priority_preempts() {
        let mut master = Vrrp::start(VrrpConfig { priority: 150, ..VrrpConfig::default() }, 1);
        let (_, t) = timer(&master);
        master.on_timer(t);
        assert_eq!(master.state(), VrrpState::Master);
        let mut backup = Vrrp::start(VrrpConfig::default(), 2);
        backup.on_advert(150, 1);
        assert_eq!(backup.state(), VrrpState::Backup);
        let (after, t) = timer(&backup);
        assert_eq!(after, VrrpConfig::default().master_down_interval());
        backup.on_timer(t);
        assert_eq!(backup.state(), VrrpState::Master, "adverts stopped: backup takes the VIP");
        // The higher-priority node returns: it ignores the lower master's adverts...
        let mut returning = Vrrp::start(VrrpConfig { priority: 150, ..VrrpConfig::default() }, 1);
        let (_, before) = timer(&returning);
        returning.on_advert(100, 2);
        assert_eq!(timer(&returning).1, before, "lower-priority adverts do not reset its timer");
        returning.on_timer(before);
        assert_eq!(returning.state(), VrrpState::Master);
        // ...and the lower master steps back when it hears the higher priority.
        backup.on_advert(150, 1);
        assert_eq!(backup.state(), VrrpState::Backup);
    }

    #[test]
    fn a_clean_shutdown_hands_over_after_the_skew_only() {
        let mut backup = Vrrp::start(VrrpConfig::default(), 2);
        backup.on_advert(0, 1);
        assert_eq!(timer(&backup).0, VrrpConfig::default().skew());
    }

    fn with_script(priority: u8, script: TrackScript) -> Vrrp {
        Vrrp::start(VrrpConfig { priority, track_script: Some(script), ..VrrpConfig::default() }, 1)
    }

    #[test]
    fn a_failing_script_lowers_the_priority_after_fall_results_and_restores_it_after_rise() {
        let mut v = with_script(101, TrackScript::KUBEADM);
        v.on_script_result(true);
        assert!(v.out.iter().all(|o| !matches!(o, VrrpOutput::ScriptChanged { .. })), "nothing changed");
        for i in 1..10 {
            v.on_script_result(false);
            assert_eq!(v.priority(), 101, "{i} failures are fewer than fall (10)");
        }
        v.on_script_result(true);
        for _ in 0..9 {
            v.on_script_result(false);
        }
        assert_eq!(v.priority(), 101, "a success in between starts the count again");
        v.on_script_result(false);
        assert_eq!(v.priority(), 99, "ten in a row: weight -2");
        assert!(v.out.contains(&VrrpOutput::ScriptChanged {
            good: false,
            streak: 10,
            first: false,
            priority: Some(99)
        }));
        v.on_script_result(true);
        assert_eq!(v.priority(), 99, "one success is fewer than rise (2)");
        v.on_script_result(true);
        assert_eq!(v.priority(), 101);
    }

    #[test]
    fn only_the_very_first_script_result_is_reported_as_the_first() {
        let script = TrackScript { fall: 1, rise: 1, ..TrackScript::KUBEADM };
        let mut v = with_script(101, script);
        v.on_script_result(false);
        let first = VrrpOutput::ScriptChanged { good: false, streak: 1, first: true, priority: Some(99) };
        assert!(v.out.contains(&first), "{:?}", v.out);
        v.on_script_result(true);
        v.out.clear();
        // With `fall 1`, a single failure after a pass decides too; it is not a first.
        v.on_script_result(false);
        let again = VrrpOutput::ScriptChanged { good: false, streak: 1, first: false, priority: Some(99) };
        assert!(v.out.contains(&again), "{:?}", v.out);
    }

    #[test]
    fn a_master_whose_script_fails_is_preempted_by_the_backup_and_steps_back() {
        let script = TrackScript { fall: 1, ..TrackScript::KUBEADM };
        let mut master = with_script(101, script);
        let (_, t) = timer(&master);
        master.on_timer(t);
        assert_eq!(master.state(), VrrpState::Master);
        master.on_script_result(false);
        let (_, t) = timer(&master);
        master.out.clear();
        master.on_timer(t);
        assert!(master.out.contains(&VrrpOutput::Advertise { priority: 99 }), "it advertises its lowered priority");
        let mut backup = Vrrp::start(VrrpConfig::default(), 2);
        let (_, before) = timer(&backup);
        backup.on_advert(99, 1);
        assert_eq!(timer(&backup).1, before, "a preempting backup ignores the lower master's adverts");
        backup.on_timer(before);
        assert_eq!(backup.state(), VrrpState::Master);
        master.on_advert(100, 2);
        assert_eq!(master.state(), VrrpState::Backup, "the old master hears the higher priority");
    }

    #[test]
    fn with_weight_0_it_waits_in_fault_for_the_first_result_and_a_failing_master_leaves_with_a_goodbye() {
        let script = TrackScript { weight: 0, fall: 1, rise: 1, ..TrackScript::KUBEADM };
        let mut v = with_script(101, script);
        assert_eq!(v.state(), VrrpState::Fault, "no result yet");
        assert!(v.out.is_empty(), "no timer while in FAULT");
        v.on_script_result(true);
        assert_eq!(v.state(), VrrpState::Backup);
        assert_eq!(timer(&v).0, v.cfg.master_down_interval(), "a down interval, as at start");
        let (_, t) = timer(&v);
        v.on_timer(t);
        assert_eq!(v.state(), VrrpState::Master);
        let (_, stale) = timer(&v);
        v.out.clear();
        v.on_script_result(false);
        assert_eq!(v.state(), VrrpState::Fault);
        assert!(v.out.contains(&VrrpOutput::Advertise { priority: 0 }), "it says goodbye");
        assert!(v.out.contains(&VrrpOutput::MasterFaulted));
        v.out.clear();
        v.on_timer(stale);
        v.on_advert(100, 2);
        assert!(v.out.is_empty(), "in FAULT it neither advertises nor answers");
    }

    #[test]
    fn the_first_result_decides_and_a_positive_weight_applies_while_the_script_is_good() {
        let mut v = with_script(101, TrackScript::KUBEADM);
        v.on_script_result(false);
        assert_eq!(v.priority(), 99, "one failure is enough before any result (keepalived's INIT)");
        let mut up = with_script(100, TrackScript { weight: 5, ..TrackScript::KUBEADM });
        assert_eq!(up.priority(), 100, "no weight before a result");
        up.on_script_result(true);
        assert_eq!(up.priority(), 105);
        for _ in 0..10 {
            up.on_script_result(false);
        }
        assert_eq!(up.priority(), 100, "failed: the positive weight no longer applies");
    }
}
