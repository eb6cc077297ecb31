//! `pods/exec` over WebSocket (`v5.channel.k8s.io`, `v4.channel.k8s.io`): one channel byte
//! per message (0 stdin, 1 stdout, 2 stderr, 3 status, 4 resize; 255 closes a stream in v5), as
//! client-go's remotecommand expects. The WebSocket itself is tokio-tungstenite's.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use futures::{SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};

use crate::sandbox::http::{ApiResult, ExecOutput};
use crate::sandbox::registry::status::ApiError;

const PROTOCOLS: &[&str] = &["v5.channel.k8s.io", "v4.channel.k8s.io"];
/// The largest message a client may send (stdin is typed keystrokes).
const MAX_MESSAGE: usize = 1 << 20;

/// What runs once the WebSocket is up.
pub enum ExecSession {
    /// A command already run: send its output and status.
    Once(ExecOutput),
    /// An interactive shell reading lines from stdin.
    Shell(super::shell::Shell),
}

/// The Kubernetes channels over one WebSocket.
pub(super) struct Channels<S> {
    ws: WebSocketStream<S>,
}

/// What the client sent on a channel.
pub(super) enum Input {
    /// Bytes on stdin (channel 0).
    Stdin(Vec<u8>),
    /// The client closed stdin (v5's close-stream message for channel 0).
    StdinClosed,
    /// Anything else (a resize, another stream).
    Other,
}

impl<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin> Channels<S> {
    /// Sends `data` on channel `id` (1 stdout, 2 stderr, 3 status).
    pub(super) async fn send(&mut self, id: u8, data: &[u8]) -> std::io::Result<()> {
        let mut message = Vec::with_capacity(data.len() + 1);
        message.push(id);
        message.extend_from_slice(data);
        self.ws
            .send(Message::binary(message))
            .await
            .map_err(std::io::Error::other)
    }

    /// The next message from the client; `None` once it closed or hung up.
    pub(super) async fn next(&mut self) -> Option<Input> {
        loop {
            let message = match self.ws.next().await? {
                Ok(message) => message,
                Err(_) => return None,
            };
            let payload = match message {
                Message::Binary(data) => data.to_vec(),
                Message::Text(text) => text.as_bytes().to_vec(),
                Message::Close(_) => return None,
                // Pings are answered by the library on the next read or write.
                _ => continue,
            };
            return Some(match payload.split_first() {
                Some((0, data)) => Input::Stdin(data.to_vec()),
                Some((255, [0, ..])) => Input::StdinClosed,
                _ => Input::Other,
            });
        }
    }

    /// Sends the status on channel 3, closes the WebSocket and waits briefly for the client.
    pub(super) async fn finish(mut self, exit_code: i32) -> std::io::Result<()> {
        let status = if exit_code == 0 {
            json!({"metadata": {}, "status": "Success"})
        } else {
            json!({
                "metadata": {},
                "status": "Failure",
                "message": format!("command terminated with non-zero exit code: error executing command, exit code {}", exit_code),
                "reason": "NonZeroExitCode",
                "details": {"causes": [{"reason": "ExitCode", "message": exit_code.to_string()}]}
            })
        };
        self.send(3, status.to_string().as_bytes()).await?;
        let close = CloseFrame {
            code: tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode::Normal,
            reason: "".into(),
        };
        let _ = self.ws.close(Some(close)).await;
        // Give the client a moment to answer the close, then hang up.
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while let Some(Ok(message)) = self.ws.next().await {
                if message.is_close() {
                    break;
                }
            }
        })
        .await;
        Ok(())
    }
}

/// Upgrades the request to a WebSocket and streams `output` on the k8s channels.
pub fn upgrade(mut req: Request<Body>, session: ExecSession) -> ApiResult {
    let headers = req.headers();
    let is_websocket = headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if !is_websocket {
        return Err(ApiError::bad_request(
            "the sandbox serves exec over WebSocket only (v5.channel.k8s.io); SPDY is not supported",
        ));
    }
    let key = headers
        .get("sec-websocket-key")
        .ok_or_else(|| ApiError::bad_request("missing Sec-WebSocket-Key"))?;
    let accept = derive_accept_key(key.as_bytes());
    let offered: Vec<String> = headers
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(|p| p.trim().to_owned()))
        .collect();
    let protocol = PROTOCOLS
        .iter()
        .find(|p| offered.iter().any(|o| o == *p))
        .ok_or_else(|| ApiError::bad_request("no supported remotecommand subprotocol offered (want v5.channel.k8s.io or v4.channel.k8s.io)"))?;
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let mut config = WebSocketConfig::default();
        config.max_message_size = Some(MAX_MESSAGE);
        config.max_frame_size = Some(MAX_MESSAGE);
        let ws =
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config))
                .await;
        let mut channels = Channels { ws };
        let ended = match session {
            ExecSession::Once(output) => stream(&mut channels, &output)
                .await
                .map(|()| output.exit_code),
            ExecSession::Shell(shell) => super::shell::run(&mut channels, shell).await,
        };
        if let Ok(code) = ended {
            let _ = channels.finish(code).await;
        }
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::UPGRADE, "websocket")
        .header(header::CONNECTION, "Upgrade")
        .header("Sec-WebSocket-Accept", accept)
        .header("Sec-WebSocket-Protocol", *protocol)
        .body(Body::empty())
        .map_err(|e| ApiError::internal(e.to_string()))
}

async fn stream<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    channels: &mut Channels<S>,
    output: &ExecOutput,
) -> std::io::Result<()> {
    if !output.stdout.is_empty() {
        channels.send(1, output.stdout.as_bytes()).await?;
    }
    if !output.stderr.is_empty() {
        channels.send(2, output.stderr.as_bytes()).await?;
    }
    Ok(())
}
