package config

import (
	"strconv"
	"strings"
)

// Error is one configuration problem.
type Error struct {
	// Key names what is at fault, never empty: a TOML key ("http.addr"), an
	// unknown environment variable ("XEROSYNC_HTTP_ADRR"), or the path of a
	// config file that cannot be read or parsed.
	Key string
	// Var is the environment variable the bad value came from, or empty when
	// it came from the TOML file or the problem is a missing value.
	Var string
	// Msg says what is wrong, for an operator; it never quotes a secret.
	Msg string
}

// Error renders the problem on one line: `key: msg`, or
// `key (XEROSYNC_VAR): msg` when the value came from the environment.
func (e Error) Error() string {
	if e.Var != "" {
		return oneLine(e.Key) + " (" + oneLine(e.Var) + "): " + oneLine(e.Msg)
	}
	return oneLine(e.Key) + ": " + oneLine(e.Msg)
}

// Errors is every problem Load (or a Require method) found, in a stable
// order. It is returned as *Errors; the daemon maps it to exit status 2.
type Errors []Error

// Error prints one line per problem.
func (e *Errors) Error() string {
	if e == nil || len(*e) == 0 {
		return "config: no problems"
	}
	lines := make([]string, len(*e))
	for i, p := range *e {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap gives each problem to errors.Is and errors.As.
func (e *Errors) Unwrap() []error {
	if e == nil {
		return nil
	}
	errs := make([]error, len(*e))
	for i, p := range *e {
		errs[i] = p
	}
	return errs
}

// oneLine keeps a problem on its own line whatever an operator typed: a
// value with a newline in it would otherwise split one problem into two
// lines and break the one-line-per-problem promise.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}
