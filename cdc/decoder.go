package cdc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pglogrepl"
)

// Event is what one pgoutput message means to capture. Exactly one field group is set,
// according to Type.
type Event struct {
	Type EventType
	// Begin and Commit
	Xid        uint32
	CommitLSN  pglogrepl.LSN
	EndLSN     pglogrepl.LSN
	CommitTime time.Time
	// Change
	Change Change
	// Message (pg_logical_emit_message)
	Prefix  string
	Content []byte
	// Truncate
	Tables []string
	// Relation (and Change: the relation's): columns required of the table (Decoder.Require)
	// that its relation message lacks, and whether it is one of SourceTables.
	Missing []string
	Source  bool
	// RenamedFrom is the source table this one was, when a source table was renamed: its
	// changes are no longer Softbooq's table under the name the Sink knows.
	RenamedFrom string
}

// EventType classifies an Event.
type EventType uint8

// Event types. Skip is a message capture needs nothing from (type metadata, origins).
// Relation is a table's description, absorbed by the Decoder: the event says what it lacks.
const (
	Skip EventType = iota
	Begin
	ChangeEvent
	Commit
	Message
	Truncate
	Relation
)

// Decoder turns pgoutput (protocol version 1) messages into Events. It keeps the relation
// metadata the server sends before a relation's first change in each session, so use one
// Decoder per replication connection. It does no I/O.
type Decoder struct {
	relations map[uint32]*relation
	required  map[string][]string
	sources   map[uint32]string // source tables by OID, as first known (KnowSources, relations)
}

// relation is a table as its latest relation message describes it. The server sends a new
// one after the table's schema changes, and it replaces the old one from the next change on.
type relation struct {
	*pglogrepl.RelationMessage
	missing     []string // columns required of it that it lacks
	source      bool     // one of SourceTables
	renamedFrom string   // the source table it was
}

// NewDecoder returns a decoder with no known relations.
func NewDecoder() *Decoder {
	return &Decoder{relations: make(map[uint32]*relation), sources: make(map[uint32]string)}
}

// KnowSources gives the OIDs of the source tables (name by OID), so that a relation message
// of one of them under another name is known as a renamed source table.
func (d *Decoder) KnowSources(oids map[uint32]string) {
	for oid, name := range oids {
		d.sources[oid] = name
	}
}

// Require names, per table ("schema.table"), the columns that must be in its relation: each
// change of a table that lacks one (renamed or dropped) carries them in Event.Missing. Call
// it before decoding.
func (d *Decoder) Require(columns map[string][]string) { d.required = columns }

// Decode decodes one XLogData payload. The returned Change's strings are copies: the event
// stays valid after data is reused.
func (d *Decoder) Decode(data []byte) (ev Event, err error) {
	if len(data) == 0 {
		return Event{}, errors.New("empty pgoutput message")
	}
	switch data[0] {
	case 'I', 'U', 'D':
		return d.decodeRow(data) // checks every length itself: a panic there is a bug to see
	}
	msg, err := parse(data)
	if err != nil {
		return Event{}, fmt.Errorf("parse pgoutput message: %w", err)
	}
	switch m := msg.(type) {
	case *pglogrepl.RelationMessage:
		name := m.Namespace + "." + m.RelationName
		rel := &relation{RelationMessage: m, source: slices.Contains(SourceTables, name)}
		if was, ok := d.sources[m.RelationID]; ok && was != name {
			rel.renamedFrom = was
		} else if rel.source {
			d.sources[m.RelationID] = name
		}
		for _, want := range d.required[name] {
			if !slices.ContainsFunc(m.Columns, func(c *pglogrepl.RelationMessageColumn) bool { return c.Name == want }) {
				rel.missing = append(rel.missing, want)
			}
		}
		d.relations[m.RelationID] = rel
		return rel.event(Event{Type: Relation, Change: Change{Schema: m.Namespace, Table: m.RelationName}}), nil
	case *pglogrepl.BeginMessage:
		return Event{Type: Begin, Xid: m.Xid, CommitLSN: m.FinalLSN, CommitTime: m.CommitTime}, nil
	case *pglogrepl.CommitMessage:
		return Event{Type: Commit, CommitLSN: m.CommitLSN, EndLSN: m.TransactionEndLSN, CommitTime: m.CommitTime}, nil
	case *pglogrepl.LogicalDecodingMessage:
		return Event{Type: Message, Prefix: m.Prefix, Content: append([]byte(nil), m.Content...)}, nil
	case *pglogrepl.TruncateMessage:
		ev := Event{Type: Truncate}
		for _, id := range m.RelationIDs {
			if rel, ok := d.relations[id]; ok {
				ev.Tables = append(ev.Tables, rel.Namespace+"."+rel.RelationName)
			}
		}
		return ev, nil
	default:
		return Event{Type: Skip}, nil
	}
}

// parse is pglogrepl.Parse, which trusts the lengths inside a message: a malformed one must
// end this session with an error (and a reconnect), not crash the daemon (FuzzDecode).
func parse(data []byte) (msg pglogrepl.Message, err error) {
	// It also allocates what a truncate's relation count claims (up to 16 GiB) before
	// reading it: a count the message cannot hold is refused first.
	if data[0] == 'T' && len(data) >= 6 {
		if n := binary.BigEndian.Uint32(data[1:]); uint64(n)*4 > uint64(len(data)-6) {
			return nil, fmt.Errorf("pgoutput truncate of %d relations in a message of %d bytes", n, len(data))
		}
	}
	defer func() {
		if r := recover(); r != nil {
			msg, err = nil, fmt.Errorf("malformed pgoutput message %q: %v", data[0], r)
		}
	}()
	return pglogrepl.Parse(data)
}

