package config

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/softbooq/xerosync/internal/secret"
)

// DefaultPath is the config file Load reads when LoadParams.Path is empty.
// It is optional: when it does not exist, defaults and the environment apply.
const DefaultPath = "/etc/xerosync/xerosync.toml"

const (
	envPrefix = "XEROSYNC_"
	// testEnvPrefix is left to the test tooling (internal/pgtest reads
	// XEROSYNC_TEST_DATABASE_URL); no config section is called "test", so
	// ignoring it cannot hide a misspelt setting.
	testEnvPrefix = "XEROSYNC_TEST_"

	// tokenKeyCredential is the systemd credential token.key_file defaults
	// to, inside $CREDENTIALS_DIRECTORY.
	tokenKeyCredential = "token-key"
)

// LoadParams are Load's inputs: everything it may look at.
type LoadParams struct {
	// Path is the TOML file; empty means DefaultPath.
	Path string
	// PathExplicit is true when the operator named the file (--config): a
	// missing file is then a problem. Otherwise a missing file means no file.
	PathExplicit bool
	// Env is the process environment by name (see EnvMap); nil is empty.
	Env map[string]string
	// ReadFile reads the config file and the secret files; nil means
	// os.ReadFile.
	ReadFile func(name string) ([]byte, error)
}

// EnvMap turns os.Environ()-style "NAME=value" entries into the map
// LoadParams.Env takes. As with os.Getenv, the first of duplicate names wins.
func EnvMap(environ []string) map[string]string {
	env := make(map[string]string, len(environ))
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		if _, dup := env[name]; !dup {
			env[name] = value
		}
	}
	return env
}

// setting is one TOML key Load knows.
type setting struct {
	key    string // "section.name"
	list   bool   // a TOML array of strings is accepted as well as a string
	number bool   // a TOML number is accepted as well as a string
	// def is the default, as the operator would write it. It is written here only: the
	// example config and the README state it too, and a test holds them to this one.
	def string
}

// settings lists every key, in the order problems are reported. It is a
// function, not a package variable, to keep the package free of globals.
func settings() []setting {
	return []setting{
		{key: "database.url"},
		{key: "database.url_file"},
		{key: "database.slot", def: "xerosync"},
		{key: "database.publication", def: "xerosync"},
		{key: "database.on_slot_lost", def: "stop"},
		{key: "http.addr", def: "127.0.0.1:7433"},
		{key: "xero.client_id"},
		{key: "xero.client_secret"},
		{key: "xero.client_secret_file"},
		{key: "xero.redirect_url", def: "http://localhost:7434/callback"},
		{key: "xero.scopes", list: true, def: "offline_access accounting.contacts accounting.transactions accounting.settings.read"},
		{key: "xero.login_url", def: "https://login.xero.com"},
		{key: "xero.identity_url", def: "https://identity.xero.com"},
		{key: "xero.api_url", def: "https://api.xero.com"},
		{key: "xero.live_share", number: true, def: "0.2"},
		{key: "token.key_file"},
		{key: "outbox.retention", def: "90d"},
		{key: "log.level", def: "info"},
		{key: "log.format", def: "text"},
	}
}

// Defaults returns every key that has a default, with the default as the operator would write
// it in the file (the README and the example config state these).
func Defaults() map[string]string {
	d := make(map[string]string)
	for _, s := range settings() {
		if s.def != "" {
			d[s.key] = s.def
		}
	}
	return d
}

// secretPairs are the secrets that may be given inline or as a file.
func secretPairs() [][2]string {
	return [][2]string{
		{"database.url", "database.url_file"},
		{"xero.client_secret", "xero.client_secret_file"},
	}
}

