//! The Kubernetes control plane around etcd, as kubeadm deploys it: a kube-apiserver on
//! every control-plane node (stacked: it talks ONLY to the etcd member on its own node;
//! external: to every member, round-robin like clientv3), a load balancer in front
//! (HAProxy with TCP or HTTP /readyz checks, nginx passive, or none), and clients that
//! send writes, quorum reads and watch-cache reads through it.
//!
//! A request's path: client → LB (picks an UP backend and connects; a refused connect
//! is retried after 1 s, a connect to a dead host waits `timeout connect`) → apiserver
//! → its etcd member (write or ReadIndex read; etcd's 7 s request timeout) → back the
//! same way. Cache reads are answered from the apiserver's watch cache without etcd,
//! as stale as the member that feeds it. The apiserver's /readyz runs the etcd check
//! (a linearizable read with a 2 s timeout, at most once a second).
//!
//! The watch cache (apiserver `storage/cacher`) must first LIST from etcd, a quorum
//! read, and until then refuses cache reads with 429 "storage is (re)initializing"
//! (KEP-4568, on by default since 1.31). Its watch then follows the member that
//! answered the LIST; clientv3 resumes a broken stream on another endpoint (at once
//! when the connection is refused, after the 40 s keepalive when the member went
//! silent), so with external etcd the cache moves to a live member, and stacked (one
//! endpoint) it waits for its own member. It keeps serving while etcd has no leader,
//! but its watch was opened WithRequireLeader: etcd cancels it after three election
//! timeouts without a leader, the cacher retries the watch for 30 s
//! (MaxInternalErrorRetryDuration, counted from the first of errors less than a minute
//! apart: `model::reflector`), and then starts over with a new LIST, which waits
//! in etcd for a quorum (and is repeated after a failure). The LIST is not sent as a
//! request of its own: it is a linearizable read through the same etcd client, and the
//! etcd check sends one at least every 2 s, so the cache initialises when a check's
//! read succeeds (at most a second or two later than a LIST of its own would).

use super::*;
use crate::model::certs::CertKind;
use crate::model::keepalived::{Vrrp, VrrpConfig, VrrpOutput, VrrpState};
use crate::model::kubelet::ProbeConfig;
use crate::model::lb::{CheckResult, Haproxy, HaproxyConfig, HealthCheck, NginxPassive, ServerState};
use crate::model::reflector::{MAX_INTERNAL_ERROR_RETRY, WatchRetry};

/// Where etcd runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EtcdPlacement {
    /// One member on each control-plane node (kubeadm's default).
    Stacked,
    /// Members on their own hosts.
    External { members: usize },
}

/// What stands between clients and the apiservers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frontend {
    /// Clients talk to the first control-plane node directly (the non-HA baseline).
    Direct,
    Haproxy(HaproxyConfig),
    /// nginx `stream` proxy: no health checks, passive failover.
    Nginx(NginxConfig),
}

/// nginx stream upstream settings (defaults as nginx ships them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NginxConfig {
    pub max_fails: u32,
    pub fail_timeout: SimDuration,
    /// `proxy_connect_timeout` (60 s by default).
    pub connect_timeout: SimDuration,
}

impl Default for NginxConfig {
    fn default() -> Self {
        NginxConfig {
            max_fails: 1,
            fail_timeout: SimDuration::from_secs(10),
            connect_timeout: SimDuration::from_secs(60),
        }
    }
}

/// Client load through the control-plane endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientLoad {
    pub writes_per_sec: u32,
    pub quorum_reads_per_sec: u32,
    pub cache_reads_per_sec: u32,
    /// A client gives up on a request after this long.
    pub timeout: SimDuration,
    /// Clients start sending after this warm-up, once the cluster has settled.
    pub start_after: SimDuration,
    /// Worker kubelets, each renewing its node Lease every 10 s through the
    /// control-plane endpoint (background write load).
    pub worker_nodes: u32,
    /// None: every request opens its own connection, as `kubectl` does. Some(n): client
    /// requests share n long-lived HTTP/2 connections, as client-go controllers do, and
    /// every worker kubelet keeps one of its own. A long-lived connection stays on the
    /// backend it was opened to until it breaks (see `ClientConn`).
    pub connections: Option<u32>,
    /// A failed attempt is tried again this many times (after `retry_backoff`, while the
    /// client's `timeout` allows), as a controller's work queue would.
    pub retries: u32,
    pub retry_backoff: SimDuration,
}

impl Default for ClientLoad {
    fn default() -> Self {
        ClientLoad {
            writes_per_sec: 20,
            quorum_reads_per_sec: 20,
            cache_reads_per_sec: 20,
            timeout: SimDuration::from_secs(10),
            start_after: SimDuration::from_secs(5),
            worker_nodes: 0,
            connections: None,
            retries: 0,
            retry_backoff: SimDuration::from_secs(1),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ControlPlaneSpec {
    pub nodes: usize,
    pub etcd: EtcdPlacement,
    pub frontend: Frontend,
    pub clients: ClientLoad,
    /// `--etcd-healthcheck-timeout` / `--etcd-readycheck-timeout`.
    pub etcd_check_timeout: SimDuration,
    /// Leader election of kube-scheduler and kube-controller-manager.
    pub election: crate::model::lease::ElectionTimings,
    /// Two HAProxy hosts sharing a keepalived VIP (lb-1 gets priority + 1, lb-2 the
    /// configured priority); None: one HAProxy host, no VIP.
    pub vip: Option<crate::model::keepalived::VrrpConfig>,
}

impl ControlPlaneSpec {
    pub fn stacked(nodes: usize) -> Self {
        ControlPlaneSpec {
            nodes,
            etcd: EtcdPlacement::Stacked,
            frontend: Frontend::Haproxy(HaproxyConfig::default()),
            clients: ClientLoad::default(),
            etcd_check_timeout: SimDuration::from_secs(2),
            election: crate::model::lease::ElectionTimings::default(),
            vip: None,
        }
    }
}

/// The three ways a client reads or writes, measured separately.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Plane {
    Write,
    /// A GET or LIST without a resourceVersion: a linearizable read in etcd.
    QuorumRead,
    /// A LIST with resourceVersion=0 and a selector, like the kubelet's list of the
    /// pods on its node: answered from the watch cache, and refused with 429 while the
    /// cache is not initialised (unselected lists with a limit, and GETs, would go to
    /// etcd instead; cacher `delegator.go`).
    CacheRead,
    /// Worker kubelets' node-lease renewals (writes).
    NodeLease,
}

impl Plane {
    pub const ALL: [Plane; 4] = [Plane::Write, Plane::QuorumRead, Plane::CacheRead, Plane::NodeLease];

    pub fn name(self) -> &'static str {
        match self {
            Plane::Write => "writes",
            Plane::QuorumRead => "quorum reads",
            Plane::CacheRead => "cache reads",
            Plane::NodeLease => "node lease renewals",
        }
    }

    /// Requests per second of this plane under `load`, in thousandths (node leases:
    /// one renewal per node every 10 s).
    pub(super) fn milli_rate(self, load: &ClientLoad) -> u64 {
        match self {
            Plane::Write => u64::from(load.writes_per_sec) * 1000,
            Plane::QuorumRead => u64::from(load.quorum_reads_per_sec) * 1000,
            Plane::CacheRead => u64::from(load.cache_reads_per_sec) * 1000,
            Plane::NodeLease => u64::from(load.worker_nodes) * 100,
        }
    }
}

/// Why a client request failed, as the client sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Failure {
    /// The LB had no backend to send it to; in TCP mode (kubeadm's) it closes the
    /// client's connection, there is no HTTP 503.
    NoBackend,
    /// Connecting to the backend timed out on every attempt (its host is down or cut
    /// off from the LB).
    ConnectTimeout { backend: HostId },
    /// The backend's host answered with a reset: no apiserver listening.
    Refused { backend: HostId },
    /// The apiserver answered 500 with etcd's error.
    Etcd { backend: HostId, error: RequestError },
    /// No answer within the client's timeout.
    ClientTimeout { backend: Option<HostId> },
    /// TLS to the apiserver failed: its serving certificate has expired.
    Tls { backend: HostId },
    /// The connection was reset: the apiserver process behind it exited (its kernel
    /// answered with RST), or the LB closed the session (`shutdown-sessions`).
    Reset { backend: HostId },
    /// 429 "storage is (re)initializing": a cache read reached an apiserver whose watch
    /// cache has not listed from etcd yet.
    CacheInitializing { backend: HostId },
    /// The LB host answered with a reset: its HAProxy (or nginx) is not running, or
    /// was stopped with the connection open.
    LbRefused { lb: HostId },
    /// No answer within the client's timeout because the LB's HAProxy (or nginx) is
    /// frozen: its kernel took the connection, and nothing relays the request or its
    /// answer.
    LbFrozen { lb: HostId },
}

/// One attempt of a client request in flight. A retry is a new attempt with a new id
/// (so late answers to the old one find nothing), keeping `issued` and `deadline`.
#[derive(Clone, Copy, Debug)]
pub(super) struct ApiRequest {
    plane: Plane,
    issued: SimTime,
    /// The client's timeout for the whole request, retries included.
    deadline: SimTime,
    retries_left: u32,
    backend: Option<HostId>,
    /// Connect attempts the LB (or client) made for this attempt.
    attempts: u32,
    /// The connection to the apiserver was made (the request is past the LB).
    connected: bool,
    /// The LB (index into `lbs`) the request went through, and that LB's generation
    /// (a rebooted LB knows nothing of the sessions its previous run held).
    lb: Option<u8>,
    lb_generation: u32,
    /// How many times client-go has sent this attempt again after a 429's Retry-After
    /// (on the same connection, so to the same apiserver).
    retry_afters: u32,
    /// The apiserver incarnation the connection reached: a request arriving after that
    /// process exited is answered with a reset by the host's kernel.
    api_incarnation: Option<u32>,
    /// The long-lived connection it travels on (index into `conns`).
    conn: Option<u32>,
    /// The backend slot the LB counted a connection against (for leastconn), while
    /// this attempt owns the connection.
    counted: Option<(u8, u16)>,
    /// Whether the apiserver was ready (running, not frozen, /readyz passing) when the
    /// attempt reached it; None while it has not reached one.
    arrived_ready: Option<bool>,
}

/// A long-lived client connection. It stays on its backend until it breaks: the
/// apiserver process exits (RST), the LB closes it (`shutdown-sessions`, reboot, VIP
/// moved to the other LB), or nothing came back on it for `silence_limit` — HAProxy's
/// `timeout server`, or client-go's HTTP/2 health check (a ping after 30 s without a
/// frame, 15 s to answer it). Until then every request on it goes to that backend,
/// even one the LB has marked DOWN.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct ClientConn {
    route: Option<ConnRoute>,
    /// The oldest request sent since the last answer came back.
    waiting_since: Option<SimTime>,
}

#[derive(Clone, Copy, Debug)]
struct ConnRoute {
    lb: Option<u8>,
    lb_generation: u32,
    backend: HostId,
    api_incarnation: u32,
    /// The LB's backend slot, for its connection count.
    server: u16,
}

/// kube-apiserver's etcd client keepalive: a ping after 30 s without traffic, 10 s
/// for the answer; only then is a silent (powered-off) member's connection dropped.
const ETCD_KEEPALIVE_DETECT: SimDuration = SimDuration::from_secs(40);

/// When a gRPC channel whose server has refused it since `since` connects to the server
/// that is listening again from `up`: at its first reconnect attempt from then on. The
/// attempts follow grpc-go's default connection back-off (clientv3 keeps it): at once,
/// then 1 s, growing 1.6-fold to at most 120 s. grpc-go spreads each wait by ±20 %;
/// hasim takes the middle.
pub(super) fn grpc_reconnect(since: SimTime, up: SimTime) -> SimTime {
    const BASE: SimDuration = SimDuration::from_secs(1);
    const MAX: SimDuration = SimDuration::from_secs(120);
    let mut attempt = since;
    let mut wait = BASE;
    while attempt < up {
        attempt += wait;
        wait = SimDuration(wait.as_micros() * 8 / 5).min(MAX);
    }
    attempt
}

/// client-go's HTTP/2 health check: ReadIdleTimeout 30 s, then PingTimeout 15 s.
const HTTP2_PING_CLOSE: SimDuration = SimDuration::from_secs(45);

/// The kube-apiserver process on a control-plane node.
pub(super) struct ApiServerProc {
    pub(super) incarnation: u32,
    /// etcd members it may use (kubeadm's --etcd-servers).
    endpoints: Vec<MemberId>,
    rr: usize,
    /// Result of the last etcd readiness check.
    pub(super) etcd_ok: bool,
    /// The readiness check in flight: (etcd request id, started).
    check: Option<(u64, SimTime)>,
    /// Index up to which the watch cache has caught up.
    cache_rev: LogIndex,
    cache: WatchCache,
    /// The member whose watch stream feeds the cache (set when a LIST succeeds).
    watch_from: Option<MemberId>,
    /// Since when that member's host has been silent to this apiserver (powered off,
    /// or cut off): the stream looks open until the gRPC keepalive gives up on it.
    watch_silent_since: Option<SimTime>,
    /// The cacher's reflector's deadline for re-opening a watch that keeps failing.
    watch_retry: WatchRetry,
    /// When the etcd check last passed: a cache that cannot reach a quorum cannot know
    /// what it is missing, so its answers count as stale from then on.
    last_ok: SimTime,
    /// The kubelet's liveness probe (/livez includes the etcd check), or its startup
    /// probe until that has passed once.
    liveness: crate::model::kubelet::Probe,
    /// The startup probe has passed, so liveness probing has begun.
    started: bool,
    /// The probe worker's ticker's next tick: the one after the current probe began.
    probe_tick: SimTime,
    /// A probe sent while the apiserver was frozen, waiting for its answer: when it was
    /// sent. It fails when its timeout runs out first.
    probe_waiting: Option<SimTime>,
    /// The kubelet is killing it while it is frozen: SIGTERM waits, SIGKILL follows.
    terminating: bool,
    /// Frozen (SIGSTOP): its kernel still accepts connections, but nothing is answered
    /// and its timers wait.
    pub(super) paused: bool,
    /// etcd calls waiting for a ready channel to a member (clientv3's WaitForReady), in
    /// the order they were made.
    pub(super) parked: Vec<u64>,
    /// When it started: its etcd client's channels dialled first then.
    born: SimTime,
}

/// The state of an apiserver's watch cache (its cacher's reflector).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WatchCache {
    /// Not initialised: cache reads get 429 until a LIST from etcd succeeds.
    /// `refused` counts the reads turned away meanwhile.
    Listing { refused: u32 },
    /// Serving since `since`; `watch_failing_since` is when its etcd watch started
    /// failing with "no leader", if it is failing.
    Serving { since: SimTime, watch_failing_since: Option<SimTime> },
}

/// client-go's default ceiling on sending a request again after a 429 or 5xx with
/// Retry-After (`rest.Request.maxRetries`).
const CLIENT_GO_MAX_RETRIES: u32 = 10;

/// The Retry-After of the watch cache's 429 "storage is (re)initializing".
const CACHE_INIT_RETRY_AFTER: SimDuration = SimDuration::from_secs(1);

