//! Which cells a comparison runs: a preset's matrix (each preset answers one question) or the matrix the
//! user spelled out, narrowed by any explicit `--modes/--nemeses/--replication/--routing`.

use crate::settings::SystemKind;
use serde::Serialize;

/// Rate the clock-skew cell "within the bound" gives the leader: inside the default drift bound (±5%),
/// so a lease with its drift margin stays safe.
pub const SKEW_WITHIN: f64 = 0.97;
/// Rate of the "beyond the bound" cell: the leader's clock runs at a tenth of real speed.
pub const SKEW_BEYOND: f64 = 0.1;

/// Concurrency levels of the reads preset's latency sweep (ReadIndex batches at high concurrency).
pub const SWEEP_CONCURRENCY: [usize; 3] = [1, 8, 64];
/// Modes the latency sweep measures.
pub const SWEEP_MODES: [&str; 3] = ["lease", "read-index", "follower-read"];

/// Client timeout of preset cells: well under the lease (1.5 s). With partitions that also cut clients,
/// a session whose request went to the cut-off leader waits out its timeout; with a timeout as long as the
/// lease it came back only once the old lease was over, so the window in which two leaders answer (what
/// lease-no-wait gets wrong) went unobserved (0 of 3 runs caught it; 5 of 6 with 500 ms).
pub const PRESET_OP_TIMEOUT: &str = "500ms";
/// Client timeout of the preset's clock-skew-beyond cells: the run default, 1.5 s. There the two leaders
/// answer later: the new leader first waits out the reported lease (about 1.6 s after the cut), and the old
/// one, its clock at a tenth of real speed, keeps answering until the heal (3 s). A session on the old
/// leader's side that failed over after two 500 ms timeouts was trying the unreachable majority through
/// exactly that window (lease caught in 1 of 3 runs); with 1.5 s it stays on the old leader (5 of 5).
pub const SKEW_BEYOND_OP_TIMEOUT: &str = "1500ms";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    /// Read modes × leader and follower faults and clock skew within and beyond the drift bound, plus a
    /// read-latency sweep at 1, 8 and 64 clients: settles lease vs ReadIndex vs follower reads.
    Reads,
    /// Replication (sync-all, quorum, async) × routing (sticky, round-robin) × none, kill-leader,
    /// partition-follower on the append workload: what each write path keeps, with the guarantee ladder.
    /// Sticky sessions run `lease` reads (served where the session's writes went, the leader);
    /// round-robin sessions run `follower-read`, so their reads are spread over the nodes.
    Replication,
    /// The systems users run (ZooKeeper, NATS, ...) × each mode of their documented consistency knob ×
    /// none and a partition, a kill and a pause of the leader (of a random member where there is none), on
    /// the append workload: what each system keeps, against what its documentation promises.
    Systems,
}

impl Preset {
    pub fn name(self) -> &'static str {
        match self {
            Preset::Reads => "reads",
            Preset::Replication => "replication",
            Preset::Systems => "systems",
        }
    }
}

/// What a cell is for: the safety matrix, or the no-fault latency sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Purpose {
    Safety,
    Latency,
}

/// One cell: the options that tell it apart from its neighbours.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CellSpec {
    /// The system, where the cell sets it (the systems preset); otherwise compare's `--system`.
    pub system: Option<String>,
    pub mode: String,
    pub replication: String,
    pub routing: String,
    /// A nemesis name, or `clock-skew-within` / `clock-skew-beyond` (clock-skew at a rate inside or outside
    /// the drift bound).
    pub nemesis: String,
    pub workload: String,
    /// Concurrent clients, when the cell sets it (the latency sweep).
    pub concurrency: Option<usize>,
    pub purpose: Purpose,
    /// A preset's cell: partitions also cut the cut-off side's clients from the majority
    /// (`--partition-scope all`), so the cell's CAP label says what a client on that side gets, and
    /// clients time out after [`PRESET_OP_TIMEOUT`]. See [`CellSpec::defaults`].
    pub preset: bool,
}

