// Package xero is xerosync's client for the Xero Accounting API and everything it needs to
// call it safely: OAuth 2.0 with PKCE, token sets and the TokenSource the client asks for a
// Bearer token, per-tenant rate budgets, typed errors and the one error classifier. It imports
// nothing of xerosync but the leaf internal/secret (its Secret), and knows nothing of our
// schema: where token sets are kept (sealed, in xerosync.connections) is internal/tenant's
// business.
//
// What it guarantees:
//
//   - Nothing twice: every request that creates or changes something carries the caller's
//     Idempotency-Key, and the client refuses to send a write without one. Writes are never
//     retried here (except one resend after a 401 TokenExpired, when nothing ran). An answer
//     that leaves the result of a write unknown (network error or timeout after sending,
//     5xx, a batch response that does not match the request) satisfies
//     errors.Is(err, ErrOutcomeUnknown): the caller reconciles by reading (FindInvoicesByNumber,
//     FindInvoicesByID, ListContacts for its contact directory) before sending again
//     under a new key, because Xero keeps keys for 6 minutes and caches errors under them.
//   - Exact money: amounts are Decimal, kept as text from request to response, never float64.
//   - Batches: every batch write sends summarizeErrors=false and returns one ElementResult per
//     element, matched by position and cross-checked by InvoiceNumber/ContactNumber. Whether
//     an element was saved is read from its status (HasErrors/HasValidationErrors,
//     StatusAttributeString), never from its id (failed elements can carry a made-up or
//     all-zero one) nor from a message (a saved element's message is kept as a Warning);
//     messages with no status at all are an unknown outcome (XERO.md §10b).
//   - Field limits: CheckContact and CheckInvoice refuse, before sending, a record over one
//     of Xero's documented limits (contact Name 255, ContactNumber 50; InvoiceNumber 255
//     printable ASCII, Reference 255, line Description 4,000, Quantity 13 characters,
//     LineAmount 9,999,999,999.99), so that it fails alone, naming the field.
//   - where filters: a literal is never backslash-escaped (Xero answers QueryParseException,
//     Xero-Java#347); a value with a quote, a backslash or a control character is looked up
//     with searchTerm and matched exactly in Go (WhereLiteralOK).
//   - Tokens: refresh tokens are single-use at Xero. Refresh presents one once and returns
//     the new set; it never keeps a rotated token only in memory (no oauth2.ReuseTokenSource),
//     so a TokenSource that refreshes (internal/tenant's TokenStore) persists it before use.
//     Tokens never appear in logs, errors or String output (Secret).
//   - Rate limits: at most 5 calls in flight per Xero tenant; the minute, day and app-minute
//     budgets are read from Xero's headers (never hard-coded: Starter orgs get 1,000 a day)
//     and a call waits for the window to reset rather than provoke a 429. A header missing
//     from an answer (a recorded 2020 answer had no X-AppMinLimit-Remaining) leaves that
//     budget unknown; it does not hold calls to one at a time. A 429 is returned
//     as *RateLimitError with its Retry-After (or our own backoff for the app-minute limit).
//   - Classify(err) is the only function that decides transient, rate-limited, auth or
//     permanent; CodeOf(err) and ElementResult.Code give SPEC's error codes.
//
// Calls and the OAuth scopes they need (broad scope, or the granular one for apps created on
// or after 2 March 2026; XERO.md §1). Request offline_access too, or there is no refresh token.
//
//	call                               scope (broad)                      granular
//	Client.Connections                 (any valid token)                  (any valid token)
//	Client.DeleteConnection            (any valid token)                  (any valid token)
//	Client.Revoke                      (client credentials)               (client credentials)
//	Org.CreateContacts/UpdateContacts  accounting.contacts                accounting.contacts
//	Org.FindContactsByEmail            accounting.contacts[.read]         accounting.contacts[.read]
//	Org.FindContactsByNumbers          accounting.contacts[.read]         accounting.contacts[.read]
//	Org.ListContacts                   accounting.contacts[.read]         accounting.contacts[.read]
//	Org.CreateInvoices/VoidInvoices    accounting.transactions            accounting.invoices
//	Org.FindInvoicesByNumber           accounting.transactions[.read]     accounting.invoices[.read]
//	Org.FindInvoicesByID               accounting.transactions[.read]     accounting.invoices[.read]
//	Org.CreatePayments                 accounting.transactions            accounting.payments
//	Org.FindPaymentsByInvoice          accounting.transactions[.read]     accounting.payments[.read]
//	Org.Organisation/Currencies        accounting.settings[.read]         accounting.settings[.read]
//	Org.Accounts/TaxRates              accounting.settings[.read]         accounting.settings[.read]
//
// Typical use:
//
//	c, _ := xero.New(xero.Config{ClientID: id, ClientSecret: secret, RedirectURL: cb, Scopes: scopes})
//	org := c.Org(xeroTenantID, tokens) // tokens: a TokenSource, e.g. internal/tenant's TokenStore.Source
//	res, err := org.CreateInvoices(ctx, xero.CreateInvoicesParams{Invoices: invs, IdempotencyKey: key})
//	switch xero.Classify(err) { … }
package xero
