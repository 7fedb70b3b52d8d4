//! Merge rules for rows that arrive two ways: whole snapshots from fetches and single changes
//! from Realtime.
//!
//! Every local write gets a sequence number from a counter that only goes up. A fetch records the
//! counter when it starts; when its snapshot lands, anything Realtime did after that point wins
//! over the snapshot, and per row the higher version wins. So a slow response never rolls a newer
//! change back, and a delete seen over Realtime is not undone by a snapshot that started before it.

use std::collections::HashMap;

use crate::model::{Redemption, Timestamp};

/// A row that can be merged: it has an id and an ordering of its versions.
pub trait Versioned: Clone + PartialEq {
    /// The primary key.
    fn id(&self) -> &str;
    /// Orders versions of the same row: higher is newer. `(sequence, updated_at)`; a row without
    /// a sequence compares by `updated_at` alone.
    fn version(&self) -> (Option<i64>, Option<Timestamp>);
}

impl Versioned for Redemption {
    fn id(&self) -> &str {
        &self.id
    }

    fn version(&self) -> (Option<i64>, Option<Timestamp>) {
        (self.version, self.updated_at)
    }
}

impl Versioned for crate::model::Approval {
    fn id(&self) -> &str {
        &self.id
    }

    fn version(&self) -> (Option<i64>, Option<Timestamp>) {
        (None, self.created_at)
    }
}

impl Versioned for crate::model::Distribution {
    fn id(&self) -> &str {
        &self.id
    }

    fn version(&self) -> (Option<i64>, Option<Timestamp>) {
        (None, self.updated_at)
    }
}