// envName is the environment variable of a TOML key.
func envName(key string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// value is one setting as given, before validation.
type value struct {
	s    string   // the string form
	list []string // the elements of a TOML array (xero.scopes only)
	env  string   // the environment variable it came from; "" for the file
}

// loader carries one Load call's state.
type loader struct {
	readFile func(string) ([]byte, error)
	known    map[string]setting
	vals     map[string]value
	// bad holds keys whose TOML value was of the wrong type: already
	// reported, so they are not reported again as missing.
	bad  map[string]bool
	errs Errors
}

// Load builds the Config from the TOML file, the environment and secret
// files, in that order of increasing precedence. It returns either a valid
// Config or an *Errors holding every problem found; nothing in between.
func Load(p LoadParams) (*Config, error) {
	l := &loader{
		readFile: p.ReadFile,
		known:    make(map[string]setting),
		vals:     make(map[string]value),
		bad:      make(map[string]bool),
	}
	if l.readFile == nil {
		l.readFile = os.ReadFile
	}
	for _, s := range settings() {
		l.known[s.key] = s
	}

	path := cmp.Or(p.Path, DefaultPath)
	data, err := l.readFile(path)
	switch {
	case err == nil:
		l.loadTOML(path, data)
	case errors.Is(err, fs.ErrNotExist) && !p.PathExplicit:
		// The default file is optional: defaults and environment only.
	default:
		l.fail(path, "", "cannot read config file: %s", describeReadError(err))
	}
	l.loadEnv(p.Env)

	cfg := l.build(p.Env)
	if len(l.errs) > 0 {
		errs := l.errs
		return nil, &errs
	}
	return cfg, nil
}

// fail records a problem.
func (l *loader) fail(key, envVar, format string, args ...any) {
	l.errs = append(l.errs, Error{Key: key, Var: envVar, Msg: fmt.Sprintf(format, args...)})
}

// failValue records a problem with the value of key, naming the environment
// variable it came from, if any.
func (l *loader) failValue(key, format string, args ...any) {
	l.fail(key, l.vals[key].env, format, args...)
}

// loadTOML parses the file and takes its known keys. It walks the document
// itself instead of decoding into a struct and asking MetaData.Undecoded for
// the rest: struct decoding stops at the first value of the wrong type and
// matches keys case-insensitively, while the contract is every problem at
// once and keys exactly as documented.
func (l *loader) loadTOML(path string, data []byte) {
	var doc map[string]any
	if _, err := toml.Decode(string(data), &doc); err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			l.fail(path, "", "line %d, column %d: %s", perr.Position.Line, perr.Position.Col, perr.Message)
		} else {
			l.fail(path, "", "%v", err)
		}
		return
	}
	sections := make(map[string]bool)
	for key := range l.known {
		section, _, _ := strings.Cut(key, ".")
		sections[section] = true
	}
	// Sorted, so that problems come out in a stable order.
	for _, section := range slices.Sorted(maps.Keys(doc)) {
		name := toml.Key{section}.String()
		if !sections[section] {
			what := "unknown section"
			if _, isTable := doc[section].(map[string]any); !isTable {
				what = "unknown key (settings belong in a section, such as [database])"
			}
			l.fail(name, "", "%s%s", what, suggest(section, sections))
			continue
		}
		table, ok := doc[section].(map[string]any)
		if !ok {
			l.fail(name, "", "must be a table ([%s]), not %s", section, tomlType(doc[section]))
			continue
		}
		for _, k := range slices.Sorted(maps.Keys(table)) {
			key := section + "." + k
			name := toml.Key{section, k}.String()
			s, ok := l.known[key]
			if !ok {
				l.fail(name, "", "unknown key%s", suggest(key, l.known))
				continue
			}
			switch v := table[k].(type) {
			case string:
				if v != "" {
					l.vals[key] = value{s: v}
				}
			case []any:
				if !s.list {
					l.bad[key] = true
					l.fail(key, "", "must be a string, not an array")
					continue
				}
				list, ok := stringList(v)
				if !ok {
					l.bad[key] = true
					l.fail(key, "", "must be a string or an array of strings")
					continue
				}
				if len(list) > 0 {
					l.vals[key] = value{s: strings.Join(list, " "), list: list}
				}
			case float64, int64:
				if s.number {
					l.vals[key] = value{s: fmt.Sprint(v)}
					continue
				}
				l.bad[key] = true
				l.fail(key, "", "must be a string, not %s", tomlType(v))
			default:
				l.bad[key] = true
				want := "a string"
				if s.list {
					want = "a string or an array of strings"
				}
				l.fail(key, "", "must be %s, not %s", want, tomlType(v))
			}
		}
	}
}