/// Which part of the world an etcd request made on behalf of a component belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Origin {
    /// A client request handled by the apiserver on `apiserver`.
    Api { request: u64, apiserver: HostId },
    /// The apiserver's etcd readiness check.
    Check { apiserver: HostId },
    /// A lease call of a scheduler or controller-manager on the apiserver's node.
    Lease { apiserver: HostId, component: super::leases::Component, incarnation: u32, seq: u64 },
}

/// Per-plane counts and a per-second series (by issue time).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PlaneAvailability {
    pub ok: u64,
    pub failed: u64,
    /// Answered, but only `SLOW_ANSWER` or more after the client sent it.
    pub slow: u64,
    /// The longest time to an answer that came back.
    pub slowest: SimDuration,
    /// (ok, failed) per second of simulated time.
    pub per_second: Vec<(u32, u32)>,
}

/// An answer this long after the request was sent counts as slow: a client waited out
/// a Retry-After, a connect retry or a retry of its own.
pub const SLOW_ANSWER: SimDuration = SimDuration::from_secs(1);

impl PlaneAvailability {
    pub fn ratio(&self) -> f64 {
        let total = self.ok + self.failed;
        if total == 0 { 1.0 } else { self.ok as f64 / total as f64 }
    }
}

/// A stretch of time in which requests of one plane failed, and the main reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outage {
    pub plane: Plane,
    /// The first failed request.
    pub start: SimTime,
    /// The last failed request, or the end of the run when the outage was still going.
    pub end: SimTime,
    pub failed: u64,
    pub cause: String,
    /// Not over when the run ended.
    pub ongoing: bool,
}

/// What the control plane looked like to its clients.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ControlPlaneReport {
    pub planes: Vec<(Plane, PlaneAvailability)>,
    pub outages: Vec<Outage>,
    /// Cache reads answered at least one second behind the committed state.
    pub stale_reads: u64,
    pub max_staleness: SimDuration,
    /// When each stale cache read was answered, and by which apiserver.
    pub stale: Vec<(SimTime, HostId)>,
    /// Failed requests the LB sent to a backend that could not serve them (see
    /// `misrouted_to`): when each was issued, and the backend. Without an LB nothing
    /// routes, so clients of the one apiserver are never misrouted.
    pub misrouted: Vec<(SimTime, HostId)>,
    /// Every failed request: when it was issued and why.
    pub failures: Vec<(SimTime, Plane, Failure)>,
    /// Who led kube-scheduler / kube-controller-manager, and when.
    pub leading: Vec<super::leases::LeadingSpell>,
    /// Windows in which two instances of one component were active at once.
    pub overlaps: Vec<super::leases::Overlap>,
    /// For each fault: how long until the outages it started were over.
    pub recovery: Vec<FaultRecovery>,
}

/// Time from a fault to the end of the outages that began after it (before the next
/// fault); None when clients saw no outage, or (`ongoing`) when one never ended. A fault
/// that hits while an earlier outage goes on, with no request succeeding in between,
/// starts no outage of its own: its failures extend the earlier one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultRecovery {
    pub at: SimTime,
    pub fault: String,
    pub recovered_after: Option<SimDuration>,
    /// An outage it started was still going when the run ended.
    pub ongoing: bool,
}

impl ControlPlaneReport {
    pub fn plane(&self, p: Plane) -> &PlaneAvailability {
        &self.planes.iter().find(|(q, _)| *q == p).expect("every plane is reported").1
    }
}

/// The backend a failed attempt was misrouted to: one that could not serve it. A
/// backend that refused, reset, failed TLS, never answered the connect, or never got
/// the request could not. An apiserver that took the request and then answered with
/// etcd's error (or left the client waiting) could not only if it was already unready
/// when the request arrived (frozen, or its own /readyz failing). An etcd error on a
/// ready apiserver is not the LB's doing: every backend fails alike while etcd elects a
/// leader, and no health check would have steered the request elsewhere.
fn misrouted_to(failure: Failure, arrived_ready: Option<bool>) -> Option<HostId> {
    let backend = failure.backend()?;
    let took_it_ready = arrived_ready == Some(true);
    match failure {
        Failure::Etcd { .. } | Failure::ClientTimeout { .. } | Failure::CacheInitializing { .. } if took_it_ready => {
            None
        }
        _ => Some(backend),
    }
}

impl Failure {
    /// The backend the failed request was sent to, if it got that far.
    pub fn backend(self) -> Option<HostId> {
        match self {
            Failure::NoBackend | Failure::LbRefused { .. } | Failure::LbFrozen { .. } => None,
            Failure::ConnectTimeout { backend } | Failure::Refused { backend } | Failure::Etcd { backend, .. } => {
                Some(backend)
            }
            Failure::ClientTimeout { backend } => backend,
            Failure::Tls { backend } | Failure::Reset { backend } | Failure::CacheInitializing { backend } => {
                Some(backend)
            }
        }
    }

    fn describe(self, sim: &Simulation) -> String {
        let n = |h: HostId| sim.hosts[h.index()].name.clone();
        match self {
            Failure::NoBackend => "the load balancer had no backend UP and closed the connection".to_string(),
            Failure::ConnectTimeout { backend } if sim.lbs.is_empty() => {
                format!("{} did not answer (there is no load balancer to route around it)", n(backend))
            }
            Failure::ConnectTimeout { backend } => {
                format!("the load balancer kept sending new connections to {}, which did not answer", n(backend))
            }
            Failure::Refused { backend } => format!("no apiserver listening on {}", n(backend)),
            Failure::Etcd { backend, error } => format!("the apiserver on {} got from etcd: {error}", n(backend)),
            Failure::ClientTimeout { backend: Some(b) } => format!("no answer in time from the apiserver on {}", n(b)),
            Failure::ClientTimeout { backend: None } => "no answer in time (request lost on the way)".to_string(),
            Failure::Tls { backend } => format!(
                "the apiserver certificate of {} is rejected (x509: certificate has expired or is not yet valid)",
                n(backend)
            ),
            Failure::Reset { backend } => format!("the connection to {} was reset", n(backend)),
            Failure::LbRefused { lb } => {
                format!("the load balancer on {} is not running: its host resets the connection", n(lb))
            }
            Failure::LbFrozen { lb } => {
                format!("no answer in time: the load balancer on {} is frozen and relays nothing", n(lb))
            }
            Failure::CacheInitializing { backend } => format!(
                "the watch cache of the apiserver on {} had not listed from etcd yet (429 storage is (re)initializing)",
                n(backend)
            ),
        }
    }
}

impl Simulation {
    pub(super) fn cp(&self) -> Option<&ControlPlaneSpec> {
        self.spec.control_plane.as_ref()
    }

    /// Starts the apiserver on a control-plane node (at boot, restart or renewal).
    pub(super) fn start_apiserver(&mut self, host: HostId) {
        let Some(cp) = self.spec.control_plane else { return };
        let h = &mut self.hosts[host.index()];
        if !h.up || !h.is_control_plane || h.apiserver.is_some() {
            return;
        }
        let endpoints = match cp.etcd {
            EtcdPlacement::Stacked => h.member.into_iter().collect(),
            EtcdPlacement::External { members } => (1..=members as u64).map(MemberId).collect(),
        };
        h.incarnation_api += 1;
        let inc = h.incarnation_api;
        let first_probe = ProbeConfig::LIVENESS.initial_delay;
        h.apiserver = Some(ApiServerProc {
            incarnation: inc,
            endpoints,
            rr: 0,
            etcd_ok: false,
            check: None,
            cache_rev: 0,
            cache: WatchCache::Listing { refused: 0 },
            watch_from: None,
            watch_silent_since: None,
            watch_retry: WatchRetry::default(),
            last_ok: self.now,
            liveness: Default::default(),
            // The apiservers of the cluster the run begins with have long been up.
            started: self.now == SimTime::ZERO,
            // The startup and liveness probes wait the same 10 s after a start.
            probe_tick: self.now + first_probe,
            probe_waiting: None,
            terminating: false,
            paused: false,
            parked: Vec::new(),
            born: self.now,
        });
        self.update_holding();
        self.queue.push(self.now, Event::ApiCheckTick(host, inc));
        self.queue.push(self.now + first_probe, Event::LivenessProbe(host, inc));
    }

    /// The kubelet probes the apiserver's /livez: with kubeadm's startup probe (every
    /// 10 s, 24 failures) until it passes once, then with the liveness probe (every
    /// 10 s, 8 failures). After the threshold of failures in a row it kills the
    /// container and starts it again, at once or after the crash-loop back-off. A
    /// running apiserver answers at once (500 when its etcd check fails); a frozen one
    /// not at all, so that probe fails only at its 15 s timeout, and the next begins
    /// right after it.
    pub(super) fn on_liveness_probe(&mut self, host: HostId, inc: u32) {
        let Some(api) = self.hosts[host.index()].apiserver.as_mut().filter(|a| a.incarnation == inc) else { return };
        // The probe that begins now takes the tick that started it.
        api.probe_tick = crate::model::kubelet::tick_after(self.now, api.probe_tick, probe_config(api).period);
        if api.paused {
            // A frozen apiserver's kernel accepts the probe's connection, and the GET
            // waits for an answer until the probe's timeout.
            api.probe_waiting = Some(self.now);
            let timeout = probe_config(api).timeout;
            self.queue.push(self.now + timeout, Event::LivenessProbeTimeout(host, inc, self.now));
            return;
        }
        let ok = api.etcd_ok;
        self.probe_result(host, ok.then_some(()).ok_or(ProbeFailure::EtcdCheck));
    }

    /// A probe sent at `sent` to a frozen apiserver has waited out its timeout.
    pub(super) fn on_liveness_probe_timeout(&mut self, host: HostId, inc: u32, sent: SimTime) {
        let Some(api) = self.hosts[host.index()].apiserver.as_mut().filter(|a| a.incarnation == inc) else { return };
        if api.probe_waiting != Some(sent) {
            return;
        }
        api.probe_waiting = None;
        // Resumed while its kubelet was frozen: the answer is there when it looks.
        let result = match (api.paused, api.etcd_ok) {
            (true, _) => Err(ProbeFailure::Timeout),
            (false, ok) => ok.then_some(()).ok_or(ProbeFailure::EtcdCheck),
        };
        self.probe_result(host, result);
    }

    /// The apiserver on `host` resumed (SIGCONT): a probe waiting for it is answered now,
    /// unless the kubelet that sent it is frozen too (its timeout then finds the answer).
    pub(super) fn answer_waiting_probe(&mut self, host: HostId) {
        if self.hosts[host.index()].frozen {
            return;
        }
        if self.hosts[host.index()].apiserver.as_ref().is_some_and(|a| a.terminating) {
            self.finish_termination(host);
            return;
        }
        let Some(api) = self.hosts[host.index()].apiserver.as_mut() else { return };
        if api.probe_waiting.take().is_some() {
            let ok = api.etcd_ok;
            self.probe_result(host, ok.then_some(()).ok_or(ProbeFailure::EtcdCheck));
        }
    }

    /// A probe of the apiserver on `host` got its result now: the kubelet counts it,
    /// kills the apiserver at the threshold, and otherwise the worker probes again (see
    /// `kubelet::next_probe`).
    fn probe_result(&mut self, host: HostId, result: Result<(), ProbeFailure>) {
        let now = self.now;
        let Some(api) = self.hosts[host.index()].apiserver.as_mut() else { return };
        let inc = api.incarnation;
        let (cfg, probe) = (probe_config(api), if api.started { "" } else { " startup probe" });
        let ok = result.is_ok();
        let started_now = ok && !api.started;
        if started_now {
            api.started = true;
            api.liveness.reset();
        }
        if started_now || !api.liveness.record(ok, &cfg) {
            let start = crate::model::kubelet::next_probe(now, api.probe_tick);
            self.queue.push(start, Event::LivenessProbe(host, inc));
            return;
        }
        let paused = api.paused;
        let why = match result {
            Err(ProbeFailure::Timeout) => format!("no answer within its {} timeout", cfg.timeout),
            _ => "the etcd check".to_string(),
        };
        let name = self.hosts[host.index()].name.clone();
        if paused {
            if let Some(api) = self.hosts[host.index()].apiserver.as_mut() {
                api.terminating = true;
            }
            // A stopped process does not act on SIGTERM; the kubelet's SIGKILL comes
            // at the end of the pod's grace period, and until then its kernel still
            // accepts connections.
            self.queue.push(self.now + TERMINATION_GRACE_PERIOD, Event::ApiserverSigkill(host, inc));
            self.note(
                EventKind::Kubelet,
                Some(host),
                format!(
                    "kubelet is killing kube-apiserver on {name}: its /livez{probe} failed {} times in a row ({why}); frozen, it cannot act on SIGTERM, so SIGKILL follows after the {} grace period",
                    cfg.failure_threshold, TERMINATION_GRACE_PERIOD
                ),
            );
            return;
        }
        let what = format!(
            "kubelet killed kube-apiserver on {name}: its /livez{probe} failed {} times in a row ({why})",
            cfg.failure_threshold
        );
        self.apiserver_exits_for_kubelet(host, inc, false, what);
    }

    /// The grace period of a frozen apiserver the kubelet is killing ran out: SIGKILL,
    /// which a stopped process cannot ignore. Its kernel resets its connections.
    pub(super) fn on_apiserver_sigkill(&mut self, host: HostId, inc: u32) {
        if !self.hosts[host.index()].apiserver.as_ref().is_some_and(|a| a.incarnation == inc && a.terminating) {
            return;
        }
        let what = format!("kubelet sent SIGKILL to the frozen kube-apiserver on {}", self.hosts[host.index()].name);
        self.apiserver_exits_for_kubelet(host, inc, true, what);
    }

    /// A frozen apiserver the kubelet is killing resumed (SIGCONT) before its SIGKILL:
    /// it acts on the SIGTERM that waited and exits, and the kubelet restarts it.
    fn finish_termination(&mut self, host: HostId) {
        let Some(inc) = self.hosts[host.index()].apiserver.as_ref().filter(|a| a.terminating).map(|a| a.incarnation)
        else {
            return;
        };
        let name = &self.hosts[host.index()].name;
        let what = format!("kube-apiserver on {name} resumed and exited on the kubelet's SIGTERM");
        self.apiserver_exits_for_kubelet(host, inc, false, what);
    }

    /// The apiserver (incarnation `inc`) on `host` exits because the kubelet killed it
    /// (`reset`: by SIGKILL, so its kernel resets its connections), and the kubelet
    /// starts it again in the same pod sync, at once or after the crash-loop back-off.
    /// The timeline says `what` happened and when it restarts.
    fn apiserver_exits_for_kubelet(&mut self, host: HostId, inc: u32, reset: bool, what: String) {
        self.stop_apiserver(host, reset);
        let restart = self.hosts[host.index()].api_backoff.delay_after_kill(self.now);
        let delay = restart.delay();
        self.note(EventKind::Kubelet, Some(host), format!("{what}; {}", restart_when(restart)));
        self.queue.push(self.now + delay, Event::ApiserverRestart(host, inc, delay > SimDuration::ZERO));
    }

