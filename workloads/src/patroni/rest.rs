//! Patroni's REST API (`GET /cluster` on port 8008): who the cluster's leader (the primary) is, as one
//! member sees the DCS, and that member's own role and state.

use serde::Deserialize;

/// The port every member's Patroni serves its REST API on.
pub const REST_PORT: u16 = 8008;

/// `GET /cluster`, as far as the client needs it.
#[derive(Debug, Deserialize, Default)]
pub struct ClusterView {
    #[serde(default)]
    pub members: Vec<MemberView>,
}

#[derive(Debug, Deserialize)]
pub struct MemberView {
    pub name: String,
    /// `leader`, `standby_leader`, `sync_standby` or `replica`.
    #[serde(default)]
    pub role: String,
    /// `running`, `starting`, `stopped`, `creating replica`, ... (`streaming` in later versions).
    #[serde(default)]
    pub state: String,
    /// PostgreSQL's timeline: it grows by one with each promotion, so it serves as the term.
    #[serde(default)]
    pub timeline: Option<u64>,
}

impl ClusterView {
    /// The member holding the leader key whose PostgreSQL is up: the one clients must write to.
    pub fn primary(&self) -> Option<&MemberView> {
        self.members.iter().find(|m| m.role == "leader" && is_up(m))
    }

    pub fn member(&self, name: &str) -> Option<&MemberView> {
        self.members.iter().find(|m| m.name == name)
    }

    /// The term: the primary's timeline, or else the highest any member reports.
    pub fn term(&self) -> u64 {
        self.primary()
            .and_then(|p| p.timeline)
            .or_else(|| self.members.iter().filter_map(|m| m.timeline).max())
            .unwrap_or(0)
    }
}

/// Whether a member serves (`running`; later Patroni versions say `streaming` for a replica).
pub fn is_up(m: &MemberView) -> bool {
    matches!(m.state.as_str(), "running" | "streaming")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_primary_is_the_running_leader_and_its_timeline_the_term() {
        let v: ClusterView = serde_json::from_str(
            r#"{"members":[
                {"name":"n1","role":"replica","state":"running","timeline":2,"lag":0},
                {"name":"n2","role":"leader","state":"running","timeline":3},
                {"name":"n3","role":"replica","state":"creating replica"}]}"#,
        )
        .unwrap();
        assert_eq!(v.primary().map(|m| m.name.as_str()), Some("n2"));
        assert_eq!(v.term(), 3);
        assert!(!is_up(v.member("n3").unwrap()));
        let stopped: ClusterView = serde_json::from_str(
            r#"{"members":[{"name":"n1","role":"leader","state":"stopped","timeline":4}]}"#,
        )
        .unwrap();
        assert!(stopped.primary().is_none());
        assert_eq!(stopped.term(), 4);
        assert_eq!(ClusterView::default().term(), 0);
    }
}
