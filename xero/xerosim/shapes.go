package xerosim

import (
	"encoding/json"
)

// ElementShapes choose among the shapes Xero is seen to give the elements of a batch write
// answered with summarizeErrors=false (XERO.md §10b), so that a client is tested against
// each of them and not only against the tidiest. The zero value is the simulator's default:
// a failed element echoes what was sent with HasErrors/HasValidationErrors true,
// StatusAttributeString "ERROR" and its ValidationErrors; a saved one is the stored entity
// with "OK" and no message.
type ElementShapes struct {
	// FailedID is the id a failed element carries.
	FailedID FailedIDShape
	// FailedWithoutFlag sends HasErrors (invoices) or HasValidationErrors (contacts,
	// payments) false on a failed element, leaving StatusAttributeString "ERROR" and the
	// messages: Xero's own example of an invoice with "Invoice # must be unique." has
	// HasErrors false (spec GET /Invoices/{InvoiceID} 200 example).
	FailedWithoutFlag bool
	// FailedWithoutStatus leaves StatusAttributeString off a failed element, which then
	// fails by its flag and messages alone, as Xero's example failed payment does (spec
	// PUT /Payments 200 example). With FailedWithoutFlag too, nothing says "failed" but the
	// messages, a shape not seen from Xero.
	FailedWithoutStatus bool
	// SavedWarning, when not empty, is a message attached to every saved element, which
	// keeps its id and StatusAttributeString "OK": Xero's example saved credit note carries
	// one (spec PUT /CreditNotes 200 example).
	SavedWarning string
}

// FailedIDShape is the id on a failed batch element.
type FailedIDShape int

const (
	// FailedIDAsSent: the element as sent, with whatever id it had (none for a create).
	FailedIDAsSent FailedIDShape = iota
	// FailedIDGenerated: an id Xero made up for an element it did not save (spec
	// PUT /Payments 200 example; Xero-NetStandard#156, xero-node#204 and #177 for invoices).
	FailedIDGenerated
	// FailedIDZero: the all-zero GUID (spec Contacts 400 example: ContactID 000…0).
	FailedIDZero
)

const zeroGUID = "00000000-0000-0000-0000-000000000000"

// SetElementShapes changes the shapes of batch elements from the next request on.
func (s *Sim) SetElementShapes(sh ElementShapes) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shapes = sh
}

// elementFields are the id and error-flag fields of a batch's elements.
func elementFields(key string) (id, flag string) {
	switch key {
	case "Invoices":
		return "InvoiceID", "HasErrors"
	case "Contacts":
		return "ContactID", "HasValidationErrors"
	case "Payments":
		return "PaymentID", "HasValidationErrors"
	}
	return "", ""
}

// shape returns the element r as sh would have Xero answer it.
func (sh ElementShapes) shape(key string, r batchResult) any {
	if sh == (ElementShapes{}) {
		return r.item
	}
	b, err := json.Marshal(r.item)
	if err != nil {
		return r.item
	}
	var m map[string]any
	if err := unmarshalNumber(b, &m); err != nil {
		return r.item
	}
	idField, flagField := elementFields(key)
	if idField == "" {
		return r.item
	}
	if r.failed {
		switch sh.FailedID {
		case FailedIDGenerated:
			m[idField] = newGUID()
		case FailedIDZero:
			m[idField] = zeroGUID
		}
		if sh.FailedWithoutFlag {
			m[flagField] = false
		}
		if sh.FailedWithoutStatus {
			delete(m, "StatusAttributeString")
		}
		return m
	}
	if sh.SavedWarning != "" {
		m["ValidationErrors"] = []validationError{{Message: sh.SavedWarning}}
	}
	return m
}
