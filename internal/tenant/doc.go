// Package tenant owns the link between a Softbooq tenant and its Xero organisation: the rows
// of xerosync.connections. It is the only package that inserts, updates or deletes them
// (STYLE habit 13); others read them (status, the dispatcher's tenant list) or call here.
//
// What it guarantees:
//
//   - Tokens: refresh tokens are single-use at Xero. TokenStore refreshes under a row lock
//     (SELECT … FOR UPDATE) so two processes never present the same refresh token, commits the
//     rotated token set before anyone uses it (a crash before the commit leaves the old token,
//     which Xero honours for 30 minutes), and marks the connection auth_failed on
//     invalid_grant. Only `xerosync connect` (Save) revives such a connection.
//   - Sealing: token sets are sealed with AES-256-GCM, bound to the tenant row (a set copied
//     into another row does not open), and never appear in logs, errors or String output. A
//     set that does not open with the configured key marks its connection auth_failed with a
//     message naming the key; VerifyKey checks the key before a daemon leads, and Reseal
//     changes it in one transaction.
//   - Disconnect revokes the refresh token at Xero before forgetting it, under the row lock,
//     and closes the capture window in the same transaction as the state change.
//   - Auth failures: one statement marks a connection auth_failed, for the store and the
//     dispatcher alike, and only while it is still the connected one.
//   - Linking rules (PlanLink, PlanDisconnect) are pure functions over loaded data: one Xero
//     organisation per tenant, no move to another organisation once the tenant has rows
//     queued or linked, no removal of Xero connections another tenant uses, and no revocation
//     when the same Xero user authorised an organisation another tenant uses. Links does the
//     I/O around them and returns what it did; the commands print it.
package tenant
