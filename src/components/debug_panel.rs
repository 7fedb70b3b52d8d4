//! The debug panel (`?debug=1`): per query key, the last fetch, whether one is in flight, the
//! next poll, the Realtime state and the counts of requests and events.

use leptos::prelude::*;

use crate::freshness::{DebugRow, QueryCache};

/// True when the page URL asks for the debug panel.
pub fn debug_requested() -> bool {
    web_sys::window()
        .and_then(|window| window.location().search().ok())
        .is_some_and(|search| search.contains("debug=1"))
}

fn ms(value: Option<u64>) -> String {
    value.map_or_else(|| "—".into(), |ms| format!("{:.1} s", ms as f64 / 1000.0))
}

/// The panel; refreshes itself twice a second while shown.
#[component]
pub fn DebugPanel() -> impl IntoView {
    let cache = expect_context::<QueryCache>();
    let rows = RwSignal::new(cache.debug_rows());
    let connection = cache.connection_state();
    let ticker = gloo_timers::callback::Interval::new(500, move || {
        let _ = rows.try_set(cache.debug_rows());
    });
    // Owned by the component: dropped (and stopped) when it unmounts.
    StoredValue::new_local(ticker);
    view! {
        <aside class="debug-panel" data-testid="debug-panel" aria-label="Freshness debug panel">
            <h2>"Freshness debug"</h2>
            <p>"Realtime: " <code>{move || format!("{:?}", connection.get())}</code></p>
            <table>
                <thead>
                    <tr>
                        <th>"Key"</th><th>"Users"</th><th>"Last fetch"</th><th>"In flight"</th>
                        <th>"Next poll"</th><th>"Realtime"</th><th>"Requests"</th><th>"Events"</th>
                    </tr>
                </thead>
                <tbody>
                    <For each=move || rows.get() key=|row: &DebugRow| format!("{row:?}") let:row>
                        <tr data-testid="debug-row" data-key=row.key.clone()
                            data-requests=row.requests.to_string() data-events=row.events.to_string()>
                            <td class="mono">{row.key.clone()}</td>
                            <td>{row.subscribers}</td>
                            <td>{ms(row.last_fetch_ago_ms)}" ago"</td>
                            <td>{if row.in_flight { "yes" } else { "no" }}</td>
                            <td>{if row.stopped { "stopped".to_string() } else { ms(row.next_fetch_in_ms) }}</td>
                            <td>{if row.subscribed { "subscribed" } else { "—" }}</td>
                            <td>{row.requests}</td>
                            <td>{row.events}</td>
                        </tr>
                    </For>
                </tbody>
            </table>
        </aside>
    }
}
