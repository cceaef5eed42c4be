package xero

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestParseDecimal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		scale    int
		sign     int
	}{
		{"0", "0", 0, 0},
		{"229.00", "229.00", 2, 1},
		{"-0.5", "-0.5", 1, -1},
		{"+12", "12", 0, 1},
		{"007.10", "7.10", 2, 1},
		{"-0.00", "0.00", 2, 0},
		{"1.5E2", "150", 0, 1},
		{"1.50e+2", "150", 0, 1},
		{"1.5E-2", "0.015", 3, 1},
		{"12e1", "120", 0, 1},
		{"0.1234", "0.1234", 4, 1},
		{"123456789012345678901234567890.123456789", "123456789012345678901234567890.123456789", 9, 1},
	}
	for _, tt := range tests {
		d, err := ParseDecimal(tt.in)
		if err != nil {
			t.Errorf("ParseDecimal(%q): %v", tt.in, err)
			continue
		}
		if d.String() != tt.want || d.Scale() != tt.scale || d.Sign() != tt.sign {
			t.Errorf("ParseDecimal(%q) = %q scale %d sign %d, want %q scale %d sign %d", tt.in, d, d.Scale(), d.Sign(), tt.want, tt.scale, tt.sign)
		}
	}
	for _, bad := range []string{"", "-", ".5", "5.", "1.2.3", "1e", "1e+", "abc", "1,5", " 1", "0x10", "NaN", "Inf", "1e1000", "--1"} {
		if _, err := ParseDecimal(bad); !errors.Is(err, ErrDecimalSyntax) {
			t.Errorf("ParseDecimal(%q) err = %v, want ErrDecimalSyntax", bad, err)
		}
	}
}

func TestDecimalJSON(t *testing.T) {
	t.Parallel()
	type doc struct {
		A Decimal `json:"A"`
		B Decimal `json:"B,omitzero"`
		C Decimal `json:"C,omitzero"`
	}
	out, err := json.Marshal(doc{A: MustDecimal("229.00"), C: MustDecimal("0.00")})
	if err != nil {
		t.Fatal(err)
	}
	// A number literal, not a string; unset B omitted; explicit zero C kept with its scale.
	if got, want := string(out), `{"A":229.00,"C":0.00}`; got != want {
		t.Fatalf("marshal = %s, want %s", got, want)
	}
	var back doc
	if err := json.Unmarshal([]byte(`{"A":0.1,"B":"12.345","C":null}`), &back); err != nil {
		t.Fatal(err)
	}
	// 0.1 survives exactly: no float64 on the way.
	if back.A.String() != "0.1" || back.B.String() != "12.345" || !back.C.IsZero() {
		t.Fatalf("unmarshal = %+v", back)
	}
	for _, bad := range []string{`{"A":true}`, `{"A":"x"}`, `{"A":[1]}`, `{"A":"1 2"}`} {
		var d doc
		if err := json.Unmarshal([]byte(bad), &d); err == nil {
			t.Errorf("unmarshal %s: want error", bad)
		}
	}
}

func TestDecimalCmp(t *testing.T) {
	t.Parallel()
	if !MustDecimal("1.50").Equal(MustDecimal("1.5")) {
		t.Error("1.50 != 1.5")
	}
	if MustDecimal("-2").Cmp(MustDecimal("1")) != -1 || MustDecimal("10.01").Cmp(MustDecimal("10.001")) != 1 {
		t.Error("Cmp order wrong")
	}
	if (Decimal{}).Cmp(MustDecimal("0")) != 0 {
		t.Error("unset should compare as zero")
	}
}
