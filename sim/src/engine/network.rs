//! The network between hosts: per-link latency (base plus uniform jitter), random loss,
//! and partitions.
//!
//! Reachability is a directed adjacency matrix of the links that currently carry
//! traffic (checked once per message), so every partition shape is just a set of
//! removed links: symmetric groups cut both directions between groups, a one-way cut
//! removes a single direction, and a bridge removes the links between the two sides
//! while keeping both sides' links to the bridge host. Links behave like etcd's TCP streams: delivery on one
//! directed link is FIFO, so jitter never reorders two messages on the same link.

use petgraph::graph::NodeIndex;

use crate::engine::rng::{SimRng, StreamId};
use crate::ids::HostId;
use crate::time::{SimDuration, SimTime};

/// Latency and loss of one directed link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkProfile {
    /// Fixed one-way delay.
    pub base: SimDuration,
    /// Extra delay drawn uniformly from `[0, jitter]` per message.
    pub jitter: SimDuration,
    /// Probability of dropping a message, in parts per million.
    pub loss_ppm: u32,
}

impl Default for LinkProfile {
    /// A quiet data-centre LAN: 0.5 ms one way plus up to 0.5 ms jitter, no loss.
    fn default() -> Self {
        LinkProfile { base: SimDuration::from_micros(500), jitter: SimDuration::from_micros(500), loss_ppm: 0 }
    }
}

impl std::fmt::Display for LinkProfile {
    /// `71ms + up to 500µs jitter, 29% loss`; the parts that are zero are left out.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.base)?;
        if self.jitter != SimDuration::ZERO {
            write!(f, " + up to {} jitter", self.jitter)?;
        }
        if self.loss_ppm > 0 {
            write!(f, ", {} loss", crate::time::percent_of_ppm(self.loss_ppm))?;
        }
        Ok(())
    }
}

/// What became of one message handed to the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// It will arrive at this time.
    At(SimTime),
    /// The link is cut by a partition: the sender's transport notices.
    Unreachable,
    /// Lost at random on a working link.
    Lost,
}

pub struct Network {
    hosts: usize,
    /// `open[slot(a, b)]` = a's packets reach b.
    open: Vec<bool>,
    profiles: Vec<LinkProfile>,
    /// Arrival time of the last message on each directed link (FIFO order).
    tail: Vec<SimTime>,
    rng: SimRng,
}

impl Network {
    pub fn new(hosts: usize, profile: LinkProfile, seed: u64) -> Self {
        let mut net = Network {
            hosts,
            open: vec![false; hosts * hosts],
            profiles: vec![profile; hosts * hosts],
            tail: vec![SimTime::ZERO; hosts * hosts],
            rng: SimRng::new(seed, StreamId::Network),
        };
        net.heal();
        net
    }

    pub fn host_count(&self) -> usize {
        self.hosts
    }

    fn slot(&self, from: HostId, to: HostId) -> usize {
        from.index() * self.hosts + to.index()
    }

    pub fn can_reach(&self, from: HostId, to: HostId) -> bool {
        from == to || self.open[self.slot(from, to)]
    }

    /// Decides when (and whether) a message sent now from `from` arrives at `to`.
    pub fn send(&mut self, now: SimTime, from: HostId, to: HostId) -> Delivery {
        if from == to {
            return Delivery::At(now);
        }
        if !self.can_reach(from, to) {
            return Delivery::Unreachable;
        }
        let slot = self.slot(from, to);
        let p = self.profiles[slot];
        if self.rng.chance_ppm(p.loss_ppm) {
            return Delivery::Lost;
        }
        let at = (now + p.base + self.rng.duration_up_to(p.jitter)).max(self.tail[slot]);
        self.tail[slot] = at;
        Delivery::At(at)
    }

    /// Restores every link.
    pub fn heal(&mut self) {
        for a in 0..self.hosts {
            for b in 0..self.hosts {
                if a != b {
                    self.connect(HostId(a as u32), HostId(b as u32));
                }
            }
        }
    }

    fn connect(&mut self, from: HostId, to: HostId) {
        let slot = self.slot(from, to);
        self.open[slot] = true;
    }

    /// Cuts the link in one direction only: `from`'s packets no longer reach `to`.
    pub fn cut_one_way(&mut self, from: HostId, to: HostId) {
        if from != to {
            let slot = self.slot(from, to);
            self.open[slot] = false;
        }
    }

    fn cut_both_ways(&mut self, a: HostId, b: HostId) {
        self.cut_one_way(a, b);
        self.cut_one_way(b, a);
    }

    /// Symmetric partition: hosts in different groups cannot talk. Hosts named in no
    /// group form one more group of their own.
    pub fn partition(&mut self, groups: &[Vec<HostId>]) {
        let mut group_of = vec![usize::MAX; self.hosts];
        for (g, hosts) in groups.iter().enumerate() {
            for h in hosts {
                group_of[h.index()] = g;
            }
        }
        for a in 0..self.hosts {
            for b in 0..self.hosts {
                if group_of[a] != group_of[b] {
                    self.cut_one_way(HostId(a as u32), HostId(b as u32));
                }
            }
        }
    }