// decodeRow decodes an Insert, Update or Delete message (protocol 1, "Logical Replication
// Message Formats" in PostgreSQL's documentation). These are nearly every message capture
// reads, and pglogrepl's general parser allocates a struct per column and copies each value
// byte by byte: more garbage than the rest of capture together (scripts/bench's profile).
// It accepts exactly the messages pglogrepl.Parse accepts and decodes them to the same
// Change (FuzzDecodeRowAgreesWithPglogrepl), down to skipping, unchecked, the byte after an
// update's old tuple. Every text value of a row shares one string allocation.
func (d *Decoder) decodeRow(data []byte) (Event, error) {
	src := data[1:]
	var op Op
	var min int // the shortest body pglogrepl accepts
	switch data[0] {
	case 'I':
		op, min = Insert, 8
	case 'U':
		op, min = Update, 6
	default:
		op, min = Delete, 5
	}
	if len(src) < min {
		return Event{}, fmt.Errorf("pgoutput %s message of %d bytes", op, len(src))
	}
	relID := binary.BigEndian.Uint32(src)
	kind, p := src[4], 5
	switch {
	case op == Update && (kind == 'K' || kind == 'O'):
		// The old key or row: not needed (we compare what we queued, LESSONS 6). The 'N'
		// that must follow it is not checked, as pglogrepl does not check it.
		_, n, err := walkTuple(src[p:], func(int, byte, int, int) error { return nil })
		if err != nil {
			return Event{}, fmt.Errorf("pgoutput %s old tuple: %w", op, err)
		}
		p += n + 1
	case op == Delete && (kind == 'K' || kind == 'O'):
	case op != Delete && kind == 'N':
	default:
		return Event{}, fmt.Errorf("pgoutput %s with tuple type %q", op, kind)
	}
	if p > len(src) {
		return Event{}, fmt.Errorf("pgoutput %s message of %d bytes", op, len(src))
	}
	rel, ok := d.relations[relID]
	if !ok {
		return Event{}, fmt.Errorf("pgoutput %s for relation %d before its relation message", op, relID)
	}
	return d.row(rel, op, src[p:])
}

// walkTuple calls f with the index and kind of each column of the TupleData at the start of
// src, and for 't' and 'b' columns (the only kinds with a length, as pglogrepl reads them)
// the offset and length of the value in src. It returns the column count and the tuple's
// length; f's error stops the walk.
func walkTuple(src []byte, f func(i int, kind byte, off, l int) error) (n, length int, err error) {
	if len(src) < 2 {
		return 0, 0, errors.New("truncated tuple")
	}
	n, p := int(binary.BigEndian.Uint16(src)), 2
	for i := range n {
		if p >= len(src) {
			return 0, 0, errors.New("truncated tuple")
		}
		kind := src[p]
		p++
		off, l := p, 0
		if kind == 't' || kind == 'b' {
			var ok bool
			if l, ok = columnLength(src, p); !ok {
				return 0, 0, errors.New("truncated tuple")
			}
			off = p + 4
			p = off + l
		}
		if err := f(i, kind, off, l); err != nil {
			return 0, 0, err
		}
	}
	return n, p, nil
}

// columnLength reads the 32-bit length of the column value at src[p:] and reports whether
// the length and the value fit in src. The comparison is unsigned: a length of 2³¹ or more
// must not turn negative in an int (on a 32-bit build) and pass.
func columnLength(src []byte, p int) (int, bool) {
	if p+4 > len(src) {
		return 0, false
	}
	l := binary.BigEndian.Uint32(src[p:])
	if uint64(l) > uint64(len(src)-p-4) {
		return 0, false
	}
	return int(l), true
}

// row decodes the TupleData at the start of src into a change of rel, in one walk. Its text
// values are cut from one copy of the tuple.
func (d *Decoder) row(rel *relation, op Op, src []byte) (Event, error) {
	fail := func(err error) (Event, error) {
		return Event{}, fmt.Errorf("pgoutput %s on %s.%s: %w", op, rel.Namespace, rel.RelationName, err)
	}
	if len(src) < 2 {
		return fail(errors.New("truncated tuple"))
	}
	n := int(binary.BigEndian.Uint16(src))
	if n > len(rel.Columns) {
		return fail(fmt.Errorf("%d columns, relation has %d", n, len(rel.Columns)))
	}
	all := string(src)
	cols := make([]Column, 0, n)
	_, _, err := walkTuple(src, func(i int, kind byte, off, l int) error {
		v := Value{}
		switch kind {
		case pglogrepl.TupleDataTypeNull:
			v.Kind = Null
		case pglogrepl.TupleDataTypeToast:
			v.Kind = Unchanged
		case pglogrepl.TupleDataTypeText:
			v = Value{Kind: Text, Text: all[off : off+l]}
		default:
			// We never ask for binary; a server that sends it anyway is not one we understand.
			return fmt.Errorf("column %s: unsupported tuple data type %q", rel.Columns[i].Name, kind)
		}
		cols = append(cols, Column{Name: rel.Columns[i].Name, Value: v})
		return nil
	})
	if err != nil {
		return fail(err)
	}
	return rel.event(Event{Type: ChangeEvent, Change: Change{Schema: rel.Namespace, Table: rel.RelationName, Op: op, Columns: cols}}), nil
}

// event sets what ev says of its relation.
func (r *relation) event(ev Event) Event {
	ev.Missing, ev.Source, ev.RenamedFrom = r.missing, r.source, r.renamedFrom
	return ev
}
