// Package oauthcallback receives the browser's redirect at the end of an OAuth
// authorisation-code flow on a temporary loopback listener: `xerosync connect` opens it,
// prints the authorisation URL, and waits here for the code. It imports nothing of
// xerosync; the command prints and decides what the errors mean to the operator.
//
// What it guarantees:
//
//   - The listener is open before Config.Ready is called (the command prints the URL then),
//     so a fast browser cannot arrive to a closed port, and it is closed before Wait returns.
//   - Only a redirect that carries the run's state counts (compared in constant time); any
//     other (an old URL, a forgery) is answered 400 and ignored, and the wait goes on.
//   - The first redirect with the state is the one: its code is exchanged while the browser
//     waits, so that the page tells the real outcome (a replayed or expired code fails
//     there too); a second one (a reload, a double click) does not exchange again.
//   - What reached the listener is shown quoted (strconv.Quote) in errors and HTML-escaped
//     in the page: escape sequences in it are shown, never run by a terminal.
package oauthcallback

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// ErrNotLoopback: the redirect URL cannot be served by a plain-HTTP listener here.
var ErrNotLoopback = errors.New("not a plain http:// URL with a host")

// ParseRedirect checks that rawURL (the app's registered redirect URL) can be served by
// Wait: a plain http:// URL with a host.
func ParseRedirect(rawURL string) (*url.URL, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "http" || u.Hostname() == "" {
		return nil, fmt.Errorf("redirect URL %q: %w", rawURL, ErrNotLoopback)
	}
	return u, nil
}

// ErrTimeout: no redirect with the state arrived within Config.Timeout.
var ErrTimeout = errors.New("no authorisation arrived in time")

// ErrInterrupted: ctx ended before a redirect with the state arrived; the error wraps
// ctx's too.
var ErrInterrupted = errors.New("interrupted before the authorisation arrived")

// ListenError: the listener could not be opened (another run, or the port in use).
type ListenError struct {
	Addr string
	Err  error
}

func (e *ListenError) Error() string { return fmt.Sprintf("listen on %s: %v", e.Addr, e.Err) }

// Unwrap returns the listen error.
func (e *ListenError) Unwrap() error { return e.Err }

// DeniedError: the authorisation server redirected with an error instead of a code (the
// user refused, or the request was wrong).
type DeniedError struct {
	Code        string // error
	Description string // error_description, may be empty
}

// Error quotes what came from the browser, so that escape sequences in it are shown, not
// run by the operator's terminal.
func (e *DeniedError) Error() string {
	msg := strconv.Quote(e.Code)
	if e.Description != "" {
		msg += ": " + strconv.Quote(e.Description)
	}
	return "Xero did not authorise the app (" + msg + ")"
}

// Config is one wait's settings.
type Config struct {
	Redirect *url.URL // from ParseRedirect
	State    string   // the state the authorisation URL carries
	Timeout  time.Duration
	// Exchange trades the code for a token set; its error is returned as is, and shown on
	// the page.
	Exchange func(ctx context.Context, code string) (*oauth2.Token, error)
	// Ready, if set, is called once the listener is open, before the wait.
	Ready func()
	// Foreign, if set, is called for each redirect whose state is not ours.
	Foreign func()
	// Denied, if set, turns a denial into the error Wait returns and the page shows (the
	// command's wording); nil returns the *DeniedError itself.
	Denied func(*DeniedError) error
}

// result is what became of the redirect: the token set its code was exchanged for, or the
// error the command reports.
type result struct {
	tok *oauth2.Token
	err error
}

// Wait listens on the redirect URL's host and port and exchanges the code of the first
// redirect that carries cfg.State before answering the browser, whose page then says what
// the command will say. It returns the token set, or the exchange's error, a denial,
// ErrTimeout, ErrInterrupted or a *ListenError.
func Wait(ctx context.Context, cfg Config) (*oauth2.Token, error) {
	redirect := cfg.Redirect
	addr := redirect.Host
	if redirect.Port() == "" {
		addr = net.JoinHostPort(redirect.Hostname(), "80")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, &ListenError{Addr: addr, Err: err}
	}
	path := redirect.Path
	if path == "" {
		path = "/"
	}
	results := make(chan result, 1)
	// The first redirect with our state is the one: a second (a reload, a double click) must
	// not exchange again, or its invalid_grant would contradict the first one's page.
	var once sync.Once
	started := make(chan struct{}) // closed when that redirect is being handled
	take := func() (first bool) {
		once.Do(func() { first = true; close(started) })
		return first
	}

	mux := http.NewServeMux()
	mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		// A redirect with another state is not ours (an old URL, or a forgery): ignore it and
		// keep waiting for the real one.
		if got := q.Get("state"); subtle.ConstantTimeCompare([]byte(got), []byte(cfg.State)) != 1 {
			if cfg.Foreign != nil {
				cfg.Foreign()
			}
			page(w, http.StatusBadRequest, "This link does not belong to the running xerosync connect. Use the URL it printed last.")
			return
		}
		e, code := q.Get("error"), q.Get("code")
		if e == "" && code == "" {
			page(w, http.StatusBadRequest, "The redirect carries no authorisation code.")
			return
		}
		if !take() {
			page(w, http.StatusConflict, "xerosync connect has already received an authorisation. See the terminal.")
			return
		}
		if e != "" {
			var err error = &DeniedError{Code: e, Description: q.Get("error_description")}
			if cfg.Denied != nil {
				err = cfg.Denied(err.(*DeniedError))
			}
			results <- result{err: err}
			page(w, http.StatusOK, err.Error()+". See the terminal.")
			return
		}
		tok, err := cfg.Exchange(ctx, code)
		results <- result{tok: tok, err: err}
		if err != nil {
			page(w, http.StatusOK, "xerosync could not complete the authorisation: "+err.Error())
			return
		}
		page(w, http.StatusOK, "xerosync received the authorisation from Xero and obtained its tokens. "+
			"Return to the terminal, which links the organisation; you can close this window.")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ln) // ErrServerClosed after Shutdown
	}()
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			_ = srv.Close()
		}
		<-served
	}()

	if cfg.Ready != nil {
		cfg.Ready()
	}
	timer := time.NewTimer(cfg.Timeout)
	defer timer.Stop()
	select {
	case <-started:
		// A redirect is being handled: its outcome, not the timer, decides (the exchange
		// has its own timeout).
	case <-timer.C:
		return nil, ErrTimeout
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", ErrInterrupted, ctx.Err())
	}
	r := <-results
	return r.tok, r.err
}

func page(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!doctype html><title>xerosync</title><p>%s</p>\n", html.EscapeString(msg))
}
