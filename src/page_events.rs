//! The page's visibility and network events, delivered to Rust callbacks.

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

/// True when the page is visible (or when visibility cannot be read).
pub fn page_visible() -> bool {
    web_sys::window()
        .and_then(|window| window.document())
        .map(|document| document.visibility_state() != web_sys::VisibilityState::Hidden)
        .unwrap_or(true)
}

/// Listeners for `visibilitychange`, `online` and `offline`; they stay attached as long as this
/// value lives.
pub struct PageEvents {
    _handlers: Vec<Closure<dyn FnMut(web_sys::Event)>>,
}

impl PageEvents {
    /// Calls `on_visible(visible)` when the page is shown or hidden, and `on_online(online)` when
    /// the browser reports the network coming or going.
    pub fn listen(on_visible: impl Fn(bool) + 'static, on_online: impl Fn(bool) + 'static) -> Self {
        let Some(window) = web_sys::window() else {
            return Self {
                _handlers: Vec::new(),
            };
        };
        let on_online = std::rc::Rc::new(on_online);
        let mut handlers = Vec::new();
        let visibility = Closure::<dyn FnMut(web_sys::Event)>::new(move |_: web_sys::Event| {
            on_visible(page_visible())
        });
        if let Some(document) = window.document() {
            let _ = document.add_event_listener_with_callback(
                "visibilitychange",
                visibility.as_ref().unchecked_ref(),
            );
        }
        handlers.push(visibility);
        for (event, online) in [("online", true), ("offline", false)] {
            let on_online = on_online.clone();
            let handler = Closure::<dyn FnMut(web_sys::Event)>::new(move |_: web_sys::Event| {
                on_online(online)
            });
            let _ =
                window.add_event_listener_with_callback(event, handler.as_ref().unchecked_ref());
            handlers.push(handler);
        }
        Self {
            _handlers: handlers,
        }
    }
}
