package config

import (
	"encoding/base64"
	"errors"
	"io/fs"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/softbooq/xerosync/internal/secret"
)

// files is an in-memory file system for LoadParams.ReadFile.
type files map[string]string

func (f files) read(name string) ([]byte, error) {
	if s, ok := f[name]; ok {
		return []byte(s), nil
	}
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

const (
	testPath = "/etc/xerosync/test.toml"
	testDSN  = "postgres://xerosync:pw@db:5432/softbooq"
	// testKey is 32 bytes.
	testKey = "0123456789abcdef0123456789abcdef"
)

// defaults is what Load returns when only database.url is set.
func defaults() *Config {
	return &Config{
		Database: DatabaseConfig{URL: secret.New(testDSN), Slot: "xerosync", Publication: "xerosync", OnSlotLost: "stop"},
		HTTP:     HTTPConfig{Addr: "127.0.0.1:7433"},
		Xero: XeroConfig{
			RedirectURL: "http://localhost:7434/callback",
			Scopes:      []string{"offline_access", "accounting.contacts", "accounting.transactions", "accounting.settings.read"},
			LoginURL:    "https://login.xero.com",
			IdentityURL: "https://identity.xero.com",
			APIURL:      "https://api.xero.com",
			LiveShare:   0.2,
		},
		Outbox: OutboxConfig{Retention: 90 * 24 * time.Hour},
		Log:    LogConfig{Level: slog.LevelInfo, Format: "text"},
	}
}

// loadCase is one Load call: a TOML file at testPath (none when toml is
// empty), an environment and further files.
type loadCase struct {
	name     string
	toml     string
	env      map[string]string
	files    files
	explicit bool
}

func (c loadCase) load() (*Config, error) {
	fsys := files{}
	for k, v := range c.files {
		fsys[k] = v
	}
	if c.toml != "" {
		fsys[testPath] = c.toml
	}
	return Load(LoadParams{Path: testPath, PathExplicit: c.explicit, Env: c.env, ReadFile: fsys.read})
}

func TestLoad(t *testing.T) {
	t.Parallel()
	b64Key := base64.StdEncoding.EncodeToString([]byte(testKey))
	tests := []struct {
		loadCase
		want func(*Config)
	}{
		{
			loadCase: loadCase{name: "defaults", env: map[string]string{"XEROSYNC_DATABASE_URL": testDSN}},
			want:     func(*Config) {},
		},
		{
			loadCase: loadCase{name: "every key from TOML", toml: `
[database]
url = "` + testDSN + `"
slot = "slot_1"
publication = "pub_1"

[http]
addr = ":8080"

[xero]
client_id = "CLIENTID"
client_secret = "shh"
redirect_url = "https://sync.example.com/callback?x=1"
scopes = "offline_access accounting.invoices  accounting.payments"
login_url = "http://127.0.0.1:9000/login/"
identity_url = "http://127.0.0.1:9000/identity"
api_url = "http://127.0.0.1:9000/api/"
live_share = 0.35

[token]
key_file = "/keys/token"

[outbox]
retention = "720h"

[log]
level = "DEBUG"
format = "json"
`, files: files{"/keys/token": testKey}},
			want: func(c *Config) {
				c.Database.Slot, c.Database.Publication = "slot_1", "pub_1"
				c.HTTP.Addr = ":8080"
				c.Xero = XeroConfig{
					ClientID:     "CLIENTID",
					ClientSecret: secret.New("shh"),
					RedirectURL:  "https://sync.example.com/callback?x=1",
					Scopes:       []string{"offline_access", "accounting.invoices", "accounting.payments"},
					LoginURL:     "http://127.0.0.1:9000/login",
					IdentityURL:  "http://127.0.0.1:9000/identity",
					APIURL:       "http://127.0.0.1:9000/api",
					LiveShare:    0.35,
				}
				c.Token = TokenConfig{KeyFile: "/keys/token", Key: secret.New(testKey)}
				c.Outbox.Retention = 720 * time.Hour
				c.Log = LogConfig{Level: slog.LevelDebug, Format: "json"}
			},
		},
		{
			loadCase: loadCase{name: "environment wins over TOML", toml: `
[database]
url = "postgres://file@db/x"
slot = "from_file"
[http]
addr = "127.0.0.1:1"
[log]
level = "error"
`, env: map[string]string{
				"XEROSYNC_DATABASE_URL":  testDSN,
				"XEROSYNC_HTTP_ADDR":     "0.0.0.0:9999",
				"XEROSYNC_XERO_SCOPES":   "offline_access accounting.contacts",
				"XEROSYNC_LOG_LEVEL":     "warn",
				"XEROSYNC_XERO_API_URL":  "http://sim:1",
				"XEROSYNC_DATABASE_SLOT": "",
			}},
			want: func(c *Config) {
				c.Database.Slot = "from_file" // an empty variable counts as unset
				c.HTTP.Addr = "0.0.0.0:9999"
				c.Xero.Scopes = []string{"offline_access", "accounting.contacts"}
				c.Xero.APIURL = "http://sim:1"
				c.Log.Level = slog.LevelWarn
			},
		},
		{
			loadCase: loadCase{name: "scopes as a TOML array", toml: `
database.url = "` + testDSN + `"
xero.scopes = ["offline_access", "accounting.transactions", ""]
`},
			want: func(c *Config) { c.Xero.Scopes = []string{"offline_access", "accounting.transactions"} },
		},
		{
			loadCase: loadCase{name: "empty TOML values count as unset", toml: `
[database]
url = "` + testDSN + `"
slot = ""
[xero]
scopes = []
`},
			want: func(*Config) {},
		},
		{
			loadCase: loadCase{
				name:  "secret file trailing newline trimmed",
				env:   map[string]string{"XEROSYNC_DATABASE_URL": testDSN, "XEROSYNC_XERO_CLIENT_SECRET_FILE": "/run/creds/secret"},
				files: files{"/run/creds/secret": "s3cret value\r\n\n"},
			},
			want: func(c *Config) { c.Xero.ClientSecret = secret.New("s3cret value") },
		},
		{
			loadCase: loadCase{
				name:  "secret file in environment replaces inline secret in TOML",
				toml:  "[database]\nurl = \"" + testDSN + "\"\n[xero]\nclient_secret = \"from-toml\"\n",
				env:   map[string]string{"XEROSYNC_XERO_CLIENT_SECRET_FILE": "/run/creds/secret"},
				files: files{"/run/creds/secret": "from-file\n"},
			},
			want: func(c *Config) { c.Xero.ClientSecret = secret.New("from-file") },
		},
		{
			loadCase: loadCase{
				name:  "inline secret in environment replaces secret file in TOML",
				toml:  "[database]\nurl = \"" + testDSN + "\"\n[xero]\nclient_secret_file = \"/missing\"\n",
				env:   map[string]string{"XEROSYNC_XERO_CLIENT_SECRET": "from-env"},
				files: files{},
			},
			want: func(c *Config) { c.Xero.ClientSecret = secret.New("from-env") },
		},
		{
			loadCase: loadCase{
				name:  "database url from file",
				toml:  "[database]\nurl_file = \"/run/creds/db\"\n",
				files: files{"/run/creds/db": testDSN + "\n"},
			},
			want: func(*Config) {},
		},
		{
			loadCase: loadCase{
				name: "key=value connection string",
				env:  map[string]string{"XEROSYNC_DATABASE_URL": "host=/run/postgresql dbname=softbooq"},
			},
			want: func(c *Config) { c.Database.URL = secret.New("host=/run/postgresql dbname=softbooq") },
		},
		{
			loadCase: loadCase{name: "test tooling and foreign variables ignored", env: map[string]string{
				"XEROSYNC_DATABASE_URL":      testDSN,
				"XEROSYNC_TEST_DATABASE_URL": "postgres://elsewhere",
				"PGPASSWORD":                 "x",
				"xerosync_http_addr":         "nonsense",
			}},
			want: func(*Config) {},
		},
		{
			loadCase: loadCase{
				name:  "token key from systemd credentials",
				env:   map[string]string{"XEROSYNC_DATABASE_URL": testDSN, "CREDENTIALS_DIRECTORY": "/run/credentials/xerosync.service"},
				files: files{"/run/credentials/xerosync.service/token-key": b64Key + "\n"},
			},
			want: func(c *Config) {
				c.Token = TokenConfig{KeyFile: "/run/credentials/xerosync.service/token-key", Key: secret.New(testKey)}
			},
		},
		{
			loadCase: loadCase{
				name: "missing default token key is not an error",
				env:  map[string]string{"XEROSYNC_DATABASE_URL": testDSN, "CREDENTIALS_DIRECTORY": "/run/credentials/xerosync.service"},
			},
			want: func(c *Config) { c.Token.KeyFile = "/run/credentials/xerosync.service/token-key" },
		},
		{
			loadCase: loadCase{
				name:     "explicit file",
				toml:     "database.url = \"" + testDSN + "\"\n",
				explicit: true,
			},
			want: func(*Config) {},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.load()
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			want := defaults()
			tt.want(want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Load =\n%#v\nwant\n%#v\n(secrets: got %q %q %q, want %q %q %q)", got, want,
					got.Database.URL.Reveal(), got.Xero.ClientSecret.Reveal(), got.Token.Key.Reveal(),
					want.Database.URL.Reveal(), want.Xero.ClientSecret.Reveal(), want.Token.Key.Reveal())
			}
		})
	}
}

