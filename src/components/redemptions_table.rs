//! The requests table: sort, filter by status and type, search, pagination. Rows are keyed by id
//! and version, so a change to one row re-renders that row only; a row Realtime just changed is
//! briefly highlighted.

use std::collections::HashSet;

use dashboard_core::format;
use dashboard_core::model::{Redemption, RedemptionStatus};
use leptos::prelude::*;
use leptos_router::components::A;

use super::status_badge::StatusBadge;

/// Columns the table sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortColumn {
    /// Creation time.
    Created,
    /// Token amount.
    Amount,
    /// USDC value.
    Usdc,
    /// Status, in lifecycle order.
    Status,
}

/// What the user chose to see.
#[derive(Debug, Clone, PartialEq)]
pub struct TableView {
    /// Status filter (`None` = all).
    pub status: Option<String>,
    /// Type filter (`None` = all).
    pub kind: Option<String>,
    /// Free-text search over id, symbol, wallet and notes.
    pub search: String,
    /// Sort column.
    pub sort: SortColumn,
    /// Ascending?
    pub ascending: bool,
    /// Zero-based page.
    pub page: usize,
    /// Rows per page.
    pub page_size: usize,
}

impl Default for TableView {
    fn default() -> Self {
        Self {
            status: None,
            kind: None,
            search: String::new(),
            sort: SortColumn::Created,
            ascending: false,
            page: 0,
            page_size: 25,
        }
    }
}

fn status_rank(status: &RedemptionStatus) -> usize {
    RedemptionStatus::ALL
        .iter()
        .position(|known| known == status)
        .unwrap_or(usize::MAX)
}

/// Applies filters and sort; returns the matching rows (all pages).
pub fn apply_view(rows: &[Redemption], view: &TableView) -> Vec<Redemption> {
    let needle = view.search.trim().to_lowercase();
    let mut selected: Vec<Redemption> = rows
        .iter()
        .filter(|row| {
            view.status
                .as_deref()
                .is_none_or(|s| row.status.as_str() == s)
        })
        .filter(|row| {
            view.kind
                .as_deref()
                .is_none_or(|k| row.redemption_type.as_str() == k)
        })
        .filter(|row| {
            needle.is_empty()
                || row.id.to_lowercase().contains(&needle)
                || row.token_symbol.to_lowercase().contains(&needle)
                || row.destination_wallet.to_lowercase().contains(&needle)
                || row
                    .notes
                    .as_deref()
                    .is_some_and(|notes| notes.to_lowercase().contains(&needle))
        })
        .cloned()
        .collect();
    selected.sort_by(|a, b| {
        let ordering = match view.sort {
            SortColumn::Created => a.created_at.cmp(&b.created_at),
            SortColumn::Amount => a.token_amount.total_cmp(&b.token_amount),
            SortColumn::Usdc => a.usdc_value.total_cmp(&b.usdc_value),
            SortColumn::Status => status_rank(&a.status).cmp(&status_rank(&b.status)),
        }
        .then_with(|| a.id.cmp(&b.id));
        if view.ascending {
            ordering
        } else {
            ordering.reverse()
        }
    });
    selected
}

