package config

import "github.com/softbooq/xerosync/internal/secret"

// redacted is what a Secret shows instead of its value, everywhere.
const redacted = secret.Redacted

// Secret is a configuration value that must never reach a log line, an error message, a
// status page or a core dump printed by fmt: secret.Value, under the name configuration code
// reads best.
type Secret = secret.Value