    /// The apiserver was killed (a fault): the kubelet starts it again once it notices,
    /// or after the crash-loop back-off. Returns how the timeline says when.
    pub(super) fn kubelet_restarts_apiserver(&mut self, host: HostId, exited: u32) -> String {
        let delay = self.hosts[host.index()].api_backoff.next_delay(self.now);
        self.restart_after_exit(host, delay, |delayed| Event::ApiserverRestart(host, exited, delayed))
    }

    /// A container of `host` exited on its own just now and the crash-loop back-off
    /// asks for `backoff`: schedules the kubelet's restart (`restart` builds the event,
    /// told whether the back-off delays it) and returns how the timeline says when.
    pub(super) fn restart_after_exit(
        &mut self,
        host: HostId,
        backoff: SimDuration,
        restart: impl FnOnce(bool) -> Event,
    ) -> String {
        use crate::model::kubelet;
        let at = kubelet::restart_after_exit(self.now, self.hosts[host.index()].relist_phase, backoff);
        self.queue.push(at, restart(backoff > SimDuration::ZERO));
        if backoff == SimDuration::ZERO {
            format!(
                "restarted {} later, at the kubelet's next container relist (no back-off before a first restart)",
                at.since(self.now)
            )
        } else {
            format!("restart in {backoff} (CrashLoopBackOff)")
        }
    }

    pub(super) fn on_apiserver_restart(&mut self, host: HostId, inc: u32, delayed: bool) {
        let h = &self.hosts[host.index()];
        if h.incarnation_api != inc || !h.up || h.apiserver.is_some() {
            return;
        }
        if delayed {
            self.note_restart_after_backoff(host, "kube-apiserver");
        }
        self.start_apiserver(host);
    }

    /// The kubelet's restart after a crash-loop back-off is a step a learner should
    /// see in the timeline (a restart at the next relist is told with the exit).
    pub(super) fn note_restart_after_backoff(&mut self, host: HostId, process: &str) {
        let name = &self.hosts[host.index()].name;
        let text = format!("kubelet started {process} on {name} again after its crash-loop back-off");
        self.note(EventKind::Kubelet, Some(host), text);
    }

    /// The periodic etcd readiness check (rate limited to once per timeout/2 = 1 s).
    pub(super) fn on_api_check_tick(&mut self, host: HostId, inc: u32) {
        let Some(cp) = self.spec.control_plane else { return };
        let now = self.now;
        if self.hosts[host.index()].apiserver.as_ref().is_none_or(|a| a.incarnation != inc) {
            return;
        }
        let period = SimDuration(cp.etcd_check_timeout.as_micros() / 2);
        self.queue.push(now + period, Event::ApiCheckTick(host, inc));
        self.tend_watch_cache(host);
        let Some(api) = self.hosts[host.index()].apiserver.as_mut() else { return };
        if let Some((_, started)) = api.check {
            if now.since(started) < cp.etcd_check_timeout {
                return;
            }
            let was_ok = std::mem::replace(&mut api.etcd_ok, false);
            api.check = None;
            if was_ok {
                let name = self.hosts[host.index()].name.clone();
                let timeout = cp.etcd_check_timeout;
                self.note(
                    EventKind::Apiserver,
                    Some(host),
                    format!("apiserver on {name} is not ready: its etcd check got no answer within {timeout}"),
                );
            }
        }
        // Marked in flight before the call: a call refused at once (an expired
        // certificate) reports its result before `etcd_call` returns.
        if let Some(api) = self.hosts[host.index()].apiserver.as_mut() {
            api.check = Some((u64::MAX, now));
        }
        let id = self.etcd_call(host, RequestKind::LinearizableRead, Origin::Check { apiserver: host });
        if let Some(api) = self.hosts[host.index()].apiserver.as_mut()
            && let Some((pending, _)) = api.check.as_mut()
        {
            match id {
                Some(id) => *pending = id,
                None => api.check = None,
            }
        }
    }

    /// The etcd member on `host` reset its connections (its process died on a live
    /// host): each running apiserver whose watch it fed sees the stream break now, and
    /// clientv3 resumes the watch through its balancer at once, not at the next look.
    pub(super) fn watch_streams_reset(&mut self, host: HostId) {
        let Some(member) = self.hosts[host.index()].member else { return };
        let fed: Vec<HostId> = (self.cp_hosts.iter().copied())
            .filter(|&h| {
                let node = &self.hosts[h.index()];
                !node.frozen && node.apiserver.as_ref().is_some_and(|a| !a.paused && a.watch_from == Some(member))
            })
            .collect();
        for apiserver in fed {
            self.tend_watch_cache(apiserver);
        }
    }

    /// Once a second (with the etcd check): a serving cache whose etcd watch broke moves
    /// it to another member if one would take it, and one whose watch has failed for
    /// longer than the cacher retries it starts over.
    fn tend_watch_cache(&mut self, host: HostId) {
        let now = self.now;
        let Some(api) = self.hosts[host.index()].apiserver.as_ref() else { return };
        let WatchCache::Serving { since: serving_since, watch_failing_since } = api.cache else { return };
        let Some(from) = api.watch_from else { return };
        // How the watch stream to `from` stands. A refused connection (process gone or
        // stopping on a live host) breaks it at once; a silent peer (powered off, frozen,
        // cut off) only when the gRPC keepalive gives up; clientv3 then resumes the
        // watch through its balancer. A member without a leader cancels it after three
        // election timeouts with "etcdserver: no leader", which reaches the cacher,
        // and the cacher's new watch goes wherever the balancer sends it.
        let (refused, silent, member) = match self.host_of(from) {
            None => (true, false, None),
            Some(src) => {
                let t = &self.hosts[src.index()];
                match t.etcd.as_ref() {
                    _ if !self.host_answers(src, host) => (false, true, None),
                    None => (true, false, None),
                    Some(p) if p.clients_closed => (true, false, None),
                    Some(p) if p.paused => (false, true, None),
                    Some(p) => {
                        (false, false, Some((p.server.raft.lead.is_none(), p.server.failing_leader_watches_since())))
                    }
                }
            }
        };
        let silent_since = silent.then(|| api.watch_silent_since.unwrap_or(now));
        let gave_up = silent_since.is_some_and(|t| now.since(t) >= ETCD_KEEPALIVE_DETECT);
        let cancelled = matches!(member, Some((true, Some(_))));
        // etcd cancels the watch after three election timeouts without a leader, and
        // while it has none it refuses the re-opened one at once (so a restarted member
        // keeps the errors coming). Each such error reaches the cacher's reflector.
        let failing_since = match (member, watch_failing_since) {
            (Some((true, _)), Some(since)) => Some(since),
            (Some((true, Some(cancelled))), None) => Some(cancelled.max(serving_since)),
            _ => None,
        };
        let mut retry = api.watch_retry;
        if let Some(since) = failing_since {
            if watch_failing_since.is_none() {
                retry.on_error(since);
            }
            retry.on_error(now);
        }
        // The reflector consults its deadline only when a watch has just failed.
        if failing_since.is_some() && !retry.should_retry(now) {
            let name = self.hosts[host.index()].name.clone();
            let first = retry.first_error().expect("a deadline runs only from an error");
            let why = if failing_since.is_some_and(|since| first < since) {
                format!(
                    "its etcd watch fails with \"etcdserver: no leader\" again less than a minute (client-go's minResetPeriod) after it last did, so the reflector counts its {MAX_INTERNAL_ERROR_RETRY} of retries from the first of those errors, {} ago",
                    now.since(first)
                )
            } else {
                format!("its etcd watch has failed with \"etcdserver: no leader\" for {MAX_INTERNAL_ERROR_RETRY}")
            };
            self.note(
                EventKind::Apiserver,
                Some(host),
                format!(
                    "the watch cache of the apiserver on {name} starts over: {why}; until a new LIST from etcd succeeds it refuses cache reads (429)"
                ),
            );
            let api = self.hosts[host.index()].apiserver.as_mut().expect("running");
            api.cache = WatchCache::Listing { refused: 0 };
            api.watch_retry = WatchRetry::default();
            api.watch_silent_since = silent_since;
            return;
        }
        self.hosts[host.index()].apiserver.as_mut().expect("running").watch_retry = retry;
        if (refused || gave_up || cancelled)
            && let Some(to) = self.rewatch_target(host, from)
        {
            let (name, from_name, to_name) =
                (self.hosts[host.index()].name.clone(), self.member_name(from), self.member_name(to));
            let why = if refused {
                format!("etcd on {from_name} refused the connection")
            } else if gave_up {
                format!("{from_name} went silent and the gRPC keepalive gave up after {ETCD_KEEPALIVE_DETECT}")
            } else {
                format!("etcd on {from_name} has no leader and cancelled it (\"etcdserver: no leader\")")
            };
            self.note(
                EventKind::Apiserver,
                Some(host),
                format!("the watch cache of the apiserver on {name} now follows etcd on {to_name}: its watch moved there ({why})"),
            );
            let api = self.hosts[host.index()].apiserver.as_mut().expect("running");
            api.watch_from = Some(to);
            api.watch_silent_since = None;
            api.cache = WatchCache::Serving { since: serving_since, watch_failing_since: None };
            return;
        }
        let api = self.hosts[host.index()].apiserver.as_mut().expect("running");
        api.cache = WatchCache::Serving { since: serving_since, watch_failing_since: failing_since };
        api.watch_silent_since = silent_since;
    }

    /// Where a new watch stream of the apiserver on `host` would succeed: the next of
    /// its endpoints after `from` (clientv3 round-robins) whose member answers and has
    /// a leader (a watch opened WithRequireLeader is refused by a member without one).
    fn rewatch_target(&self, host: HostId, from: MemberId) -> Option<MemberId> {
        let api = self.hosts[host.index()].apiserver.as_ref()?;
        let n = api.endpoints.len();
        let at = api.endpoints.iter().position(|&m| m == from).unwrap_or(n);
        (1..n).map(|k| api.endpoints[(at + k) % n]).find(|&m| {
            self.host_of(m).is_some_and(|src| {
                self.host_answers(src, host)
                    && self.hosts[src.index()]
                        .etcd
                        .as_ref()
                        .is_some_and(|p| !p.paused && !p.clients_closed && p.server.raft.lead.is_some())
            })
        })
    }

    /// Host `src` is up, not frozen, and linked both ways with `host`.
    fn host_answers(&self, src: HostId, host: HostId) -> bool {
        let t = &self.hosts[src.index()];
        t.up && !t.frozen && self.network.can_reach(src, host) && self.network.can_reach(host, src)
    }

    /// Whether clientv3's balancer of apiserver `api` would use member `m`: on a live
    /// host, while its etcd listens and `api`'s channel to it has reconnected (one
    /// whose etcd is gone or stopping refuses the connection at once); on a host that
    /// went silent, until the keepalive notices.
    fn endpoint_usable(&self, api: &ApiServerProc, m: MemberId) -> bool {
        let now = self.now;
        self.host_of(m).is_some_and(|h| {
            let t = &self.hosts[h.index()];
            match (t.up, t.down_since) {
                (true, _) => self.channel_ready_at(api, h).is_some_and(|at| now >= at),
                (false, Some(since)) => now.since(since) < ETCD_KEEPALIVE_DETECT,
                (false, None) => true,
            }
        })
    }

    /// When the channel of apiserver `api` to the etcd on the live host `member` is (or
    /// will be) ready, while that etcd listens: at once if it never refused the
    /// connection since its host booted, else at the channel's first reconnect attempt
    /// after it began listening again. The channel has been reconnecting since the
    /// refusals began, or since the apiserver started if that was later.
    fn channel_ready_at(&self, api: &ApiServerProc, member: HostId) -> Option<SimTime> {
        let t = &self.hosts[member.index()];
        t.etcd.as_ref().filter(|p| !p.clients_closed)?;
        Some(match t.etcd_refused_from {
            // The channels that were there when the refusals began share one schedule.
            Some(since) if api.born <= since => t.etcd_channels_ready_at,
            Some(since) => grpc_reconnect(since.max(api.born), t.etcd_listening_since),
            None => t.etcd_listening_since,
        })
    }

    /// Wakes the apiserver on `host` when its first channel to a listening member will
    /// be ready, if calls wait for one.
    pub(super) fn wake_when_a_channel_is_ready(&mut self, host: HostId) {
        let Some(api) = self.hosts[host.index()].apiserver.as_ref() else { return };
        if api.parked.is_empty() {
            return;
        }
        let at = (api.endpoints.iter())
            .filter_map(|&m| self.host_of(m))
            .filter(|&h| self.hosts[h.index()].up)
            .filter_map(|h| self.channel_ready_at(api, h))
            .min();
        if let Some(at) = at {
            let inc = api.incarnation;
            self.queue.push(at.max(self.now), Event::ApiChannelReady(host, inc));
        }
    }

    /// The apiserver on `host` sends one request to an etcd member. Returns the etcd
    /// request id, or None when it has no member to talk to.
    pub(super) fn etcd_call(&mut self, host: HostId, kind: RequestKind, origin: Origin) -> Option<u64> {
        let api = self.hosts[host.index()].apiserver.as_ref()?;
        let first = *api.endpoints.first()?;
        match self.pick_endpoint(host) {
            Some(target) => {
                let id = self.register_request(target, kind, Some(origin));
                self.send_call(host, target, id);
                Some(id)
            }
            None => {
                // clientv3 makes its calls WaitForReady: with no channel ready, the call
                // waits in the client until one reconnects (`on_api_channel_ready`), or its
                // caller gives up; it is not refused.
                let target = self.host_of(first)?;
                let id = self.register_request(target, kind, Some(origin));
                if let Some(req) = self.pending.get_mut(&id) {
                    req.parked = true;
                }
                let api = self.hosts[host.index()].apiserver.as_mut()?;
                api.parked.push(id);
                if api.parked.len() == 1 {
                    self.wake_when_a_channel_is_ready(host);
                }
                Some(id)
            }
        }
    }

    /// The member host the next call of the apiserver on `host` goes to, if any of its
    /// endpoints is usable. clientv3's balancer round-robins over the endpoints whose
    /// channel is ready: a member whose process is gone on a live host refused the
    /// connection and is skipped until its channel reconnects; a powered-off host is
    /// only noticed by the gRPC keepalive (kube-apiserver: ping after 30 s idle, 10 s
    /// to answer).
    fn pick_endpoint(&mut self, host: HostId) -> Option<HostId> {
        let api = self.hosts[host.index()].apiserver.as_ref()?;
        let n = api.endpoints.len();
        let start = api.rr;
        let pick = (0..n).map(|k| (start + k) % n).find(|&i| self.endpoint_usable(api, api.endpoints[i]))?;
        let member = api.endpoints[pick];
        self.hosts[host.index()].apiserver.as_mut()?.rr = pick + 1;
        self.host_of(member)
    }

