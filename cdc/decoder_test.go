package cdc_test

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/softbooq/xerosync/cdc"
)

// Builders of pgoutput protocol-1 messages, as the server encodes them.
type msg []byte

func (m msg) byte1(b byte) msg { return append(m, b) }
func (m msg) u16(v uint16) msg { return binary.BigEndian.AppendUint16(m, v) }
func (m msg) u32(v uint32) msg { return binary.BigEndian.AppendUint32(m, v) }
func (m msg) u64(v uint64) msg { return binary.BigEndian.AppendUint64(m, v) }
func (m msg) str(s string) msg { return append(append(m, s...), 0) }
func (m msg) col(kind byte, v string) msg {
	m = m.byte1(kind)
	if kind == 't' {
		m = m.u32(uint32(len(v)))
		m = append(m, v...)
	}
	return m
}

func relation(id uint32, ns, name string, cols ...string) []byte {
	m := msg{}.byte1('R').u32(id).str(ns).str(name).byte1('d').u16(uint16(len(cols)))
	for i, c := range cols {
		flags := byte(0)
		if i == 0 {
			flags = 1
		}
		m = m.byte1(flags).str(c).u32(25).u32(0xffffffff)
	}
	return m
}

type col struct {
	kind byte
	v    string
}

func tuple(m msg, cols ...col) msg {
	m = m.u16(uint16(len(cols)))
	for _, c := range cols {
		m = m.col(c.kind, c.v)
	}
	return m
}

func pgTime(t time.Time) uint64 {
	return uint64(t.Sub(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).Microseconds())
}

func TestDecoder(t *testing.T) {
	t.Parallel()
	when := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	rel := relation(16400, "crm", "customers", "id", "name", "notes")
	tests := []struct {
		name string
		data []byte
		want func(t *testing.T, ev cdc.Event)
		err  bool
	}{
		{"begin", msg{}.byte1('B').u64(0x1000).u64(pgTime(when)).u32(77), func(t *testing.T, ev cdc.Event) {
			if ev.Type != cdc.Begin || ev.CommitLSN != 0x1000 || ev.Xid != 77 || !ev.CommitTime.Equal(when) {
				t.Errorf("%+v", ev)
			}
		}, false},
		{"commit", msg{}.byte1('C').byte1(0).u64(0x1000).u64(0x1040).u64(pgTime(when)), func(t *testing.T, ev cdc.Event) {
			if ev.Type != cdc.Commit || ev.CommitLSN != 0x1000 || ev.EndLSN != 0x1040 {
				t.Errorf("%+v", ev)
			}
		}, false},
		{"insert", tuple(msg{}.byte1('I').u32(16400).byte1('N'), col{'t', "c1"}, col{'t', "Ada"}, col{'n', ""}), func(t *testing.T, ev cdc.Event) {
			c := ev.Change
			if ev.Type != cdc.ChangeEvent || c.Op != cdc.Insert || c.Schema != "crm" || c.Table != "customers" ||
				c.Get("id").Text != "c1" || c.Get("name").Text != "Ada" || c.Get("notes").Kind != cdc.Null {
				t.Errorf("%+v", ev)
			}
		}, false},
		{"update with unchanged toast", tuple(msg{}.byte1('U').u32(16400).byte1('N'), col{'t', "c1"}, col{'t', ""}, col{'u', ""}), func(t *testing.T, ev cdc.Event) {
			c := ev.Change
			if c.Op != cdc.Update || c.Get("name").Kind != cdc.Text || c.Get("name").Text != "" || c.Get("notes").Kind != cdc.Unchanged {
				t.Errorf("%+v", ev)
			}
		}, false},
		{"delete by key", tuple(msg{}.byte1('D').u32(16400).byte1('K'), col{'t', "c1"}, col{'n', ""}, col{'n', ""}), func(t *testing.T, ev cdc.Event) {
			if ev.Change.Op != cdc.Delete || ev.Change.Get("id").Text != "c1" {
				t.Errorf("%+v", ev)
			}
		}, false},
		{"heartbeat message", msg{}.byte1('M').byte1(1).u64(0x2000).str(cdc.HeartbeatPrefix).u32(3).byte1('a').byte1('b').byte1('c'), func(t *testing.T, ev cdc.Event) {
			if ev.Type != cdc.Message || ev.Prefix != cdc.HeartbeatPrefix || string(ev.Content) != "abc" {
				t.Errorf("%+v", ev)
			}
		}, false},
		{"truncate", msg{}.byte1('T').u32(1).byte1(0).u32(16400), func(t *testing.T, ev cdc.Event) {
			if ev.Type != cdc.Truncate || len(ev.Tables) != 1 || ev.Tables[0] != "crm.customers" {
				t.Errorf("%+v", ev)
			}
		}, false},
		{"change of unknown relation", tuple(msg{}.byte1('I').u32(99).byte1('N'), col{'t', "x"}), nil, true},
		{"more columns than the relation", tuple(msg{}.byte1('I').u32(16400).byte1('N'), col{'t', "1"}, col{'t', "2"}, col{'t', "3"}, col{'t', "4"}), nil, true},
		{"binary column", tuple(msg{}.byte1('I').u32(16400).byte1('N'), col{'b', ""}), nil, true},
		{"empty", nil, nil, true},
		{"unknown type", msg{}.byte1('Z'), nil, true},
		{"short begin", msg{}.byte1('B').u32(1), nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := cdc.NewDecoder()
			if _, err := d.Decode(rel); err != nil {
				t.Fatal(err)
			}
			ev, err := d.Decode(tt.data)
			if (err != nil) != tt.err {
				t.Fatalf("err = %v, want error %v", err, tt.err)
			}
			if tt.want != nil {
				tt.want(t, ev)
			}
		})
	}
}

