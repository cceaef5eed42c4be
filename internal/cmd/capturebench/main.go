// Command capturebench measures capture: how fast a backlog of source changes becomes
// committed outbox rows, side by side in one run with pg_recvlogical streaming the same
// changes from a second slot, and the capturing process's peak RSS on one 200,000-row
// transaction. It starts its own throwaway PostgreSQL. Run it through scripts/bench.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/oauth2"

	"github.com/softbooq/xerosync/cdc"
	"github.com/softbooq/xerosync/internal/pgtest"
	"github.com/softbooq/xerosync/internal/tenant"
	"github.com/softbooq/xerosync/outbox"
	"github.com/softbooq/xerosync/xero"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "child" {
		os.Exit(child(os.Args[2], os.Args[3], os.Args[4]))
	}
	changes := flag.Int("changes", 100_000, "backlog size in source changes")
	perTxn := flag.Int("per-txn", 5, "changes per source transaction in the backlog")
	big := flag.Int("big", 200_000, "rows in the single large transaction")
	flag.Parse()
	if err := run(*changes, *perTxn, *big); err != nil {
		fmt.Fprintln(os.Stderr, "capturebench:", err)
		os.Exit(1)
	}
}

// connectTenant opens the tenant's capture window at the WAL position of now and marks it
// connected, through the package that owns xerosync.connections.
func connectTenant(ctx context.Context, conn *pgx.Conn, tenantID string) error {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	store, err := tenant.NewTokenStore(tenant.TokenStoreConfig{DB: conn, Key: key, KeyName: "capturebench's throwaway key"})
	if err != nil {
		return err
	}
	if err := tenant.OpenWindow(ctx, conn, tenantID); err != nil {
		return err
	}
	org := xero.Connection{ID: "00000000-0000-4000-8000-000000000001", TenantID: "00000000-0000-4000-8000-000000000002", TenantName: "bench"}
	return store.Save(ctx, tenantID, org, &oauth2.Token{AccessToken: "bench", RefreshToken: "bench", ExpiresIn: 1800})
}

func run(changes, perTxn, big int) error {
	ctx := context.Background()
	cl, err := pgtest.StartLocal(ctx, pgtest.LocalConfig{})
	if err != nil {
		return err
	}
	defer cl.Close()
	url, err := cl.CreateDatabase(ctx, "bench")
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var tenant string
	if err := conn.QueryRow(ctx, "INSERT INTO core.tenants (name) VALUES ('bench') RETURNING id::text").Scan(&tenant); err != nil {
		return err
	}
	// Connected as `xerosync connect` leaves a tenant (internal/tenant writes
	// xerosync.connections), with a made-up token set: capture never calls Xero.
	if err := connectTenant(ctx, conn, tenant); err != nil {
		return err
	}
	// Our slot and publication exactly as the daemon makes them, and a second slot for
	// pg_recvlogical, both before the backlog is written.
	if err := cdc.EnsurePublication(ctx, conn, "xerosync"); err != nil {
		return err
	}
	if _, err := cdc.EnsureSlot(ctx, conn, "xerosync"); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "SELECT pg_create_logical_replication_slot('recv', 'pgoutput')"); err != nil {
		return err
	}

	// The backlog: many small transactions, as the Finance UI writes them.
	if _, err := conn.Exec(ctx, `CREATE PROCEDURE bench_backlog(t uuid, n int, per int) LANGUAGE plpgsql AS $$
		BEGIN
			FOR i IN 1..n LOOP
				INSERT INTO crm.customers (tenant_id, name, email) VALUES (t, 'customer ' || i, 'c' || i || '@example.com');
				IF i % per = 0 THEN COMMIT; END IF;
			END LOOP;
		END $$`); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "writing a backlog of %d changes in transactions of %d…\n", changes, perTxn)
	if _, err := conn.Exec(ctx, "CALL bench_backlog($1, $2, $3)", tenant, changes, perTxn); err != nil {
		return err
	}
	var end string
	if err := conn.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&end); err != nil {
		return err
	}

	// pg_recvlogical: decode and write to /dev/null, until the end of the backlog.
	recv := filepath.Join(cl.BinDir(), "pg_recvlogical")
	if _, err := os.Stat(recv); err != nil {
		if recv, err = exec.LookPath("pg_recvlogical"); err != nil {
			return fmt.Errorf("pg_recvlogical not found: %w", err)
		}
	}
	start := time.Now()
	out, err := exec.Command(recv, "-d", url, "--slot", "recv", "--start", "--no-loop", "-o", "proto_version=1",
		"-o", "publication_names=xerosync", "-f", "/dev/null", "--endpos", end).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_recvlogical: %w\n%s", err, out)
	}
	recvTime := time.Since(start)

	backlogTime, backlogRSS, backlogAllocs, err := runChild(url, "xerosync", end)
	if err != nil {
		return err
	}
	var rows int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM xerosync.outbox").Scan(&rows); err != nil {
		return err
	}
	if rows != changes && os.Getenv("CAPTUREBENCH_NOSINK") == "" {
		return fmt.Errorf("outbox has %d rows after the backlog, want %d", rows, changes)
	}

	// One transaction of `big` rows.
	fmt.Fprintf(os.Stderr, "writing one transaction of %d rows…\n", big)
	if _, err := conn.Exec(ctx, `INSERT INTO crm.customers (tenant_id, name, email, notes)
		SELECT $1, 'big ' || g, 'b' || g || '@example.com', repeat('n', 200) FROM generate_series(1, $2) g`, tenant, big); err != nil {
		return err
	}
	if err := conn.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&end); err != nil {
		return err
	}
	bigTime, bigRSS, _, err := runChild(url, "xerosync", end)
	if err != nil {
		return err
	}
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM xerosync.outbox").Scan(&rows); err != nil {
		return err
	}
	if rows != changes+big && os.Getenv("CAPTUREBENCH_NOSINK") == "" {
		return fmt.Errorf("outbox has %d rows after the big transaction, want %d", rows, changes+big)
	}

	ours := float64(changes) / backlogTime.Seconds()
	theirs := float64(changes) / recvTime.Seconds()
	fmt.Printf("| measure | value |\n|---|---|\n")
	fmt.Printf("| backlog | %d changes in transactions of %d |\n", changes, perTxn)
	fmt.Printf("| pg_recvlogical (decode to /dev/null) | %.0f changes/s (%.2fs) |\n", theirs, recvTime.Seconds())
	fmt.Printf("| xerosync capture (committed outbox rows) | %.0f changes/s (%.2fs) |\n", ours, backlogTime.Seconds())
	fmt.Printf("| ratio xerosync / pg_recvlogical | %.2f (target ≥ 0.50) |\n", ours/theirs)
	fmt.Printf("| peak RSS, backlog | %.1f MiB |\n", float64(backlogRSS)/1024)
	fmt.Printf("| heap allocations per captured change, backlog | %.1f |\n", float64(backlogAllocs)/float64(changes))
	fmt.Printf("| one transaction of %d rows | %.2fs, %.0f rows/s |\n", big, bigTime.Seconds(), float64(big)/bigTime.Seconds())
	fmt.Printf("| peak RSS, that transaction | %.1f MiB (target < 100 MiB) |\n", float64(bigRSS)/1024)
	return nil
}

