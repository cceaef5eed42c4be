package xero

import (
	"errors"
	"strings"
	"testing"
)

// Xero's documented field limits (XERO.md §10b) are checked before sending, so one record
// over a limit fails alone with a message naming the field.
func TestFieldLimits(t *testing.T) {
	t.Parallel()
	base := func() Invoice {
		return Invoice{Type: "ACCREC", Contact: &ContactRef{ContactID: contactA}, InvoiceNumber: "INV-1", Reference: "R",
			LineItems: []LineItem{{Description: "x", Quantity: MustDecimal("1"), UnitAmount: MustDecimal("10.00")}}}
	}
	line := func(f func(*LineItem)) func(*Invoice) { return func(inv *Invoice) { f(&inv.LineItems[0]) } }
	tests := []struct {
		name  string
		edit  func(*Invoice)
		field string // "" when the invoice is within every limit
	}{
		{"within limits", func(*Invoice) {}, ""},
		{"InvoiceNumber 255", func(inv *Invoice) { inv.InvoiceNumber = strings.Repeat("9", 255) }, ""},
		{"InvoiceNumber 256", func(inv *Invoice) { inv.InvoiceNumber = strings.Repeat("9", 256) }, "InvoiceNumber"},
		{"InvoiceNumber not ASCII", func(inv *Invoice) { inv.InvoiceNumber = "INV-№1" }, "InvoiceNumber"},
		{"InvoiceNumber control", func(inv *Invoice) { inv.InvoiceNumber = "INV\t1" }, "InvoiceNumber"},
		{"InvoiceNumber printable punctuation", func(inv *Invoice) { inv.InvoiceNumber = `A,"B"\~` }, ""},
		{"Reference 255 letters", func(inv *Invoice) { inv.Reference = strings.Repeat("é", 255) }, ""},
		{"Reference 256", func(inv *Invoice) { inv.Reference = strings.Repeat("r", 256) }, "Reference"},
		{"Description 4000", line(func(li *LineItem) { li.Description = strings.Repeat("d", 4000) }), ""},
		{"Description 4001", line(func(li *LineItem) { li.Description = strings.Repeat("d", 4001) }), "Description"},
		{"Quantity 13 characters", line(func(li *LineItem) { li.Quantity = MustDecimal("123456789.123") }), ""},
		{"Quantity 14 characters", line(func(li *LineItem) { li.Quantity = MustDecimal("123456789.1234") }), "Quantity"},
		{"LineAmount at the limit", line(func(li *LineItem) {
			li.Quantity, li.UnitAmount = MustDecimal("1"), MustDecimal("9999999999.99")
		}), ""},
		{"LineAmount over", line(func(li *LineItem) { li.Quantity, li.UnitAmount = MustDecimal("2"), MustDecimal("5000000000.00") }), "LineAmount"},
		{"LineAmount negative over", line(func(li *LineItem) { li.Quantity, li.UnitAmount = MustDecimal("-2"), MustDecimal("5000000000.00") }), "LineAmount"},
		{"LineAmount under after discount", line(func(li *LineItem) {
			li.Quantity, li.UnitAmount, li.DiscountRate = MustDecimal("2"), MustDecimal("5000000000.00"), MustDecimal("50")
		}), ""},
		{"LineAmount rounds to the limit", line(func(li *LineItem) { li.Quantity, li.UnitAmount = MustDecimal("1"), MustDecimal("9999999999.9949") }), ""},
		{"LineAmount rounds over", line(func(li *LineItem) { li.Quantity, li.UnitAmount = MustDecimal("1"), MustDecimal("9999999999.995") }), "LineAmount"},
		{"LineAmount without Quantity", line(func(li *LineItem) { li.Quantity, li.UnitAmount = Decimal{}, MustDecimal("10000000000") }), "LineAmount"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			inv := base()
			tt.edit(&inv)
			err := CheckInvoice(inv)
			switch {
			case tt.field == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.field != "" && (!errors.Is(err, ErrInvalidRequest) || !strings.Contains(err.Error(), tt.field)):
				t.Fatalf("got %v, want ErrInvalidRequest naming %s", err, tt.field)
			case tt.field != "" && (Classify(err) != ClassPermanent || CodeOf(err) != CodeValidationError):
				t.Fatalf("class %v code %q", Classify(err), CodeOf(err))
			}
		})
	}

	contacts := []struct {
		c     Contact
		field string
	}{
		{Contact{Name: strings.Repeat("n", 255), ContactNumber: strings.Repeat("1", 50)}, ""},
		{Contact{Name: strings.Repeat("ñ", 255)}, ""},
		{Contact{Name: strings.Repeat("n", 256)}, "Name"},
		{Contact{Name: "n", ContactNumber: strings.Repeat("1", 51)}, "ContactNumber"},
	}
	for _, tt := range contacts {
		err := CheckContact(tt.c)
		if (tt.field == "") != (err == nil) || (err != nil && (!errors.Is(err, ErrInvalidRequest) || !strings.Contains(err.Error(), tt.field))) {
			t.Errorf("CheckContact(name %d, number %d) = %v, want field %q", len(tt.c.Name), len(tt.c.ContactNumber), err, tt.field)
		}
	}
}