/// The table with its toolbar and pager.
#[component]
pub fn RedemptionsTable(
    #[prop(into)] rows: Signal<Vec<Redemption>>,
    #[prop(into)] flashed: Signal<HashSet<String>>,
    #[prop(into)] loading: Signal<bool>,
) -> impl IntoView {
    let view_state = RwSignal::new(TableView::default());
    let matching = Memo::new(move |_| rows.with(|rows| view_state.with(|v| apply_view(rows, v))));
    let page_count = Memo::new(move |_| {
        let size = view_state.with(|v| v.page_size).max(1);
        matching.with(|m| m.len().div_ceil(size)).max(1)
    });
    let page_rows = Memo::new(move |_| {
        let (page, size) = view_state.with(|v| (v.page, v.page_size));
        let page = page.min(page_count.get().saturating_sub(1));
        matching.with(|m| {
            m.iter()
                .skip(page * size)
                .take(size)
                .cloned()
                .collect::<Vec<_>>()
        })
    });
    let set_filter = move |apply: fn(&mut TableView, String)| {
        move |event: leptos::ev::Event| {
            let value = event_target_value(&event);
            view_state.update(|v| {
                apply(v, value);
                v.page = 0;
            });
        }
    };
    let sort_by = move |column: SortColumn| {
        view_state.update(|v| {
            if v.sort == column {
                v.ascending = !v.ascending;
            } else {
                v.sort = column;
                v.ascending = false;
            }
        })
    };
    let sort_mark = move |column: SortColumn| {
        view_state.with(|v| match (v.sort == column, v.ascending) {
            (true, true) => "ascending",
            (true, false) => "descending",
            _ => "none",
        })
    };

    view! {
        <section class="table-section" aria-label="Redemption requests">
            <div class="toolbar">
                <label>
                    <span class="sr-only">"Search"</span>
                    <input
                        type="search"
                        placeholder="Search id, token, wallet, note"
                        data-testid="table-search"
                        on:input=set_filter(|v, value| v.search = value)
                    />
                </label>
                <label>
                    "Status "
                    <select data-testid="filter-status" on:change=set_filter(|v, value| {
                        v.status = (!value.is_empty()).then_some(value)
                    })>
                        <option value="">"All"</option>
                        {RedemptionStatus::ALL.iter().map(|s| view! {
                            <option value=s.as_str()>{s.label()}</option>
                        }).collect_view()}
                    </select>
                </label>
                <label>
                    "Type "
                    <select data-testid="filter-type" on:change=set_filter(|v, value| {
                        v.kind = (!value.is_empty()).then_some(value)
                    })>
                        <option value="">"All"</option>
                        <option value="standard">"Standard"</option>
                        <option value="interval">"Interval"</option>
                    </select>
                </label>
                <label class="narrow-only">
                    "Sort "
                    <select data-testid="sort-select" on:change=move |event| {
                        let (sort, ascending) = match event_target_value(&event).as_str() {
                            "created-asc" => (SortColumn::Created, true),
                            "amount-desc" => (SortColumn::Amount, false),
                            "usdc-desc" => (SortColumn::Usdc, false),
                            "status-asc" => (SortColumn::Status, true),
                            _ => (SortColumn::Created, false),
                        };
                        view_state.update(|v| { v.sort = sort; v.ascending = ascending; v.page = 0; });
                    }>
                        <option value="created-desc">"Newest first"</option>
                        <option value="created-asc">"Oldest first"</option>
                        <option value="amount-desc">"Most tokens"</option>
                        <option value="usdc-desc">"Highest USDC value"</option>
                        <option value="status-asc">"Status"</option>
                    </select>
                </label>
                <span class="count" data-testid="row-count">
                    {move || format!("{} requests", matching.with(Vec::len))}
                </span>
            </div>
            <div class="table-wrap">
                <table class="requests" data-testid="redemptions-table">
                    <thead>
                        <tr>
                            <th scope="col">"Request"</th>
                            <th scope="col" aria-sort=move || sort_mark(SortColumn::Amount)>
                                <button class="sort" on:click=move |_| sort_by(SortColumn::Amount)>"Tokens"</button>
                            </th>
                            <th scope="col" aria-sort=move || sort_mark(SortColumn::Usdc)>
                                <button class="sort" on:click=move |_| sort_by(SortColumn::Usdc)>"USDC value"</button>
                            </th>
                            <th scope="col" aria-sort=move || sort_mark(SortColumn::Status)>
                                <button class="sort" on:click=move |_| sort_by(SortColumn::Status)>"Status"</button>
                            </th>
                            <th scope="col">"Type"</th>
                            <th scope="col" aria-sort=move || sort_mark(SortColumn::Created)>
                                <button class="sort" on:click=move |_| sort_by(SortColumn::Created)>"Created"</button>
                            </th>
                        </tr>
                    </thead>
                    <tbody>
                        <Show when=move || loading.get() && rows.with(Vec::is_empty)>
                            {(0..5).map(|_| view! {
                                <tr class="skeleton-row" aria-hidden="true">
                                    <td colspan="6"><span class="skeleton"></span></td>
                                </tr>
                            }).collect_view()}
                        </Show>
                        <Show when=move || !loading.get() && matching.with(Vec::is_empty)>
                            <tr><td colspan="6" class="empty">"No redemption requests match."</td></tr>
                        </Show>
                        <For
                            each=move || page_rows.get()
                            key=|row| (row.id.clone(), row.version, row.updated_at)
                            let:row
                        >
                            <RequestRow row=row flashed=flashed />
                        </For>
                    </tbody>
                </table>
            </div>
            <nav class="pager" aria-label="Pages">
                <button
                    class="button secondary"
                    disabled=move || view_state.with(|v| v.page == 0)
                    on:click=move |_| view_state.update(|v| v.page = v.page.saturating_sub(1))
                >"Previous"</button>
                <span data-testid="page-indicator">
                    {move || format!("Page {} of {}", view_state.with(|v| v.page).min(page_count.get() - 1) + 1, page_count.get())}
                </span>
                <button
                    class="button secondary"
                    disabled=move || view_state.with(|v| v.page + 1 >= page_count.get())
                    on:click=move |_| view_state.update(|v| v.page += 1)
                >"Next"</button>
                <label>
                    "Rows "
                    <select on:change=move |event| {
                        let size = event_target_value(&event).parse().unwrap_or(25);
                        view_state.update(|v| { v.page_size = size; v.page = 0; });
                    }>
                        <option value="25">"25"</option>
                        <option value="50">"50"</option>
                        <option value="100">"100"</option>
                    </select>
                </label>
            </nav>
        </section>
    }
}