    /// The etcd on `host` refuses the apiservers' connections from now on (unless it
    /// already did): their channels start reconnecting with back-off.
    pub(super) fn refusing_from_now(&mut self, host: HostId) {
        let now = self.now;
        let h = &mut self.hosts[host.index()];
        if h.etcd_refusing_since.is_some() {
            return;
        }
        // gRPC resets a channel's back-off only once it connects: refusals that
        // resume before the channels got through to the process in between go on
        // with the schedule the earlier ones started.
        let since = match h.etcd_refused_from {
            Some(from) if grpc_reconnect(from, h.etcd_listening_since) > now => from,
            _ => now,
        };
        h.etcd_refusing_since = Some(since);
    }

    /// Sends call `id` of the apiserver on `host` to the member on `target`.
    fn send_call(&mut self, host: HostId, target: HostId, id: u64) {
        if !self.hosts[target.index()].up {
            // Nothing answers a powered-off host.
            self.call_lost(id);
            return;
        }
        // TLS to the member: it checks our apiserver-etcd-client certificate, we check
        // its server certificate.
        if self.certs_checked()
            && !(self.cert_valid(host, CertKind::ApiserverEtcdClient, target)
                && self.cert_valid(target, CertKind::EtcdServer, host))
        {
            self.finish_request(id, Err(RequestError::CertificateExpired));
            return;
        }
        match self.network.send(self.now, host, target) {
            Delivery::At(at) => self.queue.push(at, Event::EtcdCallArrive(id)),
            _ => self.call_lost(id),
        }
    }

    /// A channel of the apiserver on `host` may be ready: the calls waiting for one go
    /// out (a frozen apiserver sends them once it resumes).
    pub(super) fn on_api_channel_ready(&mut self, host: HostId, inc: u32) {
        let live = self.hosts[host.index()].apiserver.as_ref().is_some_and(|a| a.incarnation == inc);
        if live && !self.hosts[host.index()].frozen {
            self.send_parked_calls(host);
        }
    }

    /// The apiserver on `host` sends the calls that waited for a ready channel, if one
    /// is ready now.
    pub(super) fn send_parked_calls(&mut self, host: HostId) {
        if self.hosts[host.index()].frozen {
            return;
        }
        let Some(api) = self.hosts[host.index()].apiserver.as_mut().filter(|a| !a.paused) else { return };
        if api.parked.is_empty() {
            return;
        }
        let parked = std::mem::take(&mut api.parked);
        let mut left = Vec::new();
        for id in parked {
            if !self.pending.contains_key(&id) {
                continue; // its caller's deadline or the handler's cap ended it
            }
            let Some(target) = self.pick_endpoint(host) else {
                left.push(id);
                continue;
            };
            let now = self.now;
            let lead = self.hosts[target.index()].etcd.as_ref().and_then(|p| p.server.raft.lead);
            let req = self.pending.get_mut(&id).expect("checked above");
            req.parked = false;
            req.host = target;
            req.lead_at_issue = lead;
            // etcd's request timeout starts when the member takes the call in.
            req.taken_late = Some(now);
            let (record, capped) = (req.record, req.at_handler_cap);
            self.outcome.requests[record].host = target;
            if capped {
                // Its first deadline passed while it waited: the member's own timer is
                // the one left to run.
                self.queue.push(now + self.spec.etcd.request_timeout(), Event::Deadline(id));
            }
            self.send_call(host, target, id);
        }
        if let Some(api) = self.hosts[host.index()].apiserver.as_mut() {
            left.append(&mut api.parked);
            api.parked = left;
        }
        self.wake_when_a_channel_is_ready(host);
    }

    /// A call of an apiserver's that no member will ever see. The gRPC connection looks
    /// open until its keepalive gives up, so the call waits: etcd's 7 s request timeout
    /// is the server's, which never hears of it. Its caller gives up on its own timeout
    /// (a client's 10 s, a lease call's 5 s), which upstream also cancels the call;
    /// hasim keeps its record until the apiserver handler's cap (34 s for a write,
    /// `--request-timeout` 60 s otherwise), when no one waits on it any more. The
    /// readiness check's call has its own 2 s context, and its tick judges it on time
    /// whatever the call does.
    pub(super) fn call_lost(&mut self, id: u64) {
        if let Some(req) = self.pending.get_mut(&id)
            && matches!(req.origin, Some(Origin::Api { .. } | Origin::Lease { .. }))
        {
            req.lost = true;
        }
    }

    /// An etcd request made for `origin` finished (answer arrived, or its deadline).
    /// `served_by`: the host of the member the call went to.
    pub(super) fn on_etcd_result(
        &mut self,
        id: u64,
        origin: Origin,
        served_by: HostId,
        result: Result<LogIndex, RequestError>,
    ) {
        match origin {
            Origin::Lease { apiserver, component, incarnation, seq } => {
                self.on_lease_etcd_result(id, apiserver, component, incarnation, seq, result);
            }
            Origin::Check { apiserver } => {
                let now = self.now;
                let timeout = self.cp().map_or(SimDuration::ZERO, |c| c.etcd_check_timeout);
                // Only the answer to the check in flight counts (u64::MAX: it came before
                // `etcd_call` returned the id), not a late one to an earlier check or to
                // the process before a restart.
                if let Some(api) = self.hosts[apiserver.index()].apiserver.as_mut()
                    && let Some((pending, started)) = api.check
                    && (pending == id || pending == u64::MAX)
                {
                    let ok = result.is_ok() && now.since(started) <= timeout;
                    if ok != api.etcd_ok {
                        let name = self.hosts[apiserver.index()].name.clone();
                        let text = if ok {
                            format!("apiserver on {name} is ready: its etcd check passed")
                        } else {
                            format!(
                                "apiserver on {name} is not ready: its etcd check failed ({})",
                                match result {
                                    Err(e) => e.to_string(),
                                    Ok(_) => "timed out".to_string(),
                                }
                            )
                        };
                        self.note(EventKind::Apiserver, Some(apiserver), text);
                    }
                    let served_member = self.hosts[served_by.index()].member;
                    let api = self.hosts[apiserver.index()].apiserver.as_mut().expect("checked");
                    api.etcd_ok = ok;
                    api.check = None;
                    if ok {
                        api.last_ok = now;
                    }
                    // The watch cache's LIST is this same quorum read (see the module
                    // comment); unlike the check it has no 2 s limit of its own, but an
                    // answer after the next check started is not counted.
                    if let (Ok(index), WatchCache::Listing { refused }) = (result, api.cache) {
                        // The watch that follows the LIST goes to the member that served it.
                        api.cache = WatchCache::Serving { since: now, watch_failing_since: None };
                        api.watch_from = served_member;
                        api.watch_silent_since = None;
                        api.cache_rev = api.cache_rev.max(index);
                        if refused > 0 {
                            let name = self.hosts[apiserver.index()].name.clone();
                            self.note(
                                EventKind::Apiserver,
                                Some(apiserver),
                                format!(
                                    "the watch cache of the apiserver on {name} is initialised: its LIST from etcd succeeded (it answered {refused} cache reads with 429 meanwhile; client-go sends such a read again after the 1s Retry-After, up to 10 times)"
                                ),
                            );
                        }
                    }
                }
            }
            Origin::Api { request, apiserver } => {
                let reply = match result {
                    Ok(_) => Ok(()),
                    Err(error) => Err(Failure::Etcd { backend: apiserver, error }),
                };
                self.reply_to_client(request, apiserver, reply);
            }
        }
    }

    // ------------------------------------------------------------------ clients

    pub(super) fn on_client_issue(&mut self, plane: Plane) {
        let Some(cp) = self.spec.control_plane else { return };
        // Arrivals are spread uniformly around the mean period, so requests of the
        // planes do not fall into lockstep with the LB's round robin.
        let period = 1_000_000_000 / plane.milli_rate(&cp.clients).max(1);
        let gap = period / 2 + self.client_rng.below(period + 1);
        self.queue.push(self.now + SimDuration(gap), Event::ClientIssue(plane));
        let deadline = self.now + cp.clients.timeout;
        let conn = self.conn_for(plane);
        let id = self.new_attempt(ApiRequest {
            plane,
            issued: self.now,
            deadline,
            retries_left: cp.clients.retries,
            backend: None,
            attempts: 0,
            connected: false,
            lb: None,
            lb_generation: 0,
            retry_afters: 0,
            api_incarnation: None,
            conn,
            counted: None,
            arrived_ready: None,
        });
        self.queue.push_in_order(LANE_CLIENT_TIMEOUT, deadline, Event::ClientTimeout(id));
        self.send_attempt_inline(id);
    }

    #[inline(always)]
    fn new_attempt(&mut self, req: ApiRequest) -> u64 {
        let id = self.next_request;
        self.next_request += 1;
        self.api_requests.insert(id, req);
        id
    }

    /// The long-lived connection a request of `plane` uses, if clients keep them:
    /// client requests take turns over the shared pool, each kubelet has its own.
    fn conn_for(&mut self, plane: Plane) -> Option<u32> {
        let cp = self.spec.control_plane?;
        let shared = cp.clients.connections?;
        let (base, count, turn) = match plane {
            Plane::NodeLease => (shared, cp.clients.worker_nodes, &mut self.conn_turns.1),
            _ => (0, shared, &mut self.conn_turns.0),
        };
        if count == 0 {
            return None;
        }
        let c = base + *turn % count;
        *turn = turn.wrapping_add(1);
        Some(c)
    }

    /// Sends an attempt: over its live connection, or through a new one.
    pub(super) fn send_attempt(&mut self, id: u64) {
        self.send_attempt_inline(id);
    }

    /// `send_attempt`, inlined where every request's first attempt is sent
    /// (`on_client_issue`); retries and Retry-After resends call it out of line.
    #[inline(always)]
    fn send_attempt_inline(&mut self, id: u64) {
        let Some(cp) = self.spec.control_plane else { return };
        let Some(req) = self.api_requests.get(&id).copied() else { return };
        if let Some(c) = req.conn
            && let Some(route) = self.live_route(c)
        {
            self.send_on_conn(id, c, route);
            return;
        }
        let client = self.client_host();
        match cp.frontend {
            Frontend::Direct => {
                let backend = self.cp_hosts[0];
                self.connect_backend(id, client, backend);
            }
            Frontend::Haproxy(_) | Frontend::Nginx(_) => {
                // To the VIP's current holder, or the one LB.
                let Some(lb) = self.endpoint_lb() else { return };
                let lb_host = self.lbs[lb as usize].host;
                let lb_generation = self.lbs[lb as usize].generation;
                if let Some(r) = self.api_requests.get_mut(&id) {
                    r.lb = Some(lb);
                    r.lb_generation = lb_generation;
                }
                if let Delivery::At(at) = self.network.send(self.now, client, lb_host) {
                    self.queue.push(at, Event::LbArrive(id, lb));
                }
            }
        }
    }

    /// The route of connection `c` if it is still open; closes it when it has broken
    /// in a way the client only learns about now.
    fn live_route(&mut self, c: u32) -> Option<ConnRoute> {
        let conn = self.conns[c as usize];
        let route = conn.route?;
        let silent_too_long = conn.waiting_since.is_some_and(|since| self.now.since(since) >= self.silence_limit());
        // An LB that rebooted, or a VIP now held by the other LB, knows nothing of the
        // session: the next packet is answered with a reset.
        let lb_lost = route.lb.is_some_and(|lb| self.lb_session_lost(lb, route.lb_generation));
        if silent_too_long || lb_lost {
            self.close_conn(c);
            return None;
        }
        Some(route)
    }

    /// How long a connection may go without an answer before it is closed.
    fn silence_limit(&self) -> SimDuration {
        match self.cp().map(|c| c.frontend) {
            Some(Frontend::Haproxy(cfg)) => cfg.timeout_server.min(HTTP2_PING_CLOSE),
            _ => HTTP2_PING_CLOSE,
        }
    }

    fn close_conn(&mut self, c: u32) {
        let conn = &mut self.conns[c as usize];
        conn.waiting_since = None;
        if let Some(route) = conn.route.take() {
            self.uncount(route.lb, route.lb_generation, route.server);
        }
    }

    /// The LB forgets a connection it counted (for leastconn).
    fn uncount(&mut self, lb: Option<u8>, generation: u32, server: u16) {
        if let Some(l) = lb.map(|lb| &mut self.lbs[lb as usize])
            && l.generation == generation
            && let Balancer::Haproxy(h) = &mut l.balancer
        {
            h.closed(server as usize);
        }
    }

    /// An attempt on an open connection: the LB forwards it within the session.
    fn send_on_conn(&mut self, id: u64, c: u32, route: ConnRoute) {
        let now = self.now;
        let Some(req) = self.api_requests.get_mut(&id) else { return };
        req.backend = Some(route.backend);
        req.connected = true;
        req.lb = route.lb;
        req.api_incarnation = Some(route.api_incarnation);
        self.conns[c as usize].waiting_since.get_or_insert(now);
        self.send_in_session(id, route.lb, route.backend);
    }

    /// The client sends request `id` on an open session: through its LB, which forwards
    /// it within the session, or straight to the backend when there is no LB.
    fn send_in_session(&mut self, id: u64, lb: Option<u8>, backend: HostId) {
        let client = self.client_host();
        let (to, event) = match lb {
            Some(lb) => (self.lbs[lb as usize].host, Event::LbForward(id, lb)),
            None => (backend, Event::ApiArrive(id, backend)),
        };
        if let Delivery::At(at) = self.network.send(self.now, client, to) {
            self.queue.push(at, event);
        }
    }

    /// A session through LB `lb` opened in its `generation` is gone: the LB rebooted
    /// since, or the VIP moved to the other LB (either answers its next packet with a
    /// reset).
    fn lb_session_lost(&self, lb: u8, generation: u32) -> bool {
        self.lbs[lb as usize].generation != generation || self.endpoint_lb() != Some(lb)
    }

    /// A request on an established session reached the LB: on to its backend.
    pub(super) fn on_lb_forward(&mut self, id: u64, lb_index: u8) {
        let lb = self.lbs[lb_index as usize].host;
        let Some(backend) = self.api_requests.get(&id).and_then(|r| r.backend) else { return };
        if !self.hosts[lb.index()].up {
            return;
        }
        if let Delivery::At(at) = self.network.send(self.now, lb, backend) {
            self.queue.push(at, Event::ApiArrive(id, backend));
        }
    }

    /// The LB that receives traffic for the control-plane endpoint.
    fn endpoint_lb(&self) -> Option<u8> {
        if self.cp().is_some_and(|c| c.vip.is_some()) { self.vip_holder } else { Some(0) }
    }

    pub(super) fn client_host(&self) -> HostId {
        HostId(self.hosts.len() as u32 - 1)
    }

    /// A request reached an LB: pick a backend and connect.
    pub(super) fn on_lb_arrive(&mut self, id: u64, lb_index: u8) {
        let lb = self.lbs[lb_index as usize].host;
        if !self.hosts[lb.index()].up {
            return;
        }
        if !self.lbs[lb_index as usize].proxy_up {
            // The host is up and nothing listens on the port: its kernel resets.
            self.reply_from(id, lb, Err(Failure::LbRefused { lb }));
            return;
        }
        match self.lb_pick(id, lb_index, None) {
            Some(backend) => self.connect_backend(id, lb, backend),
            None => self.reply_from(id, lb, Err(Failure::NoBackend)),
        }
    }

