package migrate

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// writers is the one package that writes each table of schema xerosync (STYLE.md, habit 13;
// the package doc and the README's architecture section say the same). Every other package
// reads, or calls the writer.
var writers = map[string]string{
	"checkpoint":              "cdc",
	"connections":             "internal/tenant",
	"contact_directory":       "outbox",
	"contact_directory_state": "outbox",
	"entities":                "outbox",
	"outbox":                  "outbox",
	"schema_migrations":       "internal/migrate",
	"xero_budget":             "outbox",
}

// writeRE finds a statement that writes a table of schema xerosync, in SQL files and in Go
// (COPY through pgx names the table as an identifier pair).
var writeRE = regexp.MustCompile(`(?is)(?:insert\s+into|update|delete\s+from|truncate(?:\s+table)?|copy)\s+(?:only\s+)?xerosync\.(\w+)` +
	`|Identifier\{\s*"xerosync"\s*,\s*"(\w+)"\s*\}`)

// operatorFlagRE is the administrator's interface (SPEC §3): an UPDATE that only raises a retry or
// cancel flag, which the dispatcher then applies. Commands print it as advice and the demo plays
// the administrator typing it; it is not a second writer of the row's state.
var operatorFlagRE = regexp.MustCompile(`(?is)^update\s+xerosync\.outbox\s+set\s+(retry_requested|cancel_requested)\s*=\s*true\s+where\b`)

// TestOneWriterPerTable reads every non-test .go and .sql file of the module, outside
// migrations (which create the tables), and finds which package writes which table.
func TestOneWriterPerTable(t *testing.T) {
	t.Parallel()
	root := "../.."
	found := map[string]map[string][]string{} // table → package → files
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if name := d.Name(); rel != "." && (strings.HasPrefix(name, ".") || name == "bin" || name == "testdata" || rel == "internal/migrate/sql") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(path, "_test.go") || !(strings.HasSuffix(path, ".go") || strings.HasSuffix(path, ".sql")) {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		pkg := filepath.Dir(rel)
		if filepath.Base(pkg) == "sql" {
			pkg = filepath.Dir(pkg)
		}
		text := stripSQLComments(string(b))
		for _, loc := range writeRE.FindAllStringSubmatchIndex(text, -1) {
			m := writeRE.FindStringSubmatch(text[loc[0]:loc[1]])
			table := strings.ToLower(m[1] + m[2])
			if table == "outbox" && operatorFlagRE.MatchString(text[loc[0]:]) {
				continue
			}
			if found[table] == nil {
				found[table] = map[string][]string{}
			}
			if !slices.Contains(found[table][pkg], rel) {
				found[table][pkg] = append(found[table][pkg], rel)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for table, pkgs := range found {
		owner, known := writers[table]
		if !known {
			t.Errorf("table xerosync.%s is written (%v) but has no owner in writers", table, pkgs)
			continue
		}
		var others []string
		for pkg, files := range pkgs {
			if pkg != owner {
				others = append(others, pkg+" ("+strings.Join(files, ", ")+")")
			}
		}
		sort.Strings(others)
		if len(others) > 0 {
			t.Errorf("xerosync.%s is written by %s, and also by %s", table, owner, strings.Join(others, "; "))
		}
	}
	for table, owner := range writers {
		if len(found[table][owner]) == 0 {
			t.Errorf("xerosync.%s: its owner %s writes it nowhere (is the writers table out of date?)", table, owner)
		}
	}
}

// stripSQLComments drops -- comments, so prose such as "the outbox rows we update" is not
// read as a statement.
func stripSQLComments(s string) string {
	return regexp.MustCompile(`--[^\n]*`).ReplaceAllString(s, "")
}
