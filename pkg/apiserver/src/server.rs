//! The HTTPS listener: TLS (rustls) with optional client certificates, HTTP/1.1 and HTTP/2 by ALPN.

use std::sync::Arc;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use k3rs_auth::authn::user_from_client_cert;

use crate::handler::Handler;

/// Accepts connections until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    handler: Arc<Handler>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let acceptor = TlsAcceptor::from(tls);
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let handler = handler.clone();
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(
                std::time::Duration::from_secs(10),
                acceptor.accept(tcp),
            )
            .await
            {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let user = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|certs| certs.first())
                .and_then(|der| match user_from_client_cert(der) {
                    Ok(u) => Some(u),
                    Err(e) => {
                        tracing::debug!(%peer, error = %e, "client certificate has no usable user");
                        None
                    }
                });
            // The request's future is boxed: hyper keeps a slot the size of the service's future
            // for the whole life of a connection (and a stream task per HTTP/2 request), and the
            // handler's future is tens of KB. Boxed, it is held only while a request is handled,
            // not by every idle keep-alive or watch connection.
            let service = service_fn(move |req| {
                let handler = handler.clone();
                let user = user.clone();
                Box::pin(async move {
                    Ok::<_, std::convert::Infallible>(handler.handle(req, user).await)
                })
            });
            let mut builder = auto::Builder::new(TokioExecutor::new());
            // kube-apiserver allows 1000 concurrent streams per HTTP/2 connection (its
            // --http2-max-streams-per-connection in the recommended options); hyper's default is
            // 200. A client's watches each hold a stream for as long as they run.
            builder.http2().max_concurrent_streams(1000);
            if let Err(e) = builder
                .serve_connection_with_upgrades(TokioIo::new(tls), service)
                .await
            {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
}