    /// The LB picks the backend for request `id`'s new connection, and HAProxy counts
    /// the connection against it (for leastconn); None when HAProxy has none UP.
    /// Inlined: every new connection picks, and the call cost a fair part of the pick.
    #[inline(always)]
    fn lb_pick(&mut self, id: u64, lb_index: u8, avoid: Option<HostId>) -> Option<HostId> {
        let now = self.now;
        let avoid = avoid.and_then(|a| self.cp_hosts.iter().position(|&h| h == a));
        let (server, counted) = match &mut self.lbs[lb_index as usize].balancer {
            Balancer::Haproxy(h) => (h.pick_avoiding(avoid)?, true),
            Balancer::Nginx(n) => (n.pick(now), false),
        };
        let backend = self.cp_hosts[server];
        if let Some(r) = self.api_requests.get_mut(&id) {
            r.backend = Some(backend);
            if counted {
                r.counted = Some((lb_index, server as u16));
            }
        }
        Some(backend)
    }

    /// `from` (the LB, or the client when there is none) opens a connection to the
    /// apiserver on `backend`.
    fn connect_backend(&mut self, id: u64, from: HostId, backend: HostId) {
        let frontend = self.cp().map(|c| c.frontend);
        let (retries, connect_timeout) = match frontend {
            Some(Frontend::Haproxy(cfg)) => (cfg.retries, cfg.timeout_connect),
            Some(Frontend::Nginx(cfg)) => (0, cfg.connect_timeout),
            _ => (0, SimDuration::from_secs(5)),
        };
        let reachable = self.handshake_completes(from, backend);
        let serving = self.hosts[backend.index()].apiserver.as_ref().map(|a| a.incarnation);
        let Some(req) = self.api_requests.get_mut(&id) else { return };
        req.backend = Some(backend);
        req.attempts += 1;
        let attempts = req.attempts;
        let Some(api_incarnation) = serving.filter(|_| reachable) else {
            let failure = if reachable { Failure::Refused { backend } } else { Failure::ConnectTimeout { backend } };
            if let Some(Frontend::Nginx(_)) = frontend {
                // nginx counts the failure against the server and passes the
                // connection to the next one, until every server was tried.
                let at = if reachable { self.now } else { self.now + connect_timeout };
                let tried_all = attempts as usize >= self.cp_hosts.len();
                self.queue.push(at, Event::LbNext(id, backend, tried_all));
                return;
            }
            // HAProxy retries the same server: after a turn-around of min(timeout
            // connect, 1 s) for a refusal, after the timeout otherwise. With `option
            // redispatch` the last retry goes to the server the balance algorithm picks
            // instead, with no turn-around (backend.c waits only before retrying the
            // same server).
            let redispatch = matches!(frontend, Some(Frontend::Haproxy(cfg)) if cfg.redispatch) && attempts == retries;
            let wait = if reachable { connect_timeout.min(SimDuration::from_secs(1)) } else { connect_timeout };
            if redispatch {
                let at = if reachable { self.now } else { self.now + connect_timeout };
                self.queue.push(at, Event::LbRetry(id, None));
            } else if attempts <= retries {
                self.queue.push(self.now + wait, Event::LbRetry(id, Some(backend)));
            } else {
                let now = self.now;
                let at = if reachable { now } else { now + wait };
                self.queue.push(at, Event::LbGiveUp(id, failure));
            }
            return;
        };
        req.connected = true;
        req.api_incarnation = Some(api_incarnation);
        // A long-lived connection now exists: it keeps this backend (and the LB's
        // count of it) until it breaks.
        if let Some(c) = req.conn {
            let counted = req.counted.take();
            let via = req.lb;
            let (lb, server) = match counted {
                Some((lb, server)) => (Some(lb), server),
                None => (via, self.cp_hosts.iter().position(|&h| h == backend).unwrap_or(0) as u16),
            };
            let lb_generation = lb.map_or(0, |l| self.lbs[l as usize].generation);
            self.close_conn(c);
            let route = ConnRoute { lb, lb_generation, backend, api_incarnation, server };
            self.conns[c as usize] = ClientConn { route: Some(route), waiting_since: Some(self.now) };
        }
        if let Delivery::At(at) = self.network.send(self.now, from, backend) {
            self.queue.push(at, Event::ApiArrive(id, backend));
        }
    }

    /// The host the request's connection came from: its LB, or the client.
    pub(super) fn request_front(&self, id: u64) -> HostId {
        match self.api_requests.get(&id).and_then(|r| r.lb) {
            Some(lb) => self.lbs[lb as usize].host,
            None => self.client_host(),
        }
    }

    /// nginx: the connect to `failed` failed; try the next server, or give up (502).
    pub(super) fn on_lb_next(&mut self, id: u64, failed: HostId, tried_all: bool) {
        let Some(lb_index) = self.api_requests.get(&id).and_then(|r| r.lb) else { return };
        let lb = self.lbs[lb_index as usize].host;
        if !self.hosts[lb.index()].up {
            return;
        }
        let now = self.now;
        let server = self.cp_hosts.iter().position(|&h| h == failed).expect("a backend");
        let Balancer::Nginx(n) = &mut self.lbs[lb_index as usize].balancer else { return };
        n.failed(server, now);
        if tried_all {
            self.reply_from(id, lb, Err(Failure::NoBackend));
            return;
        }
        let next = self.cp_hosts[n.pick(now)];
        self.connect_backend(id, lb, next);
    }

    /// HAProxy tries again: on `backend`, or (redispatch) on the server its balance
    /// algorithm picks now.
    pub(super) fn on_lb_retry(&mut self, id: u64, backend: Option<HostId>) {
        let from = self.request_front(id);
        if !self.hosts[from.index()].up {
            return;
        }
        if let Some(backend) = backend {
            self.connect_backend(id, from, backend);
            return;
        }
        let Some(req) = self.api_requests.get_mut(&id) else { return };
        let Some(lb_index) = req.lb else { return };
        let failed = req.backend;
        // The failed server's connection count goes; the new pick counts its own.
        if let Some((lb, server)) = req.counted.take() {
            let generation = self.lbs[lb as usize].generation;
            self.uncount(Some(lb), generation, server);
        }
        match self.lb_pick(id, lb_index, failed) {
            Some(backend) => self.connect_backend(id, from, backend),
            None => self.reply_from(id, from, Err(Failure::NoBackend)),
        }
    }

    pub(super) fn on_lb_give_up(&mut self, id: u64, failure: Failure) {
        let from = self.request_front(id);
        self.reply_from(id, from, Err(failure));
    }

    /// The request reached the apiserver on `host`.
    pub(super) fn on_api_arrive(&mut self, id: u64, host: HostId) {
        let ready = self.apiserver_ready(host);
        let Some(req) = self.api_requests.get_mut(&id) else { return };
        req.arrived_ready = Some(ready);
        let req = *req;
        let h = &self.hosts[host.index()];
        let running = h.apiserver.as_ref().map(|a| a.incarnation);
        if running.is_none() || running != req.api_incarnation {
            // The process the connection belonged to is gone: a live host's kernel
            // resets the connection; a dead one says nothing (the client times out).
            if h.up {
                self.reply_to_client(id, host, Err(Failure::Reset { backend: host }));
            }
            return;
        }
        if self.certs_checked() && !self.cert_valid(host, CertKind::ApiserverServing, self.client_host()) {
            self.reply_to_client(id, host, Err(Failure::Tls { backend: host }));
            return;
        }
        match req.plane {
            Plane::Write | Plane::NodeLease => {
                self.etcd_call(host, RequestKind::Write, Origin::Api { request: id, apiserver: host });
            }
            Plane::QuorumRead => {
                self.etcd_call(host, RequestKind::LinearizableRead, Origin::Api { request: id, apiserver: host });
            }
            Plane::CacheRead => {
                let api = self.hosts[host.index()].apiserver.as_mut().expect("checked above");
                if let WatchCache::Listing { refused, .. } = &mut api.cache {
                    *refused += 1;
                    self.reply_to_client(id, host, Err(Failure::CacheInitializing { backend: host }));
                    return;
                }
                self.refresh_cache(host);
                let api = self.hosts[host.index()].apiserver.as_ref().expect("checked above");
                // Behind the committed log, or unable to tell (no quorum reachable).
                let lag = match self.checker.commit_time(api.cache_rev + 1) {
                    Some(t) => self.now.since(t),
                    None => SimDuration::ZERO,
                };
                let unverified = if api.etcd_ok { SimDuration::ZERO } else { self.now.since(api.last_ok) };
                let staleness = lag.max(unverified);
                if staleness >= SimDuration::from_secs(1) {
                    self.stale_reads += 1;
                    self.stale.push((self.now, host));
                }
                self.max_staleness = self.max_staleness.max(staleness);
                self.reply_to_client(id, host, Ok(()));
            }
        }
    }

    /// The apiserver process on `host` exits while the host stays up. Killed
    /// (SIGKILL): its kernel resets every connection, so requests in flight fail at
    /// once. Terminated (SIGTERM, as the kubelet stops a static pod): it stops
    /// listening, finishes the requests in flight and sends GOAWAY on its HTTP/2
    /// connections. Either way long-lived connections to it are closed and their
    /// clients reconnect.
    pub(super) fn stop_apiserver(&mut self, host: HostId, killed: bool) {
        let Some(api) = self.hosts[host.index()].apiserver.take() else { return };
        self.update_holding();
        // What waited for it while it was frozen now finds it gone.
        if api.paused && !self.hosts[host.index()].frozen {
            self.release_held(host);
        }
        let gone = Some(api.incarnation);
        if killed {
            let hit: Vec<u64> = self
                .api_requests
                .iter()
                .filter(|(_, r)| r.connected && r.backend == Some(host) && r.api_incarnation == gone)
                .map(|(id, _)| id)
                .collect();
            for id in hit {
                self.reply_to_client(id, host, Err(Failure::Reset { backend: host }));
            }
        }
        self.close_conns_where(|r| r.backend == host && Some(r.api_incarnation) == gone);
    }

    fn close_conns_where(&mut self, mut matches: impl FnMut(&ConnRoute) -> bool) -> usize {
        let hit: Vec<u32> = (0..self.conns.len() as u32)
            .filter(|&c| self.conns[c as usize].route.as_ref().is_some_and(&mut matches))
            .collect();
        for &c in &hit {
            self.close_conn(c);
        }
        hit.len()
    }

    /// HAProxy `on-marked-down shutdown-sessions`: the LB closes every session to a
    /// backend it just marked DOWN. Returns how many, and whether one was the tracked
    /// script's (whose run the caller ends once the closing is told).
    fn shutdown_sessions(&mut self, lb_index: u8, backend: HostId) -> (usize, bool) {
        let lb = self.lbs[lb_index as usize].host;
        let hit: Vec<u64> = self
            .api_requests
            .iter()
            .filter(|(_, r)| r.connected && r.lb == Some(lb_index) && r.backend == Some(backend))
            .map(|(id, _)| id)
            .collect();
        // Requests on long-lived connections are counted with their connection.
        let own_sessions = hit.iter().filter(|id| self.api_requests[id].conn.is_none()).count();
        for &id in &hit {
            self.reply_from(id, lb, Err(Failure::Reset { backend }));
        }
        // keepalived's check_apiserver.sh holds a session like any client's: curl,
        // waiting on a frozen apiserver, sees it reset.
        let script_hit = self.lbs[lb_index as usize]
            .script
            .is_some_and(|s| s.connected && s.server.is_some_and(|i| self.cp_hosts[i] == backend));
        let conns = self.close_conns_where(|r| r.lb == Some(lb_index) && r.backend == backend);
        (own_sessions + usize::from(script_hit) + conns, script_hit)
    }

    /// The watch cache follows the member that feeds it while it can reach it.
    fn refresh_cache(&mut self, host: HostId) {
        let Some(api) = self.hosts[host.index()].apiserver.as_ref() else { return };
        let Some(member) = api.watch_from else { return };
        let Some(src) = self.host_of(member) else { return };
        if !self.network.can_reach(src, host) {
            return;
        }
        let applied = self.hosts[src.index()].etcd.as_ref().map(|p| p.server.raft.log.applied);
        if let (Some(applied), Some(api)) = (applied, self.hosts[host.index()].apiserver.as_mut()) {
            api.cache_rev = api.cache_rev.max(applied);
        }
    }

    /// The apiserver on `host` answers; the reply goes back through the LB.
    fn reply_to_client(&mut self, id: u64, host: HostId, reply: Result<(), Failure>) {
        // The request's front is its LB, if it came through one (`request_front`); the
        // LB's index is at hand then, so its proxy's state needs no search by host (LB
        // hosts are distinct, so a search would find this same LB).
        let hop = match self.api_requests.get(&id).and_then(|r| r.lb) {
            None => Some((host, self.now)),
            Some(lb) => {
                let l = &self.lbs[lb as usize];
                let front = l.host;
                if !self.hosts[front.index()].up || !l.proxy_up {
                    None // the LB died with the connection
                } else {
                    match self.network.send(self.now, host, front) {
                        // It waits in the frozen proxy's socket until it resumes.
                        Delivery::At(at) if self.lbs[lb as usize].proxy_frozen => {
                            self.queue.push(at, Event::LbRelay(id, lb, reply));
                            None
                        }
                        Delivery::At(at) => Some((front, at)),
                        _ => None,
                    }
                }
            }
        };
        if let Some((from, at)) = hop {
            self.reply_from_at(id, from, at, reply);
        }
    }

    fn reply_from(&mut self, id: u64, from: HostId, reply: Result<(), Failure>) {
        self.reply_from_at(id, from, self.now, reply);
    }

    /// A proxy that was frozen when a backend's answer reached it relays it now, unless
    /// it died meanwhile (its connections were reset then).
    pub(super) fn on_lb_relay(&mut self, id: u64, lb_index: u8, reply: Result<(), Failure>) {
        let lb = self.lbs[lb_index as usize].host;
        if self.hosts[lb.index()].up && self.lbs[lb_index as usize].proxy_up {
            self.reply_from(id, lb, reply);
        }
    }

    /// Inlined: every answer to a client leaves through here, and the call cost a good
    /// part of what it does (one send, one push).
    #[inline(always)]
    fn reply_from_at(&mut self, id: u64, from: HostId, at: SimTime, reply: Result<(), Failure>) {
        let client = self.client_host();
        let delay = match self.network.send(at, from, client) {
            Delivery::At(t) => t,
            _ => return,
        };
        self.queue.push(delay, Event::ClientReply(id, reply));
    }

