package cdc

import (
	"context"
	_ "embed"
	"fmt"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
)

//go:embed sql/source_oids.sql
var sourceOIDsSQL string

// SchemaError means a source table changed in a way that makes its changes unreadable: a
// column the Sink reads (Config.Columns) was renamed or dropped, or the table itself was
// renamed. Capture stops at the first transaction it cannot read, before any of it reaches
// the Sink, so the stored position stays before it and nothing is lost or invented: a
// missing column is never read as "unchanged". Retrying cannot help (the WAL keeps the
// schema the transaction was written with), so capture keeps retrying slowly and reports it.
type SchemaError struct {
	Table     string        // schema.table, as the Sink knows it
	Column    string        // the missing column; empty when the table was renamed
	RenamedTo string        // the table's new name, when it was renamed
	Xid       uint32        // the transaction that cannot be read
	CommitLSN pglogrepl.LSN // and where it commits
}

func (e *SchemaError) Error() string {
	what := fmt.Sprintf("%s has no column %q, which xerosync reads (renamed or dropped)", e.Table, e.Column)
	if e.RenamedTo != "" {
		what = fmt.Sprintf("source table %s was renamed to %s", e.Table, e.RenamedTo)
	}
	return fmt.Sprintf("capture stopped at transaction %d (commit %s): %s; nothing from this transaction on is captured",
		e.Xid, e.CommitLSN, what)
}

// readSourceOIDs returns the source tables that exist, name by OID.
func readSourceOIDs(ctx context.Context, db DBTX) (map[uint32]string, error) {
	rows, err := db.Query(ctx, sourceOIDsSQL, SourceTables)
	if err != nil {
		return nil, fmt.Errorf("read source table OIDs: %w", err)
	}
	oids := map[uint32]string{}
	var name string
	var oid int64
	if _, err := pgx.ForEachRow(rows, []any{&name, &oid}, func() error {
		oids[uint32(oid)] = name
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read source table OIDs: %w", err)
	}
	return oids, nil
}
