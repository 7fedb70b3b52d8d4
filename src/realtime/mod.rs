//! The browser adapter around the core Realtime state machine: one `web_sys::WebSocket` per app,
//! multiplexing every channel, one timer for the machine's next deadline, and the page's
//! visibility and network events.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};

use dashboard_core::codec::{Change, ChangeFilter};
use dashboard_core::connection::{Action, Connection, ConnectionConfig, ConnectionState};
use gloo_timers::callback::Timeout;
use leptos::prelude::*;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{MessageEvent, WebSocket};

use crate::clock;
use crate::page_events::{page_visible, PageEvents};

/// What a channel's listener hears.
#[derive(Debug, Clone)]
pub enum ChannelEvent {
    /// The channel is (again) subscribed and changes flow: time to catch up.
    Subscribed,
    /// A database change.
    Change(Change),
}

type Listener = Rc<dyn Fn(ChannelEvent)>;

struct OpenSocket {
    id: u64,
    socket: WebSocket,
    // Kept alive as long as the socket; dropped (and detached) with it.
    _handlers: Vec<Closure<dyn FnMut(web_sys::Event)>>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
}

impl OpenSocket {
    fn detach_and_close(self) {
        self.socket.set_onopen(None);
        self.socket.set_onclose(None);
        self.socket.set_onerror(None);
        self.socket.set_onmessage(None);
        let _ = self.socket.close();
    }
}

struct Inner {
    url: String,
    machine: RefCell<Connection>,
    socket: RefCell<Option<OpenSocket>>,
    timer: RefCell<Option<Timeout>>,
    listeners: RefCell<HashMap<String, Listener>>,
    on_refresh: RefCell<Option<Rc<dyn Fn()>>>,
    state: RwSignal<ConnectionState>,
    events_received: Cell<u64>,
    next_topic: Cell<u64>,
    // Page-level listeners, kept for the client's life.
    page_events: RefCell<Option<PageEvents>>,
}

/// The app's Realtime client. Cheap to copy; lives in context.
#[derive(Clone, Copy)]
pub struct Realtime {
    inner: StoredValue<Rc<Inner>, LocalStorage>,
    /// The connection state, for the indicator and the hooks.
    pub state: RwSignal<ConnectionState>,
}

impl Realtime {
    /// A client for `url` (the full websocket URL with `apikey` and `vsn`). It connects on the
    /// first subscription.
    pub fn new(url: String, config: ConnectionConfig) -> Self {
        let state = RwSignal::new(ConnectionState::Idle);
        let inner = Rc::new(Inner {
            url,
            machine: RefCell::new(Connection::new(config, clock::seed())),
            socket: RefCell::new(None),
            timer: RefCell::new(None),
            listeners: RefCell::new(HashMap::new()),
            on_refresh: RefCell::new(None),
            state,
            events_received: Cell::new(0),
            next_topic: Cell::new(1),
            page_events: RefCell::new(None),
        });
        attach_page_events(&inner);
        Self {
            inner: StoredValue::new_local(inner),
            state,
        }
    }

    /// Subscribes to changes of `table` (optionally narrowed by a Realtime filter); returns the
    /// topic to pass to [`Realtime::unsubscribe`].
    pub fn subscribe(
        &self,
        table: &str,
        filter: Option<String>,
        listener: impl Fn(ChannelEvent) + 'static,
    ) -> String {
        let inner = self.inner.get_value();
        let number = inner.next_topic.get();
        inner.next_topic.set(number + 1);
        let topic = format!("realtime:{table}-{number}");
        inner
            .listeners
            .borrow_mut()
            .insert(topic.clone(), Rc::new(listener));
        {
            let mut machine = inner.machine.borrow_mut();
            machine.subscribe(
                clock::now(),
                &topic,
                vec![ChangeFilter::table(table, filter)],
            );
            machine.connect(clock::now());
        }
        pump(&inner);
        topic
    }

    /// Leaves a channel; the socket stays for the others.
    pub fn unsubscribe(&self, topic: &str) {
        let Some(inner) = self.inner.try_get_value() else {
            return;
        };
        inner.listeners.borrow_mut().remove(topic);
        inner.machine.borrow_mut().unsubscribe(topic);
        pump(&inner);
    }

    /// Hands the machine the user's token (pushed to joined channels, used for joins).
    pub fn set_access_token(&self, token: Option<String>, expires_at_wall_ms: Option<i64>) {
        let inner = self.inner.get_value();
        let expires_at = expires_at_wall_ms.map(clock::wall_to_monotonic);
        inner
            .machine
            .borrow_mut()
            .set_access_token(clock::now(), token, expires_at);
        pump(&inner);
    }

    /// Called when the machine wants a fresh token.
    pub fn on_refresh_token(&self, callback: impl Fn() + 'static) {
        *self.inner.get_value().on_refresh.borrow_mut() = Some(Rc::new(callback));
    }

    /// Stops everything (sign-out).
    pub fn disconnect(&self) {
        let inner = self.inner.get_value();
        inner.machine.borrow_mut().disconnect();
        pump(&inner);
    }

    /// Change events received so far (debug panel).
    pub fn events_received(&self) -> u64 {
        self.inner
            .try_get_value()
            .map(|inner| inner.events_received.get())
            .unwrap_or(0)
    }
}

