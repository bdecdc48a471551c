//! The in-memory Raft log (after the latest snapshot), its terms and matching, what is not yet handed
//! to storage, and how far it is committed and applied.

use super::entry::{Command, Entry};

pub(super) struct RaftLog {
    /// `entries[i]` has index `offset + i + 1`; everything up to `offset` is in the snapshot.
    entries: Vec<Entry>,
    /// Index and term of the last entry the snapshot covers (0, 0 without one).
    offset: u64,
    offset_term: u64,
    /// Last index emitted in a `Ready` (the shell persists it before acting on that `Ready`).
    stable_last: u64,
    /// Lowest index added or replaced since the last `Ready`.
    dirty_from: Option<u64>,
    /// Highest index known committed; only moves forward.
    committed: u64,
    /// Highest index applied to the state machine (never past `committed`).
    applied: u64,
    /// A leader's snapshot was installed: it must be made durable even if no periodic one is due.
    installed: bool,
}

impl RaftLog {
    /// From storage: the log after a snapshot at (`offset`, `offset_term`). A malformed tail (indexes not
    /// contiguous from `offset + 1`, terms going down) is dropped rather than trusted.
    pub fn restore(offset: u64, offset_term: u64, entries: Vec<Entry>) -> Self {
        let good = entries
            .iter()
            .enumerate()
            .take_while(|(i, e)| e.index == offset + *i as u64 + 1 && e.term >= offset_term)
            .count();
        let mut entries = entries;
        entries.truncate(good);
        // Terms never decrease along a valid log; cut at the first violation.
        let mono = (1..entries.len())
            .find(|&i| entries[i].term < entries[i - 1].term)
            .unwrap_or(entries.len());
        entries.truncate(mono);
        let stable_last = offset + entries.len() as u64;
        RaftLog {
            entries,
            offset,
            offset_term,
            stable_last,
            dirty_from: None,
            // Everything in the snapshot was committed and applied.
            committed: offset,
            applied: offset,
            installed: false,
        }
    }

    pub fn last_index(&self) -> u64 {
        self.offset + self.entries.len() as u64
    }

    pub fn last_term(&self) -> u64 {
        self.entries.last().map_or(self.offset_term, |e| e.term)
    }

    /// The last index the snapshot covers: entries up to it are gone from the log.
    pub fn snapshot_index(&self) -> u64 {
        self.offset
    }

    /// Drop entries up to `index` (applied and in a snapshot). No-op if not past the current offset.
    pub fn compact(&mut self, index: u64) {
        if index <= self.offset || index > self.last_index() {
            return;
        }
        let term = self.term_at(index).expect("index within the log");
        self.entries.drain(..(index - self.offset) as usize);
        self.offset = index;
        self.offset_term = term;
    }

    /// A snapshot from the leader covers (`index`, `term`): keep a suffix that matches it (Raft's rule),
    /// else drop the whole log. What remains counts as persisted (the shell rewrites the WAL with it), and
    /// the snapshot counts as committed and applied.
    pub fn install(&mut self, index: u64, term: u64) {
        if self.term_at(index) == Some(term) {
            self.compact(index);
        } else {
            self.entries.clear();
            self.offset = index;
            self.offset_term = term;
        }
        self.stable_last = self.last_index();
        self.dirty_from = None;
        self.committed = self.committed.max(index);
        self.applied = self.applied.max(index);
        self.installed = true;
    }

    /// Whether a snapshot was installed since the last call (the next `Ready` must write it).
    pub fn take_installed(&mut self) -> bool {
        std::mem::replace(&mut self.installed, false)
    }

    pub fn committed(&self) -> u64 {
        self.committed
    }

    pub fn applied(&self) -> u64 {
        self.applied
    }

    /// Raise the commit index to `index`; false (and no change) if it is not past the current one.
    pub fn commit_to(&mut self, index: u64) -> bool {
        if index <= self.committed {
            return false;
        }
        self.committed = index;
        true
    }

    /// The next committed entry to apply, if any (none past the end of the log).
    pub fn next_to_apply(&self) -> Option<&Entry> {
        if self.applied >= self.committed {
            return None;
        }
        self.entry(self.applied + 1)
    }

    /// The entry at `index` was applied to the state machine (never moves back).
    pub fn applied_to(&mut self, index: u64) {
        self.applied = self.applied.max(index.min(self.committed));
    }