func TestLoadDefaultPath(t *testing.T) {
	t.Parallel()
	var read []string
	_, err := Load(LoadParams{
		Env: map[string]string{"XEROSYNC_DATABASE_URL": testDSN},
		ReadFile: func(name string) ([]byte, error) {
			read = append(read, name)
			return files{}.read(name)
		},
	})
	if err != nil {
		t.Fatalf("Load without a default file: %v", err)
	}
	if !slices.Equal(read, []string{DefaultPath}) {
		t.Errorf("read %q, want only %q", read, DefaultPath)
	}

	// A default file that exists but cannot be read is a problem, not
	// silently skipped: the operator meant it to apply.
	_, err = Load(LoadParams{
		Env: map[string]string{"XEROSYNC_DATABASE_URL": testDSN},
		ReadFile: func(name string) ([]byte, error) {
			return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
		},
	})
	if want := DefaultPath + ": cannot read config file: " + DefaultPath + ": permission denied"; err == nil || err.Error() != want {
		t.Errorf("Load with an unreadable default file = %v, want %q", err, want)
	}
}

func TestLoadProblems(t *testing.T) {
	t.Parallel()
	withDB := map[string]string{"XEROSYNC_DATABASE_URL": testDSN}
	tests := []struct {
		loadCase
		// want is every problem, in order, as Error() prints it, or a
		// prefix of it ending in "…".
		want []string
	}{
		{
			loadCase: loadCase{name: "explicit file missing", env: withDB, explicit: true},
			want:     []string{testPath + ": cannot read config file: " + testPath + ": file does not exist"},
		},
		{
			loadCase: loadCase{name: "TOML syntax", env: withDB, toml: "[http]\naddr = \n"},
			want:     []string{testPath + ": line 2, column …"},
		},
		{
			loadCase: loadCase{name: "unknown TOML key", env: withDB, toml: "[database]\nuri = \"x\"\n"},
			want:     []string{"database.uri: unknown key"},
		},
		{
			loadCase: loadCase{name: "unknown TOML section", env: withDB, toml: "[db]\nurl = \"x\"\n"},
			want:     []string{"db: unknown section"},
		},
		{
			loadCase: loadCase{name: "misspelt TOML key", env: withDB, toml: "[Database]\nslot = \"x\"\n[xero]\nclient-id = \"x\"\n"},
			want: []string{
				"Database: unknown section; did you mean database?",
				"xero.client-id: unknown key; did you mean xero.client_id?",
			},
		},
		{
			loadCase: loadCase{name: "key outside a section", env: withDB, toml: "url = \"x\"\n"},
			want:     []string{"url: unknown key (settings belong in a section, such as [database])"},
		},
		{
			loadCase: loadCase{name: "section not a table", env: withDB, toml: "http = 5\n"},
			want:     []string{"http: must be a table ([http]), not an integer"},
		},
		{
			loadCase: loadCase{name: "nested table under a key", env: withDB, toml: "[http.addr]\nport = 1\n"},
			want:     []string{"http.addr: must be a string, not a table"},
		},
		{
			loadCase: loadCase{name: "wrong TOML types", toml: "database.url = 5\nhttp.addr = 7433\nxero.scopes = [1]\nlog.level = [\"info\"]\n"},
			want: []string{
				"database.url: must be a string, not an integer",
				"http.addr: must be a string, not an integer",
				"log.level: must be a string, not an array",
				"xero.scopes: must be a string or an array of strings",
			},
		},
		{
			loadCase: loadCase{name: "unknown environment variables", env: map[string]string{
				"XEROSYNC_DATABASE_URL": testDSN, "XEROSYNC_HTTP_ADRR": "x", "XEROSYNC_CONFIG": "",
			}},
			want: []string{
				"XEROSYNC_CONFIG: unknown environment variable",
				"XEROSYNC_HTTP_ADRR: unknown environment variable",
			},
		},
		{
			loadCase: loadCase{name: "database url required"},
			want:     []string{"database.url: required; set it in the config file or XEROSYNC_DATABASE_URL"},
		},
		{
			loadCase: loadCase{name: "database url not postgres", env: map[string]string{"XEROSYNC_DATABASE_URL": "mysql://u:hunter2@h/db"}},
			want:     []string{"database.url (XEROSYNC_DATABASE_URL): must be a postgres:// or postgresql:// URL or a key=value connection string"},
		},
		{
			loadCase: loadCase{name: "database url not a connection string", env: map[string]string{"XEROSYNC_DATABASE_URL": "hunter2"}},
			want:     []string{"database.url (XEROSYNC_DATABASE_URL): must be a postgres:// URL or a key=value connection string"},
		},
		{
			loadCase: loadCase{name: "bad http.addr from env", env: map[string]string{"XEROSYNC_DATABASE_URL": testDSN, "XEROSYNC_HTTP_ADDR": "abc"}},
			want:     []string{`http.addr (XEROSYNC_HTTP_ADDR): "abc" is not host:port`},
		},
		{
			loadCase: loadCase{name: "bad port", env: withDB, toml: "http.addr = \"localhost:70000\"\n"},
			want:     []string{`http.addr: "localhost:70000" is not host:port: the port must be a number from 0 to 65535`},
		},
		{
			loadCase: loadCase{name: "bad identifiers", env: map[string]string{
				"XEROSYNC_DATABASE_URL":         testDSN,
				"XEROSYNC_DATABASE_SLOT":        "Xero-Sync",
				"XEROSYNC_DATABASE_PUBLICATION": "1pub",
			}},
			want: []string{
				`database.slot (XEROSYNC_DATABASE_SLOT): "Xero-Sync" is not a valid name…`,
				`database.publication (XEROSYNC_DATABASE_PUBLICATION): "1pub" is not a valid name…`,
			},
		},
		{
			loadCase: loadCase{name: "bad on_slot_lost", env: map[string]string{"XEROSYNC_DATABASE_URL": testDSN, "XEROSYNC_DATABASE_ON_SLOT_LOST": "recreate"}},
			want:     []string{`database.on_slot_lost (XEROSYNC_DATABASE_ON_SLOT_LOST): "recreate" is not "stop" or "resync"`},
		},
		{
			loadCase: loadCase{name: "identifier too long", env: withDB, toml: "database.slot = \"" + strings.Repeat("a", 64) + "\"\n"},
			want:     []string{`database.slot: "aaaa…`},
		},
		{
			loadCase: loadCase{name: "bad URLs", env: withDB, toml: `
[xero]
redirect_url = "/callback"
login_url = "ftp://login.xero.com"
identity_url = "https://identity.xero.com/?a=b"
api_url = "https://user:pw@api.xero.com"
live_share = 1
`},
			want: []string{
				`xero.redirect_url: "/callback" is not an absolute http(s) URL`,
				`xero.login_url: "ftp://login.xero.com" is not an absolute http(s) URL`,
				`xero.identity_url: "https://identity.xero.com/?a=b" must be a base URL, without user, query or fragment`,
				`xero.api_url: "https://user:pw@api.xero.com" must be a base URL, without user, query or fragment`,
				`xero.live_share: "1" is not a share: write a number between 0 and 1, such as 0.2 (a fifth of each day's calls kept for live changes)`,
			},
		},
		{
			loadCase: loadCase{name: "redirect with fragment", env: map[string]string{
				"XEROSYNC_DATABASE_URL": testDSN, "XEROSYNC_XERO_REDIRECT_URL": "http://localhost:7434/cb#x",
			}},
			want: []string{`xero.redirect_url (XEROSYNC_XERO_REDIRECT_URL): "http://localhost:7434/cb#x" has a fragment, which a redirect URL may not have`},
		},
		{
			loadCase: loadCase{name: "scopes without offline_access", env: map[string]string{
				"XEROSYNC_DATABASE_URL": testDSN, "XEROSYNC_XERO_SCOPES": "accounting.contacts",
			}},
			want: []string{"xero.scopes (XEROSYNC_XERO_SCOPES): must include offline_access: without it Xero issues no refresh token"},
		},
		{
			loadCase: loadCase{name: "scope with a space", env: withDB, toml: "xero.scopes = [\"offline_access\", \"a b\"]\n"},
			want:     []string{`xero.scopes: "a b" is not a scope: scopes are single words`},
		},
		{
			loadCase: loadCase{name: "bad log settings", env: map[string]string{
				"XEROSYNC_DATABASE_URL": testDSN, "XEROSYNC_LOG_LEVEL": "verbose", "XEROSYNC_LOG_FORMAT": "xml",
			}},
			want: []string{
				`log.level (XEROSYNC_LOG_LEVEL): "verbose" is not a log level: use debug, info, warn or error`,
				`log.format (XEROSYNC_LOG_FORMAT): "xml" is not a log format: use text or json`,
			},
		},
		{
			loadCase: loadCase{name: "bad retention", env: withDB, toml: "[outbox]\nretention = \"5m\"\n"},
			want:     []string{`outbox.retention: "5m" is shorter than an hour: keep finished rows at least that long, or 0 to keep them for ever`},
		},
		{
			loadCase: loadCase{name: "retention not a duration", env: map[string]string{"XEROSYNC_DATABASE_URL": testDSN, "XEROSYNC_OUTBOX_RETENTION": "a week"}},
			want:     []string{`outbox.retention (XEROSYNC_OUTBOX_RETENTION): "a week" is not a duration: write 0 (keep for ever), days ("90d") or a Go duration ("720h")`},
		},
		{
			loadCase: loadCase{name: "client secret twice", env: withDB, toml: "[xero]\nclient_secret = \"a\"\nclient_secret_file = \"/s\"\n"},
			want:     []string{"xero.client_secret: set either xero.client_secret or xero.client_secret_file, not both"},
		},
		{
			loadCase: loadCase{name: "client secret file unreadable", env: map[string]string{
				"XEROSYNC_DATABASE_URL": testDSN, "XEROSYNC_XERO_CLIENT_SECRET_FILE": "/run/creds/missing",
			}},
			want: []string{"xero.client_secret_file (XEROSYNC_XERO_CLIENT_SECRET_FILE): cannot read: /run/creds/missing: file does not exist"},
		},
		{
			loadCase: loadCase{name: "client secret file empty", env: withDB, toml: "xero.client_secret_file = \"/s\"\n", files: files{"/s": "\n"}},
			want:     []string{"xero.client_secret_file: /s is empty"},
		},
		{
			loadCase: loadCase{name: "database url file unreadable", toml: "database.url_file = \"/db\"\n"},
			want:     []string{"database.url_file: cannot read: /db: file does not exist"},
		},
		{
			loadCase: loadCase{name: "database url file bad", toml: "database.url_file = \"/db\"\n", files: files{"/db": "hunter2"}},
			want:     []string{"database.url_file: must be a postgres:// URL or a key=value connection string"},
		},
		{
			loadCase: loadCase{name: "explicit token key file missing", env: map[string]string{
				"XEROSYNC_DATABASE_URL": testDSN, "XEROSYNC_TOKEN_KEY_FILE": "/keys/token",
			}},
			want: []string{"token.key_file (XEROSYNC_TOKEN_KEY_FILE): cannot read: /keys/token: file does not exist"},
		},
		{
			loadCase: loadCase{name: "default token key bad", env: map[string]string{
				"XEROSYNC_DATABASE_URL": testDSN, "CREDENTIALS_DIRECTORY": "/creds",
			}, files: files{"/creds/token-key": "short"}},
			want: []string{"token.key_file: /creds/token-key: must hold 32 random bytes, raw or base64-encoded; it holds 5 bytes that are neither"},
		},
		{
			loadCase: loadCase{name: "several problems at once", toml: `
[database]
slot = "BAD"
[http]
addr = "abc"
[xero]
colour = "blue"
`, env: map[string]string{"XEROSYNC_NOPE": "1", "XEROSYNC_LOG_FORMAT": "yaml"}},
			want: []string{
				"xero.colour: unknown key",
				"XEROSYNC_NOPE: unknown environment variable",
				"database.url: required; set it in the config file or XEROSYNC_DATABASE_URL",
				`database.slot: "BAD" is not a valid name…`,
				`http.addr: "abc" is not host:port`,
				`log.format (XEROSYNC_LOG_FORMAT): "yaml" is not a log format: use text or json`,
			},
		},
		{
			loadCase: loadCase{name: "newline in a value stays on one line", env: map[string]string{
				"XEROSYNC_DATABASE_URL": testDSN, "XEROSYNC_HTTP_ADDR": "a\nb",
			}},
			want: []string{`http.addr (XEROSYNC_HTTP_ADDR): "a\nb" is not host:port`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := tt.load()
			if cfg != nil {
				t.Errorf("Load returned a Config with an error")
			}
			var errs *Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Load error = %v (%T), want *Errors", err, err)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(*errs) {
				t.Errorf("Error() has %d lines for %d problems:\n%s", len(lines), len(*errs), err)
			}
			if len(lines) != len(tt.want) {
				t.Fatalf("got %d problems, want %d:\n%s", len(lines), len(tt.want), err)
			}
			for i, want := range tt.want {
				if prefix, ok := strings.CutSuffix(want, "…"); ok {
					if !strings.HasPrefix(lines[i], prefix) {
						t.Errorf("problem %d = %q, want prefix %q", i, lines[i], prefix)
					}
				} else if lines[i] != want {
					t.Errorf("problem %d = %q\n                 want %q", i, lines[i], want)
				}
			}
			for _, e := range *errs {
				if e.Key == "" {
					t.Errorf("problem without a key: %#v", e)
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error quotes a secret: %s", err)
			}
		})
	}
}

