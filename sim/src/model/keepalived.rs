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

use crate::time::SimDuration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VrrpConfig {
    pub advert_int: SimDuration,
    pub priority: u8,
    pub preempt: bool,
}

impl Default for VrrpConfig {
    fn default() -> Self {
        VrrpConfig { advert_int: SimDuration::from_secs(1), priority: 100, preempt: true }
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
}

/// One keepalived VRRP instance.
#[derive(Clone, Debug)]
pub struct Vrrp {
    pub cfg: VrrpConfig,
    /// Tie-break when priorities are equal (RFC: the higher primary address wins).
    pub address_rank: u32,
    state: VrrpState,
    token: u64,
    pub out: Vec<VrrpOutput>,
}

impl Vrrp {
    /// Starts as backup, as keepalived does, and waits a down interval.
    pub fn start(cfg: VrrpConfig, address_rank: u32) -> Vrrp {
        let mut v = Vrrp { cfg, address_rank, state: VrrpState::Backup, token: 0, out: Vec::new() };
        v.arm(cfg.master_down_interval());
        v
    }

    pub fn state(&self) -> VrrpState {
        self.state
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
                self.out.push(VrrpOutput::Advertise { priority: self.cfg.priority });
                self.arm(self.cfg.advert_int);
            }
            VrrpState::Master => {
                self.out.push(VrrpOutput::Advertise { priority: self.cfg.priority });
                self.arm(self.cfg.advert_int);
            }
        }
    }

    /// An advertisement from the peer arrived.
    pub fn on_advert(&mut self, priority: u8, peer_rank: u32) {
        let peer_wins =
            priority > self.cfg.priority || (priority == self.cfg.priority && peer_rank > self.address_rank);
        match self.state {
            VrrpState::Backup => {
                if priority == 0 {
                    // The master is leaving: take over after the skew only.
                    self.arm(self.cfg.skew());
                } else if !self.cfg.preempt || peer_wins || priority >= self.cfg.priority {
                    self.arm(self.cfg.master_down_interval());
                }
                // else: a lower-priority master with preemption on: ignore its adverts
                // and take over when the down timer runs out.
            }
            VrrpState::Master => {
                if priority == 0 {
                    // RFC 5798 6.4.3: a master hearing a goodbye advertises at once.
                    self.out.push(VrrpOutput::Advertise { priority: self.cfg.priority });
                    self.arm(self.cfg.advert_int);
                } else if peer_wins {
                    self.state = VrrpState::Backup;
                    self.out.push(VrrpOutput::BecameBackup);
                    self.arm(self.cfg.master_down_interval());
                } else {
                    // Its periodic adverts keep their own schedule.
                    self.out.push(VrrpOutput::Reasserted);
                    self.out.push(VrrpOutput::Advertise { priority: self.cfg.priority });
                }
            }
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
}
