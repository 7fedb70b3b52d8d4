//! Realtime fan-out benchmark (not a test): N sockets subscribed to one table, one commit,
//! and how long each socket took to receive it.
//!
//! `FANOUT_SOCKETS` sets N (default 1000). Run with
//! `cargo bench -p devserver --bench realtime_fanout`. Client and server share this process, so
//! the RSS figures include the client sockets too.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use devserver::auth::jwt::{unix_now, AppRole, JwtKeys, DEFAULT_JWT_SECRET};
use devserver::faults::{FaultSettings, Faults};
use devserver::store::Store;
use devserver::{app, AppState, ServerConfig};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(0)
}

/// Raises the soft open-file limit to what N sockets need (two fds each, both ends here).
fn ensure_fd_limit(sockets: u64) -> Result<(), String> {
    let needed = sockets * 2 + 256;
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed in.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err("cannot read the open-file limit".into());
        }
        if limit.rlim_cur >= needed {
            return Ok(());
        }
        if limit.rlim_max < needed {
            return Err(format!(
                "{sockets} sockets need {needed} open files but the hard limit is {}; \
                 lower FANOUT_SOCKETS or raise `ulimit -Hn`",
                limit.rlim_max
            ));
        }
        limit.rlim_cur = needed;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
            return Err("cannot raise the open-file limit".into());
        }
    }
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

async fn open_subscribed(
    address: SocketAddr,
    key: &str,
    token: &str,
    n: usize,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let url = format!("ws://{address}/realtime/v1/websocket?apikey={key}&vsn=1.0.0");
    // Small client buffers, like the server's, so the RSS mostly reflects per-socket state.
    let config = WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .write_buffer_size(8 * 1024);
    let (mut socket, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), false)
        .await
        .expect("upgrade");
    let join = json!({"topic": format!("realtime:fanout-{n}"), "event": "phx_join", "ref": "1", "join_ref": "1",
        "payload": {"config": {"postgres_changes": [{"event": "*", "schema": "public", "table": "redemption_requests"}]},
                    "access_token": token}});
    socket
        .send(Message::Text(join.to_string().into()))
        .await
        .expect("join");
    let mut seen = 0;
    while seen < 2 {
        if let Some(Ok(Message::Text(_))) = socket.next().await {
            seen += 1;
        }
    }
    socket
}

fn main() {
    let sockets: usize = std::env::var("FANOUT_SOCKETS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000);
    if let Err(message) = ensure_fd_limit(sockets as u64) {
        eprintln!("realtime_fanout: {message}");
        std::process::exit(2);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let state = AppState::new(
            Store::in_memory_demo().expect("store"),
            JwtKeys::new(DEFAULT_JWT_SECRET).expect("keys"),
            Faults::new(FaultSettings::default()),
            ServerConfig::default(),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let served = state.clone();
        tokio::spawn(async move {
            axum::serve(listener, app(served).into_make_service_with_connect_info::<SocketAddr>())
                .await
                .expect("serve");
        });
        let key = state.keys.anon_key().to_owned();
        let token = state
            .keys
            .sign_user_token("00000000-0000-4000-8000-0000000000a1", "admin1@demo.local", AppRole::Admin, unix_now())
            .expect("token");

        let rss_before = rss_kib();
        let started = Instant::now();
        let mut open = Vec::with_capacity(sockets);
        for batch in (0..sockets).collect::<Vec<_>>().chunks(100) {
            let joins = batch.iter().map(|&n| open_subscribed(address, &key, &token, n));
            open.extend(futures::future::join_all(joins).await);
        }
        let connect_time = started.elapsed();
        let rss_connected = rss_kib();

        let (ready_tx, mut ready_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        let (go_tx, _) = tokio::sync::broadcast::channel::<Instant>(1);
        let mut waiters = Vec::new();
        for mut socket in open {
            let mut go = go_tx.subscribe();
            let ready = ready_tx.clone();
            waiters.push(tokio::spawn(async move {
                let _ = ready.send(());
                let committed = go.recv().await.expect("start");
                loop {
                    match socket.next().await {
                        Some(Ok(Message::Text(text))) => {
                            let frame: Value = serde_json::from_str(&text).expect("json");
                            if frame["event"] == "postgres_changes" {
                                // The socket is handed back so it stays open for the RSS reading.
                                return (committed.elapsed(), socket);
                            }
                        }
                        Some(Ok(_)) => continue,
                        _ => panic!("socket closed before the event"),
                    }
                }
            }));
        }
        for _ in 0..sockets {
            ready_rx.recv().await.expect("ready");
        }
        let committed = Instant::now();
        let _ = go_tx.send(committed);
        state.store.advance_oldest("approved", "processing").expect("commit").expect("an approved row");

        let mut delays = Vec::with_capacity(sockets);
        let mut still_open = Vec::with_capacity(sockets);
        for waiter in waiters {
            let (delay, socket) = waiter.await.expect("delivered");
            delays.push(delay);
            still_open.push(socket);
        }
        delays.sort();
        let rss_after = rss_kib();
        drop(still_open);
        println!("realtime_fanout: {sockets} sockets, connected and joined in {connect_time:?}");
        println!(
            "delivery of one commit: p50 {:?}  p99 {:?}  max {:?}",
            percentile(&delays, 0.50),
            percentile(&delays, 0.99),
            delays[delays.len() - 1]
        );
        println!(
            "process RSS (server and clients): before {} MiB, joined {} MiB, after event {} MiB ({:.1} KiB per socket pair)",
            rss_before / 1024,
            rss_connected / 1024,
            rss_after / 1024,
            (rss_connected.saturating_sub(rss_before)) as f64 / sockets as f64
        );
    });
}