/// Carries out every queued action, then re-arms the timer for the next deadline.
fn pump(inner: &Rc<Inner>) {
    loop {
        let action = inner.machine.borrow_mut().poll_action();
        let Some(action) = action else { break };
        match action {
            Action::OpenSocket { socket_id } => open_socket(inner, socket_id),
            Action::CloseSocket { reason } => {
                if let Some(open) = inner.socket.borrow_mut().take() {
                    tracing::debug!(socket = open.id, "closing the Realtime socket: {reason}");
                    open.detach_and_close();
                }
            }
            Action::Send(text) => {
                tracing::trace!("realtime send: {} bytes", text.len());
                if let Some(open) = inner.socket.borrow().as_ref() {
                    if open.socket.send_with_str(&text).is_err() {
                        tracing::debug!("send failed; the close event will follow");
                    }
                }
            }
            Action::State(state) => {
                match &state {
                    ConnectionState::Live => tracing::info!("realtime live"),
                    ConnectionState::Reconnecting { attempt, .. } => {
                        tracing::warn!(attempt, "realtime lost; reconnecting")
                    }
                    ConnectionState::Offline => tracing::warn!("realtime offline"),
                    ConnectionState::Failed(reason) => {
                        tracing::error!("realtime gave up: {reason}")
                    }
                    other => tracing::debug!("realtime state {other:?}"),
                }
                inner.state.set(state);
            }
            Action::Subscribed { topic } => notify(inner, &topic, ChannelEvent::Subscribed),
            Action::Change { topic, change } => {
                inner.events_received.set(inner.events_received.get() + 1);
                notify(inner, &topic, ChannelEvent::Change(change));
            }
            Action::ChannelFailed { topic, reason } => {
                tracing::error!(%topic, "realtime channel stopped: {reason}");
            }
            Action::RefreshToken => {
                let callback = inner.on_refresh.borrow().clone();
                if let Some(callback) = callback {
                    callback();
                }
            }
        }
    }
    rearm_timer(inner);
}

fn notify(inner: &Rc<Inner>, topic: &str, event: ChannelEvent) {
    let listener = inner.listeners.borrow().get(topic).cloned();
    if let Some(listener) = listener {
        listener(event);
    }
}

fn rearm_timer(inner: &Rc<Inner>) {
    let deadline = inner.machine.borrow().next_deadline();
    let timer = deadline.map(|at| {
        let delay = at.saturating_sub(clock::now()).min(u64::from(u32::MAX)) as u32;
        let weak = Rc::downgrade(inner);
        Timeout::new(delay, move || {
            if let Some(inner) = weak.upgrade() {
                inner.machine.borrow_mut().tick(clock::now());
                pump(&inner);
            }
        })
    });
    // Replacing the old Timeout cancels it.
    *inner.timer.borrow_mut() = timer;
}

fn with_machine(weak: &Weak<Inner>, apply: impl FnOnce(&mut Connection)) {
    if let Some(inner) = weak.upgrade() {
        apply(&mut inner.machine.borrow_mut());
        pump(&inner);
    }
}

fn open_socket(inner: &Rc<Inner>, socket_id: u64) {
    if let Some(old) = inner.socket.borrow_mut().take() {
        old.detach_and_close();
    }
    let socket = match WebSocket::new(&inner.url) {
        Ok(socket) => socket,
        Err(_) => {
            tracing::warn!("could not create the Realtime socket");
            let weak = Rc::downgrade(inner);
            // Report asynchronously so the machine is not re-entered from inside pump.
            Timeout::new(0, move || {
                with_machine(&weak, |machine| {
                    machine.socket_closed(clock::now(), socket_id)
                })
            })
            .forget();
            return;
        }
    };
    let weak = Rc::downgrade(inner);
    let on_open = {
        let weak = weak.clone();
        Closure::<dyn FnMut(web_sys::Event)>::new(move |_: web_sys::Event| {
            with_machine(&weak, |machine| {
                machine.socket_opened(clock::now(), socket_id)
            })
        })
    };
    let on_close = {
        let weak = weak.clone();
        Closure::<dyn FnMut(web_sys::Event)>::new(move |_: web_sys::Event| {
            with_machine(&weak, |machine| {
                machine.socket_closed(clock::now(), socket_id)
            })
        })
    };
    let on_message = {
        let weak = weak.clone();
        Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            if let Some(text) = event.data().as_string() {
                tracing::trace!("realtime frame: {} bytes", text.len());
                with_machine(&weak, |machine| {
                    machine.frame_received(clock::now(), socket_id, &text)
                });
            }
        })
    };
    socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    // An error is always followed by close; close alone drives the machine.
    socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    *inner.socket.borrow_mut() = Some(OpenSocket {
        id: socket_id,
        socket,
        _handlers: vec![on_open, on_close],
        _on_message: on_message,
    });
}

fn attach_page_events(inner: &Rc<Inner>) {
    let (on_visible, on_online) = (Rc::downgrade(inner), Rc::downgrade(inner));
    let events = PageEvents::listen(
        move |visible| {
            with_machine(&on_visible, |machine| {
                machine.set_visible(clock::now(), visible)
            })
        },
        move |online| {
            with_machine(&on_online, |machine| {
                machine.set_online(clock::now(), online)
            })
        },
    );
    inner
        .machine
        .borrow_mut()
        .set_visible(clock::now(), page_visible());
    *inner.page_events.borrow_mut() = Some(events);
}
