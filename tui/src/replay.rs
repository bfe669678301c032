//! What the report says about one moment or one stretch of simulated time: each host's
//! state at the cursor (the latest frame at or before it), the cut links and the
//! partitions they form, outages and split-brain windows in force, and the per-cell
//! samples the charts draw. Everything here is computed from the report alone, with no
//! terminal, so it is tested directly.

use hasim_sim::cluster::{EtcdRole, EventKind, HostState, Power};
use hasim_sim::report::{PlaneName, Report, SplitWindow};

/// A report prepared for replay: its events, frames and windows sorted by time, and the
/// lookups the screens need built once.
#[derive(Clone, Debug)]
pub struct Replay {
    pub report: Report,
    /// Length of the run in seconds (at least the last recorded time, and never 0).
    pub duration: f64,
    /// For each host (in `report.hosts` order) the indices of its frames in `report.states`.
    frames: Vec<Vec<usize>>,
    /// Timeline indices of applied faults.
    pub faults: Vec<usize>,
    /// Outage windows of all planes merged where they overlap: (start, end).
    pub outage_spans: Vec<(f64, f64)>,
}

/// The partitions in force, for the map: links cut both ways and links cut one way.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Partitions {
    /// `(host, peers)`: host cannot exchange anything with any of peers.
    pub both_ways: Vec<(String, Vec<String>)>,
    /// `(from, to)`: packets from `from` to `to` are lost, the other way works.
    pub one_way: Vec<(String, String)>,
}

impl Partitions {
    pub fn is_empty(&self) -> bool {
        self.both_ways.is_empty() && self.one_way.is_empty()
    }

    /// Whether the map marks `host`: it is the side named first in a partition (an
    /// isolated host, the smaller group) or an end of a one-way cut. Marking every host
    /// with a cut link would mark them all when one host is isolated.
    pub fn marks(&self, host: &str) -> bool {
        self.both_ways.iter().any(|(h, _)| h == host) || self.one_way.iter().any(|(a, b)| a == host || b == host)
    }
}

/// Which kind of lease a lane shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseKind {
    Scheduler,
    ControllerManager,
}

impl LeaseKind {
    pub const ALL: [LeaseKind; 2] = [LeaseKind::Scheduler, LeaseKind::ControllerManager];

    /// The component name used in `report.leases`.
    pub fn component(self) -> &'static str {
        match self {
            LeaseKind::Scheduler => "kube-scheduler",
            LeaseKind::ControllerManager => "kube-controller-manager",
        }
    }

    pub fn short(self) -> &'static str {
        match self {
            LeaseKind::Scheduler => "sched",
            LeaseKind::ControllerManager => "kcm",
        }
    }
}

/// One cell of a lease lane.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseCell {
    Idle,
    Leading,
    /// Believed it led, but was paused (SIGSTOP) or its host frozen: not acting.
    Paused,
    /// Leading while another instance also led (a split-brain window of the report).
    Overlap,
}