func TestErrorsUnwrap(t *testing.T) {
	t.Parallel()
	_, err := Load(LoadParams{ReadFile: files{}.read, Env: map[string]string{"XEROSYNC_HTTP_ADDR": "x"}})
	var e Error
	if !errors.As(err, &e) || e.Key != "database.url" {
		t.Errorf("errors.As(Error) = %#v, want the database.url problem first", e)
	}
}

func TestRequireXero(t *testing.T) {
	t.Parallel()
	cfg := defaults()
	err := cfg.RequireXero()
	var errs *Errors
	if !errors.As(err, &errs) {
		t.Fatalf("RequireXero = %v, want *Errors", err)
	}
	var keys []string
	for _, e := range *errs {
		keys = append(keys, e.Key)
	}
	if want := []string{"xero.client_id", "xero.client_secret"}; !slices.Equal(keys, want) {
		t.Errorf("RequireXero keys = %q, want %q", keys, want)
	}
	cfg.Xero.ClientID, cfg.Xero.ClientSecret = "id", secret.New("secret")
	if err := cfg.RequireXero(); err != nil {
		t.Errorf("RequireXero with both set = %v", err)
	}
}

func TestTokenKey(t *testing.T) {
	t.Parallel()
	raw := []byte(testKey)
	rawWithSpace := []byte("\n" + testKey[1:31] + " ") // 32 raw bytes that happen to look padded
	tests := []struct {
		name    string
		content string
		want    []byte // nil: a problem naming token.key_file
	}{
		{"raw", string(raw), raw},
		{"raw with whitespace-like bytes", string(rawWithSpace), rawWithSpace},
		{"std base64 padded", base64.StdEncoding.EncodeToString(raw) + "\n", raw},
		{"std base64 unpadded", "  " + base64.RawStdEncoding.EncodeToString(raw) + "\r\n", raw},
		{"url base64 padded", base64.URLEncoding.EncodeToString([]byte(strings.Repeat("\xfb\xff", 16))), []byte(strings.Repeat("\xfb\xff", 16))},
		{"url base64 unpadded", base64.RawURLEncoding.EncodeToString([]byte(strings.Repeat("\xfb\xff", 16))), []byte(strings.Repeat("\xfb\xff", 16))},
		{"31 raw bytes", testKey[:31], nil},
		{"33 raw bytes", testKey + "x", nil},
		{"base64 of 16 bytes", base64.StdEncoding.EncodeToString(raw[:16]), nil},
		{"base64 of 33 bytes", base64.StdEncoding.EncodeToString(append(raw, 'x')), nil},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := Load(LoadParams{
				Env:      map[string]string{"XEROSYNC_DATABASE_URL": testDSN, "XEROSYNC_TOKEN_KEY_FILE": "/k"},
				ReadFile: files{"/k": tt.content}.read,
			})
			if tt.want == nil {
				var errs *Errors
				if !errors.As(err, &errs) || len(*errs) != 1 || (*errs)[0].Key != "token.key_file" {
					t.Fatalf("Load = %v, want one token.key_file problem", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			got, err := cfg.TokenKey()
			if err != nil || string(got) != string(tt.want) {
				t.Errorf("TokenKey = %x, %v; want %x", got, err, tt.want)
			}
		})
	}
}

func TestTokenKeyMissing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		tok  TokenConfig
		want string
	}{
		{"not configured", TokenConfig{}, "token.key_file: required to store Xero tokens…"},
		{"default absent", TokenConfig{KeyFile: "/creds/token-key"}, "token.key_file: /creds/token-key does not exist…"},
		{"wrong length", TokenConfig{KeyFile: "/k", Key: secret.New("short")}, "token.key_file: key is not 32 bytes"},
	} {
		cfg := Config{Token: tc.tok}
		key, err := cfg.TokenKey()
		var errs *Errors
		if key != nil || !errors.As(err, &errs) {
			t.Errorf("%s: TokenKey = %x, %v; want *Errors", tc.name, key, err)
			continue
		}
		if !strings.HasPrefix(err.Error(), strings.TrimSuffix(tc.want, "…")) {
			t.Errorf("%s: TokenKey error = %q, want %q", tc.name, err, tc.want)
		}
	}
}