    /// An answer reached the client: done, or (on failure, with retries left and time
    /// before the deadline) tried again as a new attempt after the back-off.
    pub(super) fn on_client_reply(&mut self, id: u64, reply: Result<(), Failure>) {
        let Some(req) = self.api_requests.get(&id).copied() else { return };
        if let Some(c) = req.conn {
            match reply {
                Err(Failure::Reset { .. }) if req.connected => self.close_conn(c),
                _ if req.connected => self.conns[c as usize].waiting_since = None,
                _ => {}
            }
        }
        // client-go itself sends a request again on a 429 that carries Retry-After
        // (the watch cache's "storage is (re)initializing" asks for 1 s), up to 10
        // times, on the same connection, unless the wait would outlast the timeout.
        if let Err(Failure::CacheInitializing { .. }) = reply
            && req.retry_afters < CLIENT_GO_MAX_RETRIES
            && self.now + CACHE_INIT_RETRY_AFTER < req.deadline
        {
            let r = self.api_requests.get_mut(&id).expect("checked above");
            r.retry_afters += 1;
            r.arrived_ready = None;
            self.queue.push(self.now + CACHE_INIT_RETRY_AFTER, Event::ClientRetryAfter(id));
            return;
        }
        let backoff = self.cp().map_or(SimDuration::ZERO, |c| c.clients.retry_backoff);
        let retry_at = self.now + backoff;
        if reply.is_err() && req.retries_left > 0 && retry_at < req.deadline {
            self.end_attempt(id);
            let next = self.new_attempt(ApiRequest {
                retries_left: req.retries_left - 1,
                backend: None,
                attempts: 0,
                connected: false,
                lb: None,
                retry_afters: 0,
                api_incarnation: None,
                counted: None,
                arrived_ready: None,
                ..req
            });
            self.queue.push(retry_at, Event::ClientSend(next));
            self.queue.push(req.deadline, Event::ClientTimeout(next));
            return;
        }
        self.finish_api_request(id, reply);
    }

    /// client-go's Retry-After wait is over: the same request goes out again on the
    /// connection that carried the 429. A long-lived connection may have broken
    /// meanwhile (then a new one is opened); a request's own session dies with its LB
    /// (a rebooted LB, or the VIP moved to the other one, answers with a reset).
    pub(super) fn on_client_retry_after(&mut self, id: u64) {
        let Some(req) = self.api_requests.get_mut(&id) else { return };
        if req.conn.is_some() {
            req.attempts = 0;
            req.connected = false;
            self.send_attempt(id);
            return;
        }
        let req = *req;
        let (Some(backend), true) = (req.backend, req.connected) else { return };
        if let Some(lb) = req.lb
            && self.lb_session_lost(lb, req.lb_generation)
        {
            if let Some(now_lb) = self.endpoint_lb() {
                let from = self.lbs[now_lb as usize].host;
                self.reply_from(id, from, Err(Failure::Reset { backend }));
            }
            return;
        }
        self.send_in_session(id, req.lb, backend);
    }

    pub(super) fn on_client_timeout(&mut self, id: u64) {
        let Some(req) = self.api_requests.get(&id) else { return };
        let failure = match (req.backend, req.connected) {
            // The request, or its answer, waits in a frozen proxy.
            _ if req.lb.is_some_and(|lb| self.proxy_frozen(lb)) => {
                Failure::LbFrozen { lb: self.lbs[req.lb.expect("checked") as usize].host }
            }
            // Still trying to connect through the LB to a backend that does not answer.
            (Some(backend), false) => Failure::ConnectTimeout { backend },
            (backend, _) => Failure::ClientTimeout { backend },
        };
        self.finish_api_request(id, Err(failure));
    }

    /// Forgets an attempt; a per-request connection it held is closed. Inlined, so the
    /// attempt is not copied out through a return slot on every finished request.
    #[inline(always)]
    fn end_attempt(&mut self, id: u64) -> Option<ApiRequest> {
        let req = self.api_requests.remove(&id)?;
        if let Some((lb, server)) = req.counted {
            let generation = self.lbs[lb as usize].generation;
            self.uncount(Some(lb), generation, server);
        }
        Some(req)
    }

    fn finish_api_request(&mut self, id: u64, reply: Result<(), Failure>) {
        let Some(req) = self.end_attempt(id) else { return };
        let second = (req.issued.as_micros() / 1_000_000) as usize;
        let stats = &mut self.planes[req.plane as usize];
        if stats.per_second.len() <= second {
            stats.per_second.resize(second + 1, (0, 0));
        }
        match reply {
            Ok(()) => {
                stats.ok += 1;
                stats.per_second[second].0 += 1;
                if !self.settling {
                    self.oks_by_end[req.plane as usize].push(req.issued);
                }
                let took = self.now.since(req.issued);
                if took >= SLOW_ANSWER {
                    stats.slow += 1;
                }
                stats.slowest = stats.slowest.max(took);
            }
            Err(f) => {
                stats.failed += 1;
                stats.per_second[second].1 += 1;
                self.failures.push((req.issued, req.plane, f));
                self.failed_at.push(self.now);
                if req.lb.is_some()
                    && let Some(backend) = misrouted_to(f, req.arrived_ready)
                {
                    self.misrouted.push((req.issued, backend));
                }
            }
        }
    }

    /// The host of the etcd member whose watch stream feeds the watch cache of the
    /// apiserver on `host`, once its LIST has succeeded.
    pub fn watch_source(&self, host: HostId) -> Option<HostId> {
        let member = self.hosts[host.index()].apiserver.as_ref()?.watch_from?;
        self.host_of(member)
    }

    /// The apiserver on `host` runs, is not frozen, and passes /readyz.
    /// Whether a TCP connect from `from` to `to` gets its SYN-ACK: the host is up and
    /// not frozen (a frozen host's kernel answers nothing, not even a SYN), and packets
    /// pass both ways, so a one-way cut either way times the connect out.
    fn handshake_completes(&self, from: HostId, to: HostId) -> bool {
        let h = &self.hosts[to.index()];
        h.up && !h.frozen && self.network.can_reach(from, to) && self.network.can_reach(to, from)
    }

    fn apiserver_ready(&self, host: HostId) -> bool {
        let h = &self.hosts[host.index()];
        h.up && !h.frozen && h.apiserver.as_ref().is_some_and(|a| !a.paused && a.etcd_ok)
    }

    // --------------------------------------------------------------- LB checks

    pub(super) fn on_lb_check(&mut self, lb_index: u8, server: usize) {
        let Some(Frontend::Haproxy(cfg)) = self.cp().map(|c| c.frontend) else { return };
        let lb = self.lbs[lb_index as usize].host;
        let Balancer::Haproxy(haproxy) = &self.lbs[lb_index as usize].balancer else { return };
        if !self.hosts[lb.index()].up || !self.lbs[lb_index as usize].proxy_up {
            // The LB host or HAProxy is down: its checks stop; they resume when it
            // starts again.
            self.queue.push(self.now + cfg.inter, Event::LbCheck(lb_index, server as u16));
            return;
        }
        let backend = self.cp_hosts[server];
        let reachable = self.handshake_completes(lb, backend);
        let h = &self.hosts[backend.index()];
        // The kernel completes the handshake whenever something listens, even for a
        // frozen process. A reset, a connect or an HTTP answer comes back within about
        // a millisecond on a LAN.
        let round_trip = SimDuration::from_millis(1);
        let (result, done) = match h.apiserver.as_ref() {
            _ if !reachable => (CheckResult::ConnectTimeout, self.now + haproxy.check_connect_timeout()),
            None => (CheckResult::Refused, self.now + round_trip),
            Some(_) if cfg.check == HealthCheck::Tcp => (CheckResult::Passed, self.now + round_trip),
            Some(a) if a.paused => {
                let sent = self.now + round_trip;
                (CheckResult::AnswerTimeout, haproxy.check_answer_deadline(self.now, sent))
            }
            Some(a) if a.etcd_ok => (CheckResult::Passed, self.now + round_trip),
            Some(_) => (CheckResult::NotReady, self.now + round_trip),
        };
        let epoch = self.lbs[lb_index as usize].proxy_epoch;
        self.queue.push(done, Event::LbCheckDone(lb_index, server as u16, result, epoch));
    }

    /// A check ends. Its result counts only for the proxy that began it: one that was
    /// stopped or whose host lost power meanwhile took the check with it, and a proxy
    /// started since has fresh state and checks for itself. The chain of checks goes
    /// on either way.
    pub(super) fn on_lb_check_done(&mut self, lb_index: u8, server: usize, result: CheckResult, epoch: u32) {
        let lb = &mut self.lbs[lb_index as usize];
        let lb_host = lb.host;
        let same_proxy = lb.proxy_up && lb.proxy_epoch == epoch && self.hosts[lb_host.index()].up;
        let Balancer::Haproxy(haproxy) = &mut lb.balancer else { return };
        if !same_proxy {
            let next = haproxy.next_check_in(server);
            self.queue.push(self.now + next, Event::LbCheck(lb_index, server as u16));
            return;
        }
        let transition = haproxy.on_check(server, result.passed());
        // Only a DOWN transition tells why the check failed.
        let why = match transition {
            Some(t) if t.now == ServerState::Down => check_failure_reason(haproxy, result),
            _ => String::new(),
        };
        let next = haproxy.next_check_in(server);
        self.queue.push(self.now + next, Event::LbCheck(lb_index, server as u16));
        if let Some(t) = transition {
            let backend = self.cp_hosts[server];
            let name = self.hosts[backend.index()].name.clone();
            let lb_name = self.hosts[lb_host.index()].name.clone();
            let (fall, rise, check) = match self.cp().map(|c| c.frontend) {
                Some(Frontend::Haproxy(cfg)) => (cfg.fall, cfg.rise, cfg.check),
                _ => (0, 0, HealthCheck::Tcp),
            };
            let check = match check {
                HealthCheck::Tcp => "TCP",
                HealthCheck::HttpReadyz => "HTTP /readyz",
            };
            let text = match t.now {
                ServerState::Down if t.while_fresh => format!(
                    "{lb_name} marked {name} DOWN after 1 failed {check} check, which {why}: HAProxy had just started and counts a server UP only until its first check fails"
                ),
                ServerState::Down => {
                    format!("{lb_name} marked {name} DOWN after {fall} failed {check} checks; the last {why}")
                }
                ServerState::Up => format!("{lb_name} marked {name} UP after {rise} good {check} checks"),
            };
            self.note(EventKind::LoadBalancer, Some(backend), text);
            let shutdown =
                matches!(self.cp().map(|c| c.frontend), Some(Frontend::Haproxy(cfg)) if cfg.shutdown_sessions);
            if t.now == ServerState::Down && shutdown {
                let (closed, script_hit) = self.shutdown_sessions(lb_index, backend);
                if closed > 0 {
                    self.note(
                        EventKind::LoadBalancer,
                        Some(backend),
                        format!("{lb_name} closed {closed} open sessions to {name} (on-marked-down shutdown-sessions)"),
                    );
                }
                // The script's run fails now; keepalived counts it after the closing.
                if script_hit {
                    self.end_script_run(lb_index, false);
                }
            }
        }
    }

    // --------------------------------------------------------------- keepalived

    /// Boots the LB stack on an LB host: HAProxy with fresh state, keepalived.
    pub(super) fn boot_lb(&mut self, lb_index: u8) {
        let Some(cp) = self.spec.control_plane else { return };
        let Some(mut balancer) = Balancer::new(&cp) else { return };
        if let Balancer::Haproxy(h) = &mut balancer
            && self.now == SimTime::ZERO
        {
            h.assume_long_running();
        }
        let lb = &mut self.lbs[lb_index as usize];
        lb.balancer = balancer;
        lb.generation += 1;
        lb.proxy_epoch += 1;
        lb.proxy_up = true;
        lb.proxy_frozen = false;
        lb.script = None;
        if let Some(vrrp_cfg) = cp.vip {
            let priority = if lb_index == 0 { vrrp_cfg.priority.saturating_add(1).min(254) } else { vrrp_cfg.priority };
            let mut v = Vrrp::start(VrrpConfig { priority, ..vrrp_cfg }, 10 - u32::from(lb_index));
            // keepalived runs a tracked script as soon as it starts, then every
            // interval; at the start of the run it has been doing so for a while.
            let first_run = if self.now == SimTime::ZERO {
                v.assume_long_running();
                vrrp_cfg.track_script.map(|s| self.now + s.interval)
            } else {
                vrrp_cfg.track_script.map(|_| self.now)
            };
            lb.vrrp = Some(v);
            let generation = lb.generation;
            if let Some(at) = first_run {
                self.queue.push(at, Event::VrrpScript(lb_index, generation));
            }
            self.drain_vrrp(lb_index);
        }
    }

    /// keepalived runs kubeadm's check_apiserver.sh (docs/ha-considerations.md):
    /// `curl --silent --max-time 2 --insecure https://localhost:PORT/` through the
    /// HAProxy on its own host, which balances the connection as any other. Without
    /// `--fail` any HTTP answer passes, so an apiserver whose etcd is down (it answers
    /// 403 or 500) or whose certificate expired (`--insecure`) still counts as good.
    /// The run fails at once when HAProxy refuses or closes the connection (it is not
    /// running, has no server UP, or gave up retrying), and when nothing answers (a
    /// frozen HAProxy or apiserver, HAProxy still retrying) at curl's `--max-time`, 2 s
    /// later, or when keepalived kills it at its `timeout` (the interval unless set),
    /// if that comes first. keepalived starts the next run an interval after this one
    /// started, whatever the script took (vrrp_script_thread), and skips it while this
    /// one still runs; one killed at that very moment is over.
    pub(super) fn on_vrrp_script(&mut self, lb_index: u8, generation: u32) {
        let lb = &self.lbs[lb_index as usize];
        if lb.generation != generation || !self.hosts[lb.host.index()].up {
            return; // the LB host went down; booting again starts the script over
        }
        let Some(script) = lb.vrrp.as_ref().and_then(|v| v.cfg.track_script) else { return };
        self.queue.push(self.now + script.interval, Event::VrrpScript(lb_index, generation));
        match lb.script {
            // "Track script ... is already running, expect idle - skipping run"
            Some(old) if self.now < old.deadline => return,
            // Its time ran out at this instant: it has ended before the next begins.
            Some(_) => self.end_script_run(lb_index, false),
            None => {}
        }
        let limit = CHECK_APISERVER_MAX_TIME.min(script.run_limit());
        let lb = &mut self.lbs[lb_index as usize];
        lb.script_runs += 1;
        let run = lb.script_runs;
        lb.script = Some(ScriptRunState { id: run, deadline: self.now + limit, server: None, connected: false });
        let (proxy_up, proxy_frozen) = (lb.proxy_up, lb.proxy_frozen);
        self.queue.push(self.now + limit, Event::VrrpScriptStep(lb_index, run, ScriptStep::TimedOut));
        if !proxy_up {
            self.end_script_run(lb_index, false);
        } else if proxy_frozen {
            // Its kernel takes the connection; the pick waits in HAProxy until it resumes.
            let pick = ScriptStep::Pick { avoid: None, attempt: 1 };
            self.queue.push(self.now, Event::VrrpScriptStep(lb_index, run, pick));
        } else {
            self.script_pick(lb_index, None, 1);
        }
    }

