//! Toasts: short messages for actions and errors, announced to screen readers.

use leptos::prelude::*;

/// How a toast looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToastKind {
    /// An action worked.
    Success,
    /// Something failed.
    Error,
}

#[derive(Debug, Clone, PartialEq)]
struct Toast {
    id: u64,
    kind: ToastKind,
    text: String,
}

/// The toast queue, shared through context.
#[derive(Clone, Copy)]
pub struct Toasts {
    items: RwSignal<Vec<Toast>>,
    next_id: StoredValue<u64>,
}

impl Toasts {
    /// An empty queue.
    pub fn new() -> Self {
        Self {
            items: RwSignal::new(Vec::new()),
            next_id: StoredValue::new(1),
        }
    }

    fn push(&self, kind: ToastKind, text: String) {
        let id = self.next_id.get_value();
        self.next_id.set_value(id + 1);
        self.items
            .update(|items| items.push(Toast { id, kind, text }));
        let items = self.items;
        gloo_timers::callback::Timeout::new(5_000, move || {
            let _ = items.try_update(|items| items.retain(|toast| toast.id != id));
        })
        .forget();
    }

    /// Shows a success message.
    pub fn success(&self, text: impl Into<String>) {
        self.push(ToastKind::Success, text.into());
    }

    /// Shows an error message.
    pub fn error(&self, text: impl Into<String>) {
        self.push(ToastKind::Error, text.into());
    }
}

impl Default for Toasts {
    fn default() -> Self {
        Self::new()
    }
}

/// Renders the queue in a live region.
#[component]
pub fn ToastHost() -> impl IntoView {
    let toasts = expect_context::<Toasts>();
    view! {
        <div class="toasts" role="status" aria-live="polite" data-testid="toasts">
            <For each=move || toasts.items.get() key=|toast| toast.id let:toast>
                <div
                    class="toast"
                    class:toast-error=toast.kind == ToastKind::Error
                    class:toast-success=toast.kind == ToastKind::Success
                >
                    {toast.text}
                    <button
                        class="toast-close"
                        aria-label="Dismiss"
                        on:click=move |_| toasts.items.update(|items| items.retain(|t| t.id != toast.id))
                    >
                        "×"
                    </button>
                </div>
            </For>
        </div>
    }
}
