//! Reusable widgets: the connection indicator, status badges, the requests table, metric cards,
//! toasts and the debug panel.

pub mod connection_status;
pub mod debug_panel;
pub mod header;
pub mod metric_cards;
pub mod redemptions_table;
pub mod status_badge;
pub mod toast;
