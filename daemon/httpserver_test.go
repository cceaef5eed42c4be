package daemon

import (
	"bytes"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
)

func TestHTTPServerTimeouts(t *testing.T) {
	t.Parallel()
	srv := newHTTPServer(http.NotFoundHandler(), slog.New(slog.DiscardHandler))
	if srv.ReadHeaderTimeout <= 0 || srv.IdleTimeout <= 0 {
		t.Fatalf("ReadHeaderTimeout %s, IdleTimeout %s: both must be set", srv.ReadHeaderTimeout, srv.IdleTimeout)
	}
}

// The warning is the behaviour here (an operator must learn what a non-loopback http.addr
// exposes), so the test reads the log.
func TestWarnIfExposed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		addr string
		warn bool
	}{
		{"127.0.0.1:7433", false},
		{"[::1]:7433", false},
		{"0.0.0.0:7433", true},
		{"[::]:7433", true},
		{"192.0.2.10:7433", true},
	} {
		addr, err := net.ResolveTCPAddr("tcp", tc.addr)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		warnIfExposed(slog.New(slog.NewTextHandler(&buf, nil)), addr)
		out := buf.String()
		if !tc.warn {
			if out != "" {
				t.Errorf("%s: warned although loopback:\n%s", tc.addr, out)
			}
			continue
		}
		for _, want := range []string{"level=WARN", "/status", "organisation names", "tenant ids", "/metrics", "reverse proxy with authentication"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: the warning does not say %q:\n%s", tc.addr, want, out)
			}
		}
	}
}
