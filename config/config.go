package config

import (
	"log/slog"
	"strings"
	"time"
)

// TokenKeySize is the length of the key that encrypts Xero tokens at rest.
const TokenKeySize = 32

// Config is xerosync's validated configuration. Load builds it; the daemon
// hands each section to the package that needs it.
type Config struct {
	Database DatabaseConfig
	HTTP     HTTPConfig
	Xero     XeroConfig
	Token    TokenConfig
	Outbox   OutboxConfig
	Log      LogConfig
}

// DatabaseConfig is the [database] section.
type DatabaseConfig struct {
	// URL is database.url (or the contents of database.url_file): a
	// postgres:// URL or a key=value connection string. It is a Secret
	// because it usually holds a password; log RedactedURL instead.
	URL Secret
	// Slot is database.slot, the logical replication slot (default
	// "xerosync").
	Slot string
	// Publication is database.publication (default "xerosync").
	Publication string
	// OnSlotLost is database.on_slot_lost: what the leader does when it finds the slot
	// missing or invalidated. OnSlotLostStop (the default) stops with the fix, for an
	// administrator to run `xerosync resync`; OnSlotLostResync runs that recovery itself.
	OnSlotLost string
}

// The values of database.on_slot_lost.
const (
	OnSlotLostStop   = "stop"
	OnSlotLostResync = "resync"
)

// HTTPConfig is the [http] section.
type HTTPConfig struct {
	// Addr is http.addr, the host:port the health, status and metrics
	// server listens on (default "127.0.0.1:7433").
	Addr string
}

// XeroConfig is the [xero] section.
type XeroConfig struct {
	// ClientID is xero.client_id; empty unless set (see RequireXero).
	ClientID string
	// ClientSecret is xero.client_secret, or the contents of
	// xero.client_secret_file with trailing newlines removed.
	ClientSecret Secret
	// RedirectURL is xero.redirect_url, exactly as registered with Xero
	// (default "http://localhost:7434/callback").
	RedirectURL string
	// Scopes is xero.scopes, split on whitespace; it always holds
	// offline_access.
	Scopes []string
	// LoginURL, IdentityURL and APIURL are xero.login_url,
	// xero.identity_url and xero.api_url without a trailing slash, so
	// callers append paths ("/connect/authorize") to them. Tests point them
	// at the Xero simulator.
	LoginURL    string
	IdentityURL string
	APIURL      string
	// LiveShare is xero.live_share: the share of each organisation's day budget kept for
	// live changes; backfill uses only the rest (default 0.2; strictly between 0 and 1).
	LiveShare float64
}

// TokenConfig is the [token] section.
type TokenConfig struct {
	// KeyFile is token.key_file, by default $CREDENTIALS_DIRECTORY/token-key
	// when systemd passes credentials; empty when neither is set.
	KeyFile string
	// Key is the 32-byte key read from KeyFile; empty when KeyFile is unset
	// or is the default and does not exist. Use Config.TokenKey.
	Key Secret
}

// OutboxConfig is the [outbox] section.
type OutboxConfig struct {
	// Retention is outbox.retention: finished outbox rows (done, cancelled) last changed
	// longer ago than this are deleted by the leading daemon (default 90 days; 0 keeps
	// them for ever). Written as a Go duration ("720h") or in days ("90d").
	Retention time.Duration
}

// LogConfig is the [log] section.
type LogConfig struct {
	// Level is log.level: debug, info (default), warn or error.
	Level slog.Level
	// Format is log.format: "text" (default) or "json".
	Format string
}

// RequireXero reports, as *Errors, the settings missing for calls to Xero:
// xero.client_id and xero.client_secret. Commands that talk to Xero call it
// after Load; the others run without Xero credentials.
func (c *Config) RequireXero() error {
	var errs Errors
	if c.Xero.ClientID == "" {
		errs = append(errs, Error{
			Key: "xero.client_id",
			Msg: "required to call Xero; set it in the config file or XEROSYNC_XERO_CLIENT_ID",
		})
	}
	if c.Xero.ClientSecret.IsZero() {
		errs = append(errs, Error{
			Key: "xero.client_secret",
			Msg: "required to call Xero; set xero.client_secret or xero.client_secret_file " +
				"(XEROSYNC_XERO_CLIENT_SECRET or XEROSYNC_XERO_CLIENT_SECRET_FILE)",
		})
	}
	if len(errs) > 0 {
		return &errs
	}
	return nil
}