    /// A step of the run `run` of check_apiserver.sh on LB `lb_index`, unless that
    /// run has ended.
    pub(super) fn on_vrrp_script_step(&mut self, lb_index: u8, run: u32, step: ScriptStep) {
        let lb = &self.lbs[lb_index as usize];
        if lb.script.is_none_or(|s| s.id != run) {
            return;
        }
        if !self.hosts[lb.host.index()].up {
            self.lbs[lb_index as usize].script = None; // keepalived went down with its host
            return;
        }
        match step {
            ScriptStep::GiveUp | ScriptStep::TimedOut => self.end_script_run(lb_index, false),
            ScriptStep::Answer { server, incarnation } => {
                let backend = self.cp_hosts[server as usize];
                let lb = &self.lbs[lb_index as usize];
                // Cut off from HAProxy meanwhile, the answer (or the reset) never reaches
                // it: curl waits out its max-time.
                if !self.network.can_reach(backend, lb.host) {
                    return;
                }
                // Killed while frozen instead, the apiserver's kernel resets the connection.
                let good = self.hosts[backend.index()].apiserver.as_ref().is_some_and(|a| a.incarnation == incarnation);
                if lb.proxy_frozen || self.hosts[lb.host.index()].frozen {
                    // HAProxy (or its whole host) froze meanwhile: the outcome waits in it.
                    self.queue.push(self.now, Event::VrrpScriptStep(lb_index, run, ScriptStep::Relay { good }));
                } else {
                    self.end_script_run(lb_index, good);
                }
            }
            ScriptStep::Relay { good } => self.end_script_run(lb_index, good),
            ScriptStep::Connect { server, attempt } => self.script_connect(lb_index, server as usize, attempt),
            ScriptStep::Pick { avoid, attempt } => self.script_pick(lb_index, avoid.map(usize::from), attempt),
            ScriptStep::NginxNext { failed, attempt } => {
                let now = self.now;
                let Balancer::Nginx(n) = &mut self.lbs[lb_index as usize].balancer else { return };
                n.failed(failed as usize, now);
                if attempt as usize >= self.cp_hosts.len() {
                    self.end_script_run(lb_index, false); // every server was tried: 502
                } else {
                    self.script_pick(lb_index, None, attempt + 1);
                }
            }
        }
    }

    /// The proxy picks a server for the script's connection, as it would for a
    /// client's (a redispatch passes over the server it failed on), and connects.
    fn script_pick(&mut self, lb_index: u8, avoid: Option<usize>, attempt: u8) {
        let now = self.now;
        let lb = &mut self.lbs[lb_index as usize];
        let server = match &mut lb.balancer {
            Balancer::Haproxy(h) => {
                // The connection leaves the server it failed on for the new pick.
                if let Some(old) = lb.script.as_mut().and_then(|s| s.server.take()) {
                    h.closed(old);
                }
                let picked = h.pick_avoiding(avoid);
                if let Some(s) = lb.script.as_mut() {
                    s.server = picked;
                }
                picked
            }
            Balancer::Nginx(n) => Some(n.pick(now)),
        };
        match server {
            Some(server) => self.script_connect(lb_index, server, attempt),
            // HAProxy closes the connection when it has no server UP.
            None => self.end_script_run(lb_index, false),
        }
    }

    /// The proxy connects the script's connection to `server`, in attempt `attempt`.
    /// A refused or timed-out connect is handled as `connect_backend` handles a
    /// client's: HAProxy retries the same server after a turn-around of min(timeout
    /// connect, 1 s) for a refusal, at once after a timeout, and with `option
    /// redispatch` sends the last retry to the next pick; nginx passes it on to the
    /// next server until it has tried them all.
    fn script_connect(&mut self, lb_index: u8, server: usize, attempt: u8) {
        let lb = &self.lbs[lb_index as usize];
        let run = lb.script.map_or(0, |s| s.id);
        let backend = self.cp_hosts[server];
        let reachable = self.handshake_completes(lb.host, backend);
        let refused = match self.hosts[backend.index()].apiserver.as_ref() {
            _ if !reachable => false,
            None => true,
            // A frozen apiserver's kernel completes the handshake and takes curl's
            // request, and HAProxy's part is done: the apiserver answers when it
            // resumes, if curl is still waiting then.
            Some(a) if a.paused => {
                if let Some(s) = self.lbs[lb_index as usize].script.as_mut() {
                    s.connected = true;
                }
                let answer = ScriptStep::Answer { server: server as u16, incarnation: a.incarnation };
                self.queue.push(self.now, Event::VrrpScriptStep(lb_index, run, answer));
                return;
            }
            Some(_) => {
                self.end_script_run(lb_index, true);
                return;
            }
        };
        let step = |step| Event::VrrpScriptStep(lb_index, run, step);
        let server_id = server as u16;
        match self.cp().map(|c| c.frontend) {
            Some(Frontend::Haproxy(cfg)) => {
                let (fail_wait, retry_wait) = if refused {
                    (SimDuration::ZERO, cfg.timeout_connect.min(SimDuration::from_secs(1)))
                } else {
                    (cfg.timeout_connect, cfg.timeout_connect)
                };
                let (at, next) = if cfg.redispatch && u32::from(attempt) == cfg.retries {
                    (fail_wait, ScriptStep::Pick { avoid: Some(server_id), attempt: attempt + 1 })
                } else if u32::from(attempt) <= cfg.retries {
                    (retry_wait, ScriptStep::Connect { server: server_id, attempt: attempt + 1 })
                } else {
                    (fail_wait, ScriptStep::GiveUp)
                };
                let ev = step(next);
                self.queue.push(self.now + at, ev);
            }
            Some(Frontend::Nginx(cfg)) => {
                let at = if refused { SimDuration::ZERO } else { cfg.connect_timeout };
                let ev = step(ScriptStep::NginxNext { failed: server_id, attempt });
                self.queue.push(self.now + at, ev);
            }
            Some(Frontend::Direct) | None => self.end_script_run(lb_index, false),
        }
    }

    /// The run of check_apiserver.sh under way on LB `lb_index` ends, passing or not;
    /// HAProxy forgets its connection.
    pub(super) fn end_script_run(&mut self, lb_index: u8, good: bool) {
        let lb = &mut self.lbs[lb_index as usize];
        let Some(run) = lb.script.take() else { return };
        // The balancer is the one that counted it: a restarted proxy or a rebooted LB
        // host has no run under way.
        if let (Some(server), Balancer::Haproxy(h)) = (run.server, &mut lb.balancer) {
            h.closed(server);
        }
        let generation = lb.generation;
        self.on_vrrp_script_result(lb_index, generation, good);
    }

    /// A run of check_apiserver.sh on LB `lb_index` ended: keepalived counts it.
    pub(super) fn on_vrrp_script_result(&mut self, lb_index: u8, generation: u32, good: bool) {
        let lb = &self.lbs[lb_index as usize];
        if lb.generation != generation || !self.hosts[lb.host.index()].up {
            return;
        }
        if let Some(v) = self.lbs[lb_index as usize].vrrp.as_mut() {
            v.on_script_result(good);
        }
        self.drain_vrrp(lb_index);
    }

    /// HAProxy (or nginx) on LB host `host` exits (killed, or `systemctl stop`, which
    /// sends SIGTERM: a hard stop): the kernel resets every connection through it and
    /// refuses new ones. keepalived keeps running. Returns false if it was not running.
    pub(super) fn stop_proxy(&mut self, host: HostId) -> bool {
        let Some(lb_index) = self.lb_index_of(host) else { return false };
        if !self.lbs[lb_index as usize].proxy_up {
            return false;
        }
        self.lbs[lb_index as usize].proxy_up = false;
        // The tracked script's curl sees its connection reset: that run fails now, and
        // the steps it left waiting in a frozen proxy (below) are ignored.
        self.end_script_run(lb_index, false);
        // A frozen proxy dies too: SIGKILL needs no SIGCONT, and systemd sends one after
        // its SIGTERM. The requests and answers that waited in it are reset with its
        // connections (below); its check timers go on, idle until it starts again.
        if std::mem::take(&mut self.lbs[lb_index as usize].proxy_frozen) {
            let held = std::mem::take(&mut self.hosts[host.index()].held);
            let kept: Vec<Event> = held.into_iter().filter(|ev| !self.carries_request_through(ev, host)).collect();
            self.hosts[host.index()].held = kept;
            self.update_holding();
            self.release_held(host);
        }
        let through: Vec<u64> =
            self.api_requests.iter().filter(|(_, r)| r.lb == Some(lb_index)).map(|(id, _)| id).collect();
        for id in through {
            self.reply_from(id, host, Err(Failure::LbRefused { lb: host }));
        }
        self.close_conns_where(|r| r.lb == Some(lb_index));
        true
    }

    /// HAProxy (or nginx) starts again on a live LB host, with fresh state: HAProxy
    /// counts every server UP until its first check of it fails.
    pub(super) fn start_proxy(&mut self, host: HostId) -> bool {
        let Some(lb_index) = self.lb_index_of(host) else { return false };
        let Some(cp) = self.spec.control_plane else { return false };
        let lb = &mut self.lbs[lb_index as usize];
        if lb.proxy_up || !self.hosts[host.index()].up {
            return false;
        }
        let Some(balancer) = Balancer::new(&cp) else { return false };
        lb.balancer = balancer;
        lb.proxy_epoch += 1;
        lb.proxy_up = true;
        true
    }

    /// Whether the proxy of LB `lb` is frozen (SIGSTOP).
    pub(super) fn proxy_frozen(&self, lb: u8) -> bool {
        self.lbs[lb as usize].proxy_frozen
    }

    /// Whether `ev` is a step of a client request through the proxy on LB host `host`
    /// (as opposed to one of its health checks).
    fn carries_request_through(&self, ev: &Event, host: HostId) -> bool {
        match *ev {
            Event::LbArrive(_, lb) | Event::LbForward(_, lb) | Event::LbRelay(_, lb, _) => {
                self.lbs[lb as usize].host == host
            }
            Event::LbRetry(id, _) | Event::LbNext(id, ..) | Event::LbGiveUp(id, _) => self.request_front(id) == host,
            _ => false,
        }
    }

    /// Freezes (SIGSTOP) or resumes (SIGCONT) the proxy on LB host `host`. Returns
    /// false if it is not running, or already in that state.
    pub(super) fn freeze_proxy(&mut self, host: HostId, freeze: bool) -> bool {
        let Some(lb_index) = self.lb_index_of(host) else { return false };
        let lb = &mut self.lbs[lb_index as usize];
        if !lb.proxy_up || lb.proxy_frozen == freeze {
            return false;
        }
        lb.proxy_frozen = freeze;
        self.update_holding();
        if !freeze {
            self.release_held(host);
        }
        true
    }

    fn drain_vrrp(&mut self, lb_index: u8) {
        let lb = &mut self.lbs[lb_index as usize];
        let Some(v) = lb.vrrp.as_mut() else { return };
        let outputs = std::mem::take(&mut v.out);
        let (host, generation, rank) = (lb.host, lb.generation, v.address_rank);
        for o in outputs {
            match o {
                VrrpOutput::Timer { after, token } => {
                    self.queue.push(self.now + after, Event::VrrpTimer(lb_index, generation, token));
                }
                VrrpOutput::Advertise { priority } => {
                    for peer in 0..self.lbs.len() as u8 {
                        if peer == lb_index {
                            continue;
                        }
                        let to = self.lbs[peer as usize].host;
                        if let Delivery::At(at) = self.network.send(self.now, host, to) {
                            self.queue.push(at, Event::VrrpAdvert(peer, priority, rank));
                        }
                    }
                }
                VrrpOutput::BecameMaster => {
                    let name = self.hosts[host.index()].name.clone();
                    let previous = self.vip_holder.replace(lb_index);
                    let text = match previous {
                        Some(p) if p != lb_index => {
                            let from = self.hosts[self.lbs[p as usize].host.index()].name.clone();
                            format!("keepalived on {name} became MASTER and took the VIP from {from}")
                        }
                        _ => format!("keepalived on {name} became MASTER and holds the VIP"),
                    };
                    self.note(EventKind::Vip, Some(host), text);
                }
                VrrpOutput::Reasserted => {
                    let previous = self.vip_holder.replace(lb_index);
                    if let Some(p) = previous.filter(|&p| p != lb_index) {
                        let name = self.hosts[host.index()].name.clone();
                        let from = self.hosts[self.lbs[p as usize].host.index()].name.clone();
                        let text = format!(
                            "keepalived on {name} heard {from}'s lower-priority advert while both were MASTER: it answered with its own advert and gratuitous ARPs, so the VIP's traffic comes back to it"
                        );
                        self.note(EventKind::Vip, Some(host), text);
                    }
                }
                VrrpOutput::ScriptChanged { good, streak, first, priority } => {
                    let name = self.hosts[host.index()].name.clone();
                    let script = self.lbs[lb_index as usize].vrrp.as_ref().and_then(|v| v.cfg.track_script);
                    let every = script.map_or(SimDuration::ZERO, |s| s.interval);
                    let outcome = if good { "passed" } else { "failed" };
                    let consequence = match priority {
                        Some(p) => format!("its priority is now {p}"),
                        None if good => "it leaves FAULT state and waits as BACKUP".to_string(),
                        None => "it enters FAULT state (weight 0)".to_string(),
                    };
                    let times = match streak {
                        _ if first => "on its first run".to_string(),
                        // `fall 1` or `rise 1`: one result after the other kind decides.
                        1 => "once".to_string(),
                        _ => format!("{streak} times in a row"),
                    };
                    let text = format!(
                        "keepalived on {name}: check_apiserver (GET / through its HAProxy, every {every}) {outcome} {times}; {consequence}"
                    );
                    self.note(EventKind::Vip, Some(host), text);
                }
                VrrpOutput::MasterFaulted => {
                    // Leaving MASTER for FAULT sends priority 0: the backup takes over
                    // after its skew and claims the VIP.
                    if self.vip_holder == Some(lb_index) {
                        self.vip_holder = self.other_vrrp_master(lb_index);
                    }
                    let name = self.hosts[host.index()].name.clone();
                    self.note(
                        EventKind::Vip,
                        Some(host),
                        format!("keepalived on {name} left MASTER and released the VIP"),
                    );
                }
                VrrpOutput::BecameBackup => {
                    let name = self.hosts[host.index()].name.clone();
                    if self.vip_holder != Some(lb_index) {
                        self.note(EventKind::Vip, Some(host), format!("keepalived on {name} went back to BACKUP"));
                        continue;
                    }
                    // It removes the VIP from its interface; the other master, which
                    // has the address too, is the one that answers for it now.
                    self.vip_holder = self.other_vrrp_master(lb_index);
                    let text = match self.vip_holder {
                        Some(m) => {
                            let to = self.hosts[self.lbs[m as usize].host.index()].name.clone();
                            format!("keepalived on {name} went back to BACKUP and released the VIP to {to}")
                        }
                        None => format!("keepalived on {name} went back to BACKUP and released the VIP"),
                    };
                    self.note(EventKind::Vip, Some(host), text);
                }
            }
        }
    }

    /// An LB other than `lb_index` whose keepalived is MASTER, if any.
    fn other_vrrp_master(&self, lb_index: u8) -> Option<u8> {
        (0..self.lbs.len() as u8).find(|&i| {
            i != lb_index
                && self.hosts[self.lbs[i as usize].host.index()].up
                && self.lbs[i as usize].vrrp.as_ref().is_some_and(|v| v.state() == VrrpState::Master)
        })
    }