// loadEnv lays the XEROSYNC_* variables over the file's values.
func (l *loader) loadEnv(env map[string]string) {
	byEnv := make(map[string]string, len(l.known))
	for key := range l.known {
		byEnv[envName(key)] = key
	}
	fromEnv := make(map[string]value)
	for _, name := range slices.Sorted(maps.Keys(env)) {
		if !strings.HasPrefix(name, envPrefix) || strings.HasPrefix(name, testEnvPrefix) {
			continue
		}
		key, ok := byEnv[name]
		if !ok {
			l.fail(name, "", "unknown environment variable")
			continue
		}
		if v := env[name]; v != "" {
			fromEnv[key] = value{s: v, env: name}
		}
	}
	// A secret set in the environment, in either form, replaces both forms
	// from the file: the operator who exports XEROSYNC_XERO_CLIENT_SECRET_FILE
	// means that file, whatever client_secret the TOML holds.
	for _, pair := range secretPairs() {
		_, inline := fromEnv[pair[0]]
		_, file := fromEnv[pair[1]]
		if inline || file {
			delete(l.vals, pair[0])
			delete(l.vals, pair[1])
		}
	}
	for key, v := range fromEnv {
		l.vals[key] = v
		delete(l.bad, key)
	}
}

// build validates every setting, applies defaults and reads secret files.
func (l *loader) build(env map[string]string) *Config {
	cfg := &Config{}

	cfg.Database.URL = l.secret("database.url", "database.url_file")
	switch dsn := cfg.Database.URL.Reveal(); {
	case dsn == "" && !l.bad["database.url"] && !l.bad["database.url_file"] && !l.has("database.url_file"):
		l.fail("database.url", "", "required; set it in the config file or XEROSYNC_DATABASE_URL")
	case dsn != "":
		if msg := checkDatabaseURL(dsn); msg != "" {
			key := "database.url"
			if l.has("database.url_file") {
				key = "database.url_file"
			}
			l.failValue(key, "%s", msg)
		}
	}
	cfg.Database.Slot = l.str("database.slot", checkIdentifier)
	cfg.Database.Publication = l.str("database.publication", checkIdentifier)
	cfg.Database.OnSlotLost = l.str("database.on_slot_lost", checkOnSlotLost)

	cfg.HTTP.Addr = l.str("http.addr", checkHostPort)

	cfg.Xero.ClientID = l.str("xero.client_id", checkNoSpace)
	cfg.Xero.ClientSecret = l.secret("xero.client_secret", "xero.client_secret_file")
	cfg.Xero.RedirectURL = l.str("xero.redirect_url", checkRedirectURL)
	cfg.Xero.Scopes = l.scopes()
	cfg.Xero.LoginURL = strings.TrimRight(l.str("xero.login_url", checkBaseURL), "/")
	cfg.Xero.IdentityURL = strings.TrimRight(l.str("xero.identity_url", checkBaseURL), "/")
	cfg.Xero.APIURL = strings.TrimRight(l.str("xero.api_url", checkBaseURL), "/")
	cfg.Xero.LiveShare, _ = strconv.ParseFloat(l.str("xero.live_share", checkLiveShare), 64)

	cfg.Token = l.token(env["CREDENTIALS_DIRECTORY"])

	cfg.Outbox.Retention, _ = parseRetention(l.str("outbox.retention", checkRetention))

	level := l.str("log.level", checkLogLevel)
	cfg.Log.Level = logLevels[strings.ToLower(level)] // info when the value was refused
	cfg.Log.Format = strings.ToLower(l.str("log.format", checkLogFormat))
	return cfg
}

func (l *loader) has(key string) bool {
	_, ok := l.vals[key]
	return ok
}

// str returns key's value, or its default when it is not set, after check (which
// returns a message for a bad value, "" for a good one).
func (l *loader) str(key string, check func(string) string) string {
	def := l.known[key].def
	v, ok := l.vals[key]
	if !ok {
		return def
	}
	if msg := check(v.s); msg != "" {
		l.failValue(key, "%s", msg)
		return def
	}
	return v.s
}

// secret returns the secret given inline as key or as a file named by
// fileKey (trailing newlines trimmed: editors and `echo` add them).
func (l *loader) secret(key, fileKey string) Secret {
	inline, hasInline := l.vals[key]
	file, hasFile := l.vals[fileKey]
	switch {
	case hasInline && hasFile:
		l.failValue(key, "set either %s or %s, not both", key, fileKey)
		return Secret{}
	case hasInline:
		return secret.New(inline.s)
	case !hasFile:
		return Secret{}
	}
	data, err := l.readFile(file.s)
	if err != nil {
		l.failValue(fileKey, "cannot read: %s", describeReadError(err))
		return Secret{}
	}
	s := strings.TrimRight(string(data), "\r\n")
	if s == "" {
		l.failValue(fileKey, "%s is empty", file.s)
	}
	return secret.New(s)
}

