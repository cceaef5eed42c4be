package outbox

import (
	"bytes"
	"cmp"
	"context"
	_ "embed"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// copyWriter builds the data of a `COPY ... FROM STDIN (FORMAT binary)` by hand. Capture
// writes every outbox row through it: pgx's generic CopyFrom encodes each value through its
// type map, building and discarding an error for some of ours on the way, which cost more
// than all of our decoding put together (scripts/bench's profile). Our rows have fixed
// columns of five simple types, so their wire form is a few appends.
//
// Format (PostgreSQL documentation, "COPY", binary format): a signature, flags and header
// extension length; per tuple a 16-bit field count and per field a 32-bit length (-1 for
// NULL) and the type's binary send form; a 16-bit -1 at the end.
type copyWriter struct {
	b   []byte
	err error // the first value that could not be written
}

var copySignature = []byte("PGCOPY\n\xff\r\n\x00")

// newCopyWriter starts the data of rows tuples of about rowSize bytes each.
func newCopyWriter(rows, rowSize int) *copyWriter {
	w := &copyWriter{b: make([]byte, 0, len(copySignature)+8+rows*rowSize+2)}
	w.b = append(w.b, copySignature...)
	w.b = binary.BigEndian.AppendUint32(w.b, 0) // flags: no OIDs
	w.b = binary.BigEndian.AppendUint32(w.b, 0) // no header extension
	return w
}

func (w *copyWriter) tuple(fields int) { w.b = binary.BigEndian.AppendUint16(w.b, uint16(fields)) }

// finish ends the data, or returns the first value that could not be written.
func (w *copyWriter) finish() ([]byte, error) {
	w.b = binary.BigEndian.AppendUint16(w.b, 0xffff)
	return w.b, w.err
}

func (w *copyWriter) null() { w.b = binary.BigEndian.AppendUint32(w.b, 0xffffffff) }

// text writes a text (or json: its binary form is its text) value.
func (w *copyWriter) text(s string) {
	w.b = binary.BigEndian.AppendUint32(w.b, uint32(len(s)))
	w.b = append(w.b, s...)
}

// bytes writes a bytea or json value; nil is NULL.
func (w *copyWriter) bytes(v []byte) {
	if v == nil {
		w.null()
		return
	}
	w.b = binary.BigEndian.AppendUint32(w.b, uint32(len(v)))
	w.b = append(w.b, v...)
}

// optText writes a text value, "" as NULL.
func (w *copyWriter) optText(s string) {
	if s == "" {
		w.null()
		return
	}
	w.text(s)
}

// int8 writes a bigint, or a pg_lsn, whose binary form is the same 64-bit integer.
func (w *copyWriter) int8(v uint64) {
	w.b = binary.BigEndian.AppendUint32(w.b, 8)
	w.b = binary.BigEndian.AppendUint64(w.b, v)
}

func (w *copyWriter) int4(v int32) {
	w.b = binary.BigEndian.AppendUint32(w.b, 4)
	w.b = binary.BigEndian.AppendUint32(w.b, uint32(v))
}

// uuid writes a uuid given in PostgreSQL's text form; "" is NULL. A value that is not a
// uuid leaves the first such error in w.err.
func (w *copyWriter) uuid(s string) {
	if s == "" {
		w.null()
		return
	}
	u, err := parseUUID(s)
	if err != nil {
		w.err = cmp.Or(w.err, err)
		return
	}
	w.b = binary.BigEndian.AppendUint32(w.b, 16)
	w.b = append(w.b, u[:]...)
}

// parseUUID reads the canonical text form that PostgreSQL's uuid_out writes (and so
// pgoutput sends): 32 hex digits in groups of 8-4-4-4-12, any case. google/uuid's Parse
// allocates nothing on success, unlike pgtype.UUID.Scan (twice a value: three values a row,
// on capture's hot path); the length check refuses the other forms it reads.
func parseUUID(s string) ([16]byte, error) {
	if len(s) != 36 {
		return [16]byte{}, fmt.Errorf("uuid %q: not in the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", s)
	}
	u, err := uuid.Parse(s)
	if err != nil {
		return [16]byte{}, fmt.Errorf("uuid %q: %w", s, err)
	}
	return u, nil
}

//go:embed sql/notify.sql
var notifySQL string

// sourceWAL marks the rows capture queues (xerosync.outbox.source).
const sourceWAL = "wal"

// outboxColumns are what writeRows COPYs into the outbox, in copyWriter's binary form, in
// this order.
var (
	outboxColumns = []string{"tenant_id", "entity", "entity_id", "action", "depends_entity",
		"depends_entity_id", "payload", "payload_hash", "commit_lsn", "commit_idx", "source"}

	outboxCopySQL = "COPY xerosync.outbox (" + strings.Join(outboxColumns, ", ") + ") FROM STDIN (FORMAT binary)"
)

// writeRows is the one way rows enter the outbox, capture's and backfill's alike: it COPYs
// them inside tx (identity ids follow their order) and wakes the dispatcher of their
// tenants when tx commits (NOTIFY is transactional). A row without a WAL position
// (backfill's) gets NULL commit_lsn and commit_idx.
func writeRows(ctx context.Context, tx pgx.Tx, rows []row) error {
	if len(rows) == 0 {
		return nil
	}
	data, tenants, err := encodeRows(rows)
	if err != nil {
		return fmt.Errorf("outbox rows: %w", err)
	}
	// COPY: the bulk path, several times cheaper per row than INSERT for PostgreSQL.
	if _, err := tx.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(data), outboxCopySQL); err != nil {
		return fmt.Errorf("insert outbox rows: %w", err)
	}
	if _, err := tx.Exec(ctx, notifySQL, tenants); err != nil {
		return fmt.Errorf("notify the dispatcher: %w", err)
	}
	return nil
}

// encodeRows is the COPY data of rows, and the tenants they are of.
func encodeRows(rows []row) ([]byte, []string, error) {
	woken := set{}
	w := newCopyWriter(len(rows), 512)
	for i := range rows {
		r := &rows[i]
		w.tuple(len(outboxColumns))
		w.uuid(r.tenant)
		w.text(r.entity)
		w.uuid(r.id)
		w.text(r.action)
		w.optText(r.dependsEntity)
		w.uuid(r.dependsID)
		w.bytes(r.body)
		w.bytes(r.hash)
		if r.lsn == 0 {
			w.null()
			w.null()
		} else {
			w.int8(uint64(r.lsn))
			w.int4(int32(r.idx))
		}
		w.text(cmp.Or(r.source, sourceWAL))
		woken.add(r.tenant)
	}
	data, err := w.finish()
	return data, woken.list(), err
}