    /// Bridge (partial) partition: every host in `side_a` loses its links to every host
    /// in `side_b`, while the bridge host (in neither) still reaches both sides.
    pub fn bridge(&mut self, side_a: &[HostId], side_b: &[HostId]) {
        for &a in side_a {
            for &b in side_b {
                self.cut_both_ways(a, b);
            }
        }
    }

    /// Cuts every link to and from `host`.
    pub fn isolate(&mut self, host: HostId) {
        for other in 0..self.hosts {
            self.cut_both_ways(host, HostId(other as u32));
        }
    }

    /// Sets latency and loss for both directions between `a` and `b`.
    pub fn set_link(&mut self, a: HostId, b: HostId, profile: LinkProfile) {
        let (ab, ba) = (self.slot(a, b), self.slot(b, a));
        self.profiles[ab] = profile;
        self.profiles[ba] = profile;
    }

    pub fn link(&self, from: HostId, to: HostId) -> LinkProfile {
        self.profiles[self.slot(from, to)]
    }

    /// Groups of hosts that can all reach each other both ways (strongly connected
    /// components), sorted, for reports that show what a partition looks like.
    pub fn islands(&self) -> Vec<Vec<HostId>> {
        let mut graph = petgraph::Graph::<(), ()>::with_capacity(self.hosts, self.hosts * self.hosts);
        for _ in 0..self.hosts {
            graph.add_node(());
        }
        for a in 0..self.hosts {
            for b in 0..self.hosts {
                if a != b && self.can_reach(HostId(a as u32), HostId(b as u32)) {
                    graph.add_edge(NodeIndex::new(a), NodeIndex::new(b), ());
                }
            }
        }
        let mut islands: Vec<Vec<HostId>> = petgraph::algo::kosaraju_scc(&graph)
            .into_iter()
            .map(|c| {
                let mut v: Vec<HostId> = c.into_iter().map(|n| HostId(n.index() as u32)).collect();
                v.sort();
                v
            })
            .collect();
        islands.sort();
        islands
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(i: u32) -> HostId {
        HostId(i)
    }

    #[test]
    fn symmetric_partition_cuts_only_between_groups() {
        let mut net = Network::new(5, LinkProfile::default(), 1);
        net.partition(&[vec![h(0), h(1)], vec![h(2), h(3), h(4)]]);
        assert!(net.can_reach(h(0), h(1)) && net.can_reach(h(3), h(4)));
        assert!(!net.can_reach(h(0), h(2)) && !net.can_reach(h(4), h(1)));
        assert_eq!(net.islands(), vec![vec![h(0), h(1)], vec![h(2), h(3), h(4)]]);
        net.heal();
        assert_eq!(net.islands().len(), 1);
    }

    #[test]
    fn one_way_cut_leaves_the_reverse_direction_working() {
        let mut net = Network::new(3, LinkProfile::default(), 1);
        net.cut_one_way(h(0), h(1));
        assert!(!net.can_reach(h(0), h(1)));
        assert!(net.can_reach(h(1), h(0)));
        assert_eq!(net.send(SimTime::ZERO, h(0), h(1)), Delivery::Unreachable);
        assert!(matches!(net.send(SimTime::ZERO, h(1), h(0)), Delivery::At(_)));
    }

    #[test]
    fn bridge_host_reaches_both_sides_that_cannot_reach_each_other() {
        let mut net = Network::new(3, LinkProfile::default(), 1);
        net.bridge(&[h(1)], &[h(2)]);
        assert!(net.can_reach(h(0), h(1)) && net.can_reach(h(0), h(2)));
        assert!(net.can_reach(h(1), h(0)) && net.can_reach(h(2), h(0)));
        assert!(!net.can_reach(h(1), h(2)) && !net.can_reach(h(2), h(1)));
    }

    #[test]
    fn latency_stays_within_base_plus_jitter_and_links_are_fifo() {
        let profile =
            LinkProfile { base: SimDuration::from_millis(2), jitter: SimDuration::from_millis(3), loss_ppm: 0 };
        let mut net = Network::new(2, profile, 9);
        let mut last = SimTime::ZERO;
        for i in 0..1000 {
            let now = SimTime(i * 10);
            let Delivery::At(at) = net.send(now, h(0), h(1)) else { panic!("no loss configured") };
            assert!(at >= last, "FIFO violated");
            assert!(at.since(now) >= SimDuration::from_millis(2));
            assert!(at.since(now) <= SimDuration::from_millis(5) || at == last);
            last = at;
        }
    }

    #[test]
    fn loss_rate_matches_the_configured_probability() {
        let profile = LinkProfile { loss_ppm: 200_000, ..LinkProfile::default() };
        let mut net = Network::new(2, profile, 3);
        let lost = (0..10_000).filter(|_| net.send(SimTime::ZERO, h(0), h(1)) == Delivery::Lost).count();
        assert!((1_700..2_300).contains(&lost), "lost {lost} of 10000 at 20%");
    }
}
