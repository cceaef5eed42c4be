package outbox_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/softbooq/xerosync/cdc"
	"github.com/softbooq/xerosync/internal/pgtest"
	"github.com/softbooq/xerosync/outbox"
)

// TestKillChild is the capturing process of TestKillNineLosesAndRepeatsNothing: it runs only
// when started by that test, and captures until it is killed.
func TestKillChild(t *testing.T) {
	url := os.Getenv("XEROSYNC_TEST_KILL_URL")
	if url == "" {
		t.Skip("started by TestKillNineLosesAndRepeatsNothing only")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	c, err := cdc.New(cdc.Config{
		DB: pool, ConnString: url, Slot: os.Getenv("XEROSYNC_TEST_KILL_SLOT"), Logger: log,
		Sink: outbox.NewEnqueuer(outbox.EnqueuerConfig{Logger: log}), Columns: outbox.SourceColumns(),
		// Small chunks and groups: many commits, so kills land between and inside them.
		ChunkSize: 7, GroupMax: 40, GroupDelay: time.Millisecond,
		HeartbeatInterval: 100 * time.Millisecond, StatusInterval: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(ctx); err != nil {
		t.Fatal(err)
	}
}

// A capturing process killed with SIGKILL at many points of a stream loses nothing and
// queues nothing twice, and every customer's changes stay in commit order.
func TestKillNineLosesAndRepeatsNothing(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("kills a subprocess many times")
	}
	db := pgtest.New(t)
	s := &setup{t: t, db: db}
	tenant := s.newTenant("killed", "connected")
	ctx := context.Background()

	var mu sync.Mutex
	updates := map[string]int{} // customer id → name changes written (the insert is change 0)
	var order []string

	child := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "XEROSYNC_TEST_KILL_URL="+db.URL, "XEROSYNC_TEST_KILL_SLOT="+db.Name)
		cmd.Stdout, cmd.Stderr = tlog{t}, tlog{t}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	// The slot must exist before the first change we count: the first run creates it.
	first := child()
	waitFor(t, time.Minute, "slot created", func() bool {
		var n int
		_ = db.Pool.QueryRow(ctx, "SELECT count(*) FROM xerosync.checkpoint WHERE lsn IS NOT NULL").Scan(&n)
		return n == 1
	})
	_ = first.Process.Kill()
	_ = first.Wait()

	// The writer: single-row transactions, and now and then a transaction of many changes.
	stopWriter := make(chan struct{})
	writerDone := make(chan error, 1)
	go func() {
		rng := rand.New(rand.NewPCG(1, 2))
		for i := 0; ; i++ {
			select {
			case <-stopWriter:
				writerDone <- nil
				return
			default:
			}
			tx, err := db.Pool.Begin(ctx)
			if err != nil {
				writerDone <- err
				return
			}
			n := 1
			if i%10 == 9 {
				n = 30
			}
			type change struct {
				id string
				k  int
			}
			var done []change
			mu.Lock()
			for range n {
				if len(order) > 0 && rng.IntN(3) == 0 {
					id := order[rng.IntN(len(order))]
					k := updates[id] + len(filter(done, func(c change) bool { return c.id == id })) + 1
					if _, err := tx.Exec(ctx, "UPDATE crm.customers SET name = $2 WHERE id = $1", id, fmt.Sprintf("%s#%d", id[:8], k)); err != nil {
						mu.Unlock()
						writerDone <- err
						return
					}
					done = append(done, change{id, k})
				} else {
					id := newUUID(rng)
					if _, err := tx.Exec(ctx, "INSERT INTO crm.customers (id, tenant_id, name) VALUES ($1, $2, $3)", id, tenant, id[:8]+"#0"); err != nil {
						mu.Unlock()
						writerDone <- err
						return
					}
					done = append(done, change{id, 0})
				}
			}
			if err := tx.Commit(ctx); err != nil {
				mu.Unlock()
				writerDone <- err
				return
			}
			for _, c := range done {
				if c.k == 0 {
					order = append(order, c.id)
					updates[c.id] = 0
				} else {
					updates[c.id] = c.k
				}
			}
			mu.Unlock()
			// Chaos timing on purpose: changes arrive unevenly, so kills land between
			// and inside source transactions.
			time.Sleep(time.Duration(rng.IntN(3)) * time.Millisecond)
		}
	}()

	rng := rand.New(rand.NewPCG(3, 4))
	const kills = 25
	for k := range kills {
		cmd := child()
		// Kill at a random moment: during set-up, mid-stream, mid-chunk, mid-commit. Chaos
		// timing on purpose, not a wait for a state.
		time.Sleep(time.Duration(50+rng.IntN(600)) * time.Millisecond)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if k == kills/2 {
			t.Logf("after %d kills: %s outbox rows", k+1, s.one("SELECT count(*)::text FROM xerosync.outbox"))
		}
	}
	close(stopWriter)
	if err := <-writerDone; err != nil {
		t.Fatal(err)
	}

	// One last run to quiescence.
	cmd := child()
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	mu.Lock()
	want := 0
	for _, k := range updates {
		want += 1 + k
	}
	mu.Unlock()
	// Quiescent: the checkpoint has passed everything the writer committed.
	s.sync()

	// Exactly the changes written, each once, per customer in commit order.
	rows, err := db.Pool.Query(ctx, "SELECT entity_id::text, payload->>'name' FROM xerosync.outbox ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	total := 0
	for rows.Next() {
		var id, name string
		if err := rows.Scan(&id, &name); err != nil {
			t.Fatal(err)
		}
		got[id] = append(got[id], name)
		total++
	}
	if total != want {
		t.Errorf("outbox has %d rows, want %d", total, want)
	}
	for id, k := range updates {
		var exp []string
		for i := 0; i <= k; i++ {
			exp = append(exp, fmt.Sprintf("%s#%d", id[:8], i))
		}
		if strings.Join(got[id], ",") != strings.Join(exp, ",") {
			t.Errorf("customer %s: queued %v, want %v", id, got[id], exp)
		}
	}
	t.Logf("%d kills, %d customers, %d changes, all queued exactly once in order", kills, len(updates), want)
}

func filter[T any](xs []T, keep func(T) bool) []T {
	var out []T
	for _, x := range xs {
		if keep(x) {
			out = append(out, x)
		}
	}
	return out
}

func newUUID(rng *rand.Rand) string {
	a, b := rng.Uint64(), rng.Uint64()
	a = a&^(0xf<<12) | 0x4<<12 // version 4
	b = b&^(0x3<<62) | 0x2<<62 // RFC 4122 variant
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", a>>32, (a>>16)&0xffff, a&0xffff, b>>48, b&0xffffffffffff)
}