// scopes returns xero.scopes as a list.
func (l *loader) scopes() []string {
	v, ok := l.vals["xero.scopes"]
	if !ok {
		return strings.Fields(l.known["xero.scopes"].def)
	}
	list := v.list
	if list == nil {
		list = strings.Fields(v.s)
	}
	for _, s := range list {
		if s == "" || strings.ContainsFunc(s, isSpaceRune) {
			l.failValue("xero.scopes", "%q is not a scope: scopes are single words", s)
			return strings.Fields(l.known["xero.scopes"].def)
		}
	}
	if !slices.Contains(list, "offline_access") {
		l.failValue("xero.scopes", "must include offline_access: without it Xero issues no refresh token")
	}
	return list
}

// token resolves token.key_file and reads the key. The systemd default is
// optional (commands that store no tokens run without it); a file the
// operator named must exist.
func (l *loader) token(credentialsDir string) TokenConfig {
	const key = "token.key_file"
	v, explicit := l.vals[key]
	path := v.s
	if !explicit {
		if credentialsDir == "" {
			return TokenConfig{}
		}
		path = filepath.Join(credentialsDir, tokenKeyCredential)
	}
	t := TokenConfig{KeyFile: path}
	data, err := l.readFile(path)
	switch {
	case err == nil:
	case !explicit && errors.Is(err, fs.ErrNotExist):
		return t
	case explicit:
		l.failValue(key, "cannot read: %s", describeReadError(err))
		return t
	default:
		l.fail(key, "", "cannot read the default $CREDENTIALS_DIRECTORY/%s: %s", tokenKeyCredential, describeReadError(err))
		return t
	}
	k, msg := parseTokenKey(data)
	if msg != "" {
		l.failValue(key, "%s: %s", path, msg)
		return t
	}
	t.Key = secret.New(string(k))
	return t
}

// parseTokenKey accepts exactly 32 raw bytes, or base64 (standard or URL
// alphabet, padded or not, surrounded by whitespace) of 32 bytes. Raw is
// tried first and only at exactly 32 bytes, because random bytes may well
// start or end with a byte that looks like whitespace.
func parseTokenKey(data []byte) ([]byte, string) {
	if len(data) == TokenKeySize {
		return bytes.Clone(data), ""
	}
	text := bytes.TrimSpace(data)
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding,
	} {
		key := make([]byte, enc.DecodedLen(len(text)))
		n, err := enc.Decode(key, text)
		if err == nil && n == TokenKeySize {
			return key[:n], ""
		}
	}
	return nil, fmt.Sprintf("must hold 32 random bytes, raw or base64-encoded; it holds %d bytes that are neither", len(data))
}

// describeReadError says why a file could not be read, naming the file once:
// an *fs.PathError already carries the path.
func describeReadError(err error) string {
	var perr *fs.PathError
	if errors.As(err, &perr) {
		return perr.Path + ": " + perr.Err.Error()
	}
	return err.Error()
}

// checkDatabaseURL is deliberately shallow: pgx parses the string when it
// connects, and its parse errors may quote the password. This only catches
// what is plainly not a connection string, without echoing the value.
func checkDatabaseURL(s string) string {
	if scheme, _, ok := strings.Cut(s, "://"); ok {
		switch strings.ToLower(scheme) {
		case "postgres", "postgresql":
			return ""
		}
		return "must be a postgres:// or postgresql:// URL or a key=value connection string"
	}
	if !strings.Contains(s, "=") {
		return "must be a postgres:// URL or a key=value connection string"
	}
	return ""
}

// checkIdentifier accepts names usable unquoted as a Postgres identifier and
// as a replication slot name: slot names allow only [a-z0-9_], and an
// identifier may not start with a digit; 63 bytes is NAMEDATALEN-1.
func checkIdentifier(s string) string {
	ok := len(s) >= 1 && len(s) <= 63 && (s[0] < '0' || s[0] > '9')
	for i := 0; ok && i < len(s); i++ {
		c := s[i]
		ok = c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_'
	}
	if !ok {
		return fmt.Sprintf("%q is not a valid name: use 1 to 63 lowercase letters, digits and underscores, not starting with a digit", s)
	}
	return ""
}

// checkOnSlotLost wants what the daemon does when its slot is lost: stop, or resync.
func checkOnSlotLost(s string) string {
	if s != OnSlotLostStop && s != OnSlotLostResync {
		return fmt.Sprintf("%q is not %q or %q", s, OnSlotLostStop, OnSlotLostResync)
	}
	return ""
}

