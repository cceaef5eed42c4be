package xerosim

import (
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
)

// dec is an exact decimal number. Xero's amounts are decimals (its server is
// .NET and uses System.Decimal); modelling them as float64 would let the
// simulator agree with a client that has the same rounding bug. A big.Rat
// keeps every intermediate product exact, and rounding happens only where
// Xero rounds: line amounts, tax amounts and totals to 2 places, unit
// amounts to 2 or 4 places.
//
// The zero value is 0. A dec is immutable: every operation returns a new one.
type dec struct{ r *big.Rat }

func (d dec) rat() *big.Rat {
	if d.r == nil {
		return new(big.Rat)
	}
	return d.r
}

// parseDec parses decimal text as it appears in JSON numbers ("12", "-3.5",
// "1e2"). It refuses anything else, including fractions like "1/3", which
// big.Rat would otherwise accept.
func parseDec(s string) (dec, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.ContainsAny(s, "/ ") {
		return dec{}, fmt.Errorf("parse decimal %q: not a number", s)
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return dec{}, fmt.Errorf("parse decimal %q: not a number", s)
	}
	return dec{r}, nil
}

func decInt(i int64) dec { return dec{new(big.Rat).SetInt64(i)} }

func (d dec) Add(e dec) dec { return dec{new(big.Rat).Add(d.rat(), e.rat())} }
func (d dec) Sub(e dec) dec { return dec{new(big.Rat).Sub(d.rat(), e.rat())} }
func (d dec) Mul(e dec) dec { return dec{new(big.Rat).Mul(d.rat(), e.rat())} }

// Quo divides; the caller guarantees e is not zero.
func (d dec) Quo(e dec) dec { return dec{new(big.Rat).Quo(d.rat(), e.rat())} }

func (d dec) Cmp(e dec) int { return d.rat().Cmp(e.rat()) }
func (d dec) Sign() int     { return d.rat().Sign() }
func (d dec) IsZero() bool  { return d.Sign() == 0 }

// Round rounds to places decimal places, half away from zero. Xero does not
// document its midpoint rule; half away from zero is what its UI shows for
// 0.005 cases reported by users and is the common accounting convention.
func (d dec) Round(places int) dec {
	r := d.rat()
	scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(places)), nil)
	num := new(big.Int).Mul(new(big.Int).Abs(r.Num()), scale)
	den := r.Denom()
	q, rem := new(big.Int).QuoRem(num, den, new(big.Int))
	if new(big.Int).Mul(rem, big.NewInt(2)).Cmp(den) >= 0 {
		q.Add(q, big.NewInt(1))
	}
	if r.Sign() < 0 {
		q.Neg(q)
	}
	return dec{new(big.Rat).SetFrac(q, scale)}
}

// Text formats the value rounded to exactly places decimal places, the way
// Xero prints amounts ("40.00", "2.0000").
func (d dec) Text(places int) string {
	return d.Round(places).rat().FloatString(places)
}

// Num is Text as a json.Number, so encoding/json writes it as a JSON number
// with exactly those digits.
func (d dec) Num(places int) json.Number { return json.Number(d.Text(places)) }

// Places reports how many decimal places the value needs to be exact, or -1
// if it is not a finite decimal (which parseDec never produces).
func (d dec) Places() int {
	for p := 0; p <= 12; p++ {
		if d.Round(p).Cmp(d) == 0 {
			return p
		}
	}
	return -1
}