// runChild runs capture in a fresh process until the stored position reaches end, and
// returns the time it took, the process's peak RSS in KiB and the heap allocations capture
// made.
func runChild(url, slot, end string) (time.Duration, int, uint64, error) {
	start := time.Now()
	cmd := exec.Command(os.Args[0], "child", url, slot, end)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, 0, 0, fmt.Errorf("capture child: %w", err)
	}
	elapsed := time.Since(start)
	var rss int
	var allocs uint64
	if _, err := fmt.Sscanf(strings.TrimSpace(string(out)), "%d %d", &rss, &allocs); err != nil {
		return 0, 0, 0, fmt.Errorf("capture child printed %q", out)
	}
	return elapsed, rss, allocs, nil
}

// child captures until the checkpoint reaches end, then prints its peak RSS (KiB) and the
// number of heap allocations made while capturing.
func child(url, slot, endText string) int {
	if f := os.Getenv("CAPTUREBENCH_CPUPROFILE"); f != "" {
		// One file per child: the backlog's and the large transaction's.
		pf, err := os.Create(fmt.Sprintf("%s.%d", f, os.Getpid()))
		if err == nil {
			_ = pprof.StartCPUProfile(pf)
			defer pprof.StopCPUProfile()
		}
	}
	end, err := pglogrepl.ParseLSN(endText)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer pool.Close()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	reached := make(chan struct{})
	var once bool
	var sink cdc.Sink = outbox.NewEnqueuer(outbox.EnqueuerConfig{Logger: log})
	if os.Getenv("CAPTUREBENCH_NOSINK") != "" {
		// Capture alone: what receiving, decoding and checkpointing cost without the outbox.
		sink = cdc.SinkFunc(func(context.Context, pgx.Tx, []cdc.Change) error { return nil })
	}
	c, err := cdc.New(cdc.Config{DB: pool, ConnString: url, Slot: slot, Logger: log,
		Sink: sink, Columns: outbox.SourceColumns(),
		OnCommit: func(lsn pglogrepl.LSN) {
			if lsn >= end && !once {
				once = true
				close(reached)
			}
		}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	done := make(chan error, 1)
	go func() { done <- c.Run(rctx) }()
	select {
	case <-reached:
	case err := <-done:
		fmt.Fprintln(os.Stderr, "capture ended:", err)
		return 1
	case <-ctx.Done():
		fmt.Fprintln(os.Stderr, "timed out")
		return 1
	}
	stop()
	<-done
	if f := os.Getenv("CAPTUREBENCH_MEMPROFILE"); f != "" {
		if pf, err := os.Create(fmt.Sprintf("%s.%d", f, os.Getpid())); err == nil {
			_ = pprof.Lookup("allocs").WriteTo(pf, 0)
			pf.Close()
		}
	}
	runtime.ReadMemStats(&after)
	fmt.Println(peakRSS(), after.Mallocs-before.Mallocs)
	return 0
}

func peakRSS() int {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			var kb int
			fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
			return kb
		}
	}
	return 0
}
