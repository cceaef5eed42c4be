package oauthcallback

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

func TestParseRedirect(t *testing.T) {
	t.Parallel()
	for raw, ok := range map[string]bool{
		"http://localhost:7434/callback": true,
		"http://127.0.0.1/cb":            true,
		"https://localhost:7434/cb":      false,
		"http:///callback":               false,
		"localhost:7434":                 false,
		"::not a url":                    false,
	} {
		_, err := ParseRedirect(raw)
		if (err == nil) != ok {
			t.Errorf("%q: err = %v", raw, err)
		}
		if err != nil && !errors.Is(err, ErrNotLoopback) {
			t.Errorf("%q: %v does not wrap ErrNotLoopback", raw, err)
		}
	}
}

// freeRedirect is a loopback redirect URL on a port free a moment ago.
func freeRedirect(t *testing.T) *url.URL {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	u, err := ParseRedirect("http://" + addr + "/callback")
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// get is the browser: it fetches u and returns the status and page.
func get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Errorf("browser: %v", err)
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// run waits with cfg while browse plays the browser once the listener is ready.
func run(t *testing.T, cfg Config, browse func(base string)) (*oauth2.Token, error) {
	t.Helper()
	done := make(chan struct{})
	cfg.Ready = func() {
		go func() {
			defer close(done)
			browse(cfg.Redirect.String())
		}()
	}
	tok, err := Wait(context.Background(), cfg)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("browser still running")
	}
	return tok, err
}

func TestWaitExchangesTheFirstRedirectWithOurState(t *testing.T) {
	t.Parallel()
	var exchanges, foreign atomic.Int32
	cfg := Config{
		Redirect: freeRedirect(t), State: "our-state", Timeout: 10 * time.Second,
		Exchange: func(_ context.Context, code string) (*oauth2.Token, error) {
			exchanges.Add(1)
			return &oauth2.Token{AccessToken: "at-" + code}, nil
		},
		Foreign: func() { foreign.Add(1) },
	}
	var pages []string
	tok, err := run(t, cfg, func(base string) {
		status, _ := get(t, base+"?state=old-state&code=x")
		if status != http.StatusBadRequest {
			t.Errorf("foreign state: %d", status)
		}
		status, page := get(t, base+"?state=our-state&code=c1")
		pages = append(pages, page)
		if status != http.StatusOK {
			t.Errorf("our redirect: %d", status)
		}
	})
	if err != nil || tok.AccessToken != "at-c1" {
		t.Fatalf("tok %v, err %v", tok, err)
	}
	if exchanges.Load() != 1 || foreign.Load() != 1 {
		t.Errorf("%d exchanges, %d foreign", exchanges.Load(), foreign.Load())
	}
	if len(pages) != 1 || !strings.Contains(pages[0], "obtained its tokens") {
		t.Errorf("page: %q", pages)
	}
	// The listener is closed once Wait returns.
	if _, err := http.Get(cfg.Redirect.String()); err == nil {
		t.Error("the listener is still open")
	}
}

func TestWaitDeniedIsQuotedAndEscaped(t *testing.T) {
	t.Parallel()
	cfg := Config{
		Redirect: freeRedirect(t), State: "s", Timeout: 10 * time.Second,
		Exchange: func(context.Context, string) (*oauth2.Token, error) { t.Error("exchanged a denial"); return nil, nil },
		Denied:   func(d *DeniedError) error { return fmt.Errorf("cmd: %w; nothing done", d) },
	}
	var page string
	_, err := run(t, cfg, func(base string) {
		_, page = get(t, base+"?"+url.Values{"state": {"s"}, "error": {"access_denied"}, "error_description": {"\x1b[2Jno<b>"}}.Encode())
	})
	var d *DeniedError
	if !errors.As(err, &d) || d.Code != "access_denied" {
		t.Fatalf("err = %v", err)
	}
	if want := `cmd: Xero did not authorise the app ("access_denied": "\x1b[2Jno<b>"); nothing done`; err.Error() != want {
		t.Errorf("err = %s\nwant  %s", err, want)
	}
	if strings.ContainsRune(page, 0x1b) || strings.Contains(page, "<b>") || !strings.Contains(page, "cmd: Xero did not authorise") {
		t.Errorf("page: %q", page)
	}
}

func TestWaitExchangeErrorIsTheResultAndThePage(t *testing.T) {
	t.Parallel()
	cfg := Config{
		Redirect: freeRedirect(t), State: "s", Timeout: 10 * time.Second,
		Exchange: func(context.Context, string) (*oauth2.Token, error) {
			return nil, errors.New("invalid_grant: code used")
		},
	}
	var page string
	_, err := run(t, cfg, func(base string) { _, page = get(t, base+"?state=s&code=c") })
	if err == nil || err.Error() != "invalid_grant: code used" {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(page, "could not complete the authorisation: invalid_grant: code used") {
		t.Errorf("page: %q", page)
	}
}

func TestWaitTimeoutAndInterrupt(t *testing.T) {
	t.Parallel()
	cfg := Config{Redirect: freeRedirect(t), State: "s", Timeout: 50 * time.Millisecond}
	if _, err := Wait(context.Background(), cfg); !errors.Is(err, ErrTimeout) {
		t.Errorf("timeout: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cfg.Timeout = time.Minute
	cfg.Ready = cancel
	if _, err := Wait(ctx, cfg); !errors.Is(err, ErrInterrupted) || !errors.Is(err, context.Canceled) {
		t.Errorf("interrupt: %v", err)
	}
}

func TestWaitPortInUse(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	u, _ := ParseRedirect("http://" + ln.Addr().String() + "/callback")
	var le *ListenError
	if _, err := Wait(context.Background(), Config{Redirect: u, State: "s", Timeout: time.Second}); !errors.As(err, &le) || le.Addr != ln.Addr().String() {
		t.Errorf("err = %v", err)
	}
}