// TokenKey returns the 32-byte key that encrypts Xero tokens at rest, or an
// *Errors naming token.key_file when there is none. Load has already read
// and checked the file, so TokenKey does no I/O.
func (c *Config) TokenKey() ([]byte, error) {
	switch {
	case c.Token.Key.IsZero() && c.Token.KeyFile == "":
		return nil, &Errors{{
			Key: "token.key_file",
			Msg: "required to store Xero tokens; set token.key_file (XEROSYNC_TOKEN_KEY_FILE) " +
				"or pass a systemd credential named token-key",
		}}
	case c.Token.Key.IsZero():
		return nil, &Errors{{
			Key: "token.key_file",
			Msg: c.Token.KeyFile + " does not exist; it must hold 32 random bytes, raw or base64",
		}}
	case len(c.Token.Key.Reveal()) != TokenKeySize:
		// Only a Config built by hand gets here; Load checks the length.
		return nil, &Errors{{Key: "token.key_file", Msg: "key is not 32 bytes"}}
	}
	return []byte(c.Token.Key.Reveal()), nil
}

// RedactedURL returns the database URL with every password replaced by
// "xxxxx": the userinfo password and password-like query parameters of a
// URL, and password-like keywords of a key=value string. It is what to log.
func (d DatabaseConfig) RedactedURL() string {
	s := d.URL.Reveal()
	if strings.Contains(s, "://") {
		return redactURL(s)
	}
	return redactKeywordValue(s)
}

// redactURL masks a postgres:// URL by hand rather than with net/url: libpq
// URLs may list several hosts ("h1:5432,h2:5432"), which url.Parse rejects,
// and a URL that fails to parse must still be logged without its password.
// The userinfo ends at the last '@', so a password holding an unescaped '/',
// '?' or '@' is still masked whole; erring that way can only over-mask.
func redactURL(s string) string {
	scheme, rest, _ := strings.Cut(s, "://")
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		if user, _, ok := strings.Cut(rest[:at], ":"); ok && !strings.ContainsAny(user, "/?#") {
			rest = user + ":xxxxx" + rest[at:]
		}
	}
	if base, query, ok := strings.Cut(rest, "?"); ok {
		query, fragment, hasFragment := strings.Cut(query, "#")
		params := strings.Split(query, "&")
		for i, p := range params {
			if name, _, ok := strings.Cut(p, "="); ok && isPasswordKeyword(name) {
				params[i] = name + "=xxxxx"
			}
		}
		rest = base + "?" + strings.Join(params, "&")
		if hasFragment {
			rest += "#" + fragment
		}
	}
	return scheme + "://" + rest
}

// redactKeywordValue masks passwords in a libpq key=value string, whose
// values are bare words or single-quoted with backslash escapes.
func redactKeywordValue(s string) string {
	var b strings.Builder
	i := 0
	for i < len(s) {
		if isSpace(s[i]) {
			b.WriteByte(s[i])
			i++
			continue
		}
		start := i
		for i < len(s) && s[i] != '=' && !isSpace(s[i]) {
			i++
		}
		keyword := s[start:i]
		b.WriteString(keyword)
		for i < len(s) && isSpace(s[i]) {
			b.WriteByte(s[i])
			i++
		}
		if i >= len(s) || s[i] != '=' {
			continue
		}
		b.WriteByte('=')
		i++
		for i < len(s) && isSpace(s[i]) {
			b.WriteByte(s[i])
			i++
		}
		valueStart := i
		if i < len(s) && s[i] == '\'' {
			for i++; i < len(s) && s[i] != '\''; i++ {
				if s[i] == '\\' {
					i++
				}
			}
			i = min(i+1, len(s)) // past the closing quote
		} else {
			for ; i < len(s) && !isSpace(s[i]); i++ {
				if s[i] == '\\' {
					i++
				}
			}
			i = min(i, len(s))
		}
		if isPasswordKeyword(keyword) {
			b.WriteString("xxxxx")
		} else {
			b.WriteString(s[valueStart:i])
		}
	}
	return b.String()
}

// isPasswordKeyword covers password and sslpassword, in any case.
func isPasswordKeyword(k string) bool {
	return strings.Contains(strings.ToLower(k), "password")
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}
