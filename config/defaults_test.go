package config_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/softbooq/xerosync/config"
	"github.com/softbooq/xerosync/xero"
)

// Each default is written once, in config's settings; the example config and the README state
// it for operators, and the xero client falls back to it for library use. This test holds them
// all to config's.
func TestDefaultsAreStatedAsConfigHasThem(t *testing.T) {
	t.Parallel()
	defaults := config.Defaults()
	if len(defaults) < 10 {
		t.Fatalf("only %d defaults: %v", len(defaults), defaults)
	}

	t.Run("example config", func(t *testing.T) {
		b, err := os.ReadFile("../systemd/xerosync.toml.example")
		if err != nil {
			t.Fatal(err)
		}
		stated := map[string]string{}
		section := ""
		line := regexp.MustCompile(`^#([a-z_]+) = "(.*)"$`)
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "[") {
				section = strings.Trim(l, "[]")
			}
			if m := line.FindStringSubmatch(l); m != nil {
				stated[section+"."+m[1]] = m[2]
			}
		}
		for key, def := range defaults {
			if got, ok := stated[key]; !ok || got != def {
				t.Errorf("systemd/xerosync.toml.example states %s = %q, config's default is %q", key, got, def)
			}
		}
	})

	t.Run("README", func(t *testing.T) {
		b, err := os.ReadFile("../README.md")
		if err != nil {
			t.Fatal(err)
		}
		code := regexp.MustCompile("`([^`]*)`")
		stated := map[string]string{}
		for _, l := range strings.Split(string(b), "\n") {
			cells := strings.Split(l, "|")
			if len(cells) != 4 {
				continue
			}
			keys, vals := code.FindAllStringSubmatch(cells[1], -1), code.FindAllStringSubmatch(cells[2], -1)
			for i, k := range keys {
				if i < len(vals) {
					stated[k[1]] = vals[i][1]
				}
			}
		}
		for key, def := range defaults {
			if got, ok := stated[key]; !ok || got != def {
				t.Errorf("the README's configuration table states %s = %q, config's default is %q", key, got, def)
			}
		}
	})

	t.Run("xero client", func(t *testing.T) {
		for key, got := range map[string]string{
			"xero.api_url":      xero.DefaultAPIURL,
			"xero.identity_url": xero.DefaultIdentityURL,
			"xero.login_url":    xero.DefaultLoginURL,
			"xero.scopes":       strings.Join(xero.DefaultScopes, " "),
		} {
			if got != defaults[key] {
				t.Errorf("xero falls back to %q for %s, config's default is %q", got, key, defaults[key])
			}
		}
	})
}