    pub fn stable_last(&self) -> u64 {
        self.stable_last
    }

    /// Term at `index` (0 for index 0, the snapshot's at its index), `None` past the end or compacted.
    pub fn term_at(&self, index: u64) -> Option<u64> {
        if index == self.offset {
            return Some(self.offset_term);
        }
        self.entry(index).map(|e| e.term)
    }

    pub fn entry(&self, index: u64) -> Option<&Entry> {
        let i = usize::try_from(index.checked_sub(self.offset + 1)?).ok()?;
        self.entries.get(i)
    }

    /// Entries from `from` on (up to `max`; none of those compacted away).
    pub fn slice(&self, from: u64, max: usize) -> Vec<Entry> {
        let start = (from.max(self.offset + 1) - self.offset - 1) as usize;
        if start >= self.entries.len() {
            return Vec::new();
        }
        let end = self.entries.len().min(start.saturating_add(max.max(1)));
        self.entries[start..end].to_vec()
    }

    /// The unapplied tail after `index` (for speculative cas evaluation).
    pub fn tail_after(&self, index: u64) -> &[Entry] {
        let start = (index.saturating_sub(self.offset) as usize).min(self.entries.len());
        &self.entries[start..]
    }

    /// Leader: append a new entry of `term`; returns its index.
    pub fn append_new(&mut self, term: u64, command: Command) -> u64 {
        let index = self.last_index() + 1;
        self.entries.push(Entry {
            term,
            index,
            command,
        });
        self.mark_dirty(index);
        index
    }

    /// Election restriction: is a log ending at (`last_index`, `last_term`) at least as up to date as ours?
    pub fn is_up_to_date(&self, last_index: u64, last_term: u64) -> bool {
        (last_term, last_index) >= (self.last_term(), self.last_index())
    }

    pub fn matches(&self, index: u64, term: u64) -> bool {
        self.term_at(index) == Some(term)
    }

    /// Follower: append `entries` after (`prev_index`, `prev_term`), replacing a conflicting suffix.
    /// Returns the index of the last entry of the message, or `None` if `prev` does not match or the
    /// message is malformed. Committed entries are never replaced.
    pub fn maybe_append(
        &mut self,
        prev_index: u64,
        prev_term: u64,
        entries: Vec<Entry>,
    ) -> Option<u64> {
        if !self.matches(prev_index, prev_term) {
            return None;
        }
        let contiguous = entries
            .iter()
            .enumerate()
            .all(|(i, e)| e.index == prev_index + 1 + i as u64);
        if !contiguous || entries.windows(2).any(|w| w[1].term < w[0].term) {
            return None;
        }
        let last_new = prev_index + entries.len() as u64;
        let conflict = entries.iter().position(|e| !self.matches(e.index, e.term));
        if let Some(pos) = conflict {
            let from = entries[pos].index;
            if from <= self.committed {
                // Cannot happen with a correct leader; refuse rather than rewrite committed history.
                return None;
            }
            self.entries
                .truncate(from.saturating_sub(self.offset + 1) as usize);
            self.entries.extend(entries.into_iter().skip(pos));
            self.mark_dirty(from);
        }
        Some(last_new)
    }

    /// Rejection hint: the largest index <= min(`prev_index` - 1, last) whose term is <= `prev_term`,
    /// so the leader can skip a whole conflicting term in one step.
    pub fn conflict_hint(&self, prev_index: u64, prev_term: u64) -> u64 {
        let mut i = prev_index.saturating_sub(1).min(self.last_index());
        while i > 0 && self.term_at(i).is_some_and(|t| t > prev_term) {
            i -= 1;
        }
        i
    }

    fn mark_dirty(&mut self, index: u64) {
        self.dirty_from = Some(self.dirty_from.map_or(index, |d| d.min(index)));
    }

