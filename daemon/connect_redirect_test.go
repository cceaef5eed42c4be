package daemon_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/softbooq/xerosync/daemon"
)

// browserGet fetches u as a browser would (following redirects unless noFollow) and returns
// the response and its body.
func browserGet(ctx context.Context, t *testing.T, u string, noFollow bool) (*http.Response, string) {
	t.Helper()
	client := http.DefaultClient
	if noFollow {
		client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Errorf("browser: GET %s: %v", u, err)
		return nil, ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// callback is the redirect URL of this test's connect with query q, and the state of the
// authorisation URL connect printed.
func (x *xeroSetup) callback(t *testing.T, authURL string, q url.Values) string {
	t.Helper()
	u, err := url.Parse(authURL)
	if err != nil {
		t.Fatal(err)
	}
	q.Set("state", u.Query().Get("state"))
	return x.env["XEROSYNC_XERO_REDIRECT_URL"] + "?" + q.Encode()
}

// Whatever reaches the loopback listener is printed escaped: an error_description with
// terminal escape sequences is shown, never run by the operator's terminal.
func testConnectErrorDescriptionEscaped(t *testing.T) {
	t.Parallel()
	x := newXeroSetup(t, "Acme Ltd")
	const desc = "\x1b[2J\x1b]0;owned\x07denied"
	var page string
	r := x.connectWith(t, func(ctx context.Context, authURL string) {
		_, page = browserGet(ctx, t, x.callback(t, authURL, url.Values{"error": {"access_denied"}, "error_description": {desc}}), false)
	}, "--tenant", tenantA)
	if r.code != daemon.ExitFailure || !strings.Contains(r.stderr, `access_denied`) {
		t.Fatalf("connect refused by the callback: exit %d\n%s", r.code, r.stderr)
	}
	if strings.ContainsRune(r.stdout+r.stderr, 0x1b) {
		t.Errorf("connect printed a raw ESC byte:\n%q", r.stderr)
	}
	if !strings.Contains(r.stderr, `\x1b[2J\x1b]0;owned\adenied`) {
		t.Errorf("connect does not show the description escaped:\n%s", r.stderr)
	}
	if strings.ContainsRune(page, 0x1b) {
		t.Errorf("the page holds a raw ESC byte: %q", page)
	}
}

// A replayed authorisation code: the browser's page says what the command says (the
// exchange failed, invalid_grant), not that the authorisation was received.
func testConnectReplayedCode(t *testing.T) {
	t.Parallel()
	x := newXeroSetup(t, "Acme Ltd")
	// A first connect, whose browser keeps the code on its way through.
	var code, firstPage string
	r := x.connectWith(t, func(ctx context.Context, authURL string) {
		resp, _ := browserGet(ctx, t, authURL, true)
		if resp == nil {
			return
		}
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil {
			t.Errorf("Xero's redirect: %v", err)
			return
		}
		code = loc.Query().Get("code")
		_, firstPage = browserGet(ctx, t, loc.String(), false)
	}, "--tenant", tenantA)
	if r.code != 0 || code == "" {
		t.Fatalf("first connect: exit %d, code %q\n%s", r.code, code, r.stderr)
	}
	if !strings.Contains(firstPage, "obtained its tokens") {
		t.Errorf("the page of a successful exchange: %s", firstPage)
	}

	// The same code again, on a second connect's redirect (its own state).
	var page string
	var status int
	r = x.connectWith(t, func(ctx context.Context, authURL string) {
		resp, body := browserGet(ctx, t, x.callback(t, authURL, url.Values{"code": {code}}), false)
		if resp != nil {
			status, page = resp.StatusCode, html.UnescapeString(body)
		}
	}, "--tenant", tenantA)
	if r.code != daemon.ExitFailure || !strings.Contains(r.stderr, "invalid_grant") {
		t.Fatalf("connect with a replayed code: exit %d, want 1 with invalid_grant\n%s", r.code, r.stderr)
	}
	said, _, _ := strings.Cut(strings.TrimPrefix(r.stderr, "xerosync: "), "\n")
	if status != http.StatusOK || strings.Contains(page, "received the authorisation") || !strings.Contains(page, said) {
		t.Errorf("the page says %q (status %d); the command says %q", page, status, said)
	}
}
