package outbox

import (
	"crypto/sha256"
	"encoding/json"
)

// The payloads are the Softbooq snapshot captured at commit, stored as the outbox row's
// payload (json). Xero request bodies are built from them at send time. Money, quantities
// and rates stay decimal strings exactly as PostgreSQL printed them: never floats.

// Entities and actions, as stored in xerosync.outbox.
const (
	EntityContact = "contact"
	EntityInvoice = "invoice"
	EntityPayment = "payment"

	ActionUpsert = "upsert"
	ActionIssue  = "issue"
	ActionVoid   = "void"
	ActionPay    = "pay"
)

// ContactFields are the customer fields Xero holds. NULL and empty are the same to Xero, so
// both are "". The struct is comparable: == tells whether a push is needed.
type ContactFields struct {
	Name         string `json:"name"`
	FirstName    string `json:"first_name"`
	LastName     string `json:"last_name"`
	Email        string `json:"email"`
	Phone        string `json:"phone"`
	TaxNumber    string `json:"tax_number"`
	AddressLine1 string `json:"address_line1"`
	AddressLine2 string `json:"address_line2"`
	City         string `json:"city"`
	Region       string `json:"region"`
	PostalCode   string `json:"postal_code"`
	CountryCode  string `json:"country_code"`
	Archived     bool   `json:"archived"`
}

// ContactPayload is a contact upsert.
type ContactPayload struct {
	CustomerID string `json:"customer_id"`
	ContactFields
}

// ContactUpsert is a contact upsert's payload and its hash, the first 16 bytes of the
// payload's SHA-256: capture compares a customer's change with the hash of the contact's
// last queued row, whoever queued it (capture or backfill). The customer id in the payload
// is the same for every row of the entity, so equal hashes mean equal fields.
func ContactUpsert(customerID string, f ContactFields) (body, hash []byte) {
	body, _ = json.Marshal(ContactPayload{CustomerID: customerID, ContactFields: f}) // strings and a bool: cannot fail
	sum := sha256.Sum256(body)
	return body, sum[:16]
}

// InvoicePayload is an invoice issue.
type InvoicePayload struct {
	InvoiceID  string        `json:"invoice_id"`
	CustomerID string        `json:"customer_id"`
	Number     string        `json:"number"`
	Status     string        `json:"status"`
	Currency   string        `json:"currency"`
	IssueDate  *string       `json:"issue_date"`
	DueDate    *string       `json:"due_date"`
	Reference  *string       `json:"reference"`
	AmountsTax string        `json:"amounts_tax"`
	Lines      []InvoiceLine `json:"lines"`
}

// InvoiceLine is one line of an issued invoice.
type InvoiceLine struct {
	Position        int     `json:"position"`
	Description     string  `json:"description"`
	Quantity        string  `json:"quantity"`
	UnitPrice       string  `json:"unit_price"`
	DiscountRate    string  `json:"discount_rate"`
	RevenueCategory string  `json:"revenue_category"`
	TaxComponent    *string `json:"tax_component"`
	ItemCode        *string `json:"item_code"`
}

// VoidPayload is an invoice void.
type VoidPayload struct {
	InvoiceID string `json:"invoice_id"`
	Number    string `json:"number"`
}

// PaymentPayload is a payment.
type PaymentPayload struct {
	PaymentID string  `json:"payment_id"`
	InvoiceID string  `json:"invoice_id"`
	Amount    string  `json:"amount"`
	PaidOn    string  `json:"paid_on"`
	Method    string  `json:"method"`
	Reference *string `json:"reference"`
}