// checkHostPort wants a numeric port: resolving a service name would be I/O.
// Port 0 (any free port) is allowed for tests.
func checkHostPort(s string) string {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Sprintf("%q is not host:port", s)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Sprintf("%q is not host:port: the port must be a number from 0 to 65535", s)
	}
	return ""
}

func checkNoSpace(s string) string {
	if strings.ContainsFunc(s, isSpaceRune) {
		return fmt.Sprintf("%q contains whitespace", s)
	}
	return ""
}

// checkHTTPURL accepts an absolute http or https URL with a host.
func checkHTTPURL(s string) (*url.URL, string) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return nil, fmt.Sprintf("%q is not an absolute http(s) URL", s)
	}
	return u, ""
}

// checkRedirectURL: OAuth 2.0 forbids a fragment in a redirect URI.
func checkRedirectURL(s string) string {
	u, msg := checkHTTPURL(s)
	if msg != "" {
		return msg
	}
	if u.Fragment != "" || strings.Contains(s, "#") {
		return fmt.Sprintf("%q has a fragment, which a redirect URL may not have", s)
	}
	return ""
}

// checkBaseURL: a base URL gets paths appended, so a query, fragment or
// userinfo would end up in the wrong place.
func checkBaseURL(s string) string {
	u, msg := checkHTTPURL(s)
	if msg != "" {
		return msg
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(s, "#") || u.User != nil {
		return fmt.Sprintf("%q must be a base URL, without user, query or fragment", s)
	}
	return ""
}

// parseRetention reads outbox.retention: "0" (keep for ever), a Go duration, or whole days
// ("90d"), since retention is thought of in days and Go durations stop at hours.
func parseRetention(s string) (time.Duration, bool) {
	s = strings.TrimSpace(s)
	if s == "0" {
		return 0, true
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseUint(days, 10, 16)
		return time.Duration(n) * 24 * time.Hour, err == nil
	}
	d, err := time.ParseDuration(s)
	return d, err == nil && d >= 0
}

// checkLiveShare: a share of the day kept for live rows, strictly between 0 and 1 (0 would
// let backfill spend the whole day; 1 would never backfill).
func checkLiveShare(s string) string {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || !(f > 0 && f < 1) {
		return fmt.Sprintf("%q is not a share: write a number between 0 and 1, such as 0.2 (a fifth of each day's calls kept for live changes)", s)
	}
	return ""
}

// checkRetention wants a retention of at least an hour (or 0): shorter would prune rows an
// operator is still looking at.
func checkRetention(s string) string {
	d, ok := parseRetention(s)
	switch {
	case !ok:
		return fmt.Sprintf("%q is not a duration: write 0 (keep for ever), days (\"90d\") or a Go duration (\"720h\")", s)
	case d != 0 && d < time.Hour:
		return fmt.Sprintf("%q is shorter than an hour: keep finished rows at least that long, or 0 to keep them for ever", s)
	}
	return ""
}

// logLevels are the log.level values.
var logLevels = map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}

func checkLogLevel(s string) string {
	if _, ok := logLevels[strings.ToLower(s)]; !ok {
		return fmt.Sprintf("%q is not a log level: use debug, info, warn or error", s)
	}
	return ""
}

func checkLogFormat(s string) string {
	switch strings.ToLower(s) {
	case "text", "json":
		return ""
	}
	return fmt.Sprintf("%q is not a log format: use text or json", s)
}

// suggest names the known key an unknown one was probably meant to be:
// different case, or '-' for '_'.
func suggest[V any](name string, known map[string]V) string {
	norm := func(s string) string { return strings.ToLower(strings.ReplaceAll(s, "-", "_")) }
	for _, k := range slices.Sorted(maps.Keys(known)) {
		if norm(k) == norm(name) {
			return "; did you mean " + k + "?"
		}
	}
	return ""
}

// stringList returns the elements of a TOML array if all are strings,
// dropping empty ones.
func stringList(a []any) ([]string, bool) {
	list := make([]string, 0, len(a))
	for _, e := range a {
		s, ok := e.(string)
		if !ok {
			return nil, false
		}
		if s != "" {
			list = append(list, s)
		}
	}
	return list, true
}

// tomlType names a decoded TOML value's type for a message.
func tomlType(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case time.Time:
		return "a datetime"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	case []map[string]any:
		return "an array of tables"
	}
	return fmt.Sprintf("%T", v)
}

func isSpaceRune(r rune) bool { return r < 0x80 && isSpace(byte(r)) }