func TestRedactedURL(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"postgres://u:hunter2@db:5432/x", "postgres://u:xxxxx@db:5432/x"},
		{"postgres://u@db/x", "postgres://u@db/x"},
		{"postgres://db/x?sslmode=require", "postgres://db/x?sslmode=require"},
		{"postgresql://u:hun/ter?2@h1:5432,h2:5432/x?password=hunter2&sslpassword=hunter2&a=b",
			"postgresql://u:xxxxx@h1:5432,h2:5432/x?password=xxxxx&sslpassword=xxxxx&a=b"},
		{"host=db password=hunter2 dbname=x", "host=db password=xxxxx dbname=x"},
		{"host=db password = 'hun\\' ter2' dbname=x", "host=db password = xxxxx dbname=x"},
		{"PASSWORD=hunter2", "PASSWORD=xxxxx"},
		{"sslpassword='hunter2", "sslpassword=xxxxx"},
		{"password=hunter2\\", "password=xxxxx"},
		{"host=db", "host=db"},
	}
	for _, tt := range tests {
		got := DatabaseConfig{URL: secret.New(tt.in)}.RedactedURL()
		if got != tt.want {
			t.Errorf("RedactedURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if strings.Contains(got, "hunter2") || strings.Contains(got, "ter2") {
			t.Errorf("RedactedURL(%q) leaks the password: %q", tt.in, got)
		}
	}
}

func TestEnvMap(t *testing.T) {
	t.Parallel()
	got := EnvMap([]string{"A=1", "B=x=y", "A=2", "C=", "junk"})
	want := map[string]string{"A": "1", "B": "x=y", "C": ""}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("EnvMap = %v, want %v", got, want)
	}
}
