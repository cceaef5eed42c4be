package outbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"testing"
	"time"

	"github.com/softbooq/xerosync/outbox"
	"github.com/softbooq/xerosync/xero/xerosim"
)

// BenchmarkTenantsMemory connects N tenants (each its own Xero organisation and token set),
// gives each one contact to push, lets the dispatcher converge, and reports the Go heap the
// dispatcher holds per tenant afterwards (its lanes, token sources and budgets: the cost of an
// idle tenant), with the peak while converging. The simulator and the test's own data are in
// the baseline, measured before the dispatcher starts.
//
//	go test ./outbox/ -run '^$' -bench BenchmarkTenantsMemory -benchtime 1x
func BenchmarkTenantsMemory(b *testing.B) {
	for _, n := range []int{100, 1000, 5000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for range b.N {
				tenantsMemoryOnce(b, n)
			}
		})
	}
}

func tenantsMemoryOnce(b *testing.B, n int) {
	ctx := context.Background()
	// The app limit (10,000 calls a minute across organisations) on a clock 10 times as fast.
	s := newDispatchSetup(b, dsetupConfig{sim: xerosim.Config{TimeScale: simScale}})
	tenants := []string{s.tenant}
	for i := 1; i < n; i++ {
		org := s.sim.MustAddOrg(xerosim.DefaultOrg(fmt.Sprintf("Org %05d", i)))
		t := s.scalar("INSERT INTO core.tenants (name) VALUES ($1) RETURNING id::text", fmt.Sprintf("t%05d", i))
		saveConnection(b, s.sim, s.store, t, org)
		tenants = append(tenants, t)
	}
	for i, t := range tenants {
		body, _ := json.Marshal(outbox.ContactPayload{CustomerID: s.uuid(), ContactFields: outbox.ContactFields{Name: fmt.Sprintf("Customer %05d", i)}})
		s.db.Exec(b, `INSERT INTO xerosync.outbox (tenant_id, entity, entity_id, action, payload, source)
			VALUES ($1, 'contact', gen_random_uuid(), 'upsert', $2, 'backfill')`, t, string(body))
	}
	before := heapInUse()
	var peak uint64
	var mu sync.Mutex
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			mu.Lock()
			peak = max(peak, m.HeapInuse)
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	b.ResetTimer()
	start := time.Now()
	s.start(func(c *outbox.DispatcherConfig) { c.PollInterval = time.Minute })
	waitFor(b, 10*time.Minute, "every tenant's contact pushed", func() bool {
		var open int
		_ = s.db.Pool.QueryRow(ctx, "SELECT count(*) FROM xerosync.outbox WHERE state <> 'done'").Scan(&open)
		return open == 0
	})
	wall := time.Since(start)
	b.StopTimer()
	close(stop)
	<-sampled
	after := heapInUse()
	if f := os.Getenv("XEROSYNC_BENCH_HEAPPROFILE"); f != "" { // where the idle tenants' memory is
		if w, err := os.Create(f); err == nil {
			_ = pprof.WriteHeapProfile(w)
			w.Close()
		}
	}
	perTenant := (float64(after) - float64(before)) / float64(n)
	b.ReportMetric(perTenant/1024, "KiB-mem/tenant")
	b.ReportMetric(float64(peak-min(peak, before))/(1<<20), "MiB-peak-over-baseline")
	b.ReportMetric(float64(s.sim.Stats().Requests)/float64(n), "calls/tenant")
	b.Logf("%d goroutines", runtime.NumGoroutine())
	b.Logf("%d tenants converged in %v: heap %.1f MiB before the dispatcher, %.1f MiB after (%.1f KiB a tenant), peak %.1f MiB; %d requests, %d 429s",
		n, wall.Round(time.Millisecond), float64(before)/(1<<20), float64(after)/(1<<20), perTenant/1024, float64(peak)/(1<<20),
		s.sim.Stats().Requests, s.sim.Stats().TooManyRequests)
	b.Logf("TABLE| %d connected tenants, one contact each, converged | %.1f KiB of Go heap and stacks a tenant held by the dispatcher afterwards; peak %.1f MiB over the baseline; %.2f calls a tenant; %d × 429 |",
		n, perTenant/1024, float64(peak-min(peak, before))/(1<<20), float64(s.sim.Stats().Requests)/float64(n), s.sim.Stats().TooManyRequests)
}

// heapInUse is the live heap and the goroutine stacks after a collection: what an idle
// tenant costs in memory the process keeps (RSS also counts the runtime's free pages).
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse
}
