package xerosim

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// idemStore implements Xero's Idempotency-Key (XERO.md §3):
//   - a key is kept for IdempotencyTTL (6 minutes) from the first call, then
//     forgotten, so the same key afterwards is a new request;
//   - the same key with the same method, URL and body replays the stored
//     response without running the request again, and a duplicate that
//     arrives while the first is still running waits for it;
//   - the same key with a different request is a 400;
//   - whatever the first call produced is stored, including a 500: Xero
//     caches internal errors and replays them;
//   - keys are scoped per app (client id).
type idemStore struct {
	ttl time.Duration

	mu      sync.Mutex
	entries map[[2]string]*idemEntry // (client, key)
	calls   int
}

type idemEntry struct {
	first time.Time
	fp    string
	done  chan struct{} // closed when res is set
	res   *response
}

func newIdemStore(ttl time.Duration) *idemStore {
	return &idemStore{ttl: ttl, entries: map[[2]string]*idemEntry{}}
}

// do runs exec once per live key, or replays. replayed reports a replay. An
// error means ctx ended while waiting for a concurrent first call.
func (st *idemStore) do(ctx context.Context, clientID, key, fp string, now time.Time, exec func() *response) (res *response, replayed bool, err error) {
	st.mu.Lock()
	st.sweep(now)
	k := [2]string{clientID, key}
	e := st.entries[k]
	if e != nil && now.Sub(e.first) >= st.ttl {
		delete(st.entries, k)
		e = nil
	}
	if e == nil {
		e = &idemEntry{first: now, fp: fp, done: make(chan struct{})}
		st.entries[k] = e
		st.mu.Unlock()
		defer close(e.done) // even if exec panics, waiters are released
		e.res = exec()
		return e.res, false, nil
	}
	st.mu.Unlock()
	if e.fp != fp {
		// Wording quoted from Xero's idempotency page (XERO.md §3). The body
		// shape around it is not documented; the standard Error shape is
		// used so a client's 400 parser reads the message.
		return apiException(10, "ValidationException",
			fmt.Sprintf("Idempotency Key: %s is used with a different request.", key), nil), false, nil
	}
	select {
	case <-e.done:
	case <-ctx.Done():
		return nil, false, fmt.Errorf("wait for idempotent request: %w", ctx.Err())
	}
	if e.res == nil {
		// The first call panicked; Xero would have answered 500 and cached it.
		return internalError(), true, nil
	}
	return e.res, true, nil
}

// sweep drops expired keys every so often so the store stays bounded in a
// long demo. The caller holds st.mu.
func (st *idemStore) sweep(now time.Time) {
	st.calls++
	if st.calls%256 != 0 {
		return
	}
	for k, e := range st.entries {
		select {
		case <-e.done:
			if now.Sub(e.first) >= st.ttl {
				delete(st.entries, k)
			}
		default: // still running; keep
		}
	}
}
