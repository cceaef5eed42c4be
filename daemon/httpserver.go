package daemon

import (
	"log/slog"
	"net"
	"net/http"
	"time"
)

const (
	// httpReadHeaderTimeout bounds how long a client may take to send its request headers,
	// so a slow or stalled client cannot hold a connection (slowloris).
	httpReadHeaderTimeout = 5 * time.Second
	// httpIdleTimeout closes keep-alive connections a poller left idle: without it they stay
	// open for as long as the client keeps them.
	httpIdleTimeout = 60 * time.Second
)

// newHTTPServer is the server of /healthz, /status and /metrics. It has no authentication
// of its own (monitoring polls it on loopback), so its timeouts are what protects it.
func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: httpReadHeaderTimeout,
		IdleTimeout:       httpIdleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// warnIfExposed warns when the server listens beyond loopback: what it serves is meant for
// this machine's monitoring, and anyone who can reach it reads it unauthenticated (issue 10).
func warnIfExposed(log *slog.Logger, addr net.Addr) {
	if !exposedBeyondLoopback(addr) {
		return
	}
	log.Warn("http.addr is not a loopback address: the http server answers anyone who can reach it, without authentication",
		"addr", addr.String(),
		"exposed", "/status: organisation names, tenant ids, queue and failure counts; /metrics: tenant ids and queue depths; /healthz: tenant ids and connection states",
		"fix", "set http.addr to 127.0.0.1:7433 and put a reverse proxy with authentication in front (see the README)")
}

// exposedBeyondLoopback reports whether a listener's address can be reached from other
// machines: an unspecified address (0.0.0.0, ::) listens on every interface.
func exposedBeyondLoopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return true
	}
	return !tcp.IP.IsLoopback()
}