/// One row; renders once per version of the request.
#[component]
fn RequestRow(row: Redemption, flashed: Signal<HashSet<String>>) -> impl IntoView {
    let id = row.id.clone();
    let is_flashed = {
        let id = id.clone();
        move || flashed.with(|set| set.contains(&id))
    };
    let created = row
        .created_at
        .map(|t| t.to_utc_string())
        .unwrap_or_else(|| "—".into());
    let status = row.status.clone();
    let short_id = row.short_id().to_string();
    view! {
        <tr class="request-row" class:flash=is_flashed data-testid="redemption-row" data-id=id.clone()
            data-status=row.status.as_str().to_string()>
            <td class="mono">
                <A href=format!("/redemptions/{id}")>{short_id}</A>
            </td>
            <td class="num" data-label="Tokens">{format::grouped(row.token_amount, 2)}" "{row.token_symbol.clone()}</td>
            <td class="num" data-label="USDC value">{format::usdc(row.usdc_value)}</td>
            <td data-label="Status"><StatusBadge status=status /></td>
            <td data-label="Type">{row.redemption_type.as_str().to_string()}</td>
            <td class="time" data-label="Created">{created}" UTC"</td>
        </tr>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, status: &str, amount: f64) -> Redemption {
        Redemption {
            id: id.into(),
            status: RedemptionStatus::parse(status),
            token_amount: amount,
            token_symbol: "MTF".into(),
            ..Redemption::default()
        }
    }

    #[test]
    fn filters_search_and_sorts() {
        let rows = vec![
            row("a1", "pending", 5.0),
            row("b2", "settled", 9.0),
            row("c3", "pending", 1.0),
        ];
        let view = TableView {
            status: Some("pending".into()),
            sort: SortColumn::Amount,
            ascending: true,
            ..TableView::default()
        };
        let ids: Vec<String> = apply_view(&rows, &view).into_iter().map(|r| r.id).collect();
        assert_eq!(ids, ["c3", "a1"]);
        let view = TableView {
            search: "B2".into(),
            ..TableView::default()
        };
        assert_eq!(apply_view(&rows, &view).len(), 1);
    }
}