impl CellSpec {
    /// The run options this cell adds to the common ones.
    pub fn args(&self) -> Vec<String> {
        let mut v = vec![
            "--mode".to_string(),
            self.mode.clone(),
            "--replication".into(),
            self.replication.clone(),
            "--routing".into(),
            self.routing.clone(),
            "--workload".into(),
            self.workload.clone(),
        ];
        let (nemesis, skew) = match self.nemesis.as_str() {
            "clock-skew-within" => ("clock-skew", Some(SKEW_WITHIN)),
            "clock-skew-beyond" => ("clock-skew", Some(SKEW_BEYOND)),
            other => (other, None),
        };
        v.extend(["--nemesis".into(), nemesis.to_string()]);
        if let Some(rate) = skew {
            v.extend(["--skew-rate".into(), rate.to_string()]);
        }
        // The read modes differ in what the leader does, so a packet fault hits the leader's links to its
        // peers, both ways, clients untouched, as partition-leader cuts: delaying only what the leader
        // sends lets it hear a new term at once, and no second leader ever overlaps it (docs/detection-rates.md).
        if nemesis.starts_with("packet-") {
            v.extend(
                [
                    "--packet-target",
                    "leader",
                    "--packet-direction",
                    "both",
                    "--packet-scope",
                    "peers",
                ]
                .map(String::from),
            );
        }
        if let Some(c) = self.concurrency {
            // A closed loop: each client sends its next op as soon as the last one is answered, so the
            // sweep measures the system at that concurrency, not an idle one.
            v.extend([
                "--concurrency".into(),
                c.to_string(),
                "--rate".into(),
                "100000".into(),
            ]);
        }
        v
    }

    /// Options a preset gives its cells unless the user's `--extra` sets them: (option, value).
    pub fn defaults(&self) -> Vec<(&'static str, &'static str)> {
        // The systems' own clients keep the run's timeouts and cannot bind a source address per session.
        if let Some(system) = &self.system {
            let kind = system.parse::<SystemKind>().ok();
            return match kind.and_then(SystemKind::failover_fault_duration) {
                Some(d) if self.nemesis != "none" => vec![("--fault-duration", d)],
                _ => Vec::new(),
            };
        }
        if !self.preset {
            return Vec::new();
        }
        let timeout = if self.nemesis == "clock-skew-beyond" {
            SKEW_BEYOND_OP_TIMEOUT
        } else {
            PRESET_OP_TIMEOUT
        };
        let mut d = vec![("--op-timeout", timeout)];
        if self.nemesis.starts_with("partition") || self.nemesis.starts_with("clock-skew") {
            // Clients on the cut-off side lose the majority too, so a partition shows CP or AP.
            d.push(("--partition-scope", "all"));
        }
        d
    }

    /// A short label: `lease × partition-leader`, `async sticky × kill-leader`, `lease @64 × none`.
    pub fn label(&self) -> String {
        let mut s = self.setup();
        s.push_str(" × ");
        s.push_str(&self.nemesis);
        s
    }

    /// Everything but the fault: mode (and replication, routing, concurrency where they vary).
    pub fn setup(&self) -> String {
        if let Some(system) = &self.system {
            return format!("{system} {}", self.mode);
        }
        let mut s = self.mode.clone();
        if self.replication != "quorum" || self.workload == "append" {
            s = format!("{} {}", self.replication, self.routing);
            if self.mode != "lease" {
                s = format!("{} {s}", self.mode);
            }
        } else if self.routing != "sticky" {
            s = format!("{s} {}", self.routing);
        }
        if let Some(c) = self.concurrency {
            s = format!("{s} @{c}");
        }
        s
    }
}

/// What the user asked for, each list `None` when not given.
#[derive(Debug, Clone, Default)]
pub struct Narrowing {
    pub modes: Option<Vec<String>>,
    pub nemeses: Option<Vec<String>>,
    pub replications: Option<Vec<String>>,
    pub routings: Option<Vec<String>>,
    pub systems: Option<Vec<String>>,
}

fn keep(list: &Option<Vec<String>>, v: &str) -> bool {
    list.as_ref().is_none_or(|l| l.iter().any(|x| x == v))
}

