// Package xerosim is an in-process simulator of the parts of Xero that
// xerosync talks to: the login host (OAuth 2.0 authorisation with PKCE),
// the identity host (token, revocation) and the API host (/connections and
// the Accounting API for Contacts, Invoices, Payments, Organisation,
// Currencies, Accounts and TaxRates).
//
// It owns a model of Xero organisations and their documents and behaves the
// way shared/XERO.md says Xero behaves, including the awkward parts a client
// must survive: rotating single-use refresh tokens with a 30-minute grace
// period, fixed-window rate limits per tenant and per app, Idempotency-Key
// replay for 6 minutes (with errors cached), batches that half-succeed behind
// a 400, lock dates, and injected faults (5xx, organisation offline, latency,
// responses lost after the work was done, 429 bursts).
//
// The package imports nothing from xerosync, not even package xero, so the
// client and the simulator are two independent readings of Xero's
// documentation: a field name or rule that is wrong in one is not silently
// wrong in both.
//
// Guarantees:
//   - One Sim is an http.Handler that serves all three Xero hosts on
//     distinct path prefixes, so one base URL can stand in for login_url,
//     identity_url and api_url.
//   - New does no I/O and starts no goroutines; the Sim owns no background
//     work, so a test that closes its server leaks nothing.
//   - Every method is safe for concurrent use.
//   - Money is exact: amounts are parsed from JSON number text and computed
//     as decimals, never as float64.
//   - All time-dependent behaviour (token expiry, idempotency retention, rate
//     windows, default document dates) reads the simulated clock, which a
//     test can inject, scale and advance.
//
// Where Xero's behaviour is only known second-hand, or not at all, the code
// says so next to the choice it makes, so a live check can correct it.
package xerosim
