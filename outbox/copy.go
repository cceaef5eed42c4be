package outbox

import (
	"encoding/binary"
	"fmt"
)

// copyWriter builds the data of a `COPY ... FROM STDIN (FORMAT binary)` by hand. Capture
// writes every outbox row through it: pgx's generic CopyFrom asks the server for the
// column types on every call and encodes each value through its type map, which cost more
// than all of our decoding put together (scripts/bench's profile). Our rows have fixed
// columns of five simple types, so their wire form is a few appends.
//
// Format (PostgreSQL documentation, "COPY", binary format): a signature, flags and header
// extension length; per tuple a 16-bit field count and per field a 32-bit length (-1 for
// NULL) and the type's binary send form; a 16-bit -1 at the end.
type copyWriter struct {
	b []byte
}

var copySignature = []byte("PGCOPY\n\xff\r\n\x00")

func (w *copyWriter) reset() {
	w.b = append(w.b[:0], copySignature...)
	w.b = binary.BigEndian.AppendUint32(w.b, 0) // flags: no OIDs
	w.b = binary.BigEndian.AppendUint32(w.b, 0) // no header extension
}

func (w *copyWriter) tuple(fields int) { w.b = binary.BigEndian.AppendUint16(w.b, uint16(fields)) }

func (w *copyWriter) finish() []byte {
	w.b = binary.BigEndian.AppendUint16(w.b, 0xffff)
	return w.b
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

// uuid writes a uuid given in PostgreSQL's text form; "" is NULL.
func (w *copyWriter) uuid(s string) error {
	if s == "" {
		w.null()
		return nil
	}
	u, err := parseUUID(s)
	if err != nil {
		return err
	}
	w.b = binary.BigEndian.AppendUint32(w.b, 16)
	w.b = append(w.b, u[:]...)
	return nil
}

// parseUUID reads the canonical text form that PostgreSQL's uuid_out writes (and so
// pgoutput sends): 32 hex digits in groups of 8-4-4-4-12, any case.
func parseUUID(s string) ([16]byte, error) {
	var u [16]byte
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, fmt.Errorf("uuid %q: not in the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", s)
	}
	j := 0
	for i := 0; i < 36; {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			i++
			continue
		}
		hi, ok1 := unhex(s[i])
		lo, ok2 := unhex(s[i+1])
		if !ok1 || !ok2 {
			return u, fmt.Errorf("uuid %q: %q is not a hex digit pair", s, s[i:i+2])
		}
		u[j] = hi<<4 | lo
		j++
		i += 2
	}
	return u, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
