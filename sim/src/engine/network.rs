//! The network between hosts: per-link latency (base plus uniform jitter), random loss,
//! and partitions.
//!
//! Reachability is a directed adjacency matrix of the links that currently carry
//! traffic (checked once per message), so every partition shape is just a set of
//! removed links: symmetric groups cut both directions between groups, a one-way cut
//! removes a single direction, and a bridge removes the links between the two sides
//! while keeping both sides' links to the bridge host. Each directed link counts the
//! cuts that hold it closed, so undoing one timed cut (a fault with `for:`) reopens only
//! what that cut closed, and a link another fault also cut stays closed. Links behave
//! like etcd's TCP streams: delivery on one directed link is FIFO, so jitter never
//! reorders two messages on the same link.

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

/// The directed links one cut closed, so that it can be undone alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cut {
    slots: Vec<u32>,
    /// `Network::heals` when the cut was made: a heal since then already undid it.
    heal_generation: u32,
}

pub struct Network {
    hosts: usize,
    /// `cuts[slot(a, b)]` = how many cuts hold the link from a to b closed; a's packets
    /// reach b when it is 0.
    cuts: Vec<u16>,
    /// How many times every link was restored at once (`heal`).
    heals: u32,
    profiles: Vec<LinkProfile>,
    /// Arrival time of the last message on each directed link (FIFO order).
    tail: Vec<SimTime>,
    rng: SimRng,
}

impl Network {
    pub fn new(hosts: usize, profile: LinkProfile, seed: u64) -> Self {
        Network {
            hosts,
            cuts: vec![0; hosts * hosts],
            heals: 0,
            profiles: vec![profile; hosts * hosts],
            tail: vec![SimTime::ZERO; hosts * hosts],
            rng: SimRng::new(seed, StreamId::Network),
        }
    }

    pub fn host_count(&self) -> usize {
        self.hosts
    }

    fn slot(&self, from: HostId, to: HostId) -> usize {
        from.index() * self.hosts + to.index()
    }

    #[inline]
    pub fn can_reach(&self, from: HostId, to: HostId) -> bool {
        from == to || self.cuts[self.slot(from, to)] == 0
    }

    /// Decides when (and whether) a message sent now from `from` arrives at `to`.
    /// Inlined: it is called for every message, and most of its work is a few loads
    /// and one draw, which cost less than the call's saving and restoring of registers.
    #[inline(always)]
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

    /// Restores every link, whatever cut it.
    pub fn heal(&mut self) {
        self.cuts.fill(0);
        self.heals += 1;
    }

    /// True when no link is cut.
    pub fn is_whole(&self) -> bool {
        self.cuts.iter().all(|&c| c == 0)
    }

    /// Closes the directed links `pairs` (a pair from a host to itself is ignored).
    fn cut(&mut self, pairs: impl IntoIterator<Item = (HostId, HostId)>) -> Cut {
        let mut slots: Vec<u32> =
            pairs.into_iter().filter(|(a, b)| a != b).map(|(a, b)| self.slot(a, b) as u32).collect();
        slots.sort_unstable();
        slots.dedup();
        for &s in &slots {
            self.cuts[s as usize] += 1;
        }
        Cut { slots, heal_generation: self.heals }
    }

    /// Undoes one cut: its links reopen unless another cut still holds them closed.
    /// Nothing to do when the network was healed since.
    pub fn uncut(&mut self, cut: &Cut) {
        if cut.heal_generation != self.heals {
            return;
        }
        for &s in &cut.slots {
            let c = &mut self.cuts[s as usize];
            *c = c.saturating_sub(1);
        }
    }

    /// Whether undoing `cut` would leave no link cut.
    pub fn whole_after_uncut(&self, cut: &Cut) -> bool {
        if cut.heal_generation != self.heals {
            return self.is_whole();
        }
        self.cuts.iter().enumerate().all(|(s, &c)| c == 0 || (c == 1 && cut.slots.binary_search(&(s as u32)).is_ok()))
    }

    /// Cuts the link in one direction only: `from`'s packets no longer reach `to`.
    pub fn cut_one_way(&mut self, from: HostId, to: HostId) -> Cut {
        self.cut([(from, to)])
    }

    /// Symmetric partition: hosts in different groups cannot talk. Hosts named in no
    /// group form one more group of their own.
    pub fn partition(&mut self, groups: &[Vec<HostId>]) -> Cut {
        let mut group_of = vec![usize::MAX; self.hosts];
        for (g, hosts) in groups.iter().enumerate() {
            for h in hosts {
                group_of[h.index()] = g;
            }
        }
        let all = |n: usize| (0..n).map(|i| HostId(i as u32));
        let pairs: Vec<(HostId, HostId)> = all(self.hosts)
            .flat_map(|a| all(self.hosts).map(move |b| (a, b)))
            .filter(|(a, b)| group_of[a.index()] != group_of[b.index()])
            .collect();
        self.cut(pairs)
    }

    /// Bridge (partial) partition: every host in `side_a` loses its links to every host
    /// in `side_b`, while the bridge host (in neither) still reaches both sides.
    pub fn bridge(&mut self, side_a: &[HostId], side_b: &[HostId]) -> Cut {
        let pairs: Vec<(HostId, HostId)> =
            side_a.iter().flat_map(|&a| side_b.iter().flat_map(move |&b| [(a, b), (b, a)])).collect();
        self.cut(pairs)
    }

    /// Cuts every link to and from `host`.
    pub fn isolate(&mut self, host: HostId) -> Cut {
        let pairs: Vec<(HostId, HostId)> =
            (0..self.hosts).map(|o| HostId(o as u32)).flat_map(|o| [(host, o), (o, host)]).collect();
        self.cut(pairs)
    }

    /// Sets latency and loss for both directions between `a` and `b`.
    pub fn set_link(&mut self, a: HostId, b: HostId, profile: LinkProfile) {
        let (ab, ba) = (self.slot(a, b), self.slot(b, a));
        self.profiles[ab] = profile;
        self.profiles[ba] = profile;
    }

    /// Sets latency and loss of the link from `from` to `to` only.
    pub fn set_one_way(&mut self, from: HostId, to: HostId, profile: LinkProfile) {
        let slot = self.slot(from, to);
        self.profiles[slot] = profile;
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
    fn undoing_one_cut_keeps_the_links_another_cut_still_holds() {
        let mut net = Network::new(3, LinkProfile::default(), 1);
        let one_way = net.cut_one_way(h(0), h(1));
        let isolated = net.isolate(h(0));
        net.uncut(&isolated);
        assert!(!net.can_reach(h(0), h(1)), "the one-way cut is still in force");
        assert!(net.can_reach(h(1), h(0)) && net.can_reach(h(0), h(2)) && net.can_reach(h(2), h(0)));
        net.uncut(&one_way);
        assert!(net.is_whole());
    }

    #[test]
    fn undoing_a_cut_after_a_heal_reopens_nothing_cut_since() {
        let mut net = Network::new(3, LinkProfile::default(), 1);
        let before_heal = net.isolate(h(0));
        net.heal();
        let _later = net.cut_one_way(h(0), h(1));
        net.uncut(&before_heal);
        assert!(!net.can_reach(h(0), h(1)), "the heal already undid the isolation; the later cut stays");
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