/// True when `candidate` is strictly newer than `current`.
pub fn is_newer<T: Versioned>(candidate: &T, current: &T) -> bool {
    let (candidate_seq, candidate_at) = candidate.version();
    let (current_seq, current_at) = current.version();
    match (candidate_seq, current_seq) {
        (Some(a), Some(b)) if a != b => a > b,
        _ => candidate_at > current_at,
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Entry<T> {
    row: T,
    /// Local sequence of the write that put this version here.
    written_at: u64,
    /// True when Realtime wrote it (a snapshot may not remove it unless it started later).
    from_change: bool,
}

/// Rows of one query, keyed by id, with their order as last fetched.
#[derive(Debug, Clone, PartialEq)]
pub struct RowSet<T: Versioned> {
    rows: HashMap<String, Entry<T>>,
    order: Vec<String>,
    tombstones: HashMap<String, u64>,
    sequence: u64,
    last_snapshot_started: Option<u64>,
}

impl<T: Versioned> Default for RowSet<T> {
    fn default() -> Self {
        Self {
            rows: HashMap::new(),
            order: Vec::new(),
            tombstones: HashMap::new(),
            sequence: 0,
            last_snapshot_started: None,
        }
    }
}

/// What a merge changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MergeOutcome {
    /// Ids whose visible content changed, was added or removed.
    pub changed: Vec<String>,
    /// True when the merge was refused as older than data already applied.
    pub discarded: bool,
}

impl MergeOutcome {
    /// True when anything visible changed.
    pub fn is_changed(&self) -> bool {
        !self.changed.is_empty()
    }
}

impl<T: Versioned> RowSet<T> {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// The mark a fetch records when it starts, to be handed back to [`RowSet::apply_snapshot`].
    pub fn mark(&mut self) -> u64 {
        self.sequence += 1;
        self.sequence
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The row with this id.
    pub fn get(&self, id: &str) -> Option<&T> {
        self.rows.get(id).map(|entry| &entry.row)
    }

    /// Rows in order: the server's order for fetched rows, Realtime inserts first.
    pub fn rows(&self) -> Vec<T> {
        self.order
            .iter()
            .filter_map(|id| self.rows.get(id).map(|entry| entry.row.clone()))
            .collect()
    }

    /// Applies a full snapshot from a fetch that started at `started` (from [`RowSet::mark`]).
    pub fn apply_snapshot(&mut self, started: u64, snapshot: Vec<T>) -> MergeOutcome {
        if self
            .last_snapshot_started
            .is_some_and(|last| started < last)
        {
            return MergeOutcome {
                changed: Vec::new(),
                discarded: true,
            };
        }
        self.last_snapshot_started = Some(started);
        let write = self.mark();
        let mut outcome = MergeOutcome::default();
        let mut next_rows: HashMap<String, Entry<T>> = HashMap::with_capacity(snapshot.len());
        let mut next_order: Vec<String> = Vec::with_capacity(snapshot.len());

        // Rows that Realtime added after this fetch started stay, at the top.
        for id in &self.order {
            if let Some(entry) = self.rows.get(id) {
                let in_snapshot = snapshot.iter().any(|row| row.id() == id);
                if entry.from_change && entry.written_at > started && !in_snapshot {
                    next_order.push(id.clone());
                    next_rows.insert(id.clone(), entry.clone());
                }
            }
        }
        for row in snapshot {
            let id = row.id().to_string();
            if next_rows.contains_key(&id) {
                continue;
            }
            if self
                .tombstones
                .get(&id)
                .is_some_and(|deleted_at| *deleted_at > started)
            {
                continue;
            }
            // A strictly newer local version wins. At an equal version the snapshot wins: it is
            // the same database state, and complete (a Realtime record lacks embedded rows).
            let entry = match self.rows.get(&id) {
                Some(local) if local.row == row => local.clone(),
                Some(local) if is_newer(&local.row, &row) => local.clone(),
                _ => {
                    outcome.changed.push(id.clone());
                    Entry {
                        row,
                        written_at: write,
                        from_change: false,
                    }
                }
            };
            next_order.push(id.clone());
            next_rows.insert(id, entry);
        }
        for id in self.rows.keys() {
            if !next_rows.contains_key(id) {
                outcome.changed.push(id.clone());
            }
        }
        let order_changed = next_order != self.order;
        self.rows = next_rows;
        self.order = next_order;
        self.tombstones
            .retain(|_, deleted_at| *deleted_at > started);
        if order_changed && outcome.changed.is_empty() {
            outcome.changed.push(String::new());
        }
        outcome
    }

    /// Applies an insert or update from Realtime. `matches` says whether the row belongs in this
    /// query (an update can move a row out of a filtered list).
    pub fn apply_upsert(&mut self, row: T, matches: bool) -> MergeOutcome {
        let id = row.id().to_string();
        let write = self.mark();
        let mut outcome = MergeOutcome::default();
        match self.rows.get_mut(&id) {
            Some(entry) => {
                if is_newer(&entry.row, &row) || entry.row == row {
                    return outcome;
                }
                if matches {
                    entry.row = row;
                    entry.written_at = write;
                    entry.from_change = true;
                } else {
                    self.rows.remove(&id);
                    self.order.retain(|existing| existing != &id);
                    self.tombstones.insert(id.clone(), write);
                }
                outcome.changed.push(id);
            }
            None if matches => {
                self.tombstones.remove(&id);
                self.order.insert(0, id.clone());
                self.rows.insert(
                    id.clone(),
                    Entry {
                        row,
                        written_at: write,
                        from_change: true,
                    },
                );
                outcome.changed.push(id);
            }
            None => {}
        }
        outcome
    }

    /// Applies a delete from Realtime.
    pub fn apply_delete(&mut self, id: &str) -> MergeOutcome {
        let write = self.mark();
        self.tombstones.insert(id.to_string(), write);
        let mut outcome = MergeOutcome::default();
        if self.rows.remove(id).is_some() {
            self.order.retain(|existing| existing != id);
            outcome.changed.push(id.to_string());
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn row(id: &str, version: i64, status: &str) -> Redemption {
        Redemption {
            id: id.into(),
            version: Some(version),
            status: crate::model::RedemptionStatus::parse(status),
            ..Redemption::default()
        }
    }

    #[test]
    fn a_slow_snapshot_does_not_roll_back_a_realtime_update() {
        let mut set = RowSet::new();
        let first = set.mark();
        set.apply_snapshot(first, vec![row("a", 1, "pending")]);
        let slow = set.mark();
        set.apply_upsert(row("a", 2, "approved"), true);
        let outcome = set.apply_snapshot(slow, vec![row("a", 1, "pending")]);
        assert!(!outcome.is_changed());
        assert_eq!(set.get("a").unwrap().version, Some(2));
    }

    #[test]
    fn a_snapshot_that_started_before_a_delete_does_not_resurrect_it() {
        let mut set = RowSet::new();
        let first = set.mark();
        set.apply_snapshot(first, vec![row("a", 1, "pending"), row("b", 1, "pending")]);
        let slow = set.mark();
        set.apply_delete("a");
        set.apply_snapshot(slow, vec![row("a", 1, "pending"), row("b", 1, "pending")]);
        assert!(set.get("a").is_none());
        // A later snapshot that still has it means it really exists again.
        let later = set.mark();
        set.apply_snapshot(later, vec![row("a", 1, "pending")]);
        assert!(set.get("a").is_some());
    }

    #[test]
    fn a_realtime_insert_during_a_fetch_is_kept() {
        let mut set = RowSet::new();
        let slow = set.mark();
        set.apply_upsert(row("new", 1, "pending"), true);
        set.apply_snapshot(slow, vec![row("old", 1, "pending")]);
        assert_eq!(set.len(), 2);
        assert_eq!(set.rows()[0].id, "new");
    }

    #[test]
    fn at_an_equal_version_the_complete_snapshot_wins() {
        let mut set = RowSet::new();
        let slow = set.mark();
        let mut partial = row("a", 2, "pending");
        partial.redemption_approvals = Some(Vec::new());
        set.apply_upsert(partial, true);
        let mut complete = row("a", 2, "pending");
        complete.redemption_approvals = Some(vec![crate::model::Approval {
            id: "x".into(),
            ..Default::default()
        }]);
        assert!(set
            .apply_snapshot(slow, vec![complete.clone()])
            .is_changed());
        assert_eq!(set.get("a"), Some(&complete));
    }

    #[test]
    fn an_older_snapshot_than_one_applied_is_discarded() {
        let mut set = RowSet::new();
        let older = set.mark();
        let newer = set.mark();
        set.apply_snapshot(newer, vec![row("a", 2, "approved")]);
        let outcome = set.apply_snapshot(older, vec![]);
        assert!(outcome.discarded);
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn unchanged_data_reports_no_change() {
        let mut set = RowSet::new();
        let first = set.mark();
        assert!(set
            .apply_snapshot(first, vec![row("a", 1, "pending")])
            .is_changed());
        let second = set.mark();
        assert!(!set
            .apply_snapshot(second, vec![row("a", 1, "pending")])
            .is_changed());
        assert!(!set.apply_upsert(row("a", 1, "pending"), true).is_changed());
    }

    #[test]
    fn an_update_out_of_the_filter_removes_the_row() {
        let mut set = RowSet::new();
        let first = set.mark();
        set.apply_snapshot(first, vec![row("a", 1, "pending")]);
        assert!(set
            .apply_upsert(row("a", 2, "approved"), false)
            .is_changed());
        assert!(set.is_empty());
    }

    #[derive(Debug, Clone)]
    enum Op {
        Update(u8),
        Delete(u8),
        StartFetch,
        LandFetch(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u8..5).prop_map(Op::Update),
            (0u8..5).prop_map(Op::Delete),
            Just(Op::StartFetch),
            (0usize..4).prop_map(Op::LandFetch),
        ]
    }

    proptest! {
        /// A server holds the truth; Realtime reports every change in order; fetches take a
        /// snapshot when they start and land in any order. Whatever the interleaving, no row
        /// ever goes back to an older version than one already shown, and once every fetch
        /// has landed and a fresh one lands last, the client equals the server.
        #[test]
        fn never_goes_back_and_converges(ops in prop::collection::vec(op(), 1..60)) {
            let mut server: HashMap<String, i64> = HashMap::new();
            let mut next_version = 1i64;
            let mut set: RowSet<Redemption> = RowSet::new();
            let mut in_flight: Vec<(u64, Vec<Redemption>)> = Vec::new();
            let mut shown: HashMap<String, i64> = HashMap::new();
            for op in ops {
                match op {
                    Op::Update(n) => {
                        let id = format!("r{n}");
                        next_version += 1;
                        server.insert(id.clone(), next_version);
                        set.apply_upsert(row(&id, next_version, "pending"), true);
                    }
                    Op::Delete(n) => {
                        let id = format!("r{n}");
                        if server.remove(&id).is_some() {
                            set.apply_delete(&id);
                        }
                    }
                    Op::StartFetch => {
                        let mark = set.mark();
                        let snapshot = server.iter().map(|(id, v)| row(id, *v, "pending")).collect();
                        in_flight.push((mark, snapshot));
                    }
                    Op::LandFetch(index) => {
                        if !in_flight.is_empty() {
                            let (mark, snapshot) = in_flight.remove(index % in_flight.len());
                            set.apply_snapshot(mark, snapshot);
                        }
                    }
                }
                for current in set.rows() {
                    let version = current.version.unwrap_or(0);
                    if let Some(before) = shown.get(&current.id) {
                        prop_assert!(version >= *before, "row {} went back from {} to {}", current.id, before, version);
                    }
                    shown.insert(current.id.clone(), version);
                }
            }
            let mark = set.mark();
            let snapshot: Vec<Redemption> = server.iter().map(|(id, v)| row(id, *v, "pending")).collect();
            set.apply_snapshot(mark, snapshot);
            let client: HashMap<String, i64> = set.rows().into_iter().map(|r| (r.id.clone(), r.version.unwrap_or(0))).collect();
            prop_assert_eq!(client, server);
        }
    }
}
