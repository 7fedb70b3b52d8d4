//! The status simulator: moves approved requests through processing to settled over time.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::column_value::Row;
use crate::store::{Store, StoreError};

/// One step: settles the oldest processing request, then starts processing the oldest approved one.
///
/// Both go through the store's write path, so Realtime sees them like any other change.
pub fn step(store: &Store) -> Result<Vec<Row>, StoreError> {
    let mut moved = Vec::new();
    moved.extend(store.advance_oldest("processing", "settled")?);
    moved.extend(store.advance_oldest("approved", "processing")?);
    Ok(moved)
}

/// Runs [`step`] every `every` until the runtime shuts down.
pub fn spawn(store: Arc<Store>, every: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick fires at once; skip it so a fresh start shows the seed as it is.
        ticks.tick().await;
        loop {
            ticks.tick().await;
            match step(&store) {
                Ok(moved) if !moved.is_empty() => {
                    tracing::debug!(moved = moved.len(), "simulator advanced requests");
                }
                Ok(_) => tracing::trace!("simulator found nothing to advance"),
                Err(error) => tracing::warn!(%error, "simulator step failed"),
            }
        }
    })
}
