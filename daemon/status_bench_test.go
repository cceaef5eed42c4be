package daemon_test

import (
	"context"
	"testing"

	"github.com/softbooq/xerosync/daemon"
	"github.com/softbooq/xerosync/internal/pgtest"
)

// BenchmarkReadStatus reads the status over an outbox of 1,000,000 rows, almost all done:
// polled (what /healthz and /metrics read: unfinished rows only) and full (what `status`
// and /status read: the history too).
//
//	go test ./daemon -run '^$' -bench BenchmarkReadStatus
func BenchmarkReadStatus(b *testing.B) {
	db := pgtest.New(b)
	ctx := context.Background()
	db.Exec(b, `INSERT INTO xerosync.outbox (tenant_id, entity, entity_id, action, payload, state)
		SELECT '00000000-0000-0000-0000-000000000001', 'invoice', gen_random_uuid(), 'issue', '{}',
		       CASE WHEN g % 1000 = 0 THEN 'pending' WHEN g % 997 = 0 THEN 'failed' ELSE 'done' END
		  FROM generate_series(1, 1000000) g`)
	db.Exec(b, `VACUUM ANALYZE xerosync.outbox`)
	for _, bb := range []struct {
		name    string
		history bool
	}{{"polled", false}, {"full", true}} {
		b.Run(bb.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := daemon.ReadStatus(ctx, db.Pool, "xerosync", "", bb.history); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
