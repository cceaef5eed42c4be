package xerosim

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"
)

// FaultKind is a failure the simulator can inject.
type FaultKind int

const (
	FaultNone FaultKind = iota
	// Fault5xx answers 500 instead of doing the work. Under an
	// Idempotency-Key the 500 is cached and replayed, as Xero does.
	Fault5xx
	// FaultOffline answers 503 "The Organisation is Offline" in plain text
	// (XERO.md §8). It is not cached under an idempotency key: whether Xero
	// caches it is an open question (XERO.md §11 q5), and not caching is the
	// kinder reading for clients.
	FaultOffline
	// FaultLatency delays the call by Faults.Latency (real time) while it
	// holds its concurrency slot, then runs it normally.
	FaultLatency
	// FaultLostResponse applies the request fully (and stores it under its
	// idempotency key), then drops the connection, so the client sees a
	// transport error for a change that happened.
	FaultLostResponse
	// Fault429 uses up the tenant's minute window: this call and the rest of
	// the window get 429 "minute" with Retry-After.
	Fault429
)

func (k FaultKind) String() string {
	switch k {
	case FaultNone:
		return "none"
	case Fault5xx:
		return "5xx"
	case FaultOffline:
		return "offline503"
	case FaultLatency:
		return "latency"
	case FaultLostResponse:
		return "lost_response"
	case Fault429:
		return "429_burst"
	}
	return "unknown"
}

// MarshalText makes FaultKind readable as a JSON map key and value.
func (k FaultKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText reads what MarshalText writes, so a client of
// GET /_sim/state can decode SimState.
func (k *FaultKind) UnmarshalText(b []byte) error {
	for c := FaultNone; c <= Fault429; c++ {
		if c.String() == string(b) {
			*k = c
			return nil
		}
	}
	return fmt.Errorf("unknown fault kind %q", b)
}

// Faults are the probabilities (0..1) of random faults on Accounting API
// calls. At most one fault fires per call; latency is drawn independently
// and applies to calls that drew no other fault.
type Faults struct {
	Rate5xx          float64
	RateOffline503   float64
	RateLatency      float64
	Latency          time.Duration // default 2s when RateLatency or a scripted latency fault is used
	RateLostResponse float64
	Rate429Burst     float64
}

// Matcher selects the requests a scripted fault applies to.
type Matcher func(*http.Request) bool

// AnyRequest matches every request.
func AnyRequest(*http.Request) bool { return true }

// Endpoint matches a method (empty for any) and a path, compared without
// regard to case as Xero does. A path ending in "*" matches by prefix, so
// Endpoint("PUT", "/api.xro/2.0/Invoices") matches PUT /Invoices only and
// Endpoint("", "/api.xro/2.0/*") matches every Accounting call.
func Endpoint(method, path string) Matcher {
	return func(r *http.Request) bool {
		if method != "" && !strings.EqualFold(r.Method, method) {
			return false
		}
		p := strings.ToLower(r.URL.Path)
		want := strings.ToLower(path)
		if prefix, ok := strings.CutSuffix(want, "*"); ok {
			return strings.HasPrefix(p, prefix)
		}
		return strings.TrimSuffix(p, "/") == strings.TrimSuffix(want, "/")
	}
}

type scriptedFault struct {
	match Matcher
	kind  FaultKind
}

type faultInjector struct {
	mu       sync.Mutex
	rng      *rand.Rand
	cfg      Faults
	scripted []scriptedFault
	injected map[FaultKind]int
}

func newFaultInjector(rng *rand.Rand, cfg Faults) *faultInjector {
	return &faultInjector{rng: rng, cfg: cfg, injected: map[FaultKind]int{}}
}

// SetFaults replaces the random fault rates.
func (s *Sim) SetFaults(f Faults) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.cfg = f
}

// FailNext queues a one-shot fault: the next request that m matches gets
// kind. Queued faults fire in the order they were queued, each once, before
// any random fault is considered, which makes a test deterministic.
func (s *Sim) FailNext(m Matcher, kind FaultKind) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.scripted = append(s.faults.scripted, scriptedFault{match: m, kind: kind})
}

// ClearFaults drops queued one-shot faults and turns random faults off.
func (s *Sim) ClearFaults() {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.scripted = nil
	s.faults.cfg = Faults{}
}

// pick chooses the fault for one request: a matching scripted fault first,
// then, for Accounting calls, a random one.
func (f *faultInjector) pick(r *http.Request, random bool) FaultKind {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, sf := range f.scripted {
		if sf.match(r) {
			f.scripted = append(f.scripted[:i], f.scripted[i+1:]...)
			f.injected[sf.kind]++
			return sf.kind
		}
	}
	if !random {
		return FaultNone
	}
	// Draw both numbers every time so the sequence of decisions depends only
	// on the seed and the number of calls, not on which faults are enabled.
	lat, u := f.rng.Float64(), f.rng.Float64()
	kind := FaultNone
	c := f.cfg
	switch {
	case u < c.Rate5xx:
		kind = Fault5xx
	case u < c.Rate5xx+c.RateOffline503:
		kind = FaultOffline
	case u < c.Rate5xx+c.RateOffline503+c.RateLostResponse:
		kind = FaultLostResponse
	case u < c.Rate5xx+c.RateOffline503+c.RateLostResponse+c.Rate429Burst:
		kind = Fault429
	case lat < c.RateLatency:
		kind = FaultLatency
	}
	if kind != FaultNone {
		f.injected[kind]++
	}
	return kind
}

func (f *faultInjector) latency() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cfg.Latency > 0 {
		return f.cfg.Latency
	}
	return 2 * time.Second
}

func (f *faultInjector) snapshot() map[FaultKind]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.injected)
}