// The decoder copies what it returns: reusing the buffer must not change a decoded change.
func TestDecoderCopies(t *testing.T) {
	t.Parallel()
	d := cdc.NewDecoder()
	if _, err := d.Decode(relation(1, "crm", "customers", "id", "name")); err != nil {
		t.Fatal(err)
	}
	buf := tuple(msg{}.byte1('I').u32(1).byte1('N'), col{'t', "id1"}, col{'t', "Ada"})
	ev, err := d.Decode(buf)
	if err != nil {
		t.Fatal(err)
	}
	for i := range buf {
		buf[i] = 'X'
	}
	if ev.Change.Get("name").Text != "Ada" {
		t.Fatal("decoded value aliases the input buffer")
	}
}

// FuzzDecode: any byte sequence, after a relation, decodes or errors; never panics, and a
// decoded change never has more columns than its relation.
func FuzzDecode(f *testing.F) {
	rel := relation(16400, "crm", "customers", "id", "name", "notes")
	f.Add([]byte(tuple(msg{}.byte1('I').u32(16400).byte1('N'), col{'t', "c1"}, col{'t', "Ada"}, col{'u', ""})))
	f.Add([]byte(msg{}.byte1('B').u64(1).u64(2).u32(3)))
	f.Add([]byte(msg{}.byte1('C').byte1(0).u64(1).u64(2).u64(3)))
	f.Add([]byte(msg{}.byte1('M').byte1(1).u64(1).str("p").u32(0)))
	f.Add(rel)
	f.Add([]byte(msg{}.byte1('T').u32(2).byte1(0).u32(16400).u32(5)))
	f.Add([]byte(msg{}.byte1('T').u32(0xffffffff).byte1(0).u32(16400))) // pglogrepl would allocate 16 GiB
	f.Fuzz(func(t *testing.T, data []byte) {
		d := cdc.NewDecoder()
		if _, err := d.Decode(rel); err != nil {
			t.Fatal(err)
		}
		ev, err := d.Decode(data)
		if err != nil {
			return
		}
		if ev.Type == cdc.ChangeEvent && len(ev.Change.Columns) > 3 && ev.Change.Table == "customers" {
			t.Fatalf("%d columns decoded for a 3-column relation", len(ev.Change.Columns))
		}
	})
}

