// Package config owns xerosync's settings: where they come from, what they
// may be, and how secrets among them are kept out of logs.
//
// [Load] is the one way to build a [Config]. It is a pure function of its
// [LoadParams]: the only I/O it does is through LoadParams.ReadFile (the TOML
// file, *_file secrets and the token key), it reads no process environment
// of its own, and the package has no globals and no init. It applies three
// layers, each winning over the one before:
//
//  1. the TOML file (--config, or /etc/xerosync/xerosync.toml when that
//     exists), parsed strictly: an unknown section or key, or a value of the
//     wrong type, is a problem;
//  2. environment variables: TOML key section.key is XEROSYNC_SECTION_KEY
//     (database.url is XEROSYNC_DATABASE_URL), and an unknown XEROSYNC_*
//     variable is a problem (XEROSYNC_TEST_* is left to the test tooling);
//  3. secrets given as files (xero.client_secret_file, database.url_file,
//     token.key_file), read last, so that the file named by the winning layer
//     is the one read.
//
// An empty value, in the file or the environment, counts as not set. For a
// secret that can be given inline or as a file, setting either form in the
// environment replaces both forms from the TOML file; setting both forms in
// one layer is a problem.
//
// Guarantees:
//   - Load reports every problem it finds at once, as an [*Errors]: one
//     [Error] per problem, each naming the key at fault (and the environment
//     variable, when the bad value came from one). The daemon prints it one
//     line per problem and exits with status 2; callers that cannot proceed
//     without Xero or the token key use [Config.RequireXero] and
//     [Config.TokenKey], which fail the same way.
//   - A Config returned without error is valid: names are Postgres
//     identifiers, addresses are host:port, URLs are absolute http(s), the
//     log level and format are known, the token key, when set, is 32 bytes.
//   - Secrets are held as [Secret] (internal/secret's Value, the type xero's
//     tokens have too), which prints, marshals and logs as [redacted]; no
//     error message from this package quotes a secret.
//
// config is a leaf: it imports nothing of xerosync's but internal/secret,
// itself a leaf.
package config