pub fn split(list: &str) -> Vec<String> {
    list.split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

const READ_MODES: [&str; 7] = [
    "log",
    "read-index",
    "lease",
    "follower-read",
    "leader-local",
    "any-local",
    "lease-no-wait",
];
const READ_FAULTS: [&str; 8] = [
    "partition-leader",
    "partition-follower",
    "kill-leader",
    "pause-leader",
    "clock-skew-within",
    "clock-skew-beyond",
    "packet-delay",
    "packet-loss",
];

fn cell(mode: &str, repl: &str, routing: &str, nemesis: &str, workload: &str) -> CellSpec {
    CellSpec {
        system: None,
        mode: mode.into(),
        replication: repl.into(),
        routing: routing.into(),
        nemesis: nemesis.into(),
        workload: workload.into(),
        concurrency: None,
        purpose: Purpose::Safety,
        preset: false,
    }
}

/// A preset's cells, narrowed by what the user gave.
pub fn preset_cells(p: Preset, n: &Narrowing) -> Vec<CellSpec> {
    let mut cells = Vec::new();
    match p {
        Preset::Reads => {
            for mode in READ_MODES {
                for f in READ_FAULTS {
                    cells.push(cell(mode, "quorum", "sticky", f, "register"));
                }
            }
            for mode in SWEEP_MODES {
                for c in SWEEP_CONCURRENCY {
                    cells.push(CellSpec {
                        concurrency: Some(c),
                        purpose: Purpose::Latency,
                        ..cell(mode, "quorum", "sticky", "none", "register")
                    });
                }
            }
        }
        Preset::Replication => {
            for repl in ["sync-all", "quorum", "async"] {
                for routing in ["sticky", "round-robin"] {
                    for f in ["none", "kill-leader", "partition-follower"] {
                        // Our node lets only follower-read (and any-local) followers answer reads; under
                        // lease a follower's not_leader sends every request to the leader whatever the
                        // routing. Spreading sessions over the nodes means reading from followers.
                        let mode = if routing == "round-robin" {
                            "follower-read"
                        } else {
                            "lease"
                        };
                        cells.push(cell(mode, repl, routing, f, "append"));
                    }
                }
            }
        }
        Preset::Systems => cells = system_cells(),
    }
    cells
        .into_iter()
        .map(|c| CellSpec { preset: true, ..c })
        .filter(|c| {
            keep(&n.modes, &c.mode)
                && keep(&n.nemeses, &c.nemesis)
                && keep(&n.replications, &c.replication)
                && keep(&n.routings, &c.routing)
                && c.system.as_ref().is_none_or(|s| keep(&n.systems, s))
        })
        .collect()
}

/// Each real system × its modes × no fault and a partition, kill and pause aimed at its leader (at a
/// random member where it has none).
fn system_cells() -> Vec<CellSpec> {
    let mut cells = Vec::new();
    for system in SystemKind::REAL {
        let target = if system.has_leader() {
            "leader"
        } else {
            "random"
        };
        for mode in system.knob_modes() {
            for f in ["none", "partition", "kill", "pause"] {
                let f = if f == "none" {
                    f.to_string()
                } else {
                    format!("{f}-{target}")
                };
                cells.push(CellSpec {
                    system: Some(system.name().to_string()),
                    ..cell(mode, "quorum", "sticky", &f, "append")
                });
            }
        }
    }
    cells
}

/// The matrix spelled out on the command line: every combination of the lists given.
pub fn explicit_cells(n: &Narrowing, workload: &str) -> Vec<CellSpec> {
    let or = |l: &Option<Vec<String>>, d: &str| l.clone().unwrap_or_else(|| split(d));
    let mut cells = Vec::new();
    for mode in or(&n.modes, "log,read-index,lease,follower-read") {
        for repl in or(&n.replications, "quorum") {
            for routing in or(&n.routings, "sticky") {
                for f in or(
                    &n.nemeses,
                    "partition-leader,partition-follower,kill-leader",
                ) {
                    cells.push(cell(&mode, &repl, &routing, &f, workload));
                }
            }
        }
    }
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patroni_faults_outlast_its_failover_and_other_systems_keep_their_defaults() {
        for c in preset_cells(Preset::Systems, &Narrowing::default()) {
            let long = c.defaults().contains(&("--fault-duration", "12s"));
            let patroni_fault = c.system.as_deref() == Some("patroni") && c.nemesis != "none";
            assert_eq!(long, patroni_fault, "{}", c.label());
        }
    }

    #[test]
    fn presets_have_their_matrices_and_narrow() {
        let all = preset_cells(Preset::Reads, &Narrowing::default());
        assert_eq!(all.len(), 7 * 8 + 9);
        assert!(all
            .iter()
            .any(|c| c.nemesis == "packet-loss"
                && c.args().join(" ").contains("--packet-target leader")));
        assert!(all
            .iter()
            .any(|c| c.nemesis == "clock-skew-within" && c.args().contains(&"0.97".to_string())));
        let narrow = Narrowing {
            modes: Some(vec!["lease".into()]),
            nemeses: Some(vec!["kill-leader".into(), "none".into()]),
            ..Narrowing::default()
        };
        let cells = preset_cells(Preset::Reads, &narrow);
        // kill-leader, plus the three sweep cells of lease.
        assert_eq!(cells.len(), 4, "{cells:?}");
        let repl = preset_cells(Preset::Replication, &Narrowing::default());
        assert_eq!(repl.len(), 18);
        assert!(repl.iter().all(|c| c.workload == "append"));
        let scoped = |c: &CellSpec| c.defaults().contains(&("--partition-scope", "all"));
        assert!(repl
            .iter()
            .any(|c| c.nemesis == "partition-follower" && scoped(c)));
        assert!(!repl.iter().any(|c| c.nemesis == "kill-leader" && scoped(c)));
    }

    #[test]
    fn labels_name_what_varies() {
        assert_eq!(
            cell("lease", "quorum", "sticky", "kill-leader", "register").label(),
            "lease × kill-leader"
        );
        assert_eq!(
            cell("lease", "async", "sticky", "none", "append").label(),
            "async sticky × none"
        );
        assert_eq!(
            cell("follower-read", "async", "round-robin", "none", "append").label(),
            "follower-read async round-robin × none"
        );
    }
}