impl Replay {
    pub fn new(mut report: Report) -> Replay {
        // Reports read from a file may come from anywhere; the screens rely on time order.
        report.timeline.sort_by(|a, b| a.at.total_cmp(&b.at));
        report.states.sort_by(|a, b| a.at.total_cmp(&b.at));
        report.network.sort_by(|a, b| a.at.total_cmp(&b.at));
        let last_seen = report
            .timeline
            .iter()
            .map(|e| e.at)
            .chain(report.states.iter().map(|s| s.at))
            .chain(report.outages.iter().map(|o| o.end))
            .filter(|t| t.is_finite())
            .fold(0.0, f64::max);
        let declared = report.scenario.duration;
        let duration = if declared.is_finite() && declared > 0.0 { declared.max(last_seen) } else { last_seen };
        let duration = if duration > 0.0 { duration } else { 1.0 };
        let frames = report
            .hosts
            .iter()
            .map(|h| report.states.iter().enumerate().filter(|(_, s)| s.host == h.name).map(|(i, _)| i).collect())
            .collect();
        let faults =
            report.timeline.iter().enumerate().filter(|(_, e)| e.kind == EventKind::Fault).map(|(i, _)| i).collect();
        let mut spans: Vec<(f64, f64)> = report.outages.iter().map(|o| (o.start, o.end.max(o.start))).collect();
        spans.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut outage_spans: Vec<(f64, f64)> = Vec::new();
        for (s, e) in spans {
            match outage_spans.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => outage_spans.push((s, e)),
            }
        }
        Replay { report, duration, frames, faults, outage_spans }
    }

    pub fn host_names(&self) -> impl Iterator<Item = &str> {
        self.report.hosts.iter().map(|h| h.name.as_str())
    }

    /// The state of host number `host` at `t`: its latest frame at or before `t`.
    pub fn state_at(&self, host: usize, t: f64) -> Option<&HostState> {
        let frames = self.frames.get(host)?;
        let n = frames.partition_point(|&i| self.report.states[i].at <= t);
        n.checked_sub(1).map(|k| &self.report.states[frames[k]].state)
    }

    /// The index of the host called `name`.
    pub fn host_index(&self, name: &str) -> Option<usize> {
        self.report.hosts.iter().position(|h| h.name == name)
    }

    /// The last timeline entry at or before `t`.
    pub fn event_at_or_before(&self, t: f64) -> Option<usize> {
        self.report.timeline.partition_point(|e| e.at <= t).checked_sub(1)
    }

    /// The directed links cut at `t`.
    pub fn cut_at(&self, t: f64) -> &[[String; 2]] {
        let n = self.report.network.partition_point(|f| f.at <= t);
        n.checked_sub(1).map_or(&[][..], |k| &self.report.network[k].cut[..])
    }

    /// The cut links at `t` read as partitions: pairs cut both ways grouped by the host
    /// that lost the most peers (an isolated host reads as one line), then one-way cuts.
    pub fn partitions_at(&self, t: f64) -> Partitions {
        let cut = self.cut_at(t);
        let is_cut = |a: &str, b: &str| cut.iter().any(|[x, y]| x == a && y == b);
        let order = |name: &str| self.host_index(name).unwrap_or(usize::MAX);
        let mut pairs: Vec<(String, String)> = Vec::new();
        let mut one_way = Vec::new();
        for [a, b] in cut {
            if is_cut(b, a) {
                if order(a) < order(b) {
                    pairs.push((a.clone(), b.clone()));
                }
            } else {
                one_way.push((a.clone(), b.clone()));
            }
        }
        let mut both_ways = Vec::new();
        while !pairs.is_empty() {
            // The host in the most remaining pairs, first in host order on a tie.
            let mut names: Vec<&String> = pairs.iter().flat_map(|(a, b)| [a, b]).collect();
            names.sort_by_key(|n| order(n));
            names.dedup();
            let count = |n: &String| pairs.iter().filter(|(a, b)| a == n || b == n).count();
            let Some(hub) = names.iter().copied().max_by(|x, y| count(x).cmp(&count(y)).then(order(y).cmp(&order(x))))
            else {
                break;
            };
            let hub = hub.clone();
            let mut peers: Vec<String> = pairs
                .iter()
                .filter_map(|(a, b)| {
                    if *a == hub {
                        Some(b.clone())
                    } else if *b == hub {
                        Some(a.clone())
                    } else {
                        None
                    }
                })
                .collect();
            peers.sort_by_key(|n| order(n));
            pairs.retain(|(a, b)| *a != hub && *b != hub);
            both_ways.push((hub, peers));
        }
        Partitions { both_ways, one_way }
    }

    /// Whether host `name` has any cut link at `t`.
    pub fn has_cut(&self, name: &str, t: f64) -> bool {
        self.cut_at(t).iter().any(|[a, b]| a == name || b == name)
    }

    /// Outages in force at `t`: (plane, cause).
    pub fn outages_at(&self, t: f64) -> Vec<(PlaneName, &str)> {
        self.report.outages.iter().filter(|o| o.start <= t && t <= o.end).map(|o| (o.plane, o.cause.as_str())).collect()
    }

    /// Split-brain windows in force at `t`, each with what it is about.
    pub fn split_brains_at(&self, t: f64) -> Vec<(&'static str, &SplitWindow)> {
        let sb = &self.report.split_brain;
        let within = |w: &SplitWindow| w.start <= t && w.end.is_none_or(|e| t < e);
        let tagged =
            [("etcd", &sb.etcd_leaders), ("scheduler", &sb.scheduler), ("controller-manager", &sb.controller_manager)];
        tagged.into_iter().flat_map(|(what, ws)| ws.iter().filter(|w| within(w)).map(move |w| (what, w))).collect()
    }

    /// The etcd term host `host` led during [t0, t1), if it led at any moment of it.
    pub fn led_during(&self, host: usize, t0: f64, t1: f64) -> Option<u64> {
        let leading = |s: &HostState| s.etcd.as_ref().filter(|e| e.role == EtcdRole::Leader).map(|e| e.term);
        let at_start = self.state_at(host, t0).and_then(leading);
        let frames = self.frames.get(host)?;
        let first = frames.partition_point(|&i| self.report.states[i].at <= t0);
        let inside = frames[first..]
            .iter()
            .map(|&i| &self.report.states[i])
            .take_while(|s| s.at < t1)
            .filter_map(|s| leading(&s.state))
            .max();
        at_start.max(inside)
    }

    /// Whether the etcd member on host number `host` was stopped (SIGSTOP or a frozen
    /// host) in the middle of [t0, t1).
    pub fn etcd_paused_during(&self, host: usize, t0: f64, t1: f64) -> bool {
        self.state_at(host, (t0 + t1) / 2.0)
            .is_some_and(|s| s.power == Power::Frozen || s.etcd.as_ref().is_some_and(|e| e.paused))
    }

    /// Hosts that held an etcd member at any time, in host order.
    pub fn etcd_hosts(&self) -> Vec<usize> {
        (0..self.report.hosts.len())
            .filter(|&h| self.frames[h].iter().any(|&i| self.report.states[i].state.etcd.is_some()))
            .collect()
    }

    /// Hosts that held lease `kind` at some point, in host order.
    pub fn lease_holders(&self, kind: LeaseKind) -> Vec<&str> {
        self.host_names()
            .filter(|h| self.report.leases.iter().any(|l| l.component == kind.component() && l.host == *h))
            .collect()
    }

    /// Whether `host` held lease `kind` during [t0, t1), and whether that was inside a
    /// split-brain window of that component.
    pub fn lease_cell(&self, kind: LeaseKind, host: &str, t0: f64, t1: f64) -> LeaseCell {
        let overlaps = |s: f64, e: Option<f64>| s < t1 && e.is_none_or(|e| e > t0);
        let leading = self
            .report
            .leases
            .iter()
            .any(|l| l.component == kind.component() && l.host == host && overlaps(l.start, l.end));
        if !leading {
            return LeaseCell::Idle;
        }
        let windows = match kind {
            LeaseKind::Scheduler => &self.report.split_brain.scheduler,
            LeaseKind::ControllerManager => &self.report.split_brain.controller_manager,
        };
        let paused = self.host_index(host).and_then(|h| self.state_at(h, (t0 + t1) / 2.0)).is_some_and(|s| {
            let view = match kind {
                LeaseKind::Scheduler => s.scheduler.as_ref(),
                LeaseKind::ControllerManager => s.controller_manager.as_ref(),
            };
            s.power == Power::Frozen || view.is_some_and(|v| v.paused)
        });
        if windows.iter().any(|w| w.hosts.iter().any(|h| h == host) && overlaps(w.start, w.end)) {
            LeaseCell::Overlap
        } else if paused {
            LeaseCell::Paused
        } else {
            LeaseCell::Leading
        }
    }

    /// Requests of `plane` in [t0, t1): (ok, failed), from the per-second series.
    pub fn requests_during(&self, plane: PlaneName, t0: f64, t1: f64) -> (u64, u64) {
        let Some(p) = self.report.availability.iter().find(|p| p.plane == plane) else {
            return (0, 0);
        };
        let first = t0.max(0.0).floor() as usize;
        // A cell narrower than a second still shows the second it falls in.
        let last = (t1.ceil() as usize).max(first + 1);
        let sum = |v: &[u32]| v.iter().skip(first).take(last - first).map(|&x| u64::from(x)).sum::<u64>();
        (sum(&p.per_second.ok), sum(&p.per_second.failed))
    }

    /// Whether any part of [t0, t1) lies in a merged outage window.
    pub fn in_outage(&self, t0: f64, t1: f64) -> bool {
        self.outage_spans.iter().any(|&(s, e)| s < t1 && e >= t0)
    }

    /// Whether any split-brain window touches [t0, t1).
    pub fn in_split_brain(&self, t0: f64, t1: f64) -> bool {
        let sb = &self.report.split_brain;
        sb.etcd_leaders
            .iter()
            .chain(&sb.scheduler)
            .chain(&sb.controller_manager)
            .any(|w| w.start < t1 && w.end.is_none_or(|e| e > t0))
    }

    /// Whether a fault was applied in [t0, t1).
    pub fn fault_during(&self, t0: f64, t1: f64) -> bool {
        self.faults.iter().any(|&i| {
            let at = self.report.timeline[i].at;
            t0 <= at && at < t1
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hasim_sim::report::NetworkChange;

    fn isolated(report: &mut Report) {
        let names: Vec<String> = report.hosts.iter().map(|h| h.name.clone()).collect();
        let mut cut = Vec::new();
        for other in names.iter().filter(|n| *n != "cp-2") {
            cut.push(["cp-2".to_string(), other.clone()]);
            cut.push([other.clone(), "cp-2".to_string()]);
        }
        cut.push(["cp-1".to_string(), "cp-3".to_string()]);
        report.network = vec![NetworkChange { at: 10.0, cut }, NetworkChange { at: 20.0, cut: vec![] }];
    }

    #[test]
    fn partitions_group_an_isolated_host_on_one_line() {
        let mut report = crate::sample::report();
        isolated(&mut report);
        let r = Replay::new(report);
        assert!(r.partitions_at(5.0).is_empty());
        let p = r.partitions_at(15.0);
        assert_eq!(p.both_ways, vec![("cp-2".to_string(), vec!["cp-1".into(), "cp-3".into(), "lb-1".into()])]);
        assert_eq!(p.one_way, vec![("cp-1".to_string(), "cp-3".to_string())]);
        assert!(r.has_cut("cp-2", 15.0) && !r.has_cut("cp-2", 25.0));
    }

    #[test]
    fn state_is_the_latest_frame_at_or_before() {
        let r = Replay::new(crate::sample::report());
        let leader = |t| r.state_at(1, t).and_then(|s| s.etcd.as_ref()).map(|e| e.role);
        assert_eq!(leader(0.5), Some(EtcdRole::Follower));
        assert_eq!(leader(2.0), Some(EtcdRole::Leader));
        assert_eq!(r.led_during(1, 0.0, 1.5), Some(2));
        assert_eq!(r.led_during(0, 0.0, 100.0), None);
    }
}
