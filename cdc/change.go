package cdc

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
)

// Op is the kind of a row change.
type Op uint8

// Row change kinds.
const (
	Insert Op = iota + 1
	Update
	Delete
)

func (o Op) String() string {
	switch o {
	case Insert:
		return "insert"
	case Update:
		return "update"
	case Delete:
		return "delete"
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// Kind says what pgoutput sent for a column.
type Kind uint8

// Column value kinds. Unchanged is an unchanged TOASTed value whose content was not sent: it
// means "as before", never NULL (LESSONS 6, outboxx#53), and only pgoutput's 'u' says so.
// Absent is a column the change does not carry at all: a delete carries only the key, and a
// column renamed or dropped is in no change. Absent is never "unchanged" (LESSONS, "what the
// WAL leaves out"): capture stops before a Sink sees a change lacking a column it declared
// in Config.Columns.
const (
	Absent Kind = iota
	Null
	Unchanged
	Text
)

// Value is one column of a row as pgoutput sent it, in PostgreSQL's text format.
type Value struct {
	Kind Kind
	Text string
}

// Column is a named value.
type Column struct {
	Name  string
	Value Value
}

// Change is one row change of a source transaction.
type Change struct {
	Schema, Table string
	Op            Op
	// Columns are the new row for inserts and updates, and the key columns (the replica
	// identity) for deletes, in table order.
	Columns []Column
	// Txn is the source transaction the change belongs to (shared by its changes).
	Txn *Txn
}

// Get returns the named column's value; a column the change does not carry is Absent.
func (c *Change) Get(name string) Value {
	for i := range c.Columns {
		if c.Columns[i].Name == name {
			return c.Columns[i].Value
		}
	}
	return Value{Kind: Absent}
}

// Txn describes the source transaction being applied.
type Txn struct {
	Xid        uint32
	CommitLSN  pglogrepl.LSN // start of the commit record: with Seq, the identity of what the sink writes
	EndLSN     pglogrepl.LSN // end of the commit record: the position stored and confirmed after it
	CommitTime time.Time
	// Seq is a counter the sink may use to number what it writes: it starts at zero for each
	// transaction and is kept across chunks.
	Seq int
}

// Sink receives the changes of committed source transactions, in commit order, in chunks,
// inside tx. A chunk may end in the middle of a source transaction and may hold several
// small ones; cdc commits tx together with the checkpoint once whole source transactions are
// in it (several are grouped into one database transaction when they arrive together). Apply
// must not commit or roll back tx, and must not keep changes after it returns (the slice is
// reused). If tx fails, everything since the last commit is re-sent, in a new tx.
type Sink interface {
	Apply(ctx context.Context, tx pgx.Tx, changes []Change) error
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(ctx context.Context, tx pgx.Tx, changes []Change) error

// Apply calls f.
func (f SinkFunc) Apply(ctx context.Context, tx pgx.Tx, changes []Change) error {
	return f(ctx, tx, changes)
}