    pub(super) fn on_vrrp_timer(&mut self, lb_index: u8, generation: u32, token: u64) {
        let lb = &mut self.lbs[lb_index as usize];
        if lb.generation != generation || !self.hosts[lb.host.index()].up {
            return;
        }
        if let Some(v) = lb.vrrp.as_mut() {
            v.on_timer(token);
        }
        self.drain_vrrp(lb_index);
    }

    pub(super) fn on_vrrp_advert(&mut self, lb_index: u8, priority: u8, rank: u32) {
        let lb = &mut self.lbs[lb_index as usize];
        if !self.hosts[lb.host.index()].up {
            return;
        }
        if let Some(v) = lb.vrrp.as_mut() {
            v.on_advert(priority, rank);
        }
        self.drain_vrrp(lb_index);
    }

    /// Index of the LB running on `host`, if it is one.
    pub(super) fn lb_index_of(&self, host: HostId) -> Option<u8> {
        self.lbs.iter().position(|l| l.host == host).map(|i| i as u8)
    }

    /// What LB `lb` currently thinks of each backend (for the observed host states).
    pub(super) fn lb_view(&self, lb: u8) -> super::observe::LbView {
        let l = &self.lbs[lb as usize];
        let backends = self
            .cp_hosts
            .iter()
            .enumerate()
            .map(|(i, &b)| super::observe::BackendView {
                host: self.hosts[b.index()].name.clone(),
                up: match &l.balancer {
                    Balancer::Haproxy(h) => h.state(i) == ServerState::Up,
                    Balancer::Nginx(n) => n.usable(i, self.now),
                },
            })
            .collect();
        let holds_vip = l.vrrp.as_ref().map(|v| v.state() == VrrpState::Master);
        super::observe::LbView { backends, holds_vip, proxy_stopped: !l.proxy_up, proxy_frozen: l.proxy_frozen }
    }

    /// Builds the control-plane part of a report.
    pub(super) fn control_plane_report(&self) -> Option<ControlPlaneReport> {
        self.spec.control_plane?;
        let planes: Vec<(Plane, PlaneAvailability)> =
            Plane::ALL.iter().map(|&p| (p, self.planes[p as usize].clone())).collect();
        let mut outages = Vec::new();
        for &plane in &Plane::ALL {
            let mut fails: Vec<(SimTime, Failure, SimTime)> = (self.failures.iter().zip(&self.failed_at))
                .filter(|((_, p, _), _)| *p == plane)
                .map(|(&(t, _, f), &failed)| (t, f, failed))
                .collect();
            fails.sort();
            let mut oks = self.oks_by_end[plane as usize].clone();
            oks.sort_unstable();
            // Some request issued after `t` succeeded (answered by the end).
            let ok_after = |t: SimTime| oks.last().is_some_and(|&last| last > t);
            // Failures at most 1 s apart belong to one outage, and so do failures
            // further apart with no success in between (sparse requests, such as node
            // Lease renewals every 10 s, are not a new outage each).
            let split = |a: &(SimTime, Failure, SimTime), b: &(SimTime, Failure, SimTime)| {
                b.0.since(a.0) > SimDuration::from_secs(1) && {
                    let next_ok = oks.partition_point(|&t| t <= a.0);
                    oks.get(next_ok).is_some_and(|&t| t < b.0)
                }
            };
            for run in crate::time::runs_split_where(&fails, split) {
                let window = &fails[run];
                let mut counts: BTreeMap<Failure, u64> = BTreeMap::new();
                for (_, f, _) in window {
                    *counts.entry(*f).or_default() += 1;
                }
                let (main, _) = counts.iter().max_by_key(|(f, n)| (**n, std::cmp::Reverse(**f))).expect("non-empty");
                let end = window[window.len() - 1].0;
                // Still going when the run ended: no request of this plane issued after
                // the last failure had succeeded by then (one answered later, once the
                // run was over, shows a recovery the run did not see), or the last
                // failure was so close to the end that a later one, had the run gone
                // on, would have joined it (a partial outage: successes and failures
                // side by side until the end).
                let ongoing = !ok_after(end) || self.now.since(end) <= SimDuration::from_secs(1);
                let first_failed = window.iter().map(|w| w.2).min().expect("non-empty");
                outages.push((
                    first_failed,
                    Outage {
                        plane,
                        start: window[0].0,
                        // One still going lasted at least until the end (sparse requests
                        // can leave its last failure well before it).
                        end: if ongoing { self.now } else { end },
                        failed: window.len() as u64,
                        cause: main.describe(self),
                        ongoing,
                    },
                ));
            }
        }
        outages.sort_by_key(|(_, o)| (o.start, o.plane));
        // The fault behind an outage: the last one applied before its first failure and
        // at most `IN_FLIGHT` after it began. A request the LB or an apiserver was still
        // handling when a process was killed fails because of the kill, though it was
        // sent a moment before; a request through a healthy control plane is answered
        // within milliseconds, so a fault applied later than that did not catch the
        // outage's first request in flight (it had run into an earlier one). Faults
        // applied at the same instant share it.
        const IN_FLIGHT: SimDuration = SimDuration::from_millis(100);
        let fault_times: Vec<SimTime> = self.applied_faults.iter().map(|(t, _)| *t).collect();
        let caused_by: Vec<Option<SimTime>> = outages
            .iter()
            .map(|&(first_failed, ref o)| {
                let by = first_failed.min(o.start + IN_FLIGHT);
                fault_times.iter().copied().rfind(|&t| t <= by)
            })
            .collect();
        let outages: Vec<Outage> = outages.into_iter().map(|(_, o)| o).collect();
        let recovery = self
            .applied_faults
            .iter()
            .map(|(at, fault)| {
                let caused: Vec<&Outage> =
                    outages.iter().zip(&caused_by).filter(|(_, c)| **c == Some(*at)).map(|(o, _)| o).collect();
                let ongoing = caused.iter().any(|o| o.ongoing);
                let end = caused.iter().map(|o| o.end).max().filter(|_| !ongoing);
                FaultRecovery { at: *at, fault: fault.clone(), recovered_after: end.map(|e| e.since(*at)), ongoing }
            })
            .collect();
        Some(ControlPlaneReport {
            planes,
            outages,
            stale_reads: self.stale_reads,
            max_staleness: self.max_staleness,
            stale: self.stale.clone(),
            misrouted: self.misrouted.clone(),
            failures: self.failures.clone(),
            leading: self.spells.clone(),
            overlaps: self.overlaps.clone(),
            recovery,
        })
    }

    /// Could a TLS check fail now? (See `certs_checked_from`.)
    pub(super) fn certs_checked(&self) -> bool {
        self.now >= self.certs_checked_from
    }

    /// From now on certificates are checked: a fault touched a certificate or a clock.
    pub(super) fn check_certs_from_now(&mut self) {
        self.certs_checked_from = self.certs_checked_from.min(self.now);
    }

    /// Would `verifier` accept `host`'s certificate of `kind` now (on its own clock)?
    pub(super) fn cert_valid(&self, host: HostId, kind: CertKind, verifier: HostId) -> bool {
        let now = self.hosts[verifier.index()].clock.local(self.now);
        self.hosts[host.index()].certs.get(kind).valid_at(now)
    }

    /// The LB hosts' state, given where they sit in the host list.
    pub(super) fn new_lbs(spec: &ClusterSpec, first_lb_host: usize) -> Vec<LbState> {
        let Some(cp) = spec.control_plane else { return Vec::new() };
        let n = if cp.vip.is_some() { 2 } else { 1 };
        (0..n)
            .filter_map(|i| {
                Some(LbState {
                    host: HostId((first_lb_host + i) as u32),
                    balancer: Balancer::new(&cp)?,
                    vrrp: None,
                    generation: 0,
                    proxy_epoch: 0,
                    proxy_up: true,
                    proxy_frozen: false,
                    script: None,
                    script_runs: 0,
                })
            })
            .collect()
    }
}

/// The proxy on an LB host.
pub(super) enum Balancer {
    Haproxy(Haproxy),
    Nginx(NginxPassive),
}

impl Balancer {
    fn new(cp: &ControlPlaneSpec) -> Option<Balancer> {
        match cp.frontend {
            Frontend::Haproxy(cfg) => Some(Balancer::Haproxy(Haproxy::new(cfg, cp.nodes))),
            Frontend::Nginx(cfg) => Some(Balancer::Nginx(NginxPassive::new(cp.nodes, cfg.max_fails, cfg.fail_timeout))),
            Frontend::Direct => None,
        }
    }
}

/// One load-balancer host: HAProxy or nginx and, with a VIP, keepalived.
pub(super) struct LbState {
    pub(super) host: HostId,
    balancer: Balancer,
    vrrp: Option<Vrrp>,
    /// Bumped at every boot, to ignore timers of an earlier life.
    generation: u32,
    /// Bumped whenever HAProxy (or nginx) starts (at a boot, or a `start` of the
    /// process alone): a health check that an earlier proxy began tells the new one
    /// nothing, since the new one runs its own checks.
    proxy_epoch: u32,
    /// HAProxy (or nginx) runs: false after it was killed or stopped on a live host.
    proxy_up: bool,
    /// HAProxy (or nginx) is frozen (SIGSTOP): the kernel still completes handshakes on
    /// its port, but nothing is read, relayed or checked until it resumes.
    pub(super) proxy_frozen: bool,
    /// The run of keepalived's tracked script under way (curl waiting for an answer,
    /// HAProxy retrying); keepalived skips the runs that fall due meanwhile.
    script: Option<ScriptRunState>,
    /// How many runs of the script this LB has started, to number them.
    script_runs: u32,
}

/// The probe the kubelet runs on `api` now: kubeadm's startup probe until it has
/// passed once, then the liveness probe.
fn probe_config(api: &ApiServerProc) -> ProbeConfig {
    if api.started { ProbeConfig::LIVENESS } else { ProbeConfig::STARTUP }
}

/// kube-apiserver ends a write's storage call after 34 s (requestTimeoutUpperBound in
/// the REST handlers)...
pub(super) const MUTATING_HANDLER_TIMEOUT: SimDuration = SimDuration::from_secs(34);
/// ...and any other request after `--request-timeout`, 60 s (504).
pub(super) const REQUEST_TIMEOUT: SimDuration = SimDuration::from_secs(60);

/// The kubelet's wait between SIGTERM and SIGKILL: the pod's
/// terminationGracePeriodSeconds, which kubeadm's static pods leave at the default.
pub(super) const TERMINATION_GRACE_PERIOD: SimDuration = SimDuration::from_secs(30);

/// curl's `--max-time` in kubeadm's check_apiserver.sh.
const CHECK_APISERVER_MAX_TIME: SimDuration = SimDuration::from_secs(2);

/// The next step of a run of check_apiserver.sh, due at a later time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ScriptStep {
    /// HAProxy connects to `server` again (`attempt` counts connects, from 1).
    Connect { server: u16, attempt: u8 },
    /// HAProxy picks a server for the connection: the first (taken by a frozen
    /// HAProxy's kernel, picked once it resumes), or with `option redispatch` the last
    /// retry's, passing over the server that failed.
    Pick { avoid: Option<u16>, attempt: u8 },
    /// nginx passes the connection on from the server whose connect failed.
    NginxNext { failed: u16, attempt: u8 },
    /// The apiserver on `server` (in its incarnation `incarnation`), which was frozen
    /// when the connection reached it, reads the request and answers; the step waits
    /// while it stays frozen.
    Answer { server: u16, incarnation: u32 },
    /// HAProxy, frozen (or on a frozen host) when that answer or reset came, passes it
    /// on to curl once it resumes.
    Relay { good: bool },
    /// HAProxy gave up after its last retry and closed the connection.
    GiveUp,
    /// curl's `--max-time` ran out, or keepalived killed the run at its `timeout`.
    TimedOut,
}

/// A run of check_apiserver.sh under way.
#[derive(Clone, Copy, Debug)]
struct ScriptRunState {
    /// Numbers the run on its LB, so that the steps of an ended one are ignored.
    id: u32,
    /// When curl's `--max-time` or keepalived's `timeout` ends it, if nothing has before.
    deadline: SimTime,
    /// The server HAProxy put the connection on, counted as one of its connections.
    server: Option<usize>,
    /// The connection reached that server and curl's request waits in it (a frozen
    /// apiserver's kernel took it): a session `shutdown-sessions` would close.
    connected: bool,
}

/// Why a probe of an apiserver's /livez failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ProbeFailure {
    /// /livez answered 500: its etcd check failed.
    EtcdCheck,
    /// Nothing answered within the probe's timeout (the apiserver is frozen).
    Timeout,
}

/// When a container the kubelet killed starts again, for the timeline.
pub(super) fn restart_when(restart: crate::model::kubelet::KillRestart) -> String {
    use crate::model::kubelet::KillRestart;
    match restart {
        KillRestart::First => "restarted at once (no back-off before a first restart)".to_string(),
        KillRestart::PastBackoff => "restarted at once: the pod sync that killed it checks the back-off against the container before it, which exited long enough ago".to_string(),
        KillRestart::After(delay) => format!("restart in {delay} (CrashLoopBackOff)"),
    }
}

/// Why an HAProxy check failed, for the timeline ("the last check …"): which timeout
/// ran out, and which setting it comes from.
fn check_failure_reason(haproxy: &Haproxy, result: CheckResult) -> String {
    let cfg = haproxy.cfg;
    match result {
        CheckResult::Passed => String::new(),
        CheckResult::Refused => "was refused: nothing listens on :6443".to_string(),
        CheckResult::ConnectTimeout if cfg.timeout_check.is_some() => format!(
            "got no answer to its connect within {} (the lesser of `inter` and `timeout connect`)",
            haproxy.check_connect_timeout()
        ),
        CheckResult::ConnectTimeout => format!("got no answer to its connect within `inter` ({})", cfg.inter),
        CheckResult::AnswerTimeout => match cfg.timeout_check {
            Some(t) => format!("connected, but its GET got no answer within `timeout check` ({t})"),
            None => format!("connected, but its GET got no answer before `inter` ({}) ran out", cfg.inter),
        },
        CheckResult::NotReady => "got a /readyz answer other than 200: the apiserver's etcd check fails".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_millis(ms)
    }

    #[test]
    fn a_channel_reconnects_at_the_first_back_off_attempt_after_the_server_listens_again() {
        // Attempts at 0, 1 s, 2.6 s, 5.16 s, 9.256 s, ... after the refusals began.
        assert_eq!(grpc_reconnect(t(0), t(0)), t(0), "listening again at once: the first attempt gets in");
        assert_eq!(grpc_reconnect(t(0), t(500)), t(1000));
        assert_eq!(grpc_reconnect(t(0), t(1000)), t(1000));
        assert_eq!(grpc_reconnect(t(0), t(1001)), t(2600));
        assert_eq!(grpc_reconnect(t(0), t(7000)), t(9256));
        assert_eq!(grpc_reconnect(t(70_000), t(77_000)), t(79_256), "counted from when the refusals began");
        // The waits stop growing at 120 s.
        let late = grpc_reconnect(t(0), t(3_600_000));
        let next = grpc_reconnect(t(0), late + SimDuration::from_millis(1));
        assert_eq!(next.since(late), SimDuration::from_secs(120));
    }
}