// FuzzDecodeRowAgreesWithPglogrepl: the decoder parses row messages itself (decodeRow); any
// it accepts, pglogrepl.Parse accepts as the same change, and any pglogrepl accepts, it
// accepts too.
func FuzzDecodeRowAgreesWithPglogrepl(f *testing.F) {
	rel := relation(16400, "crm", "customers", "id", "name", "notes")
	f.Add([]byte(tuple(msg{}.byte1('I').u32(16400).byte1('N'), col{'t', "c1"}, col{'t', "Ada"}, col{'u', ""})))
	f.Add([]byte(tuple(msg{}.byte1('I').u32(16400).byte1('N'), col{'t', ""}, col{'n', ""})))
	f.Add([]byte(tuple(tuple(msg{}.byte1('U').u32(16400).byte1('K'), col{'t', "c1"}).byte1('N'), col{'t', "c2"}, col{'t', "Bo"}, col{'n', ""})))
	f.Add([]byte(tuple(msg{}.byte1('U').u32(16400).byte1('N'), col{'t', "c1"}, col{'u', ""}, col{'t', "x"})))
	f.Add([]byte(tuple(msg{}.byte1('D').u32(16400).byte1('K'), col{'t', "c1"})))
	f.Add([]byte(tuple(msg{}.byte1('D').u32(16400).byte1('O'), col{'t', "c1"}, col{'b', "x"})))
	// A length of 2³¹ or more, which a signed comparison on a 32-bit build let through.
	f.Add([]byte(msg{}.byte1('U').u32(16400).byte1('K').u16(1).byte1('t').u32(0xffffffff).u16(1).col('t', "x")))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 || data[0] != 'I' && data[0] != 'U' && data[0] != 'D' {
			return
		}
		d := cdc.NewDecoder()
		if _, err := d.Decode(rel); err != nil {
			t.Fatal(err)
		}
		ev, err := d.Decode(data)
		if err == nil {
			want, werr := d.DecodeWithPglogrepl(data)
			if werr != nil {
				t.Fatalf("decoded %+v; pglogrepl: %v", ev, werr)
			}
			if !reflect.DeepEqual(ev, want) {
				t.Fatalf("decoded %+v; pglogrepl decodes %+v", ev, want)
			}
			return
		}
		// pglogrepl allocates whatever length a column claims: ask it only about messages
		// in which no length (four bytes after a 't' or 'b') is immodest.
		for i := 1; i+4 <= len(data); i++ {
			if (data[i-1] == 't' || data[i-1] == 'b') && binary.BigEndian.Uint32(data[i:]) > 1<<16 {
				return
			}
		}
		if want, werr := d.DecodeWithPglogrepl(data); werr == nil {
			t.Fatalf("decoder: %v; pglogrepl decodes %+v", err, want)
		}
	})
}

// A relation message replaces the one before it: a change after a column we require was
// renamed says so (Missing), one after an unrelated column was added does not; a source table
// under a new name is known by its OID; a table outside SourceTables is not a source.
func TestDecoderRelationChanges(t *testing.T) {
	t.Parallel()
	d := cdc.NewDecoder()
	d.Require(map[string][]string{"finance.payments": {"id", "tenant_id"}})
	d.KnowSources(map[uint32]string{7: "finance.payments"})
	insert := func(rel uint32) cdc.Event {
		t.Helper()
		ev, err := d.Decode(tuple(msg{}.byte1('I').u32(rel).byte1('N'), col{'t', "p1"}, col{'t', "t1"}))
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	steps := []struct {
		relation    []byte
		rel         uint32
		missing     string
		source      bool
		renamedFrom string
	}{
		{relation(7, "finance", "payments", "id", "tenant_id"), 7, "", true, ""},
		{relation(7, "finance", "payments", "id", "tenant_id", "memo"), 7, "", true, ""},
		{relation(7, "finance", "payments", "id", "org_id"), 7, "tenant_id", true, ""},
		{relation(7, "finance", "payments", "id", "tenant_id"), 7, "", true, ""},
		{relation(7, "finance", "payments_old", "id", "tenant_id"), 7, "", false, "finance.payments"},
		{relation(8, "staging", "payments", "id", "tenant_id"), 8, "", false, ""},
	}
	for i, st := range steps {
		if _, err := d.Decode(st.relation); err != nil {
			t.Fatal(err)
		}
		ev := insert(st.rel)
		if fmt.Sprint(ev.Missing) != fmt.Sprint(strings.Fields(st.missing)) || ev.Source != st.source || ev.RenamedFrom != st.renamedFrom {
			t.Errorf("step %d: missing %v, source %v, renamed from %q; want %q, %v, %q", i, ev.Missing, ev.Source, ev.RenamedFrom, st.missing, st.source, st.renamedFrom)
		}
		if ev.Change.Get("memo").Kind != cdc.Absent {
			t.Errorf("step %d: a column the change does not carry is %v, want Absent", i, ev.Change.Get("memo").Kind)
		}
	}
}
