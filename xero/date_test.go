package xero

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func TestParseDate(t *testing.T) {
	t.Parallel()
	want := Date{2018, time.October, 10}
	for _, in := range []string{
		"/Date(1539129600000+0000)/",
		"/Date(1539129600000)/",
		"/Date(1539129600000+1300)/",
		"2018-10-10T00:00:00",
		"2018-10-10",
		"2018-10-10T00:00:00Z",
	} {
		got, err := ParseDate(in)
		if err != nil || got != want {
			t.Errorf("ParseDate(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "10/10/2018", "/Date(abc)/", "/Date(1539129600000", "2018-13-01", "2018-10-10X"} {
		if _, err := ParseDate(bad); !errors.Is(err, ErrDateSyntax) {
			t.Errorf("ParseDate(%q) err = %v, want ErrDateSyntax", bad, err)
		}
	}
}

func TestDateJSON(t *testing.T) {
	t.Parallel()
	type doc struct {
		D Date `json:"D,omitzero"`
		E Date `json:"E,omitzero"`
	}
	out, err := json.Marshal(doc{D: Date{2024, time.February, 29}})
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != `{"D":"2024-02-29"}` {
		t.Fatalf("marshal = %s", out)
	}
	var back doc
	if err := json.Unmarshal([]byte(`{"D":"/Date(1709164800000+0000)/","E":null}`), &back); err != nil {
		t.Fatal(err)
	}
	if back.D != (Date{2024, time.February, 29}) || !back.E.IsZero() {
		t.Fatalf("unmarshal = %+v", back)
	}
}

func TestParseTime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want time.Time
	}{
		{"/Date(1455827393000)/", time.UnixMilli(1455827393000).UTC()},
		{"/Date(1455827393000+0000)/", time.UnixMilli(1455827393000).UTC()},
		{"2019-12-07T18:46:19.5165400", time.Date(2019, 12, 7, 18, 46, 19, 516540000, time.UTC)},
		{"2019-12-07T18:46:19Z", time.Date(2019, 12, 7, 18, 46, 19, 0, time.UTC)},
		{"2019-12-07T18:46:19+13:00", time.Date(2019, 12, 7, 5, 46, 19, 0, time.UTC)},
	}
	for _, tt := range tests {
		got, err := ParseTime(tt.in)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	var tm Time
	if err := json.Unmarshal([]byte(`"2019-12-07T18:46:19.5165400"`), &tm); err != nil || tm.Year() != 2019 {
		t.Fatalf("Time unmarshal: %v %v", tm, err)
	}
}

func TestFinancialYearStart(t *testing.T) {
	t.Parallel()
	org := Organisation{FinancialYearEndDay: 31, FinancialYearEndMonth: 3}
	tests := []struct{ on, want Date }{
		{Date{2025, 6, 10}, Date{2025, 4, 1}},
		{Date{2025, 3, 31}, Date{2024, 4, 1}},
		{Date{2025, 4, 1}, Date{2025, 4, 1}},
		{Date{2025, 1, 1}, Date{2024, 4, 1}},
	}
	for _, tt := range tests {
		if got := org.FinancialYearStart(tt.on); got != tt.want {
			t.Errorf("FinancialYearStart(%v) = %v, want %v", tt.on, got, tt.want)
		}
	}
	feb := Organisation{FinancialYearEndDay: 29, FinancialYearEndMonth: 2}
	if got := feb.FinancialYearStart(Date{2023, 6, 1}); got != (Date{2023, 3, 1}) {
		t.Errorf("Feb year end in a non-leap year: %v", got)
	}
	cal := Organisation{FinancialYearEndDay: 31, FinancialYearEndMonth: 12}
	if got := cal.FinancialYearStart(Date{2025, 12, 31}); got != (Date{2025, 1, 1}) {
		t.Errorf("calendar year: %v", got)
	}
	lock := Organisation{PeriodLockDate: Date{2024, 6, 30}, EndOfYearLockDate: Date{2024, 3, 31}}
	if lock.LockDate() != (Date{2024, 6, 30}) {
		t.Errorf("LockDate = %v", lock.LockDate())
	}
}
