package cdc

import (
	"fmt"

	"github.com/jackc/pglogrepl"
)

// DecodeWithPglogrepl is the oracle for Decoder.decodeRow: an Insert, Update or Delete
// decoded through pglogrepl.Parse, as the decoder did before it parsed rows itself.
func (d *Decoder) DecodeWithPglogrepl(data []byte) (ev Event, err error) {
	defer func() {
		if r := recover(); r != nil {
			ev, err = Event{}, fmt.Errorf("pglogrepl panicked: %v", r)
		}
	}()
	msg, err := pglogrepl.Parse(data)
	if err != nil {
		return Event{}, err
	}
	switch m := msg.(type) {
	case *pglogrepl.InsertMessage:
		return d.change(m.RelationID, Insert, m.Tuple)
	case *pglogrepl.UpdateMessage:
		return d.change(m.RelationID, Update, m.NewTuple)
	case *pglogrepl.DeleteMessage:
		return d.change(m.RelationID, Delete, m.OldTuple)
	}
	return Event{}, fmt.Errorf("not a row message: %T", msg)
}

func (d *Decoder) change(relID uint32, op Op, tuple *pglogrepl.TupleData) (Event, error) {
	rel, ok := d.relations[relID]
	if !ok {
		return Event{}, fmt.Errorf("pgoutput %s for relation %d before its relation message", op, relID)
	}
	ch := Change{Schema: rel.Namespace, Table: rel.RelationName, Op: op}
	if tuple == nil {
		return rel.event(Event{Type: ChangeEvent, Change: ch}), nil
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
	return rel.event(Event{Type: ChangeEvent, Change: ch}), nil
}

// SlotStateForTest builds a slotState for TestSlotCondition.
type SlotStateForTest struct {
	SlotType, Plugin, Database, OurDatabase, WalStatus string
	ActivePID                                          int32
	Conflicting                                        bool
	InvalidationReason                                 string
}

// Condition is slotState.condition over s (nil: no slot).
func (s *SlotStateForTest) Condition() (SlotCondition, string) {
	if s == nil {
		return (*slotState)(nil).condition()
	}
	return (&slotState{slotType: s.SlotType, plugin: s.Plugin, database: s.Database, ourDatabase: s.OurDatabase,
		walStatus: s.WalStatus, activePID: s.ActivePID, conflicting: s.Conflicting, invalidationReason: s.InvalidationReason}).condition()
}