    /// What the next `Ready` must persist: (truncate_from, entries to append). Marks them stable.
    pub fn take_unstable(&mut self) -> (Option<u64>, Vec<Entry>) {
        let Some(from) = self.dirty_from.take() else {
            return (None, Vec::new());
        };
        let truncate = (from <= self.stable_last).then_some(from);
        let append = self.slice(from, usize::MAX);
        self.stable_last = self.last_index();
        (truncate, append)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(index: u64, term: u64) -> Entry {
        Entry {
            term,
            index,
            command: Command::Noop,
        }
    }

    #[test]
    fn conflicts_are_truncated_and_reported_once() {
        let mut log = RaftLog::restore(0, 0, vec![e(1, 1), e(2, 1), e(3, 2)]);
        assert_eq!(log.take_unstable(), (None, vec![]));
        assert!(log.commit_to(1));
        assert_eq!(log.maybe_append(1, 1, vec![e(2, 1), e(3, 3)]), Some(3));
        assert_eq!(log.maybe_append(3, 3, vec![e(4, 3)]), Some(4));
        assert_eq!(log.take_unstable(), (Some(3), vec![e(3, 3), e(4, 3)]));
        // A stale duplicate changes nothing.
        assert_eq!(log.maybe_append(1, 1, vec![e(2, 1)]), Some(2));
        assert_eq!(log.take_unstable(), (None, vec![]));
        assert_eq!(log.maybe_append(9, 3, vec![]), None);
        assert_eq!(log.conflict_hint(9, 3), 4);
        assert_eq!(log.conflict_hint(4, 1), 2);
    }

    #[test]
    fn malformed_restores_and_messages_do_not_panic() {
        let log = RaftLog::restore(0, 0, vec![e(1, 2), e(2, 1), e(5, 3)]);
        assert_eq!(log.last_index(), 1);
        let mut log = RaftLog::restore(0, 0, vec![]);
        assert_eq!(log.maybe_append(0, 0, vec![e(2, 1)]), None);
        assert_eq!(log.slice(7, 3), vec![]);
        assert_eq!(log.entry(0), None);
        assert!(log.is_up_to_date(0, 0));
    }

    #[test]
    fn compaction_and_installs_keep_indexes_and_terms() {
        let mut log = RaftLog::restore(0, 0, vec![e(1, 1), e(2, 1), e(3, 2), e(4, 2)]);
        log.compact(2);
        assert_eq!((log.snapshot_index(), log.last_index()), (2, 4));
        assert!(log.commit_to(2));
        assert_eq!(log.term_at(2), Some(1));
        assert_eq!(log.term_at(1), None);
        assert_eq!(log.slice(1, 10), vec![e(3, 2), e(4, 2)]);
        assert_eq!(log.tail_after(3), &[e(4, 2)]);
        assert_eq!(log.maybe_append(3, 2, vec![e(4, 3)]), Some(4));
        assert_eq!(log.take_unstable(), (Some(4), vec![e(4, 3)]));
        // A matching snapshot keeps the suffix; a conflicting one drops everything.
        log.install(3, 2);
        assert_eq!((log.snapshot_index(), log.last_index()), (3, 4));
        log.install(9, 5);
        assert_eq!((log.last_index(), log.last_term()), (9, 5));
        assert!(log.is_up_to_date(9, 5) && !log.is_up_to_date(10, 4));
        let restored = RaftLog::restore(9, 5, vec![e(10, 5), e(12, 5)]);
        assert_eq!(restored.last_index(), 10);
        assert_eq!((restored.committed(), restored.applied()), (9, 9));
    }

    #[test]
    fn commit_and_apply_only_move_forward_and_stop_at_what_exists() {
        let mut log = RaftLog::restore(0, 0, vec![e(1, 1), e(2, 1), e(3, 1)]);
        assert_eq!(log.next_to_apply(), None);
        assert!(log.commit_to(2));
        assert!(!log.commit_to(1) && !log.commit_to(2));
        assert_eq!(log.committed(), 2);
        assert_eq!(log.next_to_apply(), Some(&e(1, 1)));
        log.applied_to(1);
        log.applied_to(0);
        assert_eq!(log.next_to_apply(), Some(&e(2, 1)));
        // Applying cannot pass the commit index.
        log.applied_to(3);
        assert_eq!((log.applied(), log.next_to_apply()), (2, None));
        // A committed entry is never replaced; an uncommitted one is.
        assert_eq!(log.maybe_append(1, 1, vec![e(2, 2)]), None);
        assert_eq!(log.maybe_append(2, 1, vec![e(3, 2)]), Some(3));
        // A commit index past the log's end applies only what exists.
        assert!(log.commit_to(9));
        log.applied_to(3);
        assert_eq!(log.next_to_apply(), None);
        // An installed snapshot counts as committed and applied.
        assert!(!log.take_installed());
        log.install(12, 4);
        assert_eq!((log.committed(), log.applied()), (12, 12));
        assert!(log.take_installed() && !log.take_installed());
    }
}
