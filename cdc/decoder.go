package cdc

import (
	"errors"
	"fmt"
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
}

// EventType classifies an Event.
type EventType uint8

// Event types. Skip is a message capture needs nothing from (relation and type metadata are
// absorbed by the Decoder, origins are irrelevant).
const (
	Skip EventType = iota
	Begin
	ChangeEvent
	Commit
	Message
	Truncate
)

// Decoder turns pgoutput (protocol version 1) messages into Events. It keeps the relation
// metadata the server sends before a relation's first change in each session, so use one
// Decoder per replication connection. It does no I/O.
type Decoder struct {
	relations map[uint32]*pglogrepl.RelationMessage
}

// NewDecoder returns a decoder with no known relations.
func NewDecoder() *Decoder {
	return &Decoder{relations: make(map[uint32]*pglogrepl.RelationMessage)}
}

// Decode decodes one XLogData payload. The returned Change's strings are copies: the event
// stays valid after data is reused.
func (d *Decoder) Decode(data []byte) (ev Event, err error) {
	if len(data) == 0 {
		return Event{}, errors.New("empty pgoutput message")
	}
	// pglogrepl trusts the lengths inside a message; a malformed one must end this session
	// with an error (and a reconnect), not crash the daemon.
	defer func() {
		if r := recover(); r != nil {
			ev, err = Event{}, fmt.Errorf("malformed pgoutput message %q: %v", data[0], r)
		}
	}()
	msg, err := pglogrepl.Parse(data)
	if err != nil {
		return Event{}, fmt.Errorf("parse pgoutput message: %w", err)
	}
	switch m := msg.(type) {
	case *pglogrepl.RelationMessage:
		d.relations[m.RelationID] = m
		return Event{Type: Skip}, nil
	case *pglogrepl.BeginMessage:
		return Event{Type: Begin, Xid: m.Xid, CommitLSN: m.FinalLSN, CommitTime: m.CommitTime}, nil
	case *pglogrepl.CommitMessage:
		return Event{Type: Commit, CommitLSN: m.CommitLSN, EndLSN: m.TransactionEndLSN, CommitTime: m.CommitTime}, nil
	case *pglogrepl.InsertMessage:
		return d.change(m.RelationID, Insert, m.Tuple)
	case *pglogrepl.UpdateMessage:
		return d.change(m.RelationID, Update, m.NewTuple)
	case *pglogrepl.DeleteMessage:
		return d.change(m.RelationID, Delete, m.OldTuple)
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

func (d *Decoder) change(relID uint32, op Op, tuple *pglogrepl.TupleData) (Event, error) {
	rel, ok := d.relations[relID]
	if !ok {
		return Event{}, fmt.Errorf("pgoutput %s for relation %d before its relation message", op, relID)
	}
	ch := Change{Schema: rel.Namespace, Table: rel.RelationName, Op: op}
	if tuple == nil {
		return Event{Type: ChangeEvent, Change: ch}, nil
	}
	if len(tuple.Columns) > len(rel.Columns) {
		return Event{}, fmt.Errorf("pgoutput %s on %s.%s: %d columns, relation has %d",
			op, rel.Namespace, rel.RelationName, len(tuple.Columns), len(rel.Columns))
	}
	ch.Columns = make([]Column, 0, len(tuple.Columns))
	for i, col := range tuple.Columns {
		v := Value{}
		switch col.DataType {
		case pglogrepl.TupleDataTypeNull:
			v.Kind = Null
		case pglogrepl.TupleDataTypeToast:
			v.Kind = Unchanged
		case pglogrepl.TupleDataTypeText:
			v = Value{Kind: Text, Text: string(col.Data)}
		default:
			// We never ask for binary; a server that sends it anyway is not one we understand.
			return Event{}, fmt.Errorf("pgoutput %s on %s.%s column %s: unsupported tuple data type %q",
				op, rel.Namespace, rel.RelationName, rel.Columns[i].Name, col.DataType)
		}
		ch.Columns = append(ch.Columns, Column{Name: rel.Columns[i].Name, Value: v})
	}
	return Event{Type: ChangeEvent, Change: ch}, nil
}
